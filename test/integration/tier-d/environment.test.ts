// examples/shop pushed to the local Git server and run for real on tier D's node: production's
// application and databases start from the local images and answer; a branch gets production's
// data by snapshot, sanitised by the example's own hook before anything serves it; the branch
// sleeps with no pod left and wakes to the same data. Every answer comes over the network from a
// pod in the Environment's namespace, as a neighbour of the application would get it.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, environmentNamespace, type KubeObject, type Project, type ProjectSpec } from '../../../src/api/index.ts';
import { SHOP_MANIFEST, withImages } from '../../../local/example.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';
import { httpFrom, image, kubectl, type Pod, reachFrom, readyPod, releaseEnvironments, restrictedContainer, restrictedPod, runToCompletion, type Target } from '../pods.ts';
import { internalNetworkArgs } from '../../../local/network.ts';

const api = 'grove.dev/v1alpha1';
const SECRET = 'tier-d-hook';

let ns: string;
let project: string;
let repo: RepoBuilder;
let op: OperatorProcess;

interface Page {
  branch: string;
  customerCount: number;
  customers: Array<{ id: number; name: string; email: string }>;
  products: unknown[];
  uploads: Array<{ name: string }>;
}

const environment = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });
const namespaceOf = (branch: string) => environmentNamespace(project, environmentName(project, branch));

async function ready(branch: string, timeout = 240_000): Promise<Environment> {
  const name = environmentName(project, branch);
  await expect.poll(async () => conditionStatus(await environment(name), 'Ready'), { timeout, interval: 1000, message: `Environment ${name} to become Ready` }).toBe('True');
  return (await environment(name))!;
}

/** The application's page, from inside its namespace, once its database holds at least `customers` rows. */
async function page(namespace: string, customers = 1): Promise<Page> {
  let last: Page | undefined;
  await expect
    .poll(
      async () => {
        const answer = await httpFrom(namespace, 'web', 80, '/?format=json');
        last = answer.status === 200 ? (JSON.parse(answer.body) as Page) : undefined;
        return (last?.customerCount ?? 0) >= customers;
      },
      { timeout: 120_000, interval: 1000, message: `the shop in ${namespace} to list ${customers} customers` },
    )
    .toBe(true);
  return last!;
}

/** Runs the example's own binary in a namespace with the database variables its application gets. */
async function shop(namespace: string, args: string[]) {
  const name = `shop-${randomBytes(3).toString('hex')}`;
  const container = {
    ...restrictedContainer('shop', image('shop-web'), ['/shop', ...args]),
    env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }],
  };
  return runToCompletion(restrictedPod(namespace, name, [container]));
}

