import { describe, expect, it } from 'vitest';
import { type Backup, cloneSnapshotNames, type Environment, moverJobName, type Project, restoreSnapshotNames, type VolumeLineage } from '../api/index.ts';
import { parseManifest, resolveManifest } from '../manifest/index.ts';
import { cloneTargets } from './clone.ts';
import { decideFill, type FillFacts, type VolumeFacts } from './fill.ts';

const parsed = parseManifest(`version: 1
applications:
  web: { image: web:1, hooks: { sanitize: [scrub] } }
services:
  db: { type: "postgresql:16", clone: sanitized }
  cache: { type: "redis:7" }
`);
if (!parsed.ok) throw new Error('fixture manifest is invalid');
const manifest = resolveManifest(parsed.manifest, { type: 'development', commit: 'abc', branch: 'feature/x', environment: 'shop-feature-x' });
const env: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'shop-feature-x', namespace: 'team' }, spec: { project: 'shop', branch: 'feature/x' } };
const project: Project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'https://git.example.com/shop.git' } } };
const parent: Environment = { ...env, metadata: { name: 'shop-main', namespace: 'team' }, spec: { project: 'shop', branch: 'main', type: 'production' }, status: { namespace: 'shop-main' } };
const NOW = Date.parse('2026-12-01T12:00:00Z');

function facts(lineage: VolumeLineage[], volumes: Record<string, VolumeFacts>, over: Partial<FillFacts> = {}): FillFacts {
  return {
    env,
    project,
    manifest,
    revision: 'r'.repeat(40),
    now: NOW,
    namespace: 'shop-feature-x',
    namespaceExists: true,
    movers: { image: 'grove:1', namespace: 'grove-system' },
    lineage,
    targets: cloneTargets(manifest),
    snapshotClass: { name: 'csi', driver: 'hostpath.csi' },
    volumes: new Map(Object.entries(volumes)),
    answering: new Set(),
    hooks: {},
    hasClaims: false,
    plannedClaim: (target) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: target.claimName ?? '', namespace: 'shop-feature-x' }, spec: { storageClassName: 'csi', resources: { requests: { storage: '64Mi' } } } }),
    ...over,
  };
}
const snapshotOf = (volume: string) => cloneSnapshotNames(env, volume).snapshot;
const ready = (name: string) => ({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name }, status: { readyToUse: true, boundVolumeSnapshotContentName: 'snapcontent-1', creationTime: '2026-12-01T11:59:00Z' } });
const kinds = (objects: Array<{ kind: string; metadata: { namespace?: string } }>) => objects.map((o) => `${o.kind}${o.metadata.namespace ? ` in ${o.metadata.namespace}` : ''}`);
const completed = (name: string, volumes: Array<{ name: string; snapshotId?: string }>): Backup => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name, namespace: 'team' },
  spec: { project: 'shop', environment: 'shop-main' },
  status: { completionTime: '2026-12-01T11:00:00Z', volumes: volumes as never, conditions: [{ type: 'Ready', status: 'True', reason: 'Completed', message: '', lastTransitionTime: '2026-12-01T11:00:00Z' }] },
});

