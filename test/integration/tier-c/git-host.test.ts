// Grove and the local cluster's real Gitea: pushes reach Grove through Gitea's own webhooks,
// and Grove reports back through Gitea's API — a commit status per revision (pending, then
// success with the URL, or failure with the manifest error's position) and one comment per
// pull request, edited in place — read back here through that API. Gitea unresponsive while
// Grove reports: the statuses arrive once it answers, and an operator restart posts none twice.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, type Project } from '../../../src/api/index.ts';
import { addWebhook, branchHead, createGiteaRepo, gitea, type GiteaRepo } from '../gitea.ts';
import { cluster, createSecret, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const MANIFEST = 'version: 1\napplications:\n  web: { image: "shop/web:${GIT_COMMIT}", port: 8080 }\nroutes:\n  web: { upstream: web }\n';
const BROKEN = 'version: 1\napplications:\n  web: { imgae: shop/web:1, port: 8080 }\n';
const SECRET = randomBytes(12).toString('hex');
const api = 'grove.dev/v1alpha1';

let ns: string;
let project: string;
let repo: GiteaRepo;
let op: OperatorProcess;
/** The pull request of agent/cart. */
let cart: number;

type Status = { id: number; status: string; context: string; description: string; target_url: string };
/** The statuses of a commit in one context, oldest first. */
const statuses = async (sha: string, context: string, path = repo.path): Promise<Status[]> =>
  (await gitea<Status[]>('GET', `/repos/${path}/commits/${sha}/statuses?limit=50`)).filter((s) => s.context === context).sort((a, b) => a.id - b.id);
const contextOf = (branch: string) => `grove/${environmentName(project, branch)}`;
const states = async (sha: string, branch: string) => (await statuses(sha, contextOf(branch))).map((s) => s.status);
const comments = async (n: number, path = repo.path) => (await gitea<Array<{ id: number; body: string }>>('GET', `/repos/${path}/issues/${n}/comments`)).filter((c) => c.body.includes('<!-- grove:environment'));

/** Another Project on a Gitea repository, reporting to Gitea, told of its pushes by Gitea's webhook to the current operator. */
async function giteaProject(name: string, on: GiteaRepo, spec: Partial<Project['spec']>): Promise<void> {
  await createSecret(ns, `${name}-hook`, { secret: SECRET }, [`Project/${name}`]);
  await createSecret(ns, `${name}-gitea`, { token: cluster().gitea!.token }, [`Project/${name}`]);
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name, namespace: ns },
    spec: { repo: { url: on.cloneUrl }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: `${name}-hook` } }, gitHost: { type: 'gitea', secretRef: { name: `${name}-gitea` } }, defaults: { clone: 'empty' }, ...spec },
  });
  await addWebhook(on.path, `${op.url}/hooks/${ns}/${name}`, SECRET);
}

async function push(branch: string, files: Record<string, string>): Promise<string> {
  const sha = await repo.commit(branch, files);
  await repo.push();
  return sha;
}

beforeAll(async () => {
  ns = await testNamespace('githost');
  project = `shop${randomBytes(2).toString('hex')}`;
  repo = await createGiteaRepo(project);
  await push('main', { 'platform.yaml': MANIFEST });
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  await createSecret(ns, 'gitea', { token: cluster().gitea!.token }, [`Project/${project}`]);
  await kube().create<Project>({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    // Only Gitea's webhooks bring pushes: the poll is an hour away.
    spec: { repo: { url: repo.cloneUrl }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'hook' } }, gitHost: { type: 'gitea', secretRef: { name: 'gitea' } }, domain: '{route}.{environment}.preview.test', defaults: { clone: 'empty' } },
  });
  op = await startOperator(ns);
  await addWebhook(repo.path, `${op.url}/hooks/${ns}/${project}`, SECRET);
}, 60_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
});