beforeAll(async () => {
  ns = await testNamespace('shop');
  project = `shop${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, `shop-${randomBytes(3).toString('hex')}`, 'tier d');
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  const manifest = withImages(await readFile(SHOP_MANIFEST, 'utf8'), { web: image('shop-web') });
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': manifest });
  await repo.push();
  const spec: ProjectSpec = {
    repo: { url: `${cluster().git!.url}/${project}.git` },
    pollIntervalSeconds: 3600,
    webhook: { secretRef: { name: 'hook' } },
    backupStoreRef: { name: 'store' },
    serviceImages: { ...SERVICE_IMAGES },
  };
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec });
  op = await startOperator(ns, ['--mover-image', image('grove'), ...internalNetworkArgs(cluster().node!.network)]);
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await releaseEnvironments(ns);
  await new Promise<void>((resolve) => (outside ? outside.close(() => resolve()) : resolve()));
});

/** A TCP server outside the cluster, on the host's end of the node's link: "the internet" here. */
let outside: Server | undefined;
async function outsideAddress(): Promise<Target> {
  const host = cluster().node!.network.hostIP;
  outside ??= await new Promise<Server>((resolve) => {
    // Probes hang up at once: a reset is what they do, not a fault of the server's.
    const server = createServer((socket) => socket.on('error', () => undefined).end('hello\n'));
    server.listen(0, host, () => resolve(server));
  });
  return { host, port: (outside.address() as AddressInfo).port };
}

describe('examples/shop on the real node', () => {
  it('runs production: the application answers from its database and every pod runs on the node', async () => {
    await ready('main');
    const prod = namespaceOf('main');
    expect((await shop(prod, ['seed', '--customers', '120', '--products', '12'])).logs).toContain('Seeded 120 customers and 12 products');
    const seen = await page(prod, 120);
    expect(seen.branch).toBe('main');
    expect(seen.customerCount).toBe(120);
    expect(seen.customers[0]).toEqual({ id: 1, name: expect.any(String), email: expect.stringMatching(/@shop\.example$/) });
    const pods = (await kube().list<Pod>('v1', 'Pod', { namespace: prod })).items.filter((p) => p.status?.phase === 'Running');
    expect(pods.map((p) => p.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(['cache', 'db', 'web', 'web']);
    for (const p of pods) expect(p.spec.nodeName, p.metadata.name).toBe(cluster().node!.name);
    // The deploy hook (`/shop migrate`) made the tables the seed filled, in a pod on the node.
    const hooks = (await kube().list<Pod>('v1', 'Pod', { namespace: prod, labelSelector: 'app.kubernetes.io/component=deploy-hook' })).items;
    expect(hooks.filter((p) => p.status?.phase === 'Succeeded' && p.spec.nodeName === cluster().node!.name).length).toBeGreaterThan(0);
    expect(await kubectl('logs', '-n', prod, hooks.find((p) => p.status?.phase === 'Succeeded')!.metadata.name as string)).toMatch(/migrat/i);
  });

  it('clones production into a branch by snapshot and sanitises it before the application serves it', async () => {
    await repo.commit('feature/checkout', { 'CHANGE.md': 'a change\n' });
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET, JSON.stringify({ ref: 'refs/heads/feature/checkout' }));
    const env = await ready('feature/checkout');
    expect(env.status?.lineage?.find((l) => l.volume === 'db')).toMatchObject({ source: 'snapshot', parent: environmentName(project, 'main') });
    expect(env.status?.conditions?.find((c) => c.type === 'DataCloned')?.status).toBe('True');

    const branch = namespaceOf('feature/checkout');
    const seen = await page(branch, 120);
    expect(seen.branch).toBe('feature/checkout');
    expect(seen.customerCount).toBe(120);
    expect(seen.customers).toHaveLength(100);
    // The hook ran against the clone: none of production's addresses is left there.
    for (const c of seen.customers) expect(c.email).toBe(`customer-${c.id}@example.invalid`);
    // And production keeps them.
    const prod = await page(namespaceOf('main'), 120);
    expect(prod.customers.every((c) => c.email.endsWith('@shop.example'))).toBe(true);
  });

  it('keeps a branch whose sanitize hook fails stopped, and says what the hook printed', async () => {
    const manifest = withImages(await readFile(SHOP_MANIFEST, 'utf8'), { web: image('shop-web') });
    expect(manifest).toContain('sanitize: [/shop, sanitize]');
    await repo.commit('feature/unscrubbed', { 'platform.yaml': manifest.replace('sanitize: [/shop, sanitize]', 'sanitize: [/shop, scrub-everything]') });
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET, JSON.stringify({ ref: 'refs/heads/feature/unscrubbed' }));
    const name = environmentName(project, 'feature/unscrubbed');
    // The hook's Job retries twice before it counts as failed.
    await expect.poll(async () => conditionStatus(await environment(name), 'Stalled'), { timeout: 240_000, interval: 1000, message: `Environment ${name} to stall` }).toBe('True');
    const env = (await environment(name))!;
    const ready = env.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'SanitizeFailed' });
    // The hook's own words, from its pod on the node.
    expect(ready?.message).toContain('the sanitize hook of web failed');
    expect(ready?.message).toContain('shop: unknown command "scrub-everything"');
    expect(env.status?.conditions?.find((c) => c.type === 'DataCloned')?.status).not.toBe('True');
    // Nothing serves the unscrubbed copy: the application was never started.
    const web = (await kube().list<Pod>('v1', 'Pod', { namespace: namespaceOf('feature/unscrubbed'), labelSelector: 'app.kubernetes.io/name=web' })).items;
    expect(web.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'application')).toEqual([]);
    await kube().delete({ apiVersion: api, kind: 'Environment', namespace: ns, name });
  });

  it('backs production up with mover pods of Grove\'s own image on the node', async () => {
    const prodEnv = environmentName(project, 'main');
    await kube().create({ apiVersion: api, kind: 'Backup', metadata: { name: 'prod-now', namespace: ns }, spec: { project, environment: prodEnv } } as KubeObject);
    // The movers run in the operator's namespace (here the project's), and go when the Backup completes: watched while they run.
    const seen = new Map<string, Pod>();
    const backup = () => kube().get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }>; volumes?: Array<{ name: string; durationSeconds?: number }> } }>({ apiVersion: api, kind: 'Backup', namespace: ns, name: 'prod-now' });
    for (const deadline = Date.now() + 180_000; conditionStatus(await backup(), 'Ready') !== 'True'; await new Promise((resolve) => setTimeout(resolve, 500))) {
      if (Date.now() > deadline) throw new Error(`Backup prod-now never completed: ${JSON.stringify((await backup())?.status)}`);
      for (const p of (await kube().list<Pod>('v1', 'Pod', { namespace: ns, labelSelector: 'grove.dev/backup=prod-now' })).items) seen.set(p.metadata.name as string, p);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
    for (const p of seen.values()) {
      expect(p.spec.nodeName).toBe(cluster().node!.name);
      expect(p.metadata.labels?.['grove.dev/target-namespace']).toBe(namespaceOf('main'));
    }
    // Each volume's figures come from its mover's own report, read from its pod when it ended.
    expect((await backup())?.status?.volumes?.map((v) => [v.name, typeof v.durationSeconds])).toEqual([...(await backup())!.status!.volumes!].map((v) => [v.name, 'number']));
  });

  it('sleeps with no pod left running and wakes to the same data', async () => {
    const name = environmentName(project, 'feature/checkout');
    const branch = namespaceOf('feature/checkout');
    const before = await page(branch, 120);
    await kube().mergePatch({ apiVersion: api, kind: 'Environment', namespace: ns, name }, { spec: { state: 'sleeping' } }, { fieldManager: 'test' });
    await expect.poll(async () => (await kube().list<Pod>('v1', 'Pod', { namespace: branch, labelSelector: 'app.kubernetes.io/component in (application,service)' })).items.length, { timeout: 120_000, interval: 1000 }).toBe(0);
    expect(conditionStatus(await environment(name), 'Sleeping')).toBe('True');

    await kube().mergePatch({ apiVersion: api, kind: 'Environment', namespace: ns, name }, { spec: { state: 'active' } }, { fieldManager: 'test' });
    await readyPod(branch, 'app.kubernetes.io/name=db');
    const after = await page(branch, 120);
    expect(after.customers).toEqual(before.customers);
  });
});

describe('isolation between Environments, enforced by the network', () => {
  const dbOf = (branch: string): Target => ({ host: `db.${namespaceOf(branch)}.svc.cluster.local`, port: 5432 });
  const own: Target = { host: 'db', port: 5432 };
  const at = (t: Target) => `${t.host}:${t.port}`;

  it('lets a pod reach its own Environment\'s services by name, and no other Environment\'s', async () => {
    const branch = await reachFrom(namespaceOf('feature/checkout'), own, [{ host: 'cache', port: 6379 }, dbOf('feature/checkout'), dbOf('main')]);
    expect(branch).toEqual({ 'cache:6379': 'connected', [at(dbOf('feature/checkout'))]: 'connected', [at(dbOf('main'))]: 'refused' });
    const production = await reachFrom(namespaceOf('main'), own, [dbOf('main'), dbOf('feature/checkout')]);
    expect(production).toEqual({ [at(dbOf('main'))]: 'connected', [at(dbOf('feature/checkout'))]: 'refused' });
  });

  it('refuses the backup store, the API server and any outside address to every pod, a mover\'s labels or not', async () => {
    const url = new URL(cluster().minio!.url);
    const store: Target = { host: url.hostname, port: Number(url.port) };
    const api: Target = { host: 'kubernetes.default.svc.cluster.local', port: 443 };
    const outside = await outsideAddress();
    // From a namespace without policies, all three answer: the path is there, only policy is not.
    const open = await testNamespace('open');
    expect(await reachFrom(open, outside, [store, api])).toEqual({ [at(store)]: 'connected', [at(api)]: 'connected' });

    const branch = namespaceOf('feature/checkout');
    expect(await reachFrom(branch, own, [store, api, outside]), 'internet egress is off').toEqual({ [at(store)]: 'refused', [at(api)]: 'refused', [at(outside)]: 'refused' });
    // Grove's movers run in its own namespace: a pod here dressed as one gets no further.
    const mover = { 'app.kubernetes.io/component': 'mover' };
    expect(await reachFrom(branch, own, [store, dbOf('main'), outside], mover)).toEqual({ [at(store)]: 'refused', [at(dbOf('main'))]: 'refused', [at(outside)]: 'refused' });
  });

  it('under the kill switch, lets a branch\'s pods reach nothing outside their namespace, and production keeps its DNS', async () => {
    const url = new URL(cluster().minio!.url);
    const store: Target = { host: url.hostname, port: Number(url.port) };
    const branch = namespaceOf('feature/checkout');
    // Addresses rather than names where a name needs DNS, which the switch cuts too: the services'
    // pods (their Services are headless) and the DNS Service.
    const ip = async (namespace: string, name: string) => (await readyPod(namespace, `app.kubernetes.io/name=${name}`)).status!.podIP as string;
    const ownDb: Target = { host: await ip(branch, 'db'), port: 5432 };
    const dnsService = await kube().get<KubeObject & { spec: { clusterIP: string } }>({ apiVersion: 'v1', kind: 'Service', namespace: 'kube-system', name: 'kube-dns' });
    const dns: Target = { host: dnsService!.spec.clusterIP, port: 53 };
    const mover = { 'app.kubernetes.io/component': 'mover' };
    const projectRef = { apiVersion: api, kind: 'Project', namespace: ns, name: project };
    const egress = async () => (await kube().list<KubeObject>('networking.k8s.io/v1', 'NetworkPolicy', { namespace: branch })).items.map((p) => p.metadata.name).sort();
    await kube().mergePatch(projectRef, { spec: { lockdown: true } }, { fieldManager: 'test' });
    try {
      await expect.poll(egress, { timeout: 30_000 }).toEqual(['allow-grove-movers', 'allow-ingress-controller', 'allow-same-namespace', 'default-deny']);
      expect(await reachFrom(branch, ownDb, [{ host: 'cache', port: 6379 }, dns, store], mover)).toEqual({ 'cache:6379': 'refused', [at(dns)]: 'refused', [at(store)]: 'refused' });
      expect(await reachFrom(branch, ownDb, [{ host: await ip(branch, 'cache'), port: 6379 }])).toEqual({ [`${await ip(branch, 'cache')}:6379`]: 'connected' });
      expect(await reachFrom(namespaceOf('main'), own, [dns, dbOf('main')])).toEqual({ [at(dns)]: 'connected', [at(dbOf('main'))]: 'connected' });
    } finally {
      await kube().mergePatch(projectRef, { spec: { lockdown: false } }, { fieldManager: 'test' });
    }
    await expect.poll(egress, { timeout: 30_000 }).toContain('allow-dns');
    expect(await reachFrom(branch, own, [{ host: 'cache', port: 6379 }])).toEqual({ 'cache:6379': 'connected' });
  });
});
