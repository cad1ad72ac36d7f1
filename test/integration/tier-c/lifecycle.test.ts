// Lifecycle, policy and audit on the local cluster with MinIO: Environments expire exactly once
// (the operator killed in the middle), renewals move the expiry, idle Environments sleep and
// wake, limits deny with a condition, admission guards production, and the audit trail of it
// all is in the operator's audit stream, in Events and in the BackupStore — after the
// Environment is gone too.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backup, type Environment, environmentName, type KubeObject, type Project, type ProjectSpec } from '../../../src/api/index.ts';
import type { AuditEvent } from '../../../src/audit/index.ts';
import { readTrail } from '../../../src/audit/sinks/index.ts';
import { runCli } from '../../../src/cli/index.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { createBackupStore, moverJobs, runMoverJob } from '../movers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';

const api = 'grove.dev/v1alpha1';
const SECRET = 'lifecycle-hook';
const PASSWORD = 'lifecycle restic password';
const MANIFEST = `version: 1
applications:
  web:
    image: shop/web:1
    port: 8080
    replicas: 2
    mounts: { uploads: { path: /app/uploads, size: 1Gi } }
    crons: { cleanup: { schedule: "@hourly", command: [cleanup] } }
backups: { schedule: "0 3 1 1 *", retain: 1h, types: [development] }
`;
const TRAILERS = (ttl: string) => `Start the login work\n\nGrove-Agent: coder-7\nOn-Behalf-Of: ada@example.com\nGrove-Task: SHOP-9\nGrove-TTL: ${ttl}\n`;

let ns: string;
let project: string;
let repo: RepoBuilder;
let op: OperatorProcess;
/** Every operator process of this file, the killed ones too. */
const processes: OperatorProcess[] = [];
let work: string;
const bucket = `lifecycle-${randomBytes(3).toString('hex')}`;

const envRef = (name: string) => ({ apiVersion: api, kind: 'Environment', namespace: ns, name });
const getEnv = (name: string) => kube().get<Environment>(envRef(name));
const cli = async (...argv: string[]): Promise<{ code: number; out: string }> => {
  let out = '';
  const sink = new Writable({ write: (chunk, _enc, done) => void ((out += String(chunk)), done()) });
  const code = await runCli(argv, { stdout: sink, stderr: sink, env: { KUBECONFIG: cluster().kubeconfig } });
  return { code, out };
};

async function operator(): Promise<OperatorProcess> {
  const started = await startOperator(ns, ['--audit-flush-seconds', '1']);
  processes.push(started);
  return started;
}
const allLogs = () => processes.flatMap((p) => p.logs);
const auditLines = () => allLogs().filter((l) => l.stream === 'audit') as unknown as AuditEvent[];

async function pushBranch(branch: string, files: Record<string, string>, message?: string): Promise<string> {
  const sha = await repo.commit(branch, files, message);
  await repo.push();
  await sendWebhook(op.url, ns, project, SECRET);
  return sha;
}

async function events(name: string): Promise<Array<{ reason: string; note: string; type: string }>> {
  const list = await kube().list<KubeObject & { reason: string; note: string; type: string; regarding: { name: string } }>('events.k8s.io/v1', 'Event', { namespace: ns });
  return list.items.filter((e) => e.regarding.name === name);
}

function storeTrail(filter: Parameters<typeof readTrail>[3] = {}): Promise<AuditEvent[]> {
  const minio = cluster().minio!;
  const access = { endpoint: minio.url, bucket, prefix: 'grove', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: PASSWORD };
  return readTrail(access, ns, project, filter, Date.now());
}

