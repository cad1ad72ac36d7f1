// Migration rehearsals on the real node, driven and reported through the local Gitea: a pull
// request labelled grove/rehearse gets its branch's deploy hook run against a fresh snapshot of
// production's seeded data; the schema before and after is read by Grove's movers, the result is
// in the Rehearsal, on the commit and in the pull request's comment, and the copy is gone.
// A migration that today's data breaks fails the rehearsal with the hook's own output, and
// production's schema is never touched.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, environmentNamespace, type Project, pullRequestEnvironmentName, type Rehearsal, rehearsalName } from '../../../src/api/index.ts';
import { SHOP_MANIFEST, withImages } from '../../../local/example.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { internalNetworkArgs } from '../../../local/network.ts';
import { addWebhook, branchHead, createGiteaRepo, gitea, type GiteaRepo } from '../gitea.ts';
import { cluster, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';
import { image, releaseEnvironments, restrictedContainer, restrictedPod, runToCompletion } from '../pods.ts';

const api = 'grove.dev/v1alpha1';
const SECRET = randomBytes(12).toString('hex');
const LABEL = 'grove/rehearse';

let ns: string;
let project: string;
let repo: GiteaRepo;
let op: OperatorProcess;
let manifest: string;

/** The example's manifest with the deploy hook running these statements after its own migration. */
const migrating = (...statements: string[]): string => manifest.replace('deploy: [/shop, migrate]', `deploy: [/shop, migrate, ${statements.map((s) => `--sql, ${JSON.stringify(s)}`).join(', ')}]`);

const rehearsal = (name: string) => kube().get<Rehearsal>({ apiVersion: api, kind: 'Rehearsal', namespace: ns, name });
const environment = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });

/** The Rehearsal once it is complete (its copy deleted). */
async function completed(name: string): Promise<Rehearsal> {
  await expect.poll(async () => (await rehearsal(name))?.status?.completionTime, { timeout: 540_000, interval: 2000, message: `Rehearsal ${name} to complete` }).toBeDefined();
  return (await rehearsal(name))!;
}

/** The commit statuses Gitea shows for `sha` in Grove's rehearsal context, oldest first. */
async function rehearsalStatuses(sha: string): Promise<Array<{ status: string; description: string }>> {
  type Status = { id: number; status: string; context: string; description: string };
  return (await gitea<Status[]>('GET', `/repos/${repo.path}/commits/${sha}/statuses?limit=50`)).filter((s) => s.context === 'grove/rehearsal').sort((a, b) => a.id - b.id);
}

/**
 * The columns of a table of production's database, read by psql in production's namespace; it
 * tries again while the network policy does not know its new pod yet (a refused connection).
 */
async function productionColumns(table: string): Promise<string[]> {
  const prod = environmentNamespace(project, environmentName(project, 'main'));
  const query = `SELECT column_name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY 1`;
  const container = { ...restrictedContainer('psql', image('postgres'), ['sh', '-c', `for i in $(seq 60); do psql "$DATABASE_URL" -Atc "${query}" 2>/dev/null && exit 0; sleep 1; done; exit 1`]), env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }] };
  const done = await runToCompletion(restrictedPod(prod, `psql-${randomBytes(3).toString('hex')}`, [container]));
  expect(done.exitCode, done.logs).toBe(0);
  return done.logs.trim().split('\n');
}

async function push(branch: string, files: Record<string, string>, message?: string): Promise<string> {
  const sha = await repo.commit(branch, files, message);
  await repo.push();
  // Gitea records a push from a queue: the pull request must see this head.
  for (let i = 0; i < 100 && (await branchHead(repo.path, branch)) !== sha; i++) await sleep(200);
  return sha;
}

beforeAll(async () => {
  ns = await testNamespace('rehearse');
  project = `shop${randomBytes(2).toString('hex')}`;
  repo = await createGiteaRepo(project);
  manifest = withImages(await readFile(SHOP_MANIFEST, 'utf8'), { web: image('shop-web') });
  await push('main', { 'platform.yaml': manifest });
  await createBackupStore(ns, `rehearse-${randomBytes(3).toString('hex')}`, 'tier d');
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  await createSecret(ns, 'gitea', { token: cluster().gitea!.token }, [`Project/${project}`]);
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    spec: {
      repo: { url: repo.cloneUrl },
      // Gitea's webhooks bring the pushes and pull requests: the poll is an hour away.
      pollIntervalSeconds: 3600,
      webhook: { secretRef: { name: 'hook' } },
      gitHost: { type: 'gitea', secretRef: { name: 'gitea' } },
      // Production and the pull requests' Environments only: the node has two cores.
      pullRequests: { branchEnvironments: false },
      rehearsals: { label: LABEL },
      backupStoreRef: { name: 'store' },
      serviceImages: { ...SERVICE_IMAGES },
    },
  });
  op = await startOperator(ns, ['--mover-image', image('grove'), ...internalNetworkArgs(cluster().node!.network)]);
  await addWebhook(repo.path, `${op.url}/hooks/${ns}/${project}`, SECRET);
  // A plain loop: expect.poll cannot run in a hook.
  for (let i = 0; conditionStatus(await environment(environmentName(project, 'main')), 'Ready') !== 'True'; i++) {
    if (i > 300) throw new Error(`production did not become Ready: ${JSON.stringify((await environment(environmentName(project, 'main')))?.status?.conditions)}`);
    await sleep(1000);
  }
}, 420_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await releaseEnvironments(ns);
});

