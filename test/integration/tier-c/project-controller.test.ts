// Push a branch, get an Environment: the Project controller against the real API server and the
// real Git server, with `grove operator` running as a separate process.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS, type Environment, environmentName, type Project, type Rehearsal, rehearsalName } from '../../../src/api/index.ts';
import { createGitServer } from '../../../local/git-server.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { allowSecretUse, cluster, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';

const WEBHOOK_SECRET = 'hook-secret-123';
const VALID = 'version: 1\napplications:\n  web: { image: "shop/web:${GIT_COMMIT}", port: 8080 }\n';
const uniq = () => Math.random().toString(36).slice(2, 8);

let ns: string;
/** The project of the running test: `environment(branch)` looks up its Environments. */
let currentProject = '';
const operators: OperatorProcess[] = [];
afterEach(async () => {
  for (const op of operators.splice(0)) {
    if (process.env.DEBUG_OP) console.log(JSON.stringify(op.logs.filter((l) => l.level !== 'info' && l.level !== 'debug').slice(0, 8)));
    await op.kill('SIGKILL');
  }
});

beforeAll(async () => {
  ns = await testNamespace('proj');
  // Each Project of this file is added to the Grove objects it lets use it (see project()).
  await kube().create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'webhook', namespace: ns }, stringData: { secret: WEBHOOK_SECRET } });
});

async function project(name: string, url: string, pollIntervalSeconds = 3600): Promise<void> {
  await kube().create<Project>({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Project',
    metadata: { name, namespace: ns },
    // No grace period: a deleted branch takes its Environment with it at the next sync.
    spec: { repo: { url }, pollIntervalSeconds, webhook: { secretRef: { name: 'webhook' } }, lifecycle: { branchGoneGraceSeconds: 0 } },
  });
  await allowSecretUse(ns, 'webhook', `Project/${name}`);
}

async function newRepo(): Promise<{ repo: RepoBuilder; name: string; url: string }> {
  const name = `p-${uniq()}`;
  currentProject = name;
  const repo = await createRepo(cluster().git!.root, name);
  return { repo, name, url: `${cluster().git!.url}/${name}.git` };
}

async function environments(projectName: string): Promise<Environment[]> {
  return (await kube().list<Environment>('grove.dev/v1alpha1', 'Environment', { namespace: ns, labelSelector: `grove.dev/project=${projectName}` })).items;
}

async function environment(branch: string): Promise<Environment | undefined> {
  return kube().get<Environment>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', namespace: ns, name: environmentName(currentProject, branch) });
}

async function operator(extra: string[] = []): Promise<OperatorProcess> {
  const op = await startOperator(ns, extra);
  operators.push(op);
  return op;
}

/** A new repository with a valid main branch, its Project, and an operator that has made main's Environment. */
async function syncedProject(): Promise<{ repo: RepoBuilder; name: string; main: string; op: OperatorProcess }> {
  const { repo, name, url } = await newRepo();
  const main = await repo.commit('main', { 'platform.yaml': VALID });
  await repo.push();
  await project(name, url);
  const op = await operator();
  await expect.poll(async () => (await environment('main'))?.spec.revision, { timeout: 15_000 }).toBe(main);
  return { repo, name, main, op };
}

