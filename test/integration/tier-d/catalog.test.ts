// Every service of the catalog that Debian can give an image for, run for real on tier D's node:
// PostgreSQL, MariaDB and Redis start as their non-root users on read-only roots, answer their
// probes, keep their data when their pod is deleted, are backed up by mover pods and restored
// into a branch, and start from a snapshot of the parent's data with the branch's own password.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, environmentNamespace, type KubeObject, type Project, type ProjectSpec } from '../../../src/api/index.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';
import { image, kubectl, type Pod, readyPod, releaseEnvironments, restrictedContainer, restrictedPod, runToCompletion } from '../pods.ts';
import { internalNetworkArgs } from '../../../local/network.ts';

const api = 'grove.dev/v1alpha1';
const SECRET = 'catalog-hook';

function manifest(): string {
  return `version: 1
applications:
  web:
    image: ${image('shop-web')}
    port: 8080
    relationships: { database: db, maria: maria, cache: cache }
    health: { path: /healthz }
    crons:
      tick: { schedule: "* * * * *", command: [/shop, cleanup] }
services:
  db: { type: "postgresql:15", size: 256Mi }
  maria: { type: "mariadb:10.11", size: 256Mi }
  cache: { type: "redis:7", size: 64Mi }
`;
}

let ns: string;
let project: string;
let repo: RepoBuilder;
let op: OperatorProcess;

const environment = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });
const branchEnv = (branch: string) => environmentName(project, branch);
const namespaceOf = (name: string) => environmentNamespace(project, name);

async function ready(name: string): Promise<Environment> {
  await expect.poll(async () => conditionStatus(await environment(name), 'Ready'), { timeout: 300_000, interval: 1000, message: `Environment ${name} to become Ready` }).toBe('True');
  return (await environment(name))!;
}

