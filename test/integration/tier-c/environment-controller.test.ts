// The Environment controller on the full local cluster: a pushed branch becomes a namespace
// running its apps and services, kept as the manifest says — changed, pruned, repaired — and
// removed with its Environment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, type KubeObject, type Project } from '../../../src/api/index.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, type Conditioned, conditionStatus, createSecret, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';

const SECRET = 'env-hook-secret';
const MANIFEST = `version: 1
applications:
  web:
    image: "shop/web:\${GIT_COMMIT}"
    port: 8080
    replicas: 2
    health: { path: /healthz }
    relationships: { database: db }
    crons: { cleanup: { schedule: "@hourly", command: [cleanup] } }
  worker:
    image: shop/worker:1
services:
  db: { type: "postgresql:16", size: 1Gi }
routes:
  web: { upstream: web }
`;

let ns: string;
let repo: RepoBuilder;
let project: string;
let op: OperatorProcess;

const ref = (kind: string, apiVersion: string, namespace: string, name: string) => ({ apiVersion, kind, namespace, name });
const envName = (branch: string) => environmentName(project, branch);
const env = (branch: string) => kube().get<Environment>(ref('Environment', 'grove.dev/v1alpha1', ns, envName(branch)));

async function eventsOf(name: string): Promise<Array<{ type: string; reason: string; note: string }>> {
  const events = await kube().list<KubeObject & { type: string; reason: string; note: string; regarding: { name: string; kind: string } }>('events.k8s.io/v1', 'Event', { namespace: ns });
  return events.items.filter((e) => e.regarding.kind === 'Environment' && e.regarding.name === name);
}

async function push(branch: string, files: Record<string, string>): Promise<string> {
  const sha = await repo.commit(branch, files);
  await repo.push();
  await sendWebhook(op.url, ns, project, SECRET);
  return sha;
}

async function readyAt(branch: string, revision: string): Promise<Environment> {
  await expect
    .poll(
      async () => {
        const e = await env(branch);
        return e?.status?.observedRevision === revision ? conditionStatus(e, 'Ready') : `not at ${revision.slice(0, 8)} yet`;
      },
      { timeout: 45_000, interval: 250 },
    )
    .toBe('True');
  return (await env(branch))!;
}

beforeAll(async () => {
  ns = await testNamespace('envs');
  project = `shop${Math.random().toString(36).slice(2, 6)}`;
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.push();
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  await kube().create<Project>({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'hook' } }, domain: '{route}.{environment}.preview.test' },
  });
  op = await startOperator(ns);
});

afterAll(async () => {
  await op.kill('SIGKILL');
});