describe('migration rehearsals on the real node', () => {
  it('runs production with the rows the rehearsals run against', async () => {
    const seed = { ...restrictedContainer('seed', image('shop-web'), ['/shop', 'seed', '--customers', '40', '--products', '5']), env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }] };
    const seeded = await runToCompletion(restrictedPod(environmentNamespace(project, environmentName(project, 'main')), 'seed', [seed]));
    expect(seeded.logs).toContain('Seeded 40 customers');
    expect(await productionColumns('customers')).toEqual(['email', 'id', 'name']);
  }, 180_000);

  it("rehearses a labelled pull request's migration on a copy of production's data, reports it on the commit and in the comment, and deletes the copy", async () => {
    const sha = await push('agent/loyalty', { 'platform.yaml': migrating('ALTER TABLE customers ADD COLUMN loyalty_points integer NOT NULL DEFAULT 0') });
    const label = await gitea<{ id: number }>('POST', `/repos/${repo.path}/labels`, { name: LABEL, color: '#aa5500' });
    const pr = await gitea<{ number: number }>('POST', `/repos/${repo.path}/pulls`, { head: 'agent/loyalty', base: 'main', title: 'Loyalty points', labels: [label.id] });

    const name = rehearsalName(project, sha);
    const done = await completed(name);
    const result = done.status!.result!;
    expect(result, JSON.stringify(done.status)).toMatchObject({ succeeded: true, schema: [{ service: 'db', changed: true, added: 2, removed: 1 }] });
    expect(result.durationSeconds).toBeGreaterThan(0);
    expect(result.schema![0]!.diff).toContain('-    email text NOT NULL\n+    email text NOT NULL,\n+    loyalty_points integer DEFAULT 0 NOT NULL');
    expect(done.status).toMatchObject({ revision: sha, parent: environmentName(project, 'main'), environment: name });
    expect(conditionStatus(done, 'Ready')).toBe('True');
    // The copy is gone, and production never had the column.
    expect(await environment(name)).toBeUndefined();
    expect(await productionColumns('customers')).toEqual(['email', 'id', 'name']);

    // Gitea shows the outcome on the commit, pending first.
    await expect.poll(async () => (await rehearsalStatuses(sha)).map((s) => s.status), { timeout: 60_000 }).toEqual(['pending', 'success']);
    expect((await rehearsalStatuses(sha)).at(-1)!.description).toMatch(/^Migration passed in \d+\.\ds; schema: db \+2 −1$/);
    // And the pull request's Environment's comment carries the schema diff.
    const prEnv = pullRequestEnvironmentName(project, pr.number);
    await expect
      .poll(async () => (await gitea<Array<{ body: string }>>('GET', `/repos/${repo.path}/issues/${pr.number}/comments`)).map((c) => c.body).find((b) => b.includes(`Environment \`${prEnv}\``)) ?? '', { timeout: 300_000, interval: 2000 })
      .toMatch(/#### Migration rehearsal of `[0-9a-f]{12}` on a copy of `[a-z0-9-]+`: passed[\s\S]*\+    loyalty_points integer DEFAULT 0 NOT NULL/);
  }, 900_000);

  it('fails a migration that production\'s rows violate, with the hook\'s output, and leaves every schema as it was', async () => {
    // Forty customers: a constraint only an empty table would meet.
    const sha = await push('agent/one-customer', { 'platform.yaml': migrating('ALTER TABLE customers ADD CONSTRAINT one_customer CHECK (id < 2)') });
    await kube().create<Rehearsal>({ apiVersion: api, kind: 'Rehearsal', metadata: { name: 'one-customer', namespace: ns }, spec: { project, branch: 'agent/one-customer' } });

    const done = await completed('one-customer');
    const result = done.status!.result!;
    expect(done.status?.revision).toBe(sha);
    expect(result, JSON.stringify(done.status)).toMatchObject({ succeeded: false, schema: [{ service: 'db', changed: false }] });
    expect(result.message).toMatch(/^The deploy hook failed: .*check constraint "one_customer" of relation "customers" is violated by some row/);
    expect(result.output).toContain('Running statement 1: ALTER TABLE customers ADD CONSTRAINT one_customer CHECK (id < 2)');
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'MigrationFailed' });
    expect(conditionStatus(done, 'Stalled')).toBe('True');
    expect(await environment('one-customer')).toBeUndefined();
    await expect.poll(async () => (await rehearsalStatuses(sha)).at(-1)?.status, { timeout: 60_000 }).toBe('failure');
    expect((await rehearsalStatuses(sha)).at(-1)!.description).toContain('Migration failed');
  }, 900_000);
});
