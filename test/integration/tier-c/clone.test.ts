// Data for new Environments on the local cluster, with MinIO, restic and PostgreSQL: a child
// Environment's volumes restored from its parent's backup before its applications start, a fresh
// backup when the latest is too old, and Restores into new Environments (also through the CLI).
// The mover Jobs run on this host (movers.ts).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Environment, KubeObject, Project, Restore } from '../../../src/api/index.ts';
import { Restic } from '../../../src/data/restic/index.ts';
import { repositoryOf } from '../../../src/data/store/index.ts';
import { type PostgresServer, startPostgres } from '../../../local/postgres.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, type Conditioned, conditionStatus, kube, testNamespace } from '../helpers.ts';
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

/** Runs the restore Jobs of an Environment on this host, once both are there. */
async function restoreOnHost(env: string, dataDir: string, database: string): Promise<Job[]> {
  const namespace = `${project}-${env}`;
  await expect.poll(async () => (await moverJobs(namespace, `grove.dev/restore=${env}`)).length, { timeout: 60_000, interval: 500 }).toBe(2);
  const jobs = await moverJobs(namespace, `grove.dev/restore=${env}`);
  await pg.sql('postgres', `create database ${database}`);
  for (const job of jobs) await runMoverJob(job, { work, dataDir, pg, database });
  return jobs;
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
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, branches: { include: ['nothing-here'] } } });
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

    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'prod-nightly', namespace: ns }, spec: { project, environment: prod } });
    await expect.poll(async () => (await moverJobs(prod, 'grove.dev/backup=prod-nightly')).length, { timeout: 30_000 }).toBe(2);
    for (const job of await moverJobs(prod, 'grove.dev/backup=prod-nightly')) await runMoverJob(job, { work, dataDir: join(work, 'prod-uploads'), pg, database: 'prod_db' });
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
      { volume: 'web-uploads', source: 'backup', parent: prod, backup: 'prod-nightly', snapshotId: snapshotOf('web-uploads'), time: nightly.status?.completionTime },
    ]);
    // The data itself, byte for byte and row for row.
    expect(await digest(join(work, 'feature-uploads'))).toEqual(await digest(join(work, 'prod-uploads')));
    expect(await pg.sql('feature_db', 'select count(*), md5(string_agg(email, \',\' order by id)) from customers')).toBe(await pg.sql('prod_db', 'select count(*), md5(string_agg(email, \',\' order by id)) from customers'));
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
    for (const job of await moverJobs(prod, `grove.dev/backup=${backup!.metadata.name}`)) await runMoverJob(job, { work, dataDir: join(work, 'prod-uploads'), pg, database: 'prod_db' });
    await expect.poll(async () => conditionStatus(await get<Backup>('Backup', backup!.metadata.name!), 'Ready'), { timeout: 120_000, interval: 1000 }).toBe('True');
    const completed = (await get<Backup>('Backup', backup!.metadata.name!))!;

    const jobs = await restoreOnHost('hotfix', join(work, 'hotfix-uploads'), 'hotfix_db');
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
    await expect.poll(async () => (await moverJobs(`${project}-undo`, 'grove.dev/restore=undo')).length, { timeout: 60_000, interval: 500 }).toBe(2);
    expect(await get('Deployment', 'web', `${project}-undo`)).toBeUndefined();
    expect(conditionStatus(await get<Restore>('Restore', 'undo'), 'Ready')).toBe('False');

    await restoreOnHost('undo', join(work, 'undo-uploads'), 'undo_db');
    await expect.poll(async () => conditionStatus(await get<Restore>('Restore', 'undo'), 'Ready'), { timeout: 120_000, interval: 500 }).toBe('True');
    const restore = (await get<Restore>('Restore', 'undo'))!;
    expect(restore.status?.targetEnvironment).toBe('undo');
    expect(restore.status?.completionTime).toBeDefined();
    expect(await digest(join(work, 'undo-uploads'))).toEqual(await digest(join(work, 'prod-uploads')));
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
    const uploads = join(work, 'feature-uploads');
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
    for (const job of await moverJobs(target, 'grove.dev/backup=rewind-before')) await runMoverJob(job, { work, dataDir: uploads, pg, database: 'feature_db' });

    // Then the applications stop and the restore Jobs run.
    await expect.poll(async () => (await moverJobs(target, 'grove.dev/restore=rewind')).length, { timeout: 60_000, interval: 500 }).toBe(2);
    await expect.poll(() => get('Deployment', 'web', target), { timeout: 30_000 }).toBeUndefined();
    expect(await kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: target, name: 'web-uploads' })).toBeDefined();
    expect((await get<Restore>('Restore', 'rewind'))?.status?.safetyBackup).toBe('rewind-before');
    for (const job of await moverJobs(target, 'grove.dev/restore=rewind')) await runMoverJob(job, { work, dataDir: uploads, pg, database: 'feature_db' });

    await expect.poll(async () => conditionStatus(await get<Restore>('Restore', 'rewind'), 'Ready'), { timeout: 120_000, interval: 500 }).toBe('True');
    await environmentReady('feature');
    expect(await get('Deployment', 'web', target)).toBeDefined();
    expect((await environment('feature'))?.status?.lastRestore).toBe('rewind');
    // Exactly the backup's data again.
    expect(await digest(uploads)).toEqual(await digest(join(work, 'prod-uploads')));
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

