import { describe, expect, it } from 'vitest';
import { type Backup, cloneSnapshotNames, type Environment, type EnvironmentSpec, type Project, type ProjectSpec } from '../api/index.ts';
import { parseManifest, resolveManifest } from '../manifest/index.ts';
import { childSnapshot, childSnapshotContent, cloneBackup, type CloneFacts, decideClone, parentSnapshot, servicesToSanitize, snapshotSources, usableBackup } from './clone.ts';

const parsed = parseManifest(`version: 1
applications:
  web: { image: web:1, mounts: { uploads: { path: /u } } }
services:
  db: { type: "postgresql:16" }
  cache: { type: "redis:7", clone: empty }
`);
if (!parsed.ok) throw new Error('fixture manifest is invalid');
const manifest = resolveManifest(parsed.manifest, { type: 'development', commit: 'abc', branch: 'feature/x', environment: 'shop-feature-x' });

const env = (spec: Partial<EnvironmentSpec> = {}, name = 'shop-feature-x'): Environment => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name, namespace: 'team' },
  spec: { project: 'shop', branch: 'feature/x', ...spec },
});
const project = (spec: Partial<ProjectSpec> = {}): Project => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'https://git.example.com/shop.git' }, ...spec } });
const production: Environment = {
  ...env({ type: 'production', branch: 'main' }, 'shop-main'),
  status: { observedRevision: 'a'.repeat(40), namespace: 'shop-main', conditions: [{ type: 'DataCloned', status: 'True', reason: 'Empty', message: '', lastTransitionTime: '2026-11-01T00:00:00Z' }] },
};
const facts = (over: Partial<CloneFacts> = {}): CloneFacts => ({ environment: env(), project: project(), manifest, parentName: 'shop-main', parent: production, hasBackupStore: true, ...over });
const sources = (d: ReturnType<typeof decideClone>) => (d.kind === 'decided' ? Object.fromEntries(d.lineage.map((l) => [l.volume, l.source])) : d.kind);

