// The Backup controller on the local cluster with MinIO, restic and PostgreSQL; the mover Jobs
// run on this host (movers.ts).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backup, backupSnapshotNames, type Environment, type KubeObject, type Project } from '../../../src/api/index.ts';
import { Restic } from '../../../src/data/restic/index.ts';
import { repositoryOf } from '../../../src/data/store/index.ts';
import { type PostgresServer, startPostgres } from '../../../local/postgres.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace, volumeDir } from '../helpers.ts';
import { createBackupStore, finishPod, moverJobs as jobsWith, runMoverJob as runOnHost, secretData, type Job } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

// Each Job's volume is its claim's on the local CSI driver: a backup's, the one made from the offered snapshot.
const runMoverJob = (job: Job) => runOnHost(job, { work, pg, database: 'shop' });
const moverJobs = (namespace: string, backupName: string) => jobsWith(namespace, `grove.dev/backup=${backupName}`);

const MANIFEST = `version: 1
applications:
  web:
    image: shop/web:1
    port: 8080
    relationships: { database: db }
    mounts: { uploads: { path: /app/uploads, size: 1Gi } }
services:
  db: { type: "postgresql:16", size: 1Gi }
`;


let ns: string;
let project: string;
let op: OperatorProcess;
let pg: PostgresServer;
let work: string;
let scheduledRevision: string;
const bucket = `backups-${randomBytes(3).toString('hex')}`;
const api = 'grove.dev/v1alpha1';