/** Waits for the child's restore Jobs while checking that nothing else of it runs yet, then runs them here. */
async function restoreOnHostAfterChecks(target: string, snapshotOf: (volume: string) => string | undefined): Promise<Job[]> {
  await expect.poll(async () => (await moverJobs(target, 'grove.dev/restore=feature')).length, { timeout: 60_000, interval: 500 }).toBe(2);
  const cloned = await dataCloned('feature');
  expect(cloned).toMatchObject({ status: 'False', reason: 'Filling' });
  expect(conditionStatus(await environment('feature'), 'Ready')).toBe('False');
  expect(await get('Deployment', 'web', target)).toBeUndefined();
  // The database runs, so its dump can be restored through it.
  expect(await get('StatefulSet', 'db', target)).toBeDefined();

  const jobs = await moverJobs(target, 'grove.dev/restore=feature');
  const byVolume = Object.fromEntries(jobs.map((j) => [j.metadata.labels?.['grove.dev/volume'], j.spec.template.spec]));
  expect(byVolume.db.containers[0].args).toEqual(['mover', 'restore', '--name', 'db', '--kind', 'postgresql', '--snapshot', snapshotOf('db')]);
  // The dump goes in through the server, from the operator's namespace, with the Job's own Secret.
  const dbJob = jobs.find((j) => j.metadata.labels?.['grove.dev/volume'] === 'db')!;
  expect(dbJob.metadata.namespace).toBe(ns);
  expect(byVolume.db.containers[0].envFrom).toEqual([{ secretRef: { name: dbJob.metadata.name } }]);
  expect(await kube().get({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: target, name: 'allow-grove-movers' })).toBeDefined();
  expect(byVolume['web-uploads'].containers[0].args).toEqual(['mover', 'restore', '--name', 'web-uploads', '--kind', 'files', '--path', '/data', '--snapshot', snapshotOf('web-uploads'), '--replace']);
  // Writable: the API server drops readOnly: false.
  expect(byVolume['web-uploads'].volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'web-uploads' } });
  expect(byVolume.db.automountServiceAccountToken).toBe(false);
  // The mover pods, and only they, may reach the store.
  expect(await kube().get({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: target, name: 'allow-mover-to-store' })).toBeDefined();

  await pg.sql('postgres', 'create database feature_db');
  for (const job of jobs) await runMoverJob(job, { work, dataDir: join(work, 'feature-uploads'), pg, database: 'feature_db' });
  return jobs;
}