describe('decideClone', () => {
  it.each([
    ['auto with a VolumeSnapshotClass: snapshots, except a service marked clone: empty', facts({ snapshotClass: 'csi' }), { db: 'snapshot', cache: 'empty', 'web-uploads': 'snapshot' }],
    ['auto without a snapshot class: the backup', facts(), { db: 'backup', cache: 'empty', 'web-uploads': 'backup' }],
    ['auto with neither: empty', facts({ hasBackupStore: false }), { db: 'empty', cache: 'empty', 'web-uploads': 'empty' }],
    ['clone: empty on the Environment', facts({ environment: env({ clone: 'empty' }), snapshotClass: 'csi' }), { db: 'empty', cache: 'empty', 'web-uploads': 'empty' }],
    ['the Project default applies when the Environment says nothing', facts({ project: project({ defaults: { clone: 'backup' } }), snapshotClass: 'csi' }), { db: 'backup', cache: 'empty', 'web-uploads': 'backup' }],
    ['the Environment overrides the Project default', facts({ environment: env({ clone: 'snapshot' }), project: project({ defaults: { clone: 'backup' } }), snapshotClass: 'csi' }), { db: 'snapshot', cache: 'empty', 'web-uploads': 'snapshot' }],
    ['production is the source, never a copy', facts({ environment: env({ type: 'production' }), snapshotClass: 'csi' }), { db: 'empty', cache: 'empty', 'web-uploads': 'empty' }],
    ['no production environment exists: empty', facts({ parent: undefined, snapshotClass: 'csi' }), { db: 'empty', cache: 'empty', 'web-uploads': 'empty' }],
    ['no parent at all: empty', facts({ parentName: undefined, parent: undefined }), { db: 'empty', cache: 'empty', 'web-uploads': 'empty' }],
  ])('%s', (_why, input, expected) => {
    expect(sources(decideClone(input))).toEqual(expected);
  });

  it('records the parent of every cloned volume', () => {
    const d = decideClone(facts({ snapshotClass: 'csi' }));
    expect(d).toMatchObject({ kind: 'decided', strategy: 'snapshot', message: 'Cloning from shop-main by VolumeSnapshot; cache empty (clone: empty)' });
    expect(d.kind === 'decided' && d.lineage.find((l) => l.volume === 'db')).toEqual({ volume: 'db', source: 'snapshot', parent: 'shop-main' });
  });

  it('waits for a parent named by hand that does not exist yet, or has no data yet', () => {
    expect(decideClone(facts({ environment: env({ parent: 'shop-staging' }), parentName: 'shop-staging', parent: undefined }))).toMatchObject({ kind: 'wait', reason: 'WaitingForParent' });
    const filling = { ...production, status: { ...production.status, conditions: [{ type: 'DataCloned', status: 'False' as const, reason: 'Filling', message: '', lastTransitionTime: '2026-11-01T00:00:00Z' }] } };
    expect(decideClone(facts({ parent: filling }))).toMatchObject({ kind: 'wait', message: 'Waiting for the parent Environment shop-main to have its data' });
    expect(decideClone(facts({ parent: { ...production, status: {} } }))).toMatchObject({ kind: 'wait' });
  });

  it('fails clearly when the requested strategy cannot be served', () => {
    expect(decideClone(facts({ environment: env({ clone: 'snapshot' }) }))).toEqual({ kind: 'fail', message: 'clone: snapshot needs a VolumeSnapshotClass for the driver of storage class (the default), and there is none' });
    expect(decideClone(facts({ environment: env({ clone: 'backup' }), hasBackupStore: false }))).toEqual({ kind: 'fail', message: 'clone: backup needs a BackupStore, and Project shop names none' });
  });

  it('fills a restored Environment from its Restore\'s Backup: the volumes the Backup holds, the rest empty', () => {
    const backup: Backup = {
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Backup',
      metadata: { name: 'nightly', namespace: 'team' },
      spec: { project: 'shop', environment: 'shop-main' },
      status: { completionTime: '2026-11-30T03:00:00Z', volumes: [{ name: 'db', kind: 'postgresql', snapshotId: 'abcdef12' }, { name: 'cache', kind: 'redis', snapshotId: 'abcdef13' }] },
    };
    const d = decideClone(facts({ environment: env({ clone: 'empty' }), restore: { name: 'undo', backup } }));
    // A Restore takes every volume its Backup has, whatever the manifest's clone settings say.
    expect(sources(d)).toEqual({ db: 'backup', cache: 'backup', 'web-uploads': 'empty' });
    expect(d.kind === 'decided' && d.lineage.find((l) => l.volume === 'db')).toEqual({ volume: 'db', source: 'backup', parent: 'shop-main', backup: 'nightly', time: '2026-11-30T03:00:00Z' });
    expect(decideClone(facts({ restore: { name: 'undo', backup: undefined } }))).toMatchObject({ kind: 'fail' });
  });
});

describe('usableBackup', () => {
  const backup = (name: string, ready: 'True' | 'False' | undefined, completed?: string, reason = 'Completed'): Backup => ({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: 'team' },
    spec: { project: 'shop', environment: 'shop-main' },
    status: { ...(completed ? { completionTime: completed } : {}), ...(ready ? { conditions: [{ type: 'Ready', status: ready, reason, message: '', lastTransitionTime: completed ?? '2026-11-30T00:00:00Z' }] } : {}) },
  });
  const now = Date.parse('2026-11-30T12:00:00Z');
  it.each([
    ['the latest complete one when young enough', [backup('old', 'True', '2026-11-29T03:00:00Z'), backup('new', 'True', '2026-11-30T03:00:00Z')], { use: 'new' }],
    ['one in progress when the latest is too old', [backup('old', 'True', '2026-11-20T03:00:00Z'), backup('running', 'False', undefined, 'InProgress')], { wait: 'running' }],
    ['a fresh one when the latest is too old and none runs', [backup('old', 'True', '2026-11-20T03:00:00Z'), backup('broken', 'False', undefined, 'BackupFailed')], { make: true }],
    ['a fresh one when there are none', [], { make: true }],
  ])('%s', (_why, backups, expected) => {
    const choice = usableBackup(backups, now, 86_400);
    expect('make' in choice ? choice : Object.fromEntries(Object.entries(choice).map(([k, b]) => [k, (b).metadata.name]))).toEqual(expected);
  });

  it('names the fresh backup by the minute, so concurrent clones share it', () => {
    expect(cloneBackup(production, now).metadata.name).toBe('shop-main-clone-202611301200');
    expect(cloneBackup(production, now + 30_000).metadata.name).toBe(cloneBackup(production, now).metadata.name);
    expect(cloneBackup(production, now).spec).toEqual({ project: 'shop', environment: 'shop-main', trigger: 'clone', retentionSeconds: 7 * 86400 });
  });
});