describe('decideFill, by snapshot', () => {
  const lineage: VolumeLineage[] = [
    { volume: 'cache', source: 'snapshot', parent: 'shop-main' },
    { volume: 'db', source: 'snapshot', parent: 'shop-main' },
  ];

  it('takes the parent\'s snapshot first, and starts empty a volume the parent does not have', () => {
    const d = decideFill(facts(lineage, { cache: { parent, parentClaimExists: false }, db: { parent, parentClaimExists: true } }));
    expect(kinds(d.create)).toEqual(['VolumeSnapshot in shop-main']);
    expect(d.lineage.find((l) => l.volume === 'cache')).toEqual({ volume: 'cache', source: 'empty' });
    expect(d.outcome).toMatchObject({ kind: 'waiting', reason: 'PreparingSources', message: 'taking a snapshot of db in shop-main', plan: { stage: 'sources' } });
    expect(d.delete).toEqual([]);
  });

  it('offers a ready snapshot in the child\'s namespace through a content of the same handle', () => {
    const content = { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'snapcontent-1' }, spec: { driver: 'hostpath.csi', volumeSnapshotRef: { namespace: 'shop-main', name: snapshotOf('db') } }, status: { snapshotHandle: 'h-1' } };
    const d = decideFill(facts([lineage[1]!], { db: { parent, sourceSnapshot: ready(snapshotOf('db')), content } }));
    // A content that names another snapshot is never used, whatever the snapshot's status claims.
    const other = { ...content, spec: { ...content.spec, volumeSnapshotRef: { namespace: 'shop-other', name: snapshotOf('db') } } };
    expect(decideFill(facts([lineage[1]!], { db: { parent, sourceSnapshot: ready(snapshotOf('db')), content: other } })).outcome).toMatchObject({ kind: 'failed', message: 'the snapshot of db in shop-main claims VolumeSnapshotContent snapcontent-1, which belongs to another snapshot' });
    expect(kinds(d.create)).toEqual(['VolumeSnapshotContent', 'VolumeSnapshot in shop-feature-x']);
    expect(JSON.stringify(d.create[0])).toContain('h-1');
    expect(d.outcome).toMatchObject({ kind: 'waiting', message: 'offering the snapshot of db in shop-feature-x' });
  });

  it('waits for the claims, then the hook\'s servers, then the hook, then releases the snapshots', () => {
    const filled: VolumeLineage[] = lineage.map((l) => ({ ...l, snapshot: snapshotOf(l.volume) }));
    const bound = { status: { phase: 'Bound' } } as VolumeFacts['claim'];
    expect(decideFill(facts(filled, { cache: { parent }, db: { parent } })).outcome).toMatchObject({ kind: 'waiting', reason: 'Filling', plan: { stage: 'fill', snapshots: { db: snapshotOf('db') } } });
    const volumes = { cache: { parent, claim: bound }, db: { parent, claim: bound } };
    expect(decideFill(facts(filled, volumes)).outcome).toMatchObject({ kind: 'waiting', reason: 'Sanitizing', message: 'waiting for db to accept connections before the sanitize hook' });
    expect(decideFill(facts(filled, volumes, { answering: new Set(['db']) })).outcome).toMatchObject({ kind: 'waiting', plan: { stage: 'sanitize' }, message: 'running the sanitize hook of web on db' });
    const failedHook = { job: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } }, output: 'exit code 3: no such table' };
    expect(decideFill(facts(filled, volumes, { answering: new Set(['db']), hooks: { web: failedHook } })).outcome).toMatchObject({ kind: 'failed', reason: 'SanitizeFailed', message: expect.stringContaining('it printed:\nexit code 3: no such table') });
    const doneHook = { job: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { conditions: [{ type: 'Complete', status: 'True' }] } } };
    const done = decideFill(facts(filled, volumes, { answering: new Set(['db']), hooks: { web: doneHook } }));
    expect(done.outcome).toMatchObject({ kind: 'done', reason: 'Cloned', message: 'cache from a snapshot of shop-main, db from a snapshot of shop-main; db sanitized by the hook of web' });
    // The only deletions ever asked for: the clone's snapshots, here and in the parent's namespace.
    expect(done.delete.map((r) => `${r.kind} ${r.namespace ?? ''}`.trim())).toEqual(['VolumeSnapshot shop-feature-x', 'VolumeSnapshotContent', 'VolumeSnapshot shop-main', 'VolumeSnapshot shop-feature-x', 'VolumeSnapshotContent', 'VolumeSnapshot shop-main']);
  });

  it('fails for good when the parent is gone or its snapshot failed, and asks for nothing then', () => {
    expect(decideFill(facts(lineage, {})).outcome).toEqual({ kind: 'failed', reason: 'CloneFailed', message: 'the parent Environment shop-main went away before cache was cloned' });
    const broken = { ...ready(snapshotOf('db')), status: { error: { message: 'disk on fire' } } };
    const d = decideFill(facts(lineage, { cache: { parent, parentClaimExists: true }, db: { parent, sourceSnapshot: broken } }));
    expect(d.outcome).toMatchObject({ kind: 'failed', message: 'the snapshot of db in shop-main failed: disk on fire' });
    expect([d.create, d.movers, d.delete]).toEqual([[], [], []]);
  });
});

