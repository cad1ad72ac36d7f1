// Tier C: the CSI driver, external-provisioner and the snapshotter run as host processes, so a
// VolumeSnapshot copies real files, and a PVC restored from it in another namespace (through a
// pre-provisioned VolumeSnapshotContent, the way Grove clones an environment) holds the same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/index.ts';
import { csiVolumePath } from '../../../local/cluster.ts';
import { cluster, kube, testNamespace } from '../helpers.ts';

type Claim = KubeObject & { spec: { volumeName?: string }; status?: { phase?: string } };
type Volume = KubeObject & { spec: { csi?: { driver: string; volumeHandle: string }; hostPath?: { path: string } } };
type Snapshot = KubeObject & { status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; restoreSize?: string; error?: { message?: string } } };
type SnapshotContent = KubeObject & { status?: { snapshotHandle?: string; readyToUse?: boolean } };

const SNAPSHOTS = 'snapshot.storage.k8s.io/v1';
const poll = { timeout: 30_000, interval: 200 };

let source: string;
let target: string;
// Cluster-scoped, so unique per run like the namespaces.
const contentName = `grove-test-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  source = await testNamespace('csi-src');
  target = await testNamespace('csi-dst');
});

function csi() {
  const state = cluster().csi;
  if (!state) throw new Error('tier C runs a CSI driver, but the cluster state has none');
  return state;
}

function claim(namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } }, ...spec },
  } as KubeObject;
}

/** Waits for the claim to be Bound and returns its PersistentVolume. */
async function boundVolume(namespace: string, name: string): Promise<Volume> {
  const get = () => kube().get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name });
  await expect.poll(async () => (await get())?.status?.phase, poll).toBe('Bound');
  const volumeName = (await get())?.spec.volumeName;
  if (!volumeName) throw new Error(`claim ${namespace}/${name} is Bound to no volume`);
  const pv = await kube().get<Volume>({ apiVersion: 'v1', kind: 'PersistentVolume', name: volumeName });
  if (!pv) throw new Error(`volume ${volumeName} of claim ${namespace}/${name} does not exist`);
  return pv;
}

/** Waits for the snapshot to be ready, reporting the snapshot controller's error if it has one. */
async function readySnapshot(namespace: string, name: string): Promise<Snapshot> {
  const get = () => kube().get<Snapshot>({ apiVersion: SNAPSHOTS, kind: 'VolumeSnapshot', namespace, name });
  await expect.poll(async () => (await get())?.status?.error?.message ?? (await get())?.status?.readyToUse, poll).toBe(true);
  return (await get()) as Snapshot;
}

function handleOf(pv: Volume): string {
  expect(pv.spec.csi?.driver).toBe(csi().driver);
  const handle = pv.spec.csi?.volumeHandle;
  if (!handle) throw new Error(`volume ${pv.metadata.name} has no CSI volume handle`);
  return handle;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('CSI volumes and snapshots', () => {
  it('provision a volume, snapshot it, and restore the snapshot in another namespace with the same bytes', async () => {
    await kube().create(claim(source, 'data', { storageClassName: csi().storageClass }));
    const sourcePv = await boundVolume(source, 'data');
    expect(sourcePv.metadata.annotations?.['pv.kubernetes.io/provisioned-by']).toBe(csi().driver);
    const sourceDir = csiVolumePath(cluster(), handleOf(sourcePv));
    expect((await stat(sourceDir)).isDirectory()).toBe(true);
    expect(await readdir(sourceDir)).toEqual([]);

    const original = randomBytes(256 * 1024);
    await writeFile(join(sourceDir, 'data.bin'), original);

    await kube().create({
      apiVersion: SNAPSHOTS,
      kind: 'VolumeSnapshot',
      metadata: { name: 'snap', namespace: source },
      spec: { volumeSnapshotClassName: csi().snapshotClass, source: { persistentVolumeClaimName: 'data' } },
    } as KubeObject);
    const snap = await readySnapshot(source, 'snap');
    // Written after the snapshot: the restored volume must not see it.
    await writeFile(join(sourceDir, 'data.bin'), randomBytes(1024));

    const content = await kube().get<SnapshotContent>({ apiVersion: SNAPSHOTS, kind: 'VolumeSnapshotContent', name: snap.status?.boundVolumeSnapshotContentName ?? '' });
    const snapshotHandle = content?.status?.snapshotHandle;
    expect(snapshotHandle).toMatch(/\S/);

    await kube().create({
      apiVersion: SNAPSHOTS,
      kind: 'VolumeSnapshotContent',
      metadata: { name: contentName },
      spec: {
        deletionPolicy: 'Retain',
        driver: csi().driver,
        source: { snapshotHandle },
        sourceVolumeMode: 'Filesystem',
        volumeSnapshotClassName: csi().snapshotClass,
        volumeSnapshotRef: { name: 'copy', namespace: target },
      },
    } as KubeObject);
    await kube().create({
      apiVersion: SNAPSHOTS,
      kind: 'VolumeSnapshot',
      metadata: { name: 'copy', namespace: target },
      spec: { source: { volumeSnapshotContentName: contentName } },
    } as KubeObject);
    const copy = await readySnapshot(target, 'copy');
    expect(copy.status?.boundVolumeSnapshotContentName).toBe(contentName);
    expect(copy.status?.restoreSize).toBe('16Mi');

    await kube().create(
      claim(target, 'data', { storageClassName: csi().storageClass, dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'copy' } }),
    );
    const restoredPv = await boundVolume(target, 'data');
    const restoredHandle = handleOf(restoredPv);
    expect(restoredHandle).not.toBe(handleOf(sourcePv));
    const restored = await readFile(join(csiVolumePath(cluster(), restoredHandle), 'data.bin'));
    expect(sha256(restored)).toBe(sha256(original));
  });

  it('delete the volume and its files with the claim', async () => {
    await kube().create(claim(source, 'scratch', { storageClassName: csi().storageClass }));
    const pv = await boundVolume(source, 'scratch');
    const dir = csiVolumePath(cluster(), handleOf(pv));
    await writeFile(join(dir, 'file'), 'x');
    await kube().delete({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: source, name: 'scratch' });
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'PersistentVolume', name: pv.metadata.name as string }), poll).toBeUndefined();
    await expect(stat(dir)).rejects.toThrow('ENOENT');
  });

  it('leave claims of the default class to kwok', async () => {
    await kube().create(claim(source, 'simulated'));
    const pv = await boundVolume(source, 'simulated');
    expect(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by']).toBe('kwok.x-k8s.io/volume');
    expect(pv.spec.csi).toBeUndefined();
  });

  it('refuse a volume handle that would leave the state directory', () => {
    expect(() => csiVolumePath(cluster(), '../etc')).toThrow('not a volume handle');
  });
});
