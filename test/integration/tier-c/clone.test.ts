// Data for new Environments on the local cluster, with MinIO, restic and PostgreSQL: a child
// Environment's volumes restored from its parent's backup before its applications start, a fresh
// backup when the latest is too old, and Restores into new Environments (also through the CLI).
// The mover Jobs run on this host (movers.ts).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backup, type Environment, type KubeObject, type Project, type Restore, restoreSnapshotNames } from '../../../src/api/index.ts';
import { Restic } from '../../../src/data/restic/index.ts';
import { repositoryOf } from '../../../src/data/store/index.ts';
import { type PostgresServer, startPostgres } from '../../../local/postgres.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, type Conditioned, conditionStatus, kube, testNamespace, volumeDir } from '../helpers.ts';
import { createBackupStore, type Job, moverJobs, runMoverJob } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));
const MANIFEST = `version: 1
applications:
  web:
    image: shop/web:1
    port: 8080
    relationships: { database: db }
    mounts: { uploads: { path: /app/uploads, size: 1Gi } }
    hooks: { sanitize: [node, scripts/sanitize.js] }
services:
  db: { type: "postgresql:16", size: 1Gi, clone: sanitized }
`;
const api = 'grove.dev/v1alpha1';

let ns: string;
let project: string;
/** Production: the production branch's Environment, which the Project controller makes. */
let prod: string;
let revision: string;
let op: OperatorProcess;
let pg: PostgresServer;
let work: string;
const bucket = `clones-${randomBytes(3).toString('hex')}`;

const get = <T extends KubeObject>(kind: string, name: string, namespace = ns) => kube().get<T>({ apiVersion: kind === 'Deployment' || kind === 'StatefulSet' ? 'apps/v1' : kind === 'Job' ? 'batch/v1' : api, kind, namespace, name });
const environment = (name: string) => get<Environment>('Environment', name);
const dataCloned = async (name: string) => (await environment(name))?.status?.conditions?.find((c) => c.type === 'DataCloned');

async function digest(dir: string): Promise<Record<string, string>> {
  const files = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, createHash('sha256').update(await readFile(join(dir, f))).digest('hex')] as const)));
}

async function environmentReady(name: string, timeout = 120_000): Promise<Environment> {
  await expect.poll(async () => conditionStatus(await environment(name), 'Ready'), { timeout, interval: 500 }).toBe('True');
  return (await environment(name))!;
}

/**
 * A restore Job of an Environment's volume, once the operator starts it: the files' first (into
 * a claim in the operator's namespace, offered to the Environment's), the database's once its
 * server runs.
 */
async function restoreJob(namespace: string, selector: string, volume: string): Promise<Job> {
  const find = async () => (await moverJobs(namespace, selector)).find((j) => j.metadata.labels?.['grove.dev/volume'] === volume);
  await expect.poll(find, { timeout: 90_000, interval: 500 }).toBeDefined();
  return (await find())!;
}