describe('the Environment controller', () => {
  it('turns a push into a namespace running everything, Ready with its URL', async () => {
    const sha = await push('feature/login', { 'platform.yaml': MANIFEST, 'app.txt': '1' });
    const e = await readyAt('feature/login', sha);
    const target = envName('feature/login');
    expect(e.status?.namespace).toBe(target);
    expect(e.status?.urls).toEqual([{ name: 'web', url: `https://web.${target}.preview.test` }]);
    expect(conditionStatus(e, 'WorkloadsAvailable')).toBe('True');
    expect(e.metadata.finalizers).toContain('grove.dev/environment');

    const deploy = await kube().get<Conditioned & { spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } }>(ref('Deployment', 'apps/v1', target, 'web'));
    expect(conditionStatus(deploy, 'Available')).toBe('True');
    expect(deploy?.spec.replicas).toBe(2);
    expect(deploy?.spec.template.spec.containers[0]?.image).toBe(`shop/web:${sha}`);
    for (const [kind, apiVersion, name] of [
      ['StatefulSet', 'apps/v1', 'db'],
      ['Secret', 'v1', 'db-credentials'],
      ['CronJob', 'batch/v1', 'web-cleanup'],
      ['Ingress', 'networking.k8s.io/v1', 'web'],
      ['NetworkPolicy', 'networking.k8s.io/v1', 'default-deny'],
      ['ResourceQuota', 'v1', 'grove-quota'],
    ] as const) {
      expect(await kube().get(ref(kind, apiVersion, target, name)), `${kind}/${name}`).toBeDefined();
    }
    expect(e.status?.inventory?.length).toBeGreaterThan(15);
    await expect.poll(async () => (await eventsOf(envName('feature/login'))).map((ev) => `${ev.type} ${ev.reason}`), { timeout: 10_000 }).toEqual(
      expect.arrayContaining(['Normal Applied', 'Normal Ready']),
    );
  });

  it('runs the deploy hook once per revision, after the workloads are available', async () => {
    const withHook = MANIFEST.replace('    relationships: { database: db }\n', '    relationships: { database: db }\n    hooks: { deploy: [npm, run, migrate] }\n');
    const sha = await push('feature/hooked', { 'platform.yaml': withHook });
    await readyAt('feature/hooked', sha);
    const job = await kube().get<Conditioned & { spec: { template: { spec: { containers: Array<{ command: string[] }> } } } }>(
      ref('Job', 'batch/v1', envName('feature/hooked'), `web-deploy-${sha.slice(0, 12)}`),
    );
    expect(conditionStatus(job, 'Complete')).toBe('True');
    expect(job?.spec.template.spec.containers[0]?.command).toEqual(['npm', 'run', 'migrate']);
  });

  it('keeps service credentials across reconciles and revisions', async () => {
    const target = envName('feature/login');
    const before = (await kube().get<KubeObject & { data: Record<string, string> }>(ref('Secret', 'v1', target, 'db-credentials')))!.data.password;
    const sha = await push('feature/login', { 'app.txt': '2' });
    await readyAt('feature/login', sha);
    const after = (await kube().get<KubeObject & { data: Record<string, string> }>(ref('Secret', 'v1', target, 'db-credentials')))!.data.password;
    expect(after).toBe(before);
  });

  it('changes only what the manifest changed, and prunes what it dropped', async () => {
    const target = envName('feature/login');
    const policyBefore = (await kube().get(ref('NetworkPolicy', 'networking.k8s.io/v1', target, 'default-deny')))!.metadata.resourceVersion;
    const dbBefore = (await kube().get(ref('StatefulSet', 'apps/v1', target, 'db')))!.metadata.generation;
    const changed = MANIFEST.replace('replicas: 2', 'replicas: 3').replace(/  worker:\n    image: shop\/worker:1\n/, '').replace('    crons: { cleanup: { schedule: "@hourly", command: [cleanup] } }\n', '');
    const sha = await push('feature/login', { 'platform.yaml': changed });
    await readyAt('feature/login', sha);
    expect((await kube().get<KubeObject & { spec: { replicas: number } }>(ref('Deployment', 'apps/v1', target, 'web')))?.spec.replicas).toBe(3);
    await expect.poll(() => kube().get(ref('Deployment', 'apps/v1', target, 'worker')), { timeout: 15_000 }).toBeUndefined();
    expect(await kube().get(ref('CronJob', 'batch/v1', target, 'web-cleanup'))).toBeUndefined();
    expect((await kube().get(ref('NetworkPolicy', 'networking.k8s.io/v1', target, 'default-deny')))!.metadata.resourceVersion).toBe(policyBefore);
    expect((await kube().get(ref('StatefulSet', 'apps/v1', target, 'db')))!.metadata.generation).toBe(dbBefore);
  });

  it('restores a child object deleted by hand', async () => {
    const target = envName('feature/login');
    const old = (await kube().get(ref('Deployment', 'apps/v1', target, 'web')))!;
    await kube().delete(ref('Deployment', 'apps/v1', target, 'web'));
    const restored = async () => {
      const uid = (await kube().get(ref('Deployment', 'apps/v1', target, 'web')))?.metadata.uid;
      return uid !== undefined && uid !== old.metadata.uid;
    };
    await expect.poll(restored, { timeout: 20_000 }).toBe(true);
  });

  it('leaves the running workloads untouched when an override is invalid', async () => {
    const target = envName('feature/login');
    const before = (await kube().get(ref('Deployment', 'apps/v1', target, 'web')))!;
    const broken = `${MANIFEST}environments:\n  development:\n    applications:\n      web: { replicas: many }\n`;
    await push('feature/login', { 'platform.yaml': broken });
    await expect.poll(async () => conditionStatus(await env('feature/login'), 'ManifestValid'), { timeout: 20_000 }).toBe('False');
    const e = (await env('feature/login'))!;
    expect(e.status?.conditions?.find((c) => c.type === 'ManifestValid')?.message).toContain('environments.development.applications.web.replicas: must be an integer');
    const after = (await kube().get(ref('Deployment', 'apps/v1', target, 'web')))!;
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    await expect.poll(async () => (await eventsOf(envName('feature/login'))).some((ev) => ev.type === 'Warning' && ev.reason === 'ManifestInvalid'), { timeout: 10_000 }).toBe(true);
  });

  it('runs an Environment made with kubectl from the branch head, and deletes its namespace with it', async () => {
    const sha = await repo.commit('hotfix', { 'platform.yaml': MANIFEST.replace(/  worker:\n    image: shop\/worker:1\n/, '') });
    await repo.push();
    await kube().create<Environment>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'hand-made', namespace: ns }, spec: { project, branch: 'hotfix' } });
    const handMade = () => kube().get<Environment>(ref('Environment', 'grove.dev/v1alpha1', ns, 'hand-made'));
    await expect.poll(async () => conditionStatus(await handMade(), 'Ready'), { timeout: 45_000, interval: 250 }).toBe('True');
    const made = (await handMade())!;
    expect(made.status?.observedRevision).toBe(sha);
    expect(made.status?.namespace).toBe(`${project}-hand-made`);

    await kube().delete(ref('Environment', 'grove.dev/v1alpha1', ns, 'hand-made'));
    await expect.poll(handMade, { timeout: 60_000, interval: 500 }).toBeUndefined();
    expect(await kube().get(ref('Namespace', 'v1', '', `${project}-hand-made`))).toBeUndefined();
  });
  it('says Stalled for an Environment whose branch is not pushed yet, and runs it once it is, untouched', async () => {
    await kube().create<Environment>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'too-early', namespace: ns }, spec: { project, branch: 'not-pushed-yet' } });
    const early = () => kube().get<Environment>(ref('Environment', 'grove.dev/v1alpha1', ns, 'too-early'));
    await expect.poll(async () => conditionStatus(await early(), 'Stalled'), { timeout: 30_000, interval: 250 }).toBe('True');
    const stalled = (await early())!;
    // kstatus reads Reconciling=True as "in progress" forever; only a push can help, so it is Stalled.
    expect(stalled.status?.conditions?.find((c) => c.type === 'Reconciling')).toBeUndefined();
    expect(stalled.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RevisionNotFound', message: 'branch not-pushed-yet does not exist in the repository' });

    // The push alone heals it: nobody touches the object (the minute's look finds the branch).
    const sha = await repo.commit('not-pushed-yet', { 'platform.yaml': MANIFEST.replace(/  worker:\n    image: shop\/worker:1\n/, '') });
    await repo.push();
    await expect.poll(async () => conditionStatus(await early(), 'Ready'), { timeout: 120_000, interval: 1000 }).toBe('True');
    expect((await early())?.status?.observedRevision).toBe(sha);
    expect(conditionStatus(await early(), 'Stalled')).not.toBe('True');
    await kube().delete(ref('Environment', 'grove.dev/v1alpha1', ns, 'too-early'));
  }, 180_000);
});