describe('reporting to Gitea', () => {
  it('posts pending, then success with the URL, for a push that Gitea announced', async () => {
    const sha = await push('feature/login', { 'platform.yaml': MANIFEST, 'app.txt': '1' });
    const seen = async () => {
      const e = await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: environmentName(project, 'feature/login') });
      return { states: await states(sha, 'feature/login'), env: { gen: e?.metadata.generation, rev: e?.spec.revision === sha, observed: e?.status?.observedRevision === sha, conditions: e?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason} g${c.observedGeneration} ${c.message.slice(0, 80)}`) } };
    };
    await expect.poll(async () => (await seen()).states, { timeout: 50_000, interval: 500 }).toEqual(['pending', 'success']).catch(async (err) => {
      console.log(JSON.stringify(await seen(), null, 1), op.logs.filter((l) => l.controller === 'report').slice(-10));
      throw err;
    });
    const [pending, success] = await statuses(sha, contextOf('feature/login'));
    const name = environmentName(project, 'feature/login');
    expect(pending!.description).toBe(`Grove is preparing Environment ${name}`);
    expect(success!.description).toBe(`Environment ${name} is ready at https://web.${name}.preview.test`);
    expect(success!.target_url).toBe(`https://web.${name}.preview.test`);
    // Production got its status too, from the first listing of the branches.
    const main = await branchHead(repo.path, 'main');
    await expect.poll(() => states(main, 'main'), { timeout: 30_000 }).toEqual(expect.arrayContaining(['success']));
  });

  it('fails a revision whose platform.yaml is broken, at the first error\'s position', async () => {
    const sha = await push('broken', { 'platform.yaml': BROKEN });
    await expect.poll(async () => (await statuses(sha, contextOf('broken'))).at(-1)?.status, { timeout: 60_000, interval: 500 }).toBe('failure');
    expect((await statuses(sha, contextOf('broken'))).at(-1)?.description).toBe('platform.yaml:3:3: applications.web.image: is required (and 1 more)');
  });

  it('keeps one comment on a pull request, edited as its branch moves', async () => {
    const first = await push('agent/cart', { 'platform.yaml': MANIFEST, 'cart.txt': '1' });
    await branchHead(repo.path, 'agent/cart');
    const pr = await gitea<{ number: number }>('POST', `/repos/${repo.path}/pulls`, { head: 'agent/cart', base: 'main', title: 'A cart' });
    cart = pr.number;
    await expect.poll(async () => (await comments(pr.number)).map((c) => c.body.match(/Revision \| `(\w+)`/)?.[1]), { timeout: 60_000, interval: 500 }).toEqual([first.slice(0, 12)]);
    await expect.poll(async () => (await comments(pr.number))[0]?.body ?? '', { timeout: 30_000, interval: 500 }).toContain('| State | Ready |');
    const [comment] = await comments(pr.number);
    expect(comment!.body).toContain(`### Grove: Environment \`${environmentName(project, 'agent/cart')}\` — Ready`);
    expect(comment!.body).toContain(`| URL (web) | https://web.${environmentName(project, 'agent/cart')}.preview.test |`);

    const second = await push('agent/cart', { 'cart.txt': '2' });
    await expect.poll(async () => (await comments(pr.number)).map((c) => [c.id, c.body.match(/Revision \| `(\w+)`/)?.[1]]), { timeout: 60_000, interval: 500 }).toEqual([[comment!.id, second.slice(0, 12)]]);
  });

  it('delivers what Gitea missed once it answers again, and posts nothing twice across a restart', async () => {
    const server = cluster().processes.find((p) => p.name === 'gitea')!;
    const sha = await push('agent/offline', { 'platform.yaml': MANIFEST, 'offline.txt': '1' });
    const name = environmentName(project, 'agent/offline');
    // Gitea stops answering once Grove has the push (its process is paused: every request Grove
    // makes hangs until the client's deadline); what Grove then reports cannot reach it.
    await expect.poll(async () => (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name }))?.spec.revision, { timeout: 30_000, interval: 100 }).toBe(sha);
    process.kill(server.pid, 'SIGSTOP');
    try {
      const failed = () => op.logs.filter((l) => l.controller === 'report' && l.name === name && l.msg === 'Reconcile failed');
      await expect.poll(() => failed().length, { timeout: 90_000, interval: 1000 }).toBeGreaterThan(0);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await expect.poll(async () => (await states(sha, 'agent/offline')).at(-1), { timeout: 120_000, interval: 1000 }).toBe('success');
    const delivered = await states(sha, 'agent/offline');
    expect(new Set(delivered).size, delivered.join(', ')).toBe(delivered.length);
    const heads = await Promise.all(['main', 'feature/login', 'agent/cart', 'agent/offline'].map((b) => branchHead(repo.path, b)));
    const everything = async () => Promise.all(heads.map(async (head) => (await gitea<Array<{ id: number }>>('GET', `/repos/${repo.path}/statuses/${head}?limit=50`)).map((st) => st.id)));
    const before = await everything();
    const commented = (await comments(cart)).map((c) => [c.id, c.body]);

    // A new operator reads every Environment again and finds each report already there.
    await op.kill('SIGTERM');
    op = await startOperator(ns);
    await expect.poll(() => op.logs.filter((l) => l.msg === 'Found the report already on the Git host').length, { timeout: 30_000 }).toBeGreaterThanOrEqual(4);
    expect(await everything()).toEqual(before);
    expect((await comments(cart)).map((c) => [c.id, c.body])).toEqual(commented);
  });
});