describe('decideFill, from a backup', () => {
  const lineage: VolumeLineage[] = [
    { volume: 'cache', source: 'backup', parent: 'shop-main' },
    { volume: 'db', source: 'backup', parent: 'shop-main' },
  ];

  it('asks for a fresh backup of the parent when none is young enough, one name shared by every volume', () => {
    const d = decideFill(facts(lineage, { cache: { parent, parentBackups: [] }, db: { parent, parentBackups: [] } }));
    expect(d.create.map((o) => o.metadata.name)).toEqual(['shop-main-clone-202612011200', 'shop-main-clone-202612011200']);
    expect(d.outcome).toMatchObject({ kind: 'waiting', message: 'waiting for Backup shop-main-clone-202612011200' });
  });

  const complete = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { conditions: [{ type: 'Complete', status: 'True' }] } };
  const restoreNames = restoreSnapshotNames({ namespace: 'team', name: 'shop-feature-x' }, 'cache');
  const content = { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'snapcontent-1' }, spec: { driver: 'hostpath.csi', volumeSnapshotRef: { namespace: 'grove-system', name: restoreNames.snapshot } }, status: { snapshotHandle: 'h-1' } };
  const offered = { ...ready(restoreNames.snapshot), metadata: { name: restoreNames.snapshot, namespace: 'shop-feature-x' } };
  const backup = completed('shop-main-nightly', [{ name: 'cache', snapshotId: 's-cache' }, { name: 'db', snapshotId: 's-db' }]);
  const bound = (name: string, dataSource?: string) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, ...(dataSource ? { spec: { dataSource: { name: dataSource } } } : {}), status: { phase: 'Bound' } });

  it("restores Redis's file into a claim in Grove's namespace, where the store's keys are, then offers it here", () => {
    const d = decideFill(facts(lineage, { cache: { parent, parentBackups: [backup] }, db: { parent, parentBackups: [backup] } }));
    expect(d.lineage.map((l) => l.snapshotId)).toEqual(['s-cache', 's-db']);
    expect(kinds(d.create)).toEqual(['PersistentVolumeClaim in grove-system']);
    expect(d.create[0]).toMatchObject({ metadata: { name: restoreNames.snapshot }, spec: { storageClassName: 'csi', resources: { requests: { storage: '64Mi' } } } });
    expect(d.movers.map(({ target, job }) => [target.name, target.claimName, job.metadata.namespace, job.metadata.name])).toEqual([['cache', restoreNames.snapshot, 'grove-system', moverJobName('restore', { namespace: 'team', name: 'shop-feature-x' }, 'cache')]]);
    expect(d.outcome).toMatchObject({ kind: 'waiting', plan: { stage: 'sources' }, message: 'restoring cache from Backup shop-main-nightly' });

    const restored: VolumeLineage[] = d.lineage;
    const staged = bound(restoreNames.snapshot);
    const snapshotting = decideFill(facts(restored, { cache: { parent, restoreJob: complete, staged }, db: { parent } }));
    expect(kinds(snapshotting.create)).toEqual(['VolumeSnapshot in grove-system']);
    expect(snapshotting.create[0]).toMatchObject({ spec: { source: { persistentVolumeClaimName: restoreNames.snapshot } } });
    const offering = decideFill(facts(restored, { cache: { parent, restoreJob: complete, staged, sourceSnapshot: ready(restoreNames.snapshot), content }, db: { parent } }));
    expect(kinds(offering.create)).toEqual(['VolumeSnapshotContent', 'VolumeSnapshot in shop-feature-x']);

    // Offered: the claim here is made from it, as for a snapshot clone; the database waits for its server.
    const filling = decideFill(facts(restored, { cache: { parent, restoreJob: complete, staged, sourceSnapshot: ready(restoreNames.snapshot), content, offered }, db: { parent } }));
    expect(filling.lineage[0]).toMatchObject({ volume: 'cache', source: 'backup', snapshotId: 's-cache', snapshot: restoreNames.snapshot });
    expect(filling.outcome).toMatchObject({ kind: 'waiting', plan: { stage: 'fill', held: [], snapshots: { cache: restoreNames.snapshot } }, message: 'waiting for claim data-cache-0 to be provisioned from its snapshot; waiting for db to start before restoring it' });
  });

  it("restores a database from Grove's namespace once its server runs", () => {
    const filled: VolumeLineage[] = [{ ...lineage[0]!, backup: 'shop-main-nightly', snapshotId: 's-cache', snapshot: restoreNames.snapshot }, { ...lineage[1]!, backup: 'shop-main-nightly', snapshotId: 's-db' }];
    const running = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'shop-feature-x' }, status: { readyReplicas: 1 } };
    const d = decideFill(facts(filled, { cache: { parent, claim: bound('data-cache-0', restoreNames.snapshot) }, db: { parent, statefulSet: running } }));
    expect(d.movers.map(({ target, job }) => [target.name, job.metadata.namespace])).toEqual([['db', 'grove-system']]);
  });

  it('replaces a claim a Restore overwrites: the old one goes (its data was backed up first), the new one comes from the snapshot', () => {
    const filled: VolumeLineage[] = [{ ...lineage[0]!, backup: 'shop-main-nightly', snapshotId: 's-cache', snapshot: restoreNames.snapshot }, { ...lineage[1]!, backup: 'shop-main-nightly', snapshotId: 's-db' }];
    const d = decideFill(facts(filled, { cache: { parent, claim: bound('data-cache-0') }, db: { parent, restoreJob: complete } }, { hasClaims: true }));
    expect(d.delete).toEqual([{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'shop-feature-x', name: 'data-cache-0' }]);
    expect(d.outcome).toMatchObject({ kind: 'waiting', plan: { stage: 'fill', held: ['cache'] }, message: 'replacing claim data-cache-0 with one made from the restored data' });
  });

  it('writes nothing into a namespace that does not exist yet: the namespace comes first', () => {
    // A Restore into a new Environment: the backup is complete before the namespace exists.
    const backup = completed('shop-main-nightly', [{ name: 'cache', snapshotId: 's-cache' }, { name: 'db', snapshotId: 's-db' }]);
    const d = decideFill(facts(lineage, { cache: { parent, parentBackups: [backup] }, db: { parent, parentBackups: [backup] } }, { namespaceExists: false }));
    expect([d.create, d.movers, d.delete]).toEqual([[], [], []]);
    expect(d.outcome).toMatchObject({ kind: 'waiting', plan: { stage: 'sources' }, message: 'waiting for namespace shop-feature-x' });
  });

  it("cleans up once the data is in: the restore's Job, claim and snapshots in Grove's namespace", () => {
    const filled: VolumeLineage[] = [{ ...lineage[0]!, backup: 'shop-main-nightly', snapshotId: 's-cache', snapshot: restoreNames.snapshot }, { ...lineage[1]!, backup: 'shop-main-nightly', snapshotId: 's-db' }];
    const d = decideFill(facts(filled, { cache: { parent, claim: bound('data-cache-0', restoreNames.snapshot) }, db: { parent, restoreJob: complete } }, { answering: new Set(['db']), hooks: { web: { job: complete } } }));
    expect(d.outcome).toMatchObject({ kind: 'done' });
    expect(d.delete.map((r) => `${r.kind} ${r.namespace ?? ''}`.trim())).toEqual(['Job grove-system', 'PersistentVolumeClaim grove-system', 'VolumeSnapshot shop-feature-x', 'VolumeSnapshotContent', 'VolumeSnapshot grove-system']);
  });

  it('starts empty a volume the backup predates', () => {
    const backup = completed('old', [{ name: 'db', snapshotId: 's-db' }]);
    const d = decideFill(facts(lineage, { cache: { parent, parentBackups: [backup] }, db: { parent, parentBackups: [backup] } }));
    expect(d.lineage[0]).toEqual({ volume: 'cache', source: 'empty' });
  });
});