const workload = <T,>(kind: string, namespace: string, name: string) => kube().get<KubeObject & T>({ apiVersion: kind === 'CronJob' ? 'batch/v1' : 'apps/v1', kind, namespace, name });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-lifecycle-'));
  ns = await testNamespace('lifecycle');
  project = `shop${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, bucket, PASSWORD);
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.push();
  const spec: ProjectSpec = {
    repo: { url: `${cluster().git!.url}/${project}.git` },
    pollIntervalSeconds: 3600,
    webhook: { secretRef: { name: 'hook' } },
    backupStoreRef: { name: 'store' },
    // Volumes of the local CSI driver: a final backup reads them through a snapshot.
    storageClassName: cluster().csi!.storageClass,
    defaults: { clone: 'empty' },
    limits: { maxEnvironments: 4 },
    lifecycle: { expiryWarningSeconds: 20, branchGoneGraceSeconds: 0 },
  };
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec });
  op = await operator();
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

describe('expiry', () => {
  it('warns, then deletes an idle Environment exactly once after its final backup, even when the operator dies in the middle', async () => {
    const revision = await pushBranch('agent/login', { 'app.txt': 'v1' }, TRAILERS('30s'));
    const name = environmentName(project, 'agent/login');
    await expect.poll(async () => conditionStatus(await getEnv(name), 'Ready'), { timeout: 60_000, interval: 500 }).toBe('True');
    const env = (await getEnv(name))!;
    expect(env.spec.ttlSeconds).toBe(30);
    expect(env.status?.actor).toMatchObject({ agent: 'coder-7', onBehalfOf: 'ada@example.com', task: 'SHOP-9', source: 'push' });
    expect(Date.parse(env.status!.expiresAt!) - Date.parse(env.metadata.creationTimestamp!)).toBe(30_000);
    const target = env.status!.namespace!;

    // The warning comes at expiresAt - 20 s, as a condition and an Event.
    await expect.poll(async () => (await getEnv(name))?.status?.conditions?.find((c) => c.type === 'Expiring')?.reason, { timeout: 30_000, interval: 500 }).toBe('Expiring');
    await expect.poll(async () => (await events(name)).some((e) => e.reason === 'Expiring' && e.type === 'Warning'), { timeout: 10_000 }).toBe(true);

    // At expiry the Environment is deleted; its finalizer waits for the final backup.
    await expect.poll(async () => !!(await getEnv(name))?.metadata.deletionTimestamp, { timeout: 40_000, interval: 500 }).toBe(true);
    await expect.poll(async () => (await moverJobs(target, `grove.dev/backup=${name}-final`)).length, { timeout: 30_000 }).toBe(1);
    await expect.poll(async () => (await storeTrail({ environment: name, action: 'expire' })).length, { timeout: 15_000 }).toBe(1);

    // The operator dies mid-deletion; a new one finishes the job and deletes nothing twice.
    await op.kill('SIGKILL');
    op = await operator();
    const [job] = await moverJobs(target, `grove.dev/backup=${name}-final`);
    await runMoverJob(job!, { work });
    await expect.poll(async () => getEnv(name), { timeout: 60_000, interval: 500 }).toBeUndefined();

    expect(allLogs().filter((l) => l.msg === 'Deleted the Environment: it expired' && l.name === name)).toHaveLength(1);
    const finals = (await kube().list<Backup>(api, 'Backup', { namespace: ns })).items.filter((b) => b.spec.environment === name);
    expect(finals.map((b) => [b.metadata.name, b.spec.trigger, conditionStatus(b, 'Ready')])).toEqual([[`${name}-final`, 'final', 'True']]);
    const expiries = new Set(auditLines().filter((e) => e.action === 'expire' && e.environment === name).map((e) => e.id));
    expect(expiries.size).toBe(1);

    // The branch is still at the revision that expired: no new Environment until a push.
    await sendWebhook(op.url, ns, project, SECRET);
    await expect
      .poll(async () => (await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: project }))?.metadata.annotations?.[`expired.grove.dev/${name}`], { timeout: 15_000 })
      .toBe(revision);
    await expect.poll(async () => allLogs().some((l) => l.msg?.toString().startsWith(`Environment ${name} expired at`)), { timeout: 15_000 }).toBe(true);
    expect(await getEnv(name)).toBeUndefined();
  }, 150_000);

  it('keeps the whole push → create → expire trail in the log, in Events and in the BackupStore after the Environment is gone', async () => {
    const name = environmentName(project, 'agent/login');
    expect(await getEnv(name)).toBeUndefined();
    const expectTrail = (trail: AuditEvent[]) => {
      const actions = trail.filter((e) => e.environment === name).map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['create', 'expire', 'backup']));
      const expired = trail.find((e) => e.action === 'expire' && e.environment === name)!;
      expect(expired).toMatchObject({ source: 'ttl', actor: { agent: 'coder-7', onBehalfOf: 'ada@example.com', task: 'SHOP-9' }, decision: 'allowed', result: 'succeeded', project });
      expect(trail.find((e) => e.action === 'create' && e.environment === name)).toMatchObject({ source: 'push', actor: { agent: 'coder-7' } });
    };
    expectTrail(auditLines());
    await expect.poll(async () => (await storeTrail({ environment: name })).map((e) => e.action).sort(), { timeout: 15_000 }).toEqual(expect.arrayContaining(['backup', 'create', 'expire']));
    expectTrail(await storeTrail({ environment: name }));
    // Filtered by actor and time, as `grove audit` reads it.
    expect((await storeTrail({ actor: 'ada@example.com', action: 'expire' })).map((e) => e.environment)).toContain(name);
    const { code, out } = await cli('audit', '-n', ns, '--project', project, '--environment', name, '--since', '1h');
    expect(code).toBe(0);
    expect(out).toMatch(/TIME\s+ACTION\s+RESULT\s+SOURCE\s+ACTOR/);
    expect(out).toMatch(/expire\s+succeeded\s+ttl\s+coder-7 for ada@example.com/);
    // Events stay with the (deleted) Environment's name in the project namespace until they age out.
    const reasons = (await events(name)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Created', 'Expired']));
  });
});

describe('renewal and sleep', () => {
  it('moves the expiry when renewed', async () => {
    // Pushed with a webhook that names the pusher, as GitHub sends it.
    const sha = await repo.commit('feature/renew', { 'platform.yaml': MANIFEST }, TRAILERS('10m'));
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET, JSON.stringify({ ref: 'refs/heads/feature/renew', after: sha, pusher: { name: 'ada-gh' } }));
    const name = environmentName(project, 'feature/renew');
    await expect.poll(async () => (await getEnv(name))?.status?.expiresAt, { timeout: 60_000, interval: 500 }).toBeDefined();
    // The claim (the trailer's agent) and the authenticated pusher both stand; limits count the pusher.
    expect((await getEnv(name))?.status?.actor).toMatchObject({ agent: 'coder-7', pusher: 'ada-gh', identity: 'pusher ada-gh' });
    const before = Date.parse((await getEnv(name))!.status!.expiresAt!);
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await cli('env', 'renew', name, '-n', ns)).code).toBe(0);
    await expect.poll(async () => Date.parse((await getEnv(name))?.status?.expiresAt ?? '') - before, { timeout: 15_000, interval: 250 }).toBeGreaterThanOrEqual(2_000);
    const renewed = (await getEnv(name))!;
    expect(Date.parse(renewed.status!.expiresAt!) - Date.parse(renewed.status!.lastActivityTime!)).toBe(600_000);
  });

  it('scales to zero and suspends crons when idle, and restores them on wake', async () => {
    await pushBranch('feature/nap', { 'platform.yaml': `${MANIFEST}lifecycle: { sleepAfter: 15s }\n` });
    const name = environmentName(project, 'feature/nap');
    await expect.poll(async () => conditionStatus(await getEnv(name), 'Ready'), { timeout: 60_000, interval: 500 }).toBe('True');
    const target = (await getEnv(name))!.status!.namespace!;
    expect((await workload<{ spec: { replicas: number } }>('Deployment', target, 'web'))?.spec.replicas).toBe(2);

    await expect.poll(async () => (await getEnv(name))?.status?.conditions?.find((c) => c.type === 'Sleeping')?.reason, { timeout: 30_000, interval: 500 }).toBe('Idle');
    await expect.poll(async () => (await workload<{ spec: { replicas: number } }>('Deployment', target, 'web'))?.spec.replicas, { timeout: 10_000 }).toBe(0);
    expect((await workload<{ spec: { suspend?: boolean } }>('CronJob', target, 'web-cleanup'))?.spec.suspend).toBe(true);
    // Scaling down is a rollout like any other; once it is done the Environment is Ready, asleep.
    await expect.poll(async () => conditionStatus(await getEnv(name), 'Ready'), { timeout: 10_000, interval: 250 }).toBe('True');
    expect(await kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: target, name: 'web-uploads' })).toBeDefined();

    // A push is activity: it wakes the idle Environment.
    await pushBranch('feature/nap', { 'note.txt': 'more work' });
    await expect.poll(async () => (await workload<{ spec: { replicas: number } }>('Deployment', target, 'web'))?.spec.replicas, { timeout: 10_000, interval: 250 }).toBe(2);
    expect((await workload<{ spec: { suspend?: boolean } }>('CronJob', target, 'web-cleanup'))?.spec.suspend).toBeFalsy();
    // The status is written at the end of the reconcile that scaled the workloads back up.
    await expect.poll(async () => conditionStatus(await getEnv(name), 'Sleeping'), { timeout: 10_000, interval: 250 }).toBe('False');

    // Asked to sleep, it stays asleep until asked to wake.
    expect((await cli('env', 'sleep', name, '-n', ns)).code).toBe(0);
    await expect.poll(async () => (await getEnv(name))?.status?.conditions?.find((c) => c.type === 'Sleeping')?.reason, { timeout: 10_000, interval: 250 }).toBe('SleepRequested');
    await expect.poll(async () => (await workload<{ spec: { replicas: number } }>('Deployment', target, 'web'))?.spec.replicas, { timeout: 10_000, interval: 250 }).toBe(0);
    expect((await cli('env', 'wake', name, '-n', ns)).code).toBe(0);
    await expect.poll(async () => (await workload<{ spec: { replicas: number } }>('Deployment', target, 'web'))?.spec.replicas, { timeout: 10_000, interval: 250 }).toBe(2);
    await expect.poll(async () => conditionStatus(await getEnv(name), 'Sleeping'), { timeout: 10_000, interval: 250 }).toBe('False');
    // Audit events follow the status they describe (recorded right after it is written).
    const count = (action: string) => auditLines().filter((e) => e.environment === name && e.action === action).length;
    await expect.poll(() => count('wake'), { timeout: 5_000 }).toBe(2);
    expect(count('sleep')).toBe(2);
    // `grove env sleep` changed the spec: an update, through the API server.
    await expect.poll(() => auditLines().some((e) => e.environment === name && e.action === 'update' && e.source === 'kubectl' && e.message?.includes('spec changed')), { timeout: 5_000 }).toBe(true);
  });
});

describe('policy and admission', () => {
  it('denies the Environment beyond the limit with a clear condition, for pushes and for kubectl', async () => {
    // main, feature/renew and feature/nap exist; one more fits, the next does not.
    await pushBranch('feature/one', { 'x.txt': '1' });
    await pushBranch('feature/two', { 'x.txt': '2' });
    await expect.poll(async () => (await getEnv(environmentName(project, 'feature/one')))?.metadata.name, { timeout: 30_000 }).toBeDefined();
    const admitted = async () => (await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: project }))?.status?.conditions?.find((c) => c.type === 'Admitted');
    await expect.poll(async () => (await admitted())?.reason, { timeout: 30_000, interval: 500 }).toBe('PolicyDenied');
    expect((await admitted())?.message).toContain(`feature/two: environmentLimitReached: project ${project} allows 4 environments and has 4`);
    expect(await getEnv(environmentName(project, 'feature/two'))).toBeUndefined();
    await expect.poll(() => auditLines().some((e) => e.action === 'deny' && e.decision === 'denied' && e.message?.startsWith('environmentLimitReached')), { timeout: 10_000 }).toBe(true);

    await kube().create<Environment>({ apiVersion: api, kind: 'Environment', metadata: { name: 'by-hand', namespace: ns }, spec: { project, branch: 'main', clone: 'empty' } });
    await expect.poll(async () => (await getEnv('by-hand'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, { timeout: 30_000, interval: 500 }).toBe('PolicyDenied');
    const byHand = (await getEnv('by-hand'))!;
    expect(byHand.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/^environmentLimitReached: project \S+ allows 4 environments and has 4$/);
    expect(byHand.status?.namespace && (await kube().get({ apiVersion: 'v1', kind: 'Namespace', name: byHand.status.namespace }))).toBeFalsy();
    // The API server recorded who made it; the actor says so.
    expect(byHand.metadata.annotations?.['grove.dev/requested-by']).toBe('grove-admin');
    expect(byHand.status?.actor).toMatchObject({ kubernetesUser: 'grove-admin', source: 'kubectl' });
    await kube().delete(envRef('by-hand'));
  });

  it('refuses at admission to delete production without confirmation, and agents making production', async () => {
    const main = environmentName(project, 'main');
    await expect(kube().delete(envRef(main))).rejects.toThrow(`Environment ${main} is production: it is deleted only after someone with the confirm right on it (verb confirm on environments.grove.dev, which the admins of the Project hold) confirms by setting grove.dev/confirm-delete=${main}`);
    expect((await getEnv(main))?.metadata.deletionTimestamp).toBeUndefined();

    await kube().mergePatch({ apiVersion: api, kind: 'Project', namespace: ns, name: project }, { spec: { policy: { agentsGroup: 'grove:agents' }, limits: { maxEnvironments: 4, maxTtlSeconds: 86400 } } }, { fieldManager: 'test' });
    const kubectl = (...args: string[]) => promisify(execFile)(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...args]);
    await kubectl('-n', ns, 'create', 'role', 'agents', '--verb=get,list,create,update,patch', '--resource=environments.grove.dev');
    await kubectl('-n', ns, 'create', 'rolebinding', 'agents', '--role=agents', '--group=grove:agents');
    const manifest = (type: string, ttl = 3600) => JSON.stringify({ apiVersion: api, kind: 'Environment', metadata: { name: `agent-${type}`, namespace: ns }, spec: { project, branch: 'main', type, ttlSeconds: ttl, clone: 'empty' } });
    const asAgent = (json: string) =>
      new Promise<string>((resolve) => {
        const child = execFile(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, 'create', '--as=coder-7', '--as-group=grove:agents', '-f', '-'], (err, stdout, stderr) => resolve(err ? stderr : stdout));
        child.stdin?.end(json);
      });
    await expect.poll(() => asAgent(manifest('production')), { timeout: 15_000, interval: 500 }).toContain('members of grove:agents cannot create or promote a production Environment');
    expect(await asAgent(manifest('development', 7 * 86400))).toContain(`spec.ttlSeconds must be between 1 and 86400 (limits.maxTtlSeconds of Project ${project})`);
  });
});

describe('branch cleanup', () => {
  it('keeps an Environment through the grace period after its branch goes, then deletes it', async () => {
    await kube().mergePatch({ apiVersion: api, kind: 'Project', namespace: ns, name: project }, { spec: { lifecycle: { branchGoneGraceSeconds: 8 } } }, { fieldManager: 'test' });
    const name = environmentName(project, 'feature/one');
    expect(await getEnv(name)).toBeDefined();
    await repo.deleteBranch('feature/one');
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET);
    await expect.poll(async () => (await getEnv(name))?.metadata.annotations?.['grove.dev/branch-gone-since'], { timeout: 15_000, interval: 250 }).toBeDefined();
    const since = Date.parse((await getEnv(name))!.metadata.annotations!['grove.dev/branch-gone-since']!);
    expect((await getEnv(name))?.metadata.deletionTimestamp).toBeUndefined();
    // Nothing but the Project's own requeue at the end of the grace period deletes it.
    await expect.poll(async () => (await getEnv(name))?.metadata.deletionTimestamp, { timeout: 30_000, interval: 250 }).toBeDefined();
    expect(Date.parse((await getEnv(name))!.metadata.deletionTimestamp!)).toBeGreaterThanOrEqual(since + 8_000 - 1_000);
  });
});
