import { describe, expect, it } from 'vitest';
import { backupOffer, prepareBackupVolume, releaseBackupVolume } from './transfer.ts';
import type { Snapshot, SnapshotContent } from './offer.ts';

const offer = backupOffer({
  backup: { namespace: 'team', name: 'nightly-1' },
  project: 'shop',
  target: { name: 'web-uploads', kind: 'files', claimName: 'web-uploads' },
  namespace: 'shop-main',
  movers: { image: 'grove:1', namespace: 'grove-system' },
  snapshotClass: { name: 'csi-hostpath', driver: 'hostpath.csi.k8s.io' },
});
const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'web-uploads', namespace: 'shop-main' }, spec: { storageClassName: 'csi-hostpath', resources: { requests: { storage: '1Gi' } } }, status: { phase: 'Bound', capacity: { storage: '2Gi' } } };
const source: Snapshot = { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: offer.names.snapshot, namespace: 'shop-main' }, status: { readyToUse: true, boundVolumeSnapshotContentName: 'snapcontent-1', creationTime: '2026-12-03T10:00:00Z' } };
const content: SnapshotContent = { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'snapcontent-1' }, spec: { driver: 'hostpath.csi.k8s.io', volumeSnapshotRef: { namespace: 'shop-main', name: offer.names.snapshot } }, status: { snapshotHandle: 'h-1' } };
const offered: Snapshot = { ...source, metadata: { name: offer.names.snapshot, namespace: 'grove-system' }, status: { readyToUse: true } };
const summary = (objects: Array<{ kind: string; metadata: { namespace?: string } }>) => objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}`.trim());

describe("a volume's backup, offered to Grove's namespace", () => {
  it('snapshots the claim where it is, offers the snapshot, makes a claim from it and mounts that', () => {
    const first = prepareBackupVolume(offer, { claim });
    expect(first).toMatchObject({ state: 'waiting', message: 'taking a snapshot of web-uploads in shop-main' });
    expect(first.create).toEqual([expect.objectContaining({ kind: 'VolumeSnapshot', metadata: expect.objectContaining({ namespace: 'shop-main' }), spec: { volumeSnapshotClassName: 'csi-hostpath', source: { persistentVolumeClaimName: 'web-uploads' } } })]);
    expect(prepareBackupVolume(offer, { claim, source: { ...source, status: { readyToUse: false } } })).toMatchObject({ state: 'waiting', create: [] });

    const offering = prepareBackupVolume(offer, { claim, source, content });
    expect(offering).toMatchObject({ state: 'waiting', message: 'offering the snapshot of web-uploads in grove-system' });
    expect(summary(offering.create)).toEqual(['VolumeSnapshotContent', 'VolumeSnapshot grove-system']);
    // Retain: the handle is the source snapshot's, which frees it when it goes.
    expect(offering.create[0]).toMatchObject({ spec: { deletionPolicy: 'Retain', source: { snapshotHandle: 'h-1' }, volumeSnapshotRef: { name: offer.names.snapshot, namespace: 'grove-system' } } });

    const ready = prepareBackupVolume(offer, { claim, source, content, offered });
    expect(ready).toMatchObject({ state: 'ready', claim: offer.names.snapshot });
    const staged = ready.create.find((o) => o.kind === 'PersistentVolumeClaim') as unknown as { metadata: { namespace: string }; spec: Record<string, unknown> };
    expect(staged.metadata.namespace).toBe('grove-system');
    expect(staged.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'csi-hostpath', resources: { requests: { storage: '2Gi' } }, dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: offer.names.snapshot } });
    expect(prepareBackupVolume(offer, { claim, source, content, offered, staged: claim }).create.map((o) => o.kind)).toEqual(['VolumeSnapshotContent']);
  });

  it('fails with the reason when the claim is missing or a snapshot fails', () => {
    expect(prepareBackupVolume(offer, {})).toMatchObject({ state: 'failed', message: 'volume web-uploads has no claim web-uploads in shop-main' });
    expect(prepareBackupVolume(offer, { claim, source: { ...source, status: { error: { message: 'disk on fire' } } } })).toMatchObject({ state: 'failed', message: 'the snapshot of web-uploads in shop-main failed: disk on fire' });
    expect(prepareBackupVolume(offer, { claim, source, content, offered: { ...offered, status: { error: { message: 'no such handle' } } } })).toMatchObject({ state: 'failed', message: 'the snapshot of web-uploads could not be bound in grove-system: no such handle' });
  });

  it('is unique per Backup, its namespace and volume', () => {
    const other = backupOffer({ backup: { namespace: 'team-b', name: 'nightly-1' }, project: 'shop', target: { name: 'web-uploads', kind: 'files', claimName: 'web-uploads' }, namespace: 'shop-main', movers: { image: 'grove:1', namespace: 'grove-system' }, snapshotClass: { name: 'c', driver: 'd' } });
    expect(other.names.snapshot).not.toBe(offer.names.snapshot);
    expect(other.names.content).not.toBe(offer.names.content);
    expect(offer.names.snapshot.length).toBeLessThanOrEqual(63);
  });

  it('removes what it made once the mover is done: the claim, the offered snapshot, its content, the source snapshot', () => {
    expect(releaseBackupVolume(offer).map((r) => `${r.kind} ${r.namespace ?? ''}`.trim())).toEqual(['PersistentVolumeClaim grove-system', 'VolumeSnapshot grove-system', 'VolumeSnapshotContent', 'VolumeSnapshot shop-main']);
  });
});