describe('snapshot objects', () => {
  const input = { child: env(), childNamespace: 'shop-feature-x', parentNamespace: 'shop-main', volume: { name: 'db', kind: 'postgresql' as const }, snapshotClass: 'csi-hostpath' };
  it('snapshots the parent\'s claim and offers the same handle in the child\'s namespace, without taking ownership of it', () => {
    const names = cloneSnapshotNames(input.child, 'db');
    expect(parentSnapshot(input)).toMatchObject({ metadata: { name: names.snapshot, namespace: 'shop-main' }, spec: { volumeSnapshotClassName: 'csi-hostpath', source: { persistentVolumeClaimName: 'data-db-0' } } });
    expect(childSnapshotContent({ ...input, driver: 'hostpath.csi.k8s.io', snapshotHandle: 'h-1' })).toMatchObject({
      metadata: { name: names.content },
      spec: { deletionPolicy: 'Retain', driver: 'hostpath.csi.k8s.io', source: { snapshotHandle: 'h-1' }, volumeSnapshotRef: { name: names.snapshot, namespace: 'shop-feature-x' } },
    });
    expect(childSnapshot(input)).toMatchObject({ metadata: { namespace: 'shop-feature-x' }, spec: { source: { volumeSnapshotContentName: names.content } } });
    expect(parentSnapshot({ ...input, volume: { name: 'web-uploads', kind: 'files', claimName: 'web-uploads' } }).spec).toMatchObject({ source: { persistentVolumeClaimName: 'web-uploads' } });
  });

  it('names are unique per child and volume and valid Kubernetes names', () => {
    const a = cloneSnapshotNames(env(), 'db');
    expect(cloneSnapshotNames(env({}, 'shop-other'), 'db').snapshot).not.toBe(a.snapshot);
    expect(cloneSnapshotNames(env(), 'web-uploads').content).not.toBe(a.content);
    expect(cloneSnapshotNames(env(), 'v'.repeat(80)).snapshot).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });

  it('gives the planner the VolumeSnapshot each claim is made from: a clone\'s, or a restore\'s offer', () => {
    expect(snapshotSources([{ volume: 'db', source: 'snapshot', snapshot: 's1' }, { volume: 'web-uploads', source: 'snapshot' }, { volume: 'cache', source: 'backup', snapshot: 'x' }, { volume: 'logs', source: 'empty' }])).toEqual({ db: 's1', cache: 'x' });
  });
});

describe('servicesToSanitize', () => {
  const marked = parseManifest(`version: 1
applications:
  web: { image: web:1, hooks: { sanitize: [/shop, sanitize] } }
services:
  db: { type: "postgresql:15", clone: sanitized }
  reports: { type: "postgresql:15", clone: full }
  cache: { type: "redis:7", clone: empty }
`);
  if (!marked.ok) throw new Error('fixture manifest is invalid');
  const m = resolveManifest(marked.manifest, { type: 'development', commit: 'abc', branch: 'feature/x', environment: 'shop-feature-x' });
  const copied = [
    { volume: 'db', source: 'snapshot' as const },
    { volume: 'reports', source: 'backup' as const },
    { volume: 'cache', source: 'empty' as const },
  ];

  it('names the copied services marked sanitized, and only those: a full copy stays as it came', () => {
    expect(servicesToSanitize(m, copied, 'development')).toEqual(['db']);
    expect(servicesToSanitize(m, copied, 'staging')).toEqual(['db']);
  });

  it('scrubs nothing that was not copied, and nothing in production', () => {
    expect(servicesToSanitize(m, copied.map((l) => ({ ...l, source: 'empty' as const })), 'development')).toEqual([]);
    expect(servicesToSanitize(m, copied, 'production')).toEqual([]);
    expect(servicesToSanitize(m, undefined, 'development')).toEqual([]);
  });
});