describe('pull-request Environments', () => {
  it('makes one per labelled pull request, comments on it, and removes it once the pull request is closed', async () => {
    const prs = await createGiteaRepo('prs');
    const name = `prs${randomBytes(2).toString('hex')}`;
    await prs.commit('main', { 'platform.yaml': MANIFEST });
    await prs.commit('agent/pay', { 'platform.yaml': MANIFEST, 'pay.txt': '1' });
    await prs.commit('agent/other', { 'other.txt': '1' });
    await prs.push();
    await giteaProject(name, prs, { pullRequests: { labels: ['preview'], branchEnvironments: false }, lifecycle: { branchGoneGraceSeconds: 2 } });
    const envNames = async () => (await kube().list<Environment>(api, 'Environment', { namespace: ns, labelSelector: `grove.dev/project=${name}` })).items.map((e) => e.metadata.name).sort();
    // Branches other than production get none of their own here.
    await expect.poll(envNames, { timeout: 30_000 }).toEqual([`${name}-main`]);

    const head = await branchHead(prs.path, 'agent/pay');
    await branchHead(prs.path, 'agent/other');
    const label = await gitea<{ id: number }>('POST', `/repos/${prs.path}/labels`, { name: 'preview', color: '#00aabb' });
    // Without the label: no Environment.
    await gitea('POST', `/repos/${prs.path}/pulls`, { head: 'agent/other', base: 'main', title: 'Something else' });
    const pr = await gitea<{ number: number }>('POST', `/repos/${prs.path}/pulls`, { head: 'agent/pay', base: 'main', title: 'Pay by card', labels: [label.id] });
    const prName = `${name}-pr-${pr.number}`;
    await expect.poll(envNames, { timeout: 30_000 }).toEqual([`${name}-main`, prName]);
    const env = (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: prName }))!;
    expect(env.spec).toMatchObject({ branch: 'agent/pay', revision: head, pullRequest: { number: pr.number, title: 'Pay by card', author: cluster().gitea!.username, base: 'main' } });
    await expect.poll(async () => (await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: prName }))?.status?.pullRequest?.number, { timeout: 30_000 }).toBe(pr.number);
    // Its report: on its pull request, under its own marker.
    await expect.poll(async () => (await comments(pr.number, prs.path)).map((c) => c.body.includes(`<!-- grove:environment ${ns}/${prName} -->`) && c.body.includes('| State | Ready |')), { timeout: 60_000, interval: 500 }).toEqual([true]);

    await gitea('PATCH', `/repos/${prs.path}/pulls/${pr.number}`, { state: 'closed' });
    await expect.poll(envNames, { timeout: 60_000, interval: 500 }).toEqual([`${name}-main`]);
  });
});

describe('refusals', () => {
  it('fails the head of a branch that policy refuses, saying why, and lists it in the Project\'s status', async () => {
    const refused = await createGiteaRepo('refused');
    const name = `ref${randomBytes(2).toString('hex')}`;
    await refused.commit('main', { 'platform.yaml': MANIFEST });
    await refused.push();
    await giteaProject(name, refused, { policy: { humanBranches: ['feature/*'] } });
    const sha = await refused.commit('other/x', { 'x.txt': '1' });
    await refused.push();
    const context = `grove/${environmentName(name, 'other/x')}`;
    const message = 'branchNotAllowed: branch other/x matches none of policy.humanBranches (feature/*) for pushes without an agent';
    await expect.poll(async () => (await statuses(sha, context, refused.path)).map((st) => [st.status, st.description]), { timeout: 30_000, interval: 500 }).toEqual([['failure', `Not admitted: ${message}`]]);
    expect((await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name }))?.status?.denied).toEqual([{ branch: 'other/x', revision: sha, rule: 'branchNotAllowed', message }]);
    expect(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: environmentName(name, 'other/x') })).toBeUndefined();
  });
});