const backup = (name: string) => kube().get<Backup>({ apiVersion: api, kind: 'Backup', namespace: ns, name });
const restic = () => {
  const minio = cluster().minio!;
  const store = { endpoint: minio.url, bucket, prefix: 'grove', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: 'correct horse battery staple' };
  return new Restic(repositoryOf(store, ns, project), { cacheDir: join(work, 'restic-cache') });
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-backups-'));
  ns = await testNamespace('backups');
  project = `shop${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, bucket, 'correct horse battery staple');
  pg = await startPostgres();
  await pg.sql('postgres', 'create database shop');
  await pg.sql('shop', "create table orders as select g as id, 'sku-' || g as sku from generate_series(1, 5000) g");

  const repo = await createRepo(cluster().git!.root, project);
  const revision = await repo.commit('main', { 'platform.yaml': MANIFEST });
  scheduledRevision = await repo.commit('nightly', { 'platform.yaml': `${MANIFEST}backups: { schedule: "* * * * *", retain: 1h, types: [staging] }\n` });
  await repo.push();
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, storageClassName: cluster().csi!.storageClass, branches: { include: ['nothing-here'] } } });
  // Made with kubectl, pinned to the commit: no branch tracking needed for this test; empty
  // volumes, since cloning production's is another test's subject.
  await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'staging', namespace: ns }, spec: { project, branch: 'main', revision, type: 'staging', clone: 'empty' } });
  op = await startOperator(ns);
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await pg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the Backup controller', () => {
  it('runs one restricted mover Job per volume and database, and completes from the repository', async () => {
    await expect.poll(async () => conditionStatus(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'staging' }), 'Ready'), { timeout: 60_000, interval: 500 }).toBe('True');
    const target = `${project}-staging`;
    // An earlier version left the store's keys here for its movers; an operator that starts removes them.
    await kube().create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'grove-backup-store', namespace: target }, stringData: { RESTIC_PASSWORD: 'correct horse battery staple' } } as KubeObject);
    await op.kill('SIGKILL');
    op = await startOperator(ns);
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'Secret', namespace: target, name: 'grove-backup-store' }), { timeout: 30_000 }).toBeUndefined();

    const photo = randomBytes(200_000);
    await writeFile(join(await volumeDir(target, 'web-uploads'), 'photo.jpg'), photo);

    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'nightly-1', namespace: ns }, spec: { project, environment: 'staging', retentionSeconds: 86_400 } });
    await expect.poll(async () => (await moverJobs(target, 'nightly-1')).length, { timeout: 20_000 }).toBe(2);
    const jobs = await moverJobs(target, 'nightly-1');
    const byVolume = Object.fromEntries(jobs.map((j) => [j.metadata.labels?.['grove.dev/volume'], j]));

    // The database is dumped from the operator's namespace (here the watched one), over the
    // network, with a Secret of the Job's own that the Job owns; the volume from its namespace.
    expect(byVolume.db!.metadata.namespace).toBe(ns);
    const db = byVolume.db!.spec.template.spec;
    expect(db.containers[0].image).toBe('ghcr.io/grove-dev/grove:0.1.0');
    expect(db.containers[0].args).toEqual(['mover', 'backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'nightly-1', '--environment', 'staging', '--result-file', '/dev/termination-log']);
    expect(db.containers[0].envFrom).toEqual([{ secretRef: { name: byVolume.db!.metadata.name } }]);
    const dbSecret = await kube().get<KubeObject & { metadata: { ownerReferences?: Array<{ kind: string; uid: string }> } }>({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: byVolume.db!.metadata.name as string });
    expect(dbSecret?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', uid: byVolume.db!.metadata.uid })]);
    const dbEnv = await secretData(ns, byVolume.db!.metadata.name as string);
    expect([dbEnv.DB_HOST, dbEnv.DB_PORT, dbEnv.RESTIC_REPOSITORY]).toEqual([`db.${target}.svc`, '5432', `s3:${cluster().minio!.url}/${bucket}/grove/restic/${ns}/${project}`]);
    // The volume's files reach the operator's namespace as a claim made from an offered snapshot.
    const staged = backupSnapshotNames({ namespace: ns, name: 'nightly-1' }, 'web-uploads').snapshot;
    expect(byVolume['web-uploads']!.metadata.namespace).toBe(ns);
    expect(await kube().get({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', namespace: target, name: staged })).toBeDefined();
    expect(db.automountServiceAccountToken).toBe(false);
    expect(db.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const files = byVolume['web-uploads']!.spec.template.spec;
    expect(files.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: staged, readOnly: true } });
    expect(files.containers[0].args).toContain('/data');
    // The store's keys are in the operator's namespace only: the Environment's has no mover Secret.
    expect(await secretData(ns, byVolume['web-uploads']!.metadata.name as string)).toMatchObject({ RESTIC_PASSWORD: 'correct horse battery staple' });
    expect(await kube().get({ apiVersion: 'v1', kind: 'Secret', namespace: target, name: 'grove-backup-store' })).toBeUndefined();

    for (const job of jobs) await runMoverJob(job);
    await expect.poll(async () => conditionStatus(await backup('nightly-1'), 'Ready'), { timeout: 150_000, interval: 1000 }).toBe('True');
    const done = (await backup('nightly-1'))!;
    const snapshots = await restic().snapshots({ backup: 'nightly-1' });
    expect(done.status?.volumes?.map((v) => [v.name, v.kind, v.snapshotId]).sort()).toEqual(
      snapshots.map((s) => [s.tags.find((t) => t.startsWith('volume='))!.slice(7), s.tags.find((t) => t.startsWith('kind='))!.slice(5), s.id]).sort(),
    );
    expect(done.status?.branch).toBe('main');
    expect(Date.parse(done.status!.expiresAt!) - Date.parse(done.status!.completionTime!)).toBe(86_400_000);
    // The files in the repository are the volume's, through the snapshot.
    const restored = join(work, 'restored');
    await restic().restoreDirectory(done.status!.volumes!.find((v) => v.name === 'web-uploads')!.snapshotId!, restored);
    expect((await readFile(join(restored, 'photo.jpg'))).equals(photo)).toBe(true);
    // What carried them is gone: the claim made in the operator's namespace, and the snapshots.
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: staged }), { timeout: 30_000 }).toBeUndefined();
    for (const namespace of [ns, target]) expect(await kube().get({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', namespace, name: staged })).toBeUndefined();
    // And the Jobs, once the completion is written, with the Secrets that held the store's keys.
    await expect.poll(async () => (await moverJobs(target, 'nightly-1')).length, { timeout: 30_000 }).toBe(0);
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: byVolume.db!.metadata.name as string }), { timeout: 30_000 }).toBeUndefined();
    expect(conditionStatus(await backup('nightly-1'), 'Ready')).toBe('True');
    await expect.poll(async () => (await backup('nightly-1'))?.metadata.finalizers ?? [], { timeout: 10_000 }).not.toContain('grove.dev/backup-movers');
  }, 200_000);

  it('releases what the movers of a Backup held when the Backup is deleted before it completes', async () => {
    const target = `${project}-staging`;
    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'dropped', namespace: ns }, spec: { project, environment: 'staging' } });
    await expect.poll(async () => (await moverJobs(target, 'dropped')).length, { timeout: 30_000 }).toBe(2);
    const staged = backupSnapshotNames({ namespace: ns, name: 'dropped' }, 'web-uploads');
    const snapshot = (namespace: string) => kube().get({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', namespace, name: staged.snapshot });
    expect(await snapshot(ns)).toBeDefined();
    expect(await snapshot(target)).toBeDefined();
    const secrets = (await moverJobs(target, 'dropped')).map((j) => j.metadata.name as string);
    const claims = async () => (await kube().list('v1', 'PersistentVolumeClaim', { namespace: target })).items.map((c) => c.metadata.name).sort();
    const claimsBefore = await claims();

    // Its finalizer holds the deletion until the operator has released what the movers held.
    expect((await backup('dropped'))?.metadata.finalizers).toContain('grove.dev/backup-movers');
    await kube().delete({ apiVersion: api, kind: 'Backup', namespace: ns, name: 'dropped' });
    await expect.poll(() => backup('dropped'), { timeout: 30_000 }).toBeUndefined();
    expect((await moverJobs(target, 'dropped')).length).toBe(0);
    await expect.poll(async () => [await snapshot(ns), await snapshot(target)], { timeout: 30_000 }).toEqual([undefined, undefined]);
    expect(await kube().get({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', name: staged.content })).toBeUndefined();
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: staged.snapshot }), { timeout: 30_000 }).toBeUndefined();
    for (const name of secrets) await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name }), { timeout: 30_000 }).toBeUndefined();
    // Only what the movers held: the Environment's claim and the completed Backup stay.
    expect(await claims()).toEqual(claimsBefore);
    expect(conditionStatus(await backup('nightly-1'), 'Ready')).toBe('True');
  }, 120_000);

  it('marks a backup failed, never complete, when a Job completes but the repository has no snapshot', async () => {
    // The pods "succeed" without running the mover, and restic has nothing to show.
    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'hollow', namespace: ns }, spec: { project, environment: 'staging' } });
    await expect.poll(async () => (await moverJobs(`${project}-staging`, 'hollow')).length, { timeout: 20_000 }).toBe(2);
    for (const job of await moverJobs(`${project}-staging`, 'hollow')) await finishPod(job, 0);
    await expect.poll(async () => (await backup('hollow'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, { timeout: 90_000, interval: 2000 }).toBe('BackupFailed');
    expect((await backup('hollow'))?.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/the repository has no snapshot of db, web-uploads although the mover Jobs completed/);
    expect((await backup('hollow'))?.status?.completionTime).toBeUndefined();
  }, 120_000);

  it('keeps Backups when their Environment is deleted, and the collector removes only expired ones', async () => {
    const kept = (await backup('nightly-1'))!;
    await kube().delete({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'staging' });
    await expect.poll(() => kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'staging' }), { timeout: 60_000 }).toBeUndefined();
    expect((await backup('nightly-1'))?.metadata.uid).toBe(kept.metadata.uid);
    expect(await restic().snapshots({ backup: 'nightly-1' })).toHaveLength(2);

    // Its retention runs out: the snapshots are forgotten and pruned, then the Backup goes.
    await kube().applyStatus(
      { apiVersion: api, kind: 'Backup', metadata: { name: 'nightly-1', namespace: ns }, status: { ...kept.status, expiresAt: new Date(Date.now() + 2000).toISOString() } },
      { fieldManager: 'grove', force: true },
    );
    await kube().mergePatch({ apiVersion: api, kind: 'Backup', namespace: ns, name: 'nightly-1' }, { metadata: { annotations: { 'example.com/nudge': '1' } } }, { fieldManager: 'test' });
    await expect.poll(() => backup('nightly-1'), { timeout: 60_000, interval: 1000 }).toBeUndefined();
    expect(await restic().snapshots({ backup: 'nightly-1' })).toEqual([]);
    // Not expired (no retention): untouched.
    expect(await backup('hollow')).toBeDefined();
  }, 120_000);

  it('creates the Backup of each schedule slot, and backs up once more before deleting the namespace', async () => {
    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'nightly', namespace: ns }, spec: { project, branch: 'nightly', revision: scheduledRevision, type: 'staging', clone: 'empty' } });
    const target = `${project}-nightly`;
    // "* * * * *": the first slot after the Environment was made is at most a minute away.
    await expect
      .poll(async () => (await kube().list<Backup>(api, 'Backup', { namespace: ns, labelSelector: 'grove.dev/environment=nightly,grove.dev/trigger=scheduled' })).items.length, { timeout: 90_000, interval: 1000 })
      .toBeGreaterThan(0);
    const [scheduled] = (await kube().list<Backup>(api, 'Backup', { namespace: ns, labelSelector: 'grove.dev/environment=nightly,grove.dev/trigger=scheduled' })).items;
    expect(scheduled!.metadata.name).toMatch(/^nightly-\d{12}$/);
    expect(scheduled!.spec).toEqual({ project, environment: 'nightly', trigger: 'scheduled', retentionSeconds: 3600 });
    // The slot served is stored (this one, or a later minute's by now), so a collected Backup is never made again for it.
    const slot = scheduled!.metadata.name!.slice('nightly-'.length);
    const served = async () => (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' }))?.status?.lastScheduledBackupTime?.replace(/[-T:]/g, '').slice(0, 12) ?? '';
    await expect.poll(async () => (await served()) >= slot, { timeout: 10_000 }).toBe(true);

    // Demoted to a type that is not backed up before its deletion: it was staging, so its data
    // still gets a final Backup.
    await kube().mergePatch({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' }, { spec: { type: 'development' } }, { fieldManager: 'test' });
    await expect.poll(async () => (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' }))?.status?.typesHeld, { timeout: 30_000 }).toEqual(['staging', 'development']);
    await kube().delete({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' });
    await expect.poll(async () => (await moverJobs(target, 'nightly-final')).length, { timeout: 30_000 }).toBe(2);
    const waiting = await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' });
    expect(waiting?.status?.conditions?.find((c) => c.type === 'BackedUp')).toMatchObject({ status: 'False', reason: 'FinalBackupRunning' });
    expect(await kube().get({ apiVersion: 'v1', kind: 'Namespace', name: target })).toBeDefined();

    for (const job of await moverJobs(target, 'nightly-final')) await runMoverJob(job);
    await expect.poll(() => kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'nightly' }), { timeout: 120_000, interval: 1000 }).toBeUndefined();
    expect(await kube().get({ apiVersion: 'v1', kind: 'Namespace', name: target })).toBeUndefined();
    const final = await backup('nightly-final');
    expect(conditionStatus(final, 'Ready')).toBe('True');
    expect(final?.spec.trigger).toBe('final');
    expect((await restic().snapshots({ backup: 'nightly-final' })).length).toBe(2);
  }, 240_000);
});