/** Runs the restore Jobs of an Environment on this host, each once it is there. */
async function restoreOnHost(env: string, database: string, selector = `grove.dev/restore=${env}`): Promise<Job[]> {
  const namespace = `${project}-${env}`;
  const files = await restoreJob(namespace, selector, 'web-uploads');
  await runMoverJob(files, { work });
  const db = await restoreJob(namespace, selector, 'db');
  await pg.sql('postgres', `create database ${database}`).catch(() => undefined);
  await runMoverJob(db, { work, pg, database });
  return [files, db];
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-clones-'));
  ns = await testNamespace('clones');
  project = `shop${randomBytes(2).toString('hex')}`;
  prod = `${project}-main`;
  await createBackupStore(ns, bucket, 'clone me if you can');
  pg = await startPostgres();

  const repo = await createRepo(cluster().git!.root, project);
  revision = await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.push();
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, storageClassName: cluster().csi!.storageClass, defaults: { clone: 'backup' }, branches: { include: ['nothing-here'] } } });
  op = await startOperator(ns);

  // Production's data lives in a directory and a database here.
  await pg.sql('postgres', 'create database prod_db');
  await pg.sql('prod_db', "create table customers as select g as id, 'person-' || g || '@example.com' as email from generate_series(1, 5000) g");
  await mkdir(join(work, 'prod-uploads'), { recursive: true });
  for (const [name, size] of [['a.jpg', 300_000], ['b.pdf', 70_000], ['c.txt', 12]] as const) await writeFile(join(work, 'prod-uploads', name), randomBytes(size));
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await pg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('data for new Environments', () => {
  it('starts production with empty volumes, and backs it up', async () => {
    const production = await environmentReady(prod);
    expect(production.spec.type).toBe('production');
    expect(production.status?.conditions?.find((c) => c.type === 'DataCloned')).toMatchObject({ status: 'True', reason: 'Empty' });
    expect(production.status?.lineage).toEqual([
      { volume: 'db', source: 'empty' },
      { volume: 'web-uploads', source: 'empty' },
    ]);

    // Production's files go into its volume; a copy stays here to compare with.
    await cp(join(work, 'prod-uploads'), await volumeDir(prod, 'web-uploads'), { recursive: true });
    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'prod-nightly', namespace: ns }, spec: { project, environment: prod } });
    await expect.poll(async () => (await moverJobs(prod, 'grove.dev/backup=prod-nightly')).length, { timeout: 30_000 }).toBe(2);
    for (const job of await moverJobs(prod, 'grove.dev/backup=prod-nightly')) await runMoverJob(job, { work, pg, database: 'prod_db' });
    await expect.poll(async () => conditionStatus(await get<Backup>('Backup', 'prod-nightly'), 'Ready'), { timeout: 120_000, interval: 1000 }).toBe('True');
  }, 200_000);

  it('fills a child from its parent\'s backup and sanitises it before any application starts', async () => {
    const nightly = (await get<Backup>('Backup', 'prod-nightly'))!;
    const snapshotOf = (volume: string) => nightly.status?.volumes?.find((v) => v.name === volume)?.snapshotId;
    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'feature', namespace: ns }, spec: { project, branch: 'main', revision } });
    const target = `${project}-feature`;

    const jobs = await restoreOnHostAfterChecks(target, snapshotOf);
    expect(jobs).toHaveLength(2);

    // The data is in: the sanitize hook runs, still before the application.
    await expect.poll(async () => (await get<Conditioned>('Job', `web-sanitize-${revision.slice(0, 12)}`, target)) !== undefined, { timeout: 60_000, interval: 100 }).toBe(true);
    expect(await get('Deployment', 'web', target)).toBeUndefined();
    const sanitize = (await get<Job>('Job', `web-sanitize-${revision.slice(0, 12)}`, target))!;
    expect(sanitize.spec.template.spec.containers[0]?.command).toEqual(['node', 'scripts/sanitize.js']);

    const feature = await environmentReady('feature');
    expect(await get('Deployment', 'web', target)).toBeDefined();
    expect(feature.status?.conditions?.find((c) => c.type === 'DataCloned')).toMatchObject({ status: 'True', reason: 'Cloned' });
    expect(feature.status?.lineage).toEqual([
      { volume: 'db', source: 'backup', parent: prod, backup: 'prod-nightly', snapshotId: snapshotOf('db'), time: nightly.status?.completionTime },
      { volume: 'web-uploads', source: 'backup', parent: prod, backup: 'prod-nightly', snapshotId: snapshotOf('web-uploads'), snapshot: restoreSnapshotNames({ namespace: ns, name: 'feature' }, 'web-uploads').snapshot, time: nightly.status?.completionTime },
    ]);
    // The data itself, byte for byte and row for row.
    expect(await digest(await volumeDir(target, 'web-uploads'))).toEqual(await digest(join(work, 'prod-uploads')));
    expect(await pg.sql('feature_db', 'select count(*), md5(string_agg(email, \',\' order by id)) from customers')).toBe(await pg.sql('prod_db', 'select count(*), md5(string_agg(email, \',\' order by id)) from customers'));
    // What carried the files is gone from the operator's namespace.
    const staged = restoreSnapshotNames({ namespace: ns, name: 'feature' }, 'web-uploads').snapshot;
    await expect.poll(() => kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: staged }), { timeout: 30_000 }).toBeUndefined();
    expect(await kube().get({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', namespace: target, name: staged })).toBeUndefined();
    // The backup was young enough: no fresh one was taken.
    expect((await kube().list<Backup>(api, 'Backup', { namespace: ns, labelSelector: 'grove.dev/trigger=clone' })).items).toEqual([]);
  }, 240_000);

  it('takes a fresh backup of the parent first when its latest is older than the Project allows', async () => {
    await kube().mergePatch({ apiVersion: api, kind: 'Project', namespace: ns, name: project }, { spec: { defaults: { cloneBackupMaxAgeSeconds: 0 } } }, { fieldManager: 'test' });
    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'hotfix', namespace: ns }, spec: { project, branch: 'main', revision } });
    const fresh = async () => (await kube().list<Backup>(api, 'Backup', { namespace: ns, labelSelector: 'grove.dev/trigger=clone' })).items;
    await expect.poll(async () => (await fresh()).length, { timeout: 30_000, interval: 500 }).toBe(1);
    const [backup] = await fresh();
    expect(backup!.metadata.name).toMatch(new RegExp(`^${prod}-clone-\\d{12}$`));
    expect(backup!.spec).toMatchObject({ project, environment: prod, trigger: 'clone' });
    await expect.poll(async () => (await dataCloned('hotfix'))?.message, { timeout: 20_000 }).toMatch(new RegExp(`waiting for Backup ${backup!.metadata.name}`));

    await expect.poll(async () => (await moverJobs(prod, `grove.dev/backup=${backup!.metadata.name}`)).length, { timeout: 30_000 }).toBe(2);
    for (const job of await moverJobs(prod, `grove.dev/backup=${backup!.metadata.name}`)) await runMoverJob(job, { work, pg, database: 'prod_db' });
    await expect.poll(async () => conditionStatus(await get<Backup>('Backup', backup!.metadata.name!), 'Ready'), { timeout: 120_000, interval: 1000 }).toBe('True');
    const completed = (await get<Backup>('Backup', backup!.metadata.name!))!;

    const jobs = await restoreOnHost('hotfix', 'hotfix_db');
    const db = jobs.find((j) => j.metadata.labels?.['grove.dev/volume'] === 'db')!;
    expect(db.spec.template.spec.containers[0]?.args).toContain(completed.status?.volumes?.find((v) => v.name === 'db')?.snapshotId);
    await environmentReady('hotfix');
    expect((await environment('hotfix'))?.status?.lineage?.map((l) => l.backup)).toEqual([backup!.metadata.name, backup!.metadata.name]);
  }, 300_000);

  it('restores a Backup into a new Environment with grove restore, and never over an existing one', async () => {
    const { stdout } = await run(process.execPath, [main, 'restore', 'prod-nightly', '--name', 'undo', '-n', ns, '--kubeconfig', cluster().kubeconfig]);
    expect(stdout).toBe('Created Restore undo of Backup prod-nightly into Environment undo\n');
    await expect.poll(() => environment('undo'), { timeout: 30_000 }).toBeDefined();
    const made = (await environment('undo'))!;
    expect(made.spec).toEqual({ project, branch: 'main', revision, type: 'development', clone: 'empty', state: 'active', protected: false });
    expect(made.metadata.annotations?.['grove.dev/restore']).toBe('undo');
    // Filled before its workloads start.
    await restoreJob(`${project}-undo`, 'grove.dev/restore=undo', 'web-uploads');
    expect(await get('Deployment', 'web', `${project}-undo`)).toBeUndefined();
    expect(conditionStatus(await get<Restore>('Restore', 'undo'), 'Ready')).toBe('False');

    await restoreOnHost('undo', 'undo_db');
    await expect.poll(async () => conditionStatus(await get<Restore>('Restore', 'undo'), 'Ready'), { timeout: 120_000, interval: 500 }).toBe('True');
    const restore = (await get<Restore>('Restore', 'undo'))!;
    expect(restore.status?.targetEnvironment).toBe('undo');
    expect(restore.status?.completionTime).toBeDefined();
    expect(await digest(await volumeDir(`${project}-undo`, 'web-uploads'))).toEqual(await digest(join(work, 'prod-uploads')));
    expect(await pg.sql('undo_db', 'select count(*) from customers')).toBe('5000');

    // Pointing a Restore at an existing Environment without overwriteExisting changes nothing there.
    await kube().create<Restore>({ apiVersion: api, kind: 'Restore', metadata: { name: 'oops', namespace: ns }, spec: { backup: 'prod-nightly', targetEnvironment: prod } });
    await expect.poll(async () => (await get<Restore>('Restore', 'oops'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, { timeout: 30_000 }).toBe('TargetExists');
    expect((await get<Restore>('Restore', 'oops'))?.status?.conditions?.[0]?.message).toMatch(new RegExp(`Environment ${prod} already exists and was not made by this Restore; its data is left alone`));
    expect(await moverJobs(prod, 'grove.dev/restore')).toEqual([]);
    expect((await environment(prod))?.metadata.annotations?.['grove.dev/restore']).toBeUndefined();
  }, 240_000);

  it('replaces an existing Environment\'s data only after backing it up, with its applications stopped', async () => {
    const target = `${project}-feature`;
    const uploads = await volumeDir(target, 'web-uploads');
    // An agent's mistake: files changed and added, rows deleted.
    await writeFile(join(uploads, 'a.jpg'), 'overwritten');
    await writeFile(join(uploads, 'junk.txt'), 'should not survive the restore');
    await pg.sql('feature_db', 'delete from customers where id > 100');

    const { stdout } = await run(process.execPath, [main, 'restore', 'prod-nightly', '--target', 'feature', '--overwrite', '--name', 'rewind', '-n', ns, '--kubeconfig', cluster().kubeconfig]);
    expect(stdout).toBe('Created Restore rewind of Backup prod-nightly into Environment feature\n');
    // First the data being replaced is backed up; nothing is touched until that completes.
    await expect.poll(async () => (await moverJobs(target, 'grove.dev/backup=rewind-before')).length, { timeout: 30_000, interval: 500 }).toBe(2);
    expect((await get<Backup>('Backup', 'rewind-before'))?.spec).toEqual({ project, environment: 'feature', trigger: 'restore' });
    expect((await environment('feature'))?.metadata.annotations?.['grove.dev/restore']).toBeUndefined();
    expect(await get('Deployment', 'web', target)).toBeDefined();
    for (const job of await moverJobs(target, 'grove.dev/backup=rewind-before')) await runMoverJob(job, { work, pg, database: 'feature_db' });

    // Then the applications stop and the restore Jobs run.
    const files = await restoreJob(target, 'grove.dev/restore=rewind', 'web-uploads');
    await expect.poll(() => get('Deployment', 'web', target), { timeout: 30_000 }).toBeUndefined();
    expect(await kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: target, name: 'web-uploads' })).toBeDefined();
    expect((await get<Restore>('Restore', 'rewind'))?.status?.safetyBackup).toBe('rewind-before');
    await runMoverJob(files, { work });
    await runMoverJob(await restoreJob(target, 'grove.dev/restore=rewind', 'db'), { work, pg, database: 'feature_db' });

    await expect.poll(async () => conditionStatus(await get<Restore>('Restore', 'rewind'), 'Ready'), { timeout: 120_000, interval: 500 }).toBe('True');
    await environmentReady('feature');
    expect(await get('Deployment', 'web', target)).toBeDefined();
    expect((await environment('feature'))?.status?.lastRestore).toBe('rewind');
    // Exactly the backup's data again, in a claim made from the restored snapshot.
    const replaced = await kube().get<KubeObject & { spec: { dataSource?: { name: string } } }>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: target, name: 'web-uploads' });
    expect(replaced?.spec.dataSource?.name).toBe(restoreSnapshotNames({ namespace: ns, name: 'rewind' }, 'web-uploads').snapshot);
    expect(await digest(await volumeDir(target, 'web-uploads'))).toEqual(await digest(join(work, 'prod-uploads')));
    expect(await pg.sql('feature_db', 'select count(*) from customers')).toBe('5000');
    // And the way back: the replaced data is in the safety Backup.
    const safety = (await get<Backup>('Backup', 'rewind-before'))!;
    expect(conditionStatus(safety, 'Ready')).toBe('True');
    const before = join(work, 'before');
    const minio = cluster().minio!;
    const repo = repositoryOf({ endpoint: minio.url, bucket, prefix: 'grove', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: 'clone me if you can' }, ns, project);
    await new Restic(repo, { cacheDir: join(work, 'restic-cache') }).restoreDirectory(safety.status!.volumes!.find((v) => v.name === 'web-uploads')!.snapshotId!, before);
    expect(await readFile(join(before, 'junk.txt'), 'utf8')).toBe('should not survive the restore');
  }, 300_000);
});

