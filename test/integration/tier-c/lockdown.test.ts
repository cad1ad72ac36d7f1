// The kill switch on the local cluster: engaged on a Project (with the CLI) or for the whole
// operator (through Grove's API, with a real ServiceAccount token), every Environment but
// production loses the NetworkPolicies that let its pods out of their namespace, nothing is
// created or moved for them, the API server refuses an agent's create and change (the shipped
// admission policies), and lifting it brings everything back.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionPolicies, type Environment, environmentName, environmentNamespace, type KubeObject, type Project } from '../../../src/api/index.ts';
import { runCli } from '../../../src/cli/index.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, createSecret, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, sendWebhook, startOperator } from '../operator.ts';

const api = 'grove.dev/v1alpha1';
const SECRET = 'lockdown-hook';
const MANIFEST = 'version: 1\napplications:\n  web: { image: shop/web:1, port: 8080 }\n';
const AGENT = ['--as=coder-7', '--as-group=grove:agents'];

let ns: string;
let project: string;
let repo: RepoBuilder;
let op: OperatorProcess;
let token: string;

const run = promisify(execFile);
const kubectl = async (as: string[], ...args: string[]): Promise<{ ok: boolean; out: string }> => {
  try {
    return { ok: true, out: (await run(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...as, '-n', ns, ...args])).stdout };
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${stdout}${stderr}` };
  }
};
const cli = async (...argv: string[]): Promise<{ code: number; out: string }> => {
  let out = '';
  const sink = new Writable({ write: (chunk, _enc, done) => void ((out += String(chunk)), done()) });
  const code = await runCli(argv, { stdout: sink, stderr: sink, env: { KUBECONFIG: cluster().kubeconfig } });
  return { code, out };
};
const envName = (branch: string) => environmentName(project, branch);
const env = (branch: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: envName(branch) });
const namespaceOf = (branch: string) => environmentNamespace(project, envName(branch));
/** The NetworkPolicies of a branch's namespace, by name. */
const policies = async (branch: string) => (await kube().list<KubeObject>('networking.k8s.io/v1', 'NetworkPolicy', { namespace: namespaceOf(branch) })).items.map((p) => p.metadata.name).sort();
const ready = async () => (await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: project }))?.status?.conditions?.find((c) => c.type === 'Ready');

// The movers' way in (allow-grove-movers) is ingress, and stays under the switch: backups go on.
const OPEN = ['allow-dns', 'allow-grove-movers', 'allow-ingress-controller', 'allow-internet-egress', 'allow-same-namespace', 'default-deny'];
const CUT = ['allow-grove-movers', 'allow-ingress-controller', 'allow-same-namespace', 'default-deny'];

beforeAll(async () => {
  ns = await testNamespace('lockdown');
  project = `shop${randomBytes(2).toString('hex')}`;
  await createSecret(ns, 'hook', { secret: SECRET }, [`Project/${project}`]);
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.commit('feature/a', { 'a.txt': 'a' });
  await repo.push();
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'hook' } }, defaults: { clone: 'empty' }, network: { egress: { mode: 'internet' } } },
  });
  // The agents' rights, and a ServiceAccount of the platform team's that may flip the operator's switch.
  await kubectl([], 'create', 'role', 'agents', '--verb=get,list,create,update,patch,delete', '--resource=environments.grove.dev');
  await kubectl([], 'create', 'rolebinding', 'agents', '--role=agents', '--group=grove:agents');
  await kubectl([], 'create', 'serviceaccount', 'platform');
  await kubectl([], 'create', 'role', 'platform', '--verb=patch', '--resource=configmaps', '--resource-name=grove-lockdown');
  await kubectl([], 'create', 'rolebinding', 'platform', '--role=platform', `--serviceaccount=${ns}:platform`);
  token = (await kubectl([], 'create', 'token', 'platform')).out.trim();
  // The shipped operator-wide policy, bound here to this namespace's switch (the operator's home
  // in this test) and to this namespace alone, so other tests' Environments are not touched.
  if (!admissionPolicies().some((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name === 'grove.dev-lockdown')) throw new Error('no policy grove.dev-lockdown ships');
  await kube().apply(
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: `lockdown-${ns}` },
      spec: {
        policyName: 'grove.dev-lockdown',
        validationActions: ['Deny'],
        paramRef: { name: 'grove-lockdown', namespace: ns, parameterNotFoundAction: 'Allow' },
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
      },
    } as KubeObject,
    { fieldManager: 'test', force: true },
  );
  op = await startOperator(ns);
  // Both Environments reconciled, their egress open (expect.poll is for tests, not hooks).
  for (const branch of ['main', 'feature/a']) {
    const deadline = Date.now() + 60_000;
    while (JSON.stringify(await policies(branch)) !== JSON.stringify(OPEN)) {
      if (Date.now() > deadline) throw new Error(`${branch}: NetworkPolicies ${JSON.stringify(await policies(branch))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await kube().delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', name: `lockdown-${ns}` });
});