/** A client of the service's own image, run in the Environment's namespace with its credentials. */
async function client(namespace: string, service: 'db' | 'maria' | 'cache', script: string): Promise<string> {
  const images = { db: `${SERVICE_IMAGES.postgresql}:15`, maria: `${SERVICE_IMAGES.mariadb}:10.11`, cache: `${SERVICE_IMAGES.redis}:7` };
  const secret = (key: string) => ({ valueFrom: { secretKeyRef: { name: `${service}-credentials`, key } } });
  const container = {
    ...restrictedContainer('client', images[service], ['sh', '-c', script]),
    env: [
      { name: 'HOST', ...secret('host') },
      { name: 'USER_NAME', ...secret('username') },
      { name: 'PASSWORD', ...secret('password') },
      { name: 'DATABASE', ...secret('database') },
      { name: 'HOME', value: '/tmp' },
    ],
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  const pod = restrictedPod(namespace, `client-${randomBytes(3).toString('hex')}`, [container]);
  pod.spec.volumes = [{ name: 'tmp', emptyDir: {} }];
  const done = await runToCompletion(pod);
  expect(done.exitCode, done.logs).toBe(0);
  return done.logs.trim();
}

// A new pod's first connections may be refused until the network policy knows it: retried,
// and only the last attempt's complaint is shown.
const retry = 'for i in $(seq 1 30); do if ';
const until = ' 2>/tmp/error; then exit 0; fi; sleep 1; done; cat /tmp/error >&2; exit 1';
const sql = {
  db: (q: string) => `${retry}PGPASSWORD="$PASSWORD" psql -h "$HOST" -U "$USER_NAME" -d "$DATABASE" -XAtq -v ON_ERROR_STOP=1 -c "${q}"${until}`,
  maria: (q: string) => `${retry}MYSQL_PWD="$PASSWORD" mariadb -h "$HOST" -u "$USER_NAME" "$DATABASE" -N -B -e "${q}"${until}`,
  cache: (c: string) => `${retry}REDISCLI_AUTH="$PASSWORD" redis-cli --no-auth-warning -h "$HOST" ${c}${until}`,
};

/** Writes one marker into each service of production. */
async function mark(namespace: string, value: string): Promise<void> {
  await client(namespace, 'db', sql.db(`create table if not exists marks (v text); insert into marks values ('${value}')`));
  await client(namespace, 'maria', sql.maria(`create table if not exists marks (v text); insert into marks values ('${value}')`));
  await client(namespace, 'cache', sql.cache(`rpush marks ${value}`));
  // Redis writes its file only at a save; a backup streams the RDB, but a restart reads the disk.
  await client(namespace, 'cache', sql.cache('save'));
}

async function marks(namespace: string): Promise<Record<string, string>> {
  return {
    db: await client(namespace, 'db', sql.db('select string_agg(v, \',\' order by v) from marks')),
    maria: await client(namespace, 'maria', sql.maria('select group_concat(v order by v) from marks')),
    cache: (await client(namespace, 'cache', sql.cache('lrange marks 0 -1'))).split('\n').sort().join(','),
  };
}

beforeAll(async () => {
  ns = await testNamespace('catalog');
  project = `cat${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, `catalog-${randomBytes(3).toString('hex')}`, 'catalog');
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': manifest() });
  await repo.push();
  const spec: ProjectSpec = {
    repo: { url: `${cluster().git!.url}/${project}.git` },
    pollIntervalSeconds: 3600,
    webhook: { secretRef: { name: 'hook' } },
    backupStoreRef: { name: 'store' },
    serviceImages: { ...SERVICE_IMAGES },
    defaults: { clone: 'backup' },
  };
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec });
  op = await startOperator(ns, ['--mover-image', image('grove'), ...internalNetworkArgs(cluster().node!.network)]);
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await releaseEnvironments(ns);
});

describe('the service catalog on the real node', () => {
  it('runs PostgreSQL, MariaDB and Redis as uid 999 on read-only roots, and keeps their data when their pods go', async () => {
    await ready(branchEnv('main'));
    const prod = namespaceOf(branchEnv('main'));
    for (const service of ['db', 'maria', 'cache']) {
      const pod = await readyPod(prod, `app.kubernetes.io/name=${service}`);
      const spec = pod.spec as { securityContext: { runAsUser: number }; containers: Array<{ securityContext: { readOnlyRootFilesystem: boolean } }> };
      expect(spec.securityContext.runAsUser, service).toBe(999);
      expect(spec.containers[0]!.securityContext.readOnlyRootFilesystem, service).toBe(true);
    }
    await mark(prod, 'before-restart');
    for (const service of ['db', 'maria', 'cache']) await kube().delete({ apiVersion: 'v1', kind: 'Pod', namespace: prod, name: `${service}-0` });
    for (const service of ['db', 'maria', 'cache']) {
      await expect.poll(async () => (await kube().get<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: prod, name: `${service}-0` }))?.status?.containerStatuses?.[0]?.ready, { timeout: 120_000, interval: 1000 }).toBe(true);
    }
    expect(await marks(prod)).toEqual({ db: 'before-restart', maria: 'before-restart', cache: 'before-restart' });
  });

  it('backs every service up with mover pods and restores each into a branch cloned from the backup', async () => {
    const prod = namespaceOf(branchEnv('main'));
    await mark(prod, 'for-the-branch');
    await repo.commit('feature/restored', { 'CHANGE.md': 'x\n' });
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET, JSON.stringify({ ref: 'refs/heads/feature/restored' }));
    const env = await ready(branchEnv('feature/restored'));
    expect(env.status?.lineage?.map((l) => [l.volume, l.source])).toEqual([
      ['cache', 'backup'],
      ['db', 'backup'],
      ['maria', 'backup'],
    ]);
    expect(await marks(namespaceOf(branchEnv('feature/restored')))).toEqual({ db: 'before-restart,for-the-branch', maria: 'before-restart,for-the-branch', cache: 'before-restart,for-the-branch' });
  });

  it('starts every service from a snapshot of the parent\'s data, with the branch\'s own password', async () => {
    const revision = await repo.commit('feature/snapped', { 'CHANGE.md': 'y\n' });
    await repo.push();
    // Made by hand, as kubectl users do, to ask for a snapshot clone where the Project says backup.
    const name = `${project}-snapped`;
    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name, namespace: ns }, spec: { project, branch: 'feature/snapped', revision, clone: 'snapshot' } });
    const env = await ready(name);
    expect(env.status?.lineage?.map((l) => [l.volume, l.source])).toEqual([
      ['cache', 'snapshot'],
      ['db', 'snapshot'],
      ['maria', 'snapshot'],
    ]);
    const branch = namespaceOf(name);
    const password = async (namespace: string, service: string) => (await kube().get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace, name: `${service}-credentials` }))!.data.password;
    for (const service of ['db', 'maria', 'cache']) expect(await password(branch, service), service).not.toBe(await password(namespaceOf(branchEnv('main')), service));
    // The clients log in with the branch's credentials, on data copied from production's.
    expect(await marks(branch)).toEqual({ db: 'before-restart,for-the-branch', maria: 'before-restart,for-the-branch', cache: 'before-restart,for-the-branch' });
  });

  it('runs the application\'s cron on its schedule, as pods of its image on the node', async () => {
    const prod = namespaceOf(branchEnv('main'));
    type CronJob = KubeObject & { status?: { lastSuccessfulTime?: string } };
    // The controller manager's CronJob controller starts one a minute; by now several have run.
    await expect.poll(async () => (await kube().get<CronJob>({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: prod, name: 'web-tick' }))?.status?.lastSuccessfulTime, { timeout: 150_000, interval: 2000 }).toBeDefined();
    const done = (await kube().list<Pod>('v1', 'Pod', { namespace: prod, labelSelector: 'app.kubernetes.io/component=cron' })).items.filter((p) => p.status?.phase === 'Succeeded');
    expect(done.length).toBeGreaterThan(0);
    for (const p of done) expect(p.spec.nodeName).toBe(cluster().node!.name);
    expect(await kubectl('logs', '-n', prod, done[0]!.metadata.name as string)).toMatch(/Nothing to clean|Deleted \d+ files/);
  });
});