describe('the Project controller', () => {
  it('creates an Environment per pushed branch, moves its revision on push, and deletes it with the branch', async () => {
    const { repo, name, op } = await syncedProject();
    expect((await environment('main'))?.spec.type).toBe('production');

    const first = await repo.commit('feature/login', { 'app.txt': 'v1' }, 'Login\n\nGrove-Agent: coder-7\nOn-Behalf-Of: ada@example.com\nGrove-TTL: 24h');
    await repo.push();
    expect((await sendWebhook(op.url, ns, name, WEBHOOK_SECRET)).status).toBe(202);
    await expect.poll(async () => (await environment('feature/login'))?.spec.revision, { timeout: 15_000 }).toBe(first);
    const created = (await environment('feature/login'))!;
    expect(created.spec).toMatchObject({ project: name, branch: 'feature/login', type: 'development', ttlSeconds: 86400 });
    expect(created.metadata.annotations).toMatchObject({ [ANNOTATIONS.agent]: 'coder-7', [ANNOTATIONS.onBehalfOf]: 'ada@example.com' });

    const second = await repo.commit('feature/login', { 'app.txt': 'v2' });
    await repo.push();
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    await expect.poll(async () => (await environment('feature/login'))?.spec.revision, { timeout: 15_000 }).toBe(second);
    expect((await environment('feature/login'))?.metadata.uid).toBe(created.metadata.uid);

    await repo.deleteBranch('feature/login');
    await repo.push();
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    await expect.poll(async () => environment('feature/login'), { timeout: 15_000 }).toBeUndefined();
    expect(await environment('main')).toBeDefined();

    const status = (await kube().get<Project>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name }))?.status;
    expect(status).toMatchObject({ branchCount: 1, environmentCount: 1 });
    expect(conditionStatus(await kube().get({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name }), 'SourceAvailable')).toBe('True');
  });

  it('asks for one rehearsal of a pushed head whose commit says Grove-Rehearse: true, and none for a commit that does not', async () => {
    const { repo, name, op } = await syncedProject();
    const asked = await repo.commit('agent/loyalty', { 'app.txt': 'v1' }, 'Loyalty points\n\nGrove-Agent: coder-7\nGrove-Rehearse: true');
    await repo.push();
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    const ref = (revision: string) => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Rehearsal', namespace: ns, name: rehearsalName(name, revision) });
    await expect.poll(async () => (await kube().get<Rehearsal>(ref(asked)))?.spec, { timeout: 15_000 }).toMatchObject({ project: name, branch: 'agent/loyalty', revision: asked });
    const rehearsal = (await kube().get<Rehearsal>(ref(asked)))!;
    expect(rehearsal.metadata.annotations).toMatchObject({ [ANNOTATIONS.agent]: 'coder-7' });
    expect(rehearsal.metadata.ownerReferences).toMatchObject([{ kind: 'Project', name }]);

    const plain = await repo.commit('agent/loyalty', { 'app.txt': 'v2' });
    await repo.push();
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    await expect.poll(async () => (await environment('agent/loyalty'))?.spec.revision, { timeout: 15_000 }).toBe(plain);
    expect(await kube().get(ref(plain))).toBeUndefined();
    expect((await kube().list<Rehearsal>('grove.dev/v1alpha1', 'Rehearsal', { namespace: ns })).items.filter((r) => r.spec.project === name)).toHaveLength(1);
  });

  it('marks only the broken branch ManifestValid=False, with line and column', async () => {
    const { repo, name, url } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    await repo.commit('feature/broken', { 'platform.yaml': 'version: 1\napplications:\n  web:\n    image: shop/web\n    port: "80"\n' });
    await repo.push();
    await project(name, url);
    await operator();
    await expect.poll(async () => conditionStatus(await environment('feature/broken'), 'ManifestValid'), { timeout: 15_000 }).toBe('False');
    const broken = (await environment('feature/broken'))!;
    const manifest = broken.status?.conditions?.find((c) => c.type === 'ManifestValid');
    expect(manifest?.reason).toBe('ManifestInvalid');
    expect(manifest?.message).toContain('platform.yaml:5:11: applications.web.port: must be an integer');
    expect(conditionStatus(broken, 'Ready')).toBe('False');
    expect(conditionStatus(broken, 'Stalled')).toBe('True');
    await expect.poll(async () => conditionStatus(await environment('main'), 'ManifestValid'), { timeout: 15_000 }).toBe('True');
  });

  it('answers an unknown Project and a bad signature alike, changes nothing, and reads the API at most once a burst', async () => {
    const { repo, name, op } = await syncedProject();

    await repo.commit('feature/sneaky', { 'x.txt': 'x' });
    await repo.push();
    const answer = async (res: Response) => [res.status, await res.text()];
    const refusal = [401, '{"error":"unauthorized"}\n'];
    expect(await answer(await sendWebhook(op.url, ns, name, 'wrong-secret'))).toEqual(refusal);
    expect(await answer(await fetch(`${op.url}/hooks/${ns}/${name}`, { method: 'POST', body: '{}' }))).toEqual(refusal);
    // Whether a Project exists cannot be learnt from the answer.
    expect(await answer(await sendWebhook(op.url, ns, 'no-such-project', WEBHOOK_SECRET))).toEqual(refusal);
    expect(await answer(await fetch(`${op.url}/hooks/${ns}/no-such-project`, { method: 'POST', body: '{}' }))).toEqual(refusal);
    const huge = await fetch(`${op.url}/hooks/${ns}/${name}`, { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    expect(huge.status).toBe(413);

    // A burst of 200 unsigned requests, 20 at a time, while /healthz is asked throughout: the
    // receiver reads the Project and its Secret from its cache, and health keeps answering.
    const gets = async () => Number(/^grove_kube_requests_total\{method="GET"\} (\d+)$/m.exec(await fetch(`${op.url}/metrics`).then((r) => r.text()))?.[1] ?? 0);
    const before = await gets();
    let burst = true;
    const health: number[] = [];
    const probing = (async () => {
      while (burst) health.push((await fetch(`${op.url}/healthz`)).status);
    })();
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      statuses.push(...(await Promise.all(Array.from({ length: 20 }, () => fetch(`${op.url}/hooks/${ns}/${name}`, { method: 'POST', body: '{}' }).then((r) => r.status)))));
    }
    burst = false;
    await probing;
    expect(statuses.filter((s) => s !== 401)).toEqual([]);
    expect(health.length).toBeGreaterThan(0);
    expect(health.filter((s) => s !== 200)).toEqual([]);
    // The controllers' own reads go on meanwhile; the burst adds none past the cache's refresh.
    expect((await gets()) - before).toBeLessThan(20);
    // Give a wrongly triggered sync every chance to happen.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await environments(name)).map((e) => e.spec.branch)).toEqual(['main']);
  });

  it('changes nothing while suspended, says so, and catches up when resumed', async () => {
    const { repo, name, main, op } = await syncedProject();
    const ref = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name };
    const generation = (await kube().mergePatch<Project>(ref, { spec: { suspend: true } }, { fieldManager: 'test' })).metadata.generation;
    const ready = async () => (await kube().get<Project>(ref))?.status?.conditions?.find((c) => c.type === 'Ready');
    await expect.poll(async () => (await ready())?.observedGeneration, { timeout: 15_000 }).toBe(generation);
    expect(await ready()).toMatchObject({ status: 'True', reason: 'Suspended' });

    // A push, its webhook and a branch gone: none of them is acted on while suspended.
    const moved = await repo.commit('main', { 'app.txt': 'moved' });
    await repo.commit('feature/paused', { 'app.txt': 'new' });
    await repo.push();
    // Each reconcile of a Project is counted; the webhook's has run once the count grows.
    const reconciles = async () =>
      [...(await fetch(`${op.url}/metrics`).then((r) => r.text())).matchAll(/^grove_reconcile_total\{controller="project",[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = await reconciles();
    const synced = (await ready())?.lastTransitionTime;
    expect((await sendWebhook(op.url, ns, name, WEBHOOK_SECRET)).status).toBe(202);
    await expect.poll(reconciles, { timeout: 15_000 }).toBeGreaterThan(before);
    expect((await environment('main'))?.spec.revision).toBe(main);
    expect(await environment('feature/paused')).toBeUndefined();
    expect((await ready())?.lastTransitionTime).toBe(synced);

    await kube().mergePatch(ref, { spec: { suspend: false } }, { fieldManager: 'test' });
    await expect.poll(async () => (await environment('main'))?.spec.revision, { timeout: 15_000 }).toBe(moved);
    await expect.poll(async () => (await environment('feature/paused'))?.spec.branch, { timeout: 15_000 }).toBe('feature/paused');
    await expect.poll(async () => (await ready())?.reason, { timeout: 15_000 }).not.toBe('Suspended');
  });

  it('makes up for a lost webhook by polling', async () => {
    const { repo, name, url } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    await repo.push();
    await project(name, url, 10);
    await operator();
    await expect.poll(async () => (await environments(name)).length, { timeout: 15_000 }).toBe(1);
    const head = await repo.commit('feature/quiet', { 'x.txt': 'no webhook for this push' });
    await repo.push();
    await expect.poll(async () => (await environment('feature/quiet'))?.spec.revision, { timeout: 25_000, interval: 500 }).toBe(head);
  });

  it('reports Git being down as SourceAvailable=False, leaves Environments alone, and recovers', async () => {
    const { repo, name } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    await repo.commit('feature/a', { 'a.txt': 'a' });
    await repo.push();
    // A Git server of this test's own, so stopping it disturbs no other test.
    const start = async (port = 0) => {
      const server = createGitServer({ root: cluster().git!.root });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return server;
    };
    let server = await start();
    const port = (server.address() as AddressInfo).port;
    await project(name, `http://127.0.0.1:${port}/${name}.git`);
    const op = await operator([`--outbound-allow=127.0.0.1:${port}`]);
    await expect.poll(async () => (await environments(name)).length, { timeout: 15_000 }).toBe(2);
    const before = (await environments(name)).map((e) => `${e.metadata.name}@${e.metadata.generation}:${e.spec.revision}`).sort();

    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    const projectRef = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name };
    await expect.poll(async () => conditionStatus(await kube().get(projectRef), 'SourceAvailable'), { timeout: 15_000 }).toBe('False');
    const down = (await kube().get<Project>(projectRef))!.status!.conditions!.find((c) => c.type === 'SourceAvailable')!;
    expect(down.reason).toBe('GitUnavailable');
    expect(down.message).toContain(`cannot list the branches of http://127.0.0.1:${port}/${name}.git`);
    expect((await environments(name)).map((e) => `${e.metadata.name}@${e.metadata.generation}:${e.spec.revision}`).sort()).toEqual(before);

    server = await start(port);
    await expect.poll(async () => conditionStatus(await kube().get(projectRef), 'SourceAvailable'), { timeout: 30_000, interval: 500 }).toBe('True');
    expect((await environments(name)).map((e) => `${e.metadata.name}@${e.metadata.generation}:${e.spec.revision}`).sort()).toEqual(before);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses repositories on the API server, cloud metadata, loopback, or behind a redirect to one, connecting to none', async () => {
    // A server that must never be reached, and an allowed one that redirects to it.
    let reached = 0;
    const target = createServer((_req, res) => (reached++, res.end()));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as AddressInfo).port;
    const redirector = createServer((req, res) => res.writeHead(302, { location: `http://127.0.0.1:${targetPort}${req.url ?? '/'}` }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirectorPort = (redirector.address() as AddressInfo).port;
    const apiserver = new URL(cluster().apiserver.url);
    const cases: Array<[string, string, string]> = [
      ['the API server', `${cluster().apiserver.url}/shop.git`, `${apiserver.hostname}:${apiserver.port} is the Kubernetes API server, which Grove never connects to on a Project's behalf`],
      ['cloud metadata', 'http://169.254.169.254/latest/meta-data.git', '169.254.169.254:80 is link-local, where cloud metadata services answer (169.254.0.0/16)'],
      ['a loopback server', `http://localhost:${targetPort}/shop.git`, 'localhost resolves to an address Grove may not reach: '],
      ['a redirect to it', `http://127.0.0.1:${redirectorPort}/shop.git`, `127.0.0.1:${targetPort} is loopback (127.0.0.0/8)`],
    ];
    const names = cases.map(() => `p-${uniq()}`);
    for (const [i, [, url]] of cases.entries()) await project(names[i]!, url);
    await operator([`--outbound-allow=127.0.0.1:${redirectorPort}`]);
    const rows: string[] = [];
    for (const [i, [what, , why]] of cases.entries()) {
      const source = async () => (await kube().get<Project>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name: names[i]! }))?.status?.conditions?.find((c) => c.type === 'SourceAvailable');
      await expect.poll(async () => (await source())?.reason, { timeout: 20_000 }).toBe('DestinationRefused');
      const message = (await source())?.message ?? '';
      rows.push(`  ${what.padEnd(18)} ${message}`);
      expect(message, what).toContain(why);
      expect(await environments(names[i]!)).toEqual([]);
    }
    console.log(`Repository URLs the operator refused:\n${rows.join('\n')}`);
    expect(reached).toBe(0);
    for (const s of [target, redirector]) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('reads private repositories with the token from the Project\'s Secret, and says when the Secret is missing', async () => {
    const { repo, name } = await newRepo();
    const main = await repo.commit('main', { 'platform.yaml': VALID });
    await repo.push();
    const server = createGitServer({ root: cluster().git!.root, auth: { username: 'x-access-token', password: 'repo-token-42' } });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}.git`;
    await kube().create<Project>({
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Project',
      metadata: { name, namespace: ns },
      spec: { repo: { url, secretRef: { name: `${name}-git` } }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'webhook' } } },
    });
    await allowSecretUse(ns, 'webhook', `Project/${name}`);
    const op = await operator([`--outbound-allow=127.0.0.1:${(server.address() as AddressInfo).port}`]);
    const projectRef = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name };
    await expect.poll(async () => (await kube().get<Project>(projectRef))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, { timeout: 15_000 }).toBe('SecretNotFound');

    // A token in a Secret that has not consented is not read, let alone sent.
    await createSecret(ns, `${name}-git`, { token: 'repo-token-42' }, ['Project/someone-else']);
    await expect.poll(async () => (await kube().get<Project>(projectRef))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, { timeout: 45_000 }).toBe('SecretNotUsable');
    await allowSecretUse(ns, `${name}-git`, `Project/${name}`);
    await sendWebhook(op.url, ns, name, WEBHOOK_SECRET);
    await expect.poll(async () => (await environment('main'))?.spec.revision, { timeout: 40_000, interval: 500 }).toBe(main);
    await expect.poll(async () => conditionStatus(await environment('main'), 'ManifestValid'), { timeout: 15_000 }).toBe('True');
    expect(JSON.stringify(op.logs)).not.toContain('repo-token-42');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves health, readiness and controller metrics', async () => {
    const { repo, name, url } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    await repo.push();
    await project(name, url);
    const op = await operator();
    expect((await fetch(`${op.url}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await fetch(`${op.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    const metrics = () => fetch(`${op.url}/metrics`).then((r) => r.text());
    await expect.poll(metrics, { timeout: 15_000 }).toMatch(/grove_reconcile_total\{controller="project",result="requeue_after"\} [1-9]/);
    const text = await metrics();
    expect(text).toMatch(/grove_reconcile_duration_seconds_bucket\{le="[\d.]+",controller="project"\}/);
    expect(text).toContain('grove_workqueue_depth{name="environment"}');
  });

  it('makes no duplicates when the operator is killed mid-sync and restarted', async () => {
    const { repo, name, url } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    const branches = Array.from({ length: 15 }, (_, i) => `agent/task-${i}`);
    for (const b of branches) await repo.commit(b, { [`${b}.txt`]: b });
    await repo.push();
    await project(name, url);
    const first = await operator();
    await expect.poll(async () => (await environments(name)).length, { timeout: 15_000, interval: 50 }).toBeGreaterThan(0);
    await first.kill('SIGKILL');
    const partial = (await environments(name)).length;

    await operator();
    await expect.poll(async () => (await environments(name)).length, { timeout: 20_000 }).toBe(branches.length + 1);
    const envs = await environments(name);
    expect(new Set(envs.map((e) => e.spec.branch)).size).toBe(envs.length);
    expect(envs.map((e) => e.metadata.name).sort()).toEqual(['main', ...branches].map((b) => environmentName(name, b)).sort());
    expect(partial).toBeLessThanOrEqual(branches.length + 1);
  });

  it('with two replicas, lets only the leader write, and hands over when it stops', async () => {
    const { repo, name, url } = await newRepo();
    await repo.commit('main', { 'platform.yaml': VALID });
    await repo.push();
    await project(name, url);
    const lease = ['--leader-elect', '--lease-name', `grove-${name}`];
    const a = await operator([...lease, '--identity', 'replica-a']);
    const b = await operator([...lease, '--identity', 'replica-b']);
    await expect.poll(async () => (await environments(name)).length, { timeout: 20_000 }).toBe(1);
    const leaders = [a, b].filter((op) => op.logs.some((l) => l.msg === 'Became the leader'));
    expect(leaders).toHaveLength(1);
    const [leader, standby] = leaders[0] === a ? [a, b] : [b, a];
    const writes = (op: OperatorProcess) => op.logs.filter((l) => typeof l.msg === 'string' && /^(Created|Deleted|Moved) Environment/.test(l.msg));
    // The log line can trail the write it reports: its pipe is read asynchronously.
    await expect.poll(() => writes(leader).length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(writes(standby)).toEqual([]);
    expect(standby.logs.some((l) => l.controller !== undefined)).toBe(false);

    // A webhook sent to the standby still reaches the leader.
    const head = await repo.commit('feature/via-standby', { 'x.txt': 'x' });
    await repo.push();
    expect((await sendWebhook(standby.url, ns, name, WEBHOOK_SECRET)).status).toBe(202);
    await expect.poll(async () => (await environment('feature/via-standby'))?.spec.revision, { timeout: 15_000 }).toBe(head);
    expect(writes(standby)).toEqual([]);

    // The leader steps down (releasing the Lease); the standby takes over and reconciles.
    expect(await leader.kill('SIGTERM')).toBe(0);
    await expect.poll(() => standby.logs.some((l) => l.msg === 'Became the leader'), { timeout: 15_000 }).toBe(true);
    const next = await repo.commit('feature/after-handover', { 'y.txt': 'y' });
    await repo.push();
    await sendWebhook(standby.url, ns, name, WEBHOOK_SECRET);
    await expect.poll(async () => (await environment('feature/after-handover'))?.spec.revision, { timeout: 15_000 }).toBe(next);
  });
});

afterAll(async () => {
  for (const op of operators.splice(0)) await op.kill('SIGKILL');
});