describe('the kill switch', () => {
  it("of a Project cuts every Environment's egress but production's, freezes them, and lifts", async () => {
    const engaged = await cli('lockdown', 'on', '--project', project, '-n', ns, '--reason', 'incident 42');
    expect(engaged.out).toBe(`Engaged the kill switch of Project ${project} (spec.lockdown): incident 42\n`);
    const started = Date.now();
    await expect.poll(() => policies('feature/a'), { timeout: 20_000, interval: 100 }).toEqual(CUT);
    console.log(`Egress of ${envName('feature/a')} cut ${Date.now() - started} ms after the switch`);
    expect(await policies('main')).toEqual(OPEN);
    await expect.poll(async () => (await ready())?.reason, { timeout: 10_000 }).toBe('LockedDown');
    expect((await ready())?.message).toContain(`Locked down by Project ${project} (spec.lockdown) (incident 42)`);

    // A new branch, a moved one: the operator makes and moves nothing but production.
    const moved = await repo.commit('feature/a', { 'a.txt': 'moved' });
    await repo.commit('feature/b', { 'b.txt': 'b' });
    const mainMoved = await repo.commit('main', { 'platform.yaml': `${MANIFEST}# moved\n` });
    await repo.push();
    await sendWebhook(op.url, ns, project, SECRET);
    await expect.poll(async () => (await env('main'))?.spec.revision, { timeout: 20_000 }).toBe(mainMoved);
    expect(await env('feature/b')).toBeUndefined();
    expect((await env('feature/a'))?.spec.revision).not.toBe(moved);

    // The API server refuses the agents, whatever the operator does.
    const before = (await env('feature/a'))?.metadata.resourceVersion;
    const refusal = `Project ${project} is locked down (spec.lockdown): its Environments other than production are neither created nor changed until it is lifted`;
    const made = await new Promise<{ ok: boolean; out: string }>((resolve) => {
      const child = execFile(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...AGENT, '-n', ns, 'create', '-f', '-'], (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
      child.stdin?.end(JSON.stringify({ apiVersion: api, kind: 'Environment', metadata: { name: `${project}-sneaky` }, spec: { project, branch: 'feature/b', clone: 'empty' } }));
    });
    expect(made.ok).toBe(false);
    expect(made.out).toContain(refusal);
    const patched = await kubectl(AGENT, 'patch', 'environment', envName('feature/a'), '--type=merge', '-p', '{"spec":{"ttlSeconds":7200}}');
    expect(patched.ok).toBe(false);
    expect(patched.out).toContain(refusal);
    expect((await env('feature/a'))?.metadata.resourceVersion).toBe(before);

    expect((await cli('lockdown', 'off', '--project', project, '-n', ns)).out).toBe(`Lifted the kill switch of Project ${project} (spec.lockdown)\n`);
    await expect.poll(() => policies('feature/a'), { timeout: 20_000 }).toEqual(OPEN);
    await sendWebhook(op.url, ns, project, SECRET);
    await expect.poll(async () => (await env('feature/b'))?.spec.revision, { timeout: 20_000 }).toBeDefined();
    await expect.poll(async () => (await env('feature/a'))?.spec.revision, { timeout: 20_000 }).toBe(moved);
  });

  it('of the operator, flipped through the API, holds every Project until lifted', async () => {
    const put = (engaged: boolean) =>
      fetch(`${op.url}/api/v1/namespaces/${ns}/lockdown`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ engaged, ...(engaged ? { reason: 'drill' } : {}) }) });
    const engaged = await put(true);
    expect(engaged.status).toBe(200);
    expect(await engaged.json()).toEqual({ engaged: true, by: `ConfigMap ${ns}/grove-lockdown`, reason: 'drill' });
    await expect.poll(() => policies('feature/b'), { timeout: 20_000, interval: 100 }).toEqual(CUT);
    expect(await policies('feature/a')).toEqual(CUT);
    expect(await policies('main')).toEqual(OPEN);
    const patched = await kubectl(AGENT, 'patch', 'environment', envName('feature/a'), '--type=merge', '-p', '{"spec":{"ttlSeconds":7200}}');
    expect(patched.ok).toBe(false);
    expect(patched.out).toContain(`Grove is locked down (ConfigMap grove-lockdown in namespace ${ns}: drill): Environments other than production are neither created nor changed until it is lifted`);
    // Someone without the right on the switch cannot lift it.
    const agentLift = await kubectl(AGENT, 'patch', 'configmap', 'grove-lockdown', '--type=merge', '-p', '{"data":{"engaged":"false"}}');
    expect(agentLift.ok).toBe(false);

    expect((await put(false)).status).toBe(200);
    await expect.poll(() => policies('feature/a'), { timeout: 20_000 }).toEqual(OPEN);
    expect((await kubectl(AGENT, 'patch', 'environment', envName('feature/a'), '--type=merge', '-p', '{"spec":{"ttlSeconds":7200}}')).ok).toBe(true);
  });
});