/** Runs the child's restore Jobs here, each once it is there, checking that nothing else of it runs yet. */
async function restoreOnHostAfterChecks(target: string, snapshotOf: (volume: string) => string | undefined): Promise<Job[]> {
  const files = await restoreJob(target, 'grove.dev/restore=feature', 'web-uploads');
  expect(conditionStatus(await environment('feature'), 'Ready')).toBe('False');
  expect(await get('Deployment', 'web', target)).toBeUndefined();
  await runMoverJob(files, { work });
  const db = await restoreJob(target, 'grove.dev/restore=feature', 'db');
  expect(await dataCloned('feature')).toMatchObject({ status: 'False', reason: 'Filling' });
  expect(await get('Deployment', 'web', target)).toBeUndefined();
  // The database runs, so its dump can be restored through it.
  expect(await get('StatefulSet', 'db', target)).toBeDefined();

  const jobs = [files, db];
  const byVolume = Object.fromEntries(jobs.map((j) => [j.metadata.labels?.['grove.dev/volume'], j.spec.template.spec]));
  expect(byVolume.db.containers[0].args).toEqual(['mover', 'restore', '--name', 'db', '--kind', 'postgresql', '--snapshot', snapshotOf('db')]);
  // The dump goes in through the server, from the operator's namespace, with the Job's own Secret.
  const dbJob = jobs.find((j) => j.metadata.labels?.['grove.dev/volume'] === 'db')!;
  expect(dbJob.metadata.namespace).toBe(ns);
  expect(byVolume.db.containers[0].envFrom).toEqual([{ secretRef: { name: dbJob.metadata.name } }]);
  expect(await kube().get({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: target, name: 'allow-grove-movers' })).toBeDefined();
  expect(byVolume['web-uploads'].containers[0].args).toEqual(['mover', 'restore', '--name', 'web-uploads', '--kind', 'files', '--path', '/data', '--snapshot', snapshotOf('web-uploads'), '--replace']);
  // The files go into a claim in the operator's namespace (writable: the API server drops readOnly: false), offered here once filled.
  const staged = restoreSnapshotNames({ namespace: ns, name: 'feature' }, 'web-uploads').snapshot;
  expect(jobs.every((j) => j.metadata.namespace === ns)).toBe(true);
  expect(byVolume['web-uploads'].volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: staged } });
  expect(byVolume.db.automountServiceAccountToken).toBe(false);
  // No pod here may reach the store, and no Secret here holds its keys.
  expect(await kube().get({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: target, name: 'allow-mover-to-store' })).toBeUndefined();
  expect(await kube().get({ apiVersion: 'v1', kind: 'Secret', namespace: target, name: 'grove-backup-store' })).toBeUndefined();

  await pg.sql('postgres', 'create database feature_db');
  await runMoverJob(db, { work, pg, database: 'feature_db' });
  return jobs;
}
