// The Helm chart on tier D's node, as a platform team installs it: `helm install` runs the
// operator in a pod from the locally built image (never pulled), under Pod Security
// "restricted" with a read-only root and nothing but the chart's RBAC; it reaches the API server
// through the `kubernetes` Service, reconciles examples/shop's production with real pods, and a
// branch pushed afterwards, announced by a webhook sent from a pod to the operator's Service,
// becomes Ready with its own pods running and answering.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, environmentNamespace, type KubeObject, type Project } from '../../../src/api/index.ts';
import { defaultCacheDir, ensureBinaries } from '../../../local/build.ts';
import { component } from '../../../local/components.ts';
import { SHOP_MANIFEST, withImages } from '../../../local/example.ts';
import { pushWebhook } from '../../../local/git-server.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { createRepo, type RepoBuilder } from '../git-fixtures.ts';
import { cluster, createSecret, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { httpFrom, image, kubectl, type Pod, readyPod, releaseEnvironments } from '../pods.ts';
import { internalNetworkArgs, outboundAllowArgs } from '../../../local/network.ts';

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../../charts/grove', import.meta.url));
const api = 'grove.dev/v1alpha1';
const SECRET = 'chart-on-the-node';

let helmBin: string;
let releaseNs: string;
let projectNs: string;
let release: string;
let project: string;
let repo: RepoBuilder;

const helm = async (...args: string[]): Promise<string> => (await run(helmBin, ['--kubeconfig', cluster().kubeconfig, ...args], { maxBuffer: 16 << 20 })).stdout;
const environment = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: projectNs, name });
const namespaceOf = (branch: string) => environmentNamespace(project, environmentName(project, branch));

async function ready(branch: string): Promise<Environment> {
  const name = environmentName(project, branch);
  // The Ready condition itself, so a failure shows its reason and message.
  await expect.poll(async () => (await environment(name))?.status?.conditions?.find((c) => c.type === 'Ready') ?? {}, { timeout: 300_000, interval: 1000 }).toMatchObject({ status: 'True' });
  return (await environment(name))!;
}

/** The shop's page from a pod in its namespace: which branch it serves, from its own database. */
async function page(namespace: string): Promise<{ branch: string; customerCount: number }> {
  let last: { branch: string; customerCount: number } | undefined;
  await expect
    .poll(
      async () => {
        const answer = await httpFrom(namespace, 'web', 80, '/?format=json');
        last = answer.status === 200 ? (JSON.parse(answer.body) as typeof last) : undefined;
        return last !== undefined;
      },
      { timeout: 120_000, interval: 1000, message: `the shop in ${namespace} to answer` },
    )
    .toBe(true);
  return last!;
}

const operatorPod = () => readyPod(releaseNs, `app.kubernetes.io/instance=${release}`);
const operatorLogs = async () => kubectl('logs', '-n', releaseNs, `deployment/${release}`, '--tail=-1');

beforeAll(async () => {
  helmBin = (await ensureBinaries([component('helm')], { cacheDir: defaultCacheDir(), progress: () => undefined })).get('helm') as string;
  releaseNs = await testNamespace('grove-system');
  await kubectl('label', 'namespace', releaseNs, 'pod-security.kubernetes.io/enforce=restricted');
  projectNs = await testNamespace('chart');
  project = `shop${randomBytes(2).toString('hex')}`;
  release = `grove-${randomBytes(2).toString('hex')}`;

  await createBackupStore(projectNs, `chart-${randomBytes(3).toString('hex')}`, 'chart on the node');
  await createSecret(projectNs, 'hook', { secret: SECRET }, [`Project/${project}`]);
  repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': withImages(await readFile(SHOP_MANIFEST, 'utf8'), { web: image('shop-web') }) });
  await repo.push();
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name: project, namespace: projectNs },
    spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'hook' } }, backupStoreRef: { name: 'store' }, serviceImages: { ...SERVICE_IMAGES } },
  });

  const grove = image('grove');
  const at = grove.lastIndexOf(':');
  const out = await helm(
    'install', release, CHART, '--namespace', releaseNs,
    '--set', `image.repository=${grove.slice(0, at)}`, '--set', `image.tag=${grove.slice(at + 1)}`,
    // The node has the image and nothing to pull it from: "Never" proves it was not pulled.
    '--set', 'image.pullPolicy=Never',
    '--set', `projectNamespaces={${projectNs}}`, '--set', `watchNamespace=${projectNs}`,
    '--set-json', `operator.extraArgs=${JSON.stringify([...internalNetworkArgs(cluster().node!.network), ...outboundAllowArgs(cluster())])}`,
    '--wait', '--timeout', '180s',
  );
  expect(out).toContain('STATUS: deployed');
}, 300_000);

afterAll(async () => {
  if (release) await helm('uninstall', release, '--namespace', releaseNs, '--wait').catch(() => undefined);
  if (projectNs) await releaseEnvironments(projectNs);
});

describe('the chart installed on the real node', () => {
  it('runs the operator in a pod of the local image, restricted, with a read-only root', async () => {
    const pod = await operatorPod();
    expect(pod.spec.nodeName).toBe(cluster().node!.name);
    expect((pod.spec.containers as Array<{ image: string }>)[0]?.image).toBe(image('grove'));
    expect(pod.spec.serviceAccountName).toBe(release);
    // Its container really cannot write outside its scratch volume.
    const refused = await kubectl('exec', '-n', releaseNs, pod.metadata.name as string, '--', 'sh', '-c', 'touch /probe 2>&1; id -u').catch((err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
    expect(refused).toContain('Read-only file system');
    expect(refused.trim().split('\n').pop()).toBe('65532');
    // The API server, reached through the `kubernetes` Service, answered its watches.
    const logs = await operatorLogs();
    expect(logs).toContain('Started the operator');
    expect(logs).not.toMatch(/forbidden/i);
  });

  it('reconciles production with only the chart\'s rights, its pods running on the node', async () => {
    const prod = await ready('main');
    const namespace = namespaceOf('main');
    const binding = await kube().get<KubeObject & { subjects: unknown[] }>({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespace, name: 'grove-operator' });
    expect(binding?.subjects).toEqual([{ kind: 'ServiceAccount', name: release, namespace: releaseNs }]);
    const running = (await kube().list<Pod>('v1', 'Pod', { namespace })).items.filter((p) => p.status?.phase === 'Running');
    expect(running.map((p) => p.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(['cache', 'db', 'web', 'web']);
    for (const p of running) expect(p.spec.nodeName, p.metadata.name).toBe(cluster().node!.name);
    expect((await page(namespace)).branch).toBe('main');
    expect(prod.status?.namespace).toBe(namespace);
  });

  it('puts back its own RoleBinding when someone deletes it, and goes on reconciling', async () => {
    const name = environmentName(project, 'main');
    const namespace = namespaceOf('main');
    const ref = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespace, name: 'grove-operator' };
    const before = (await kube().get(ref))?.metadata.uid;
    expect(before).toBeDefined();
    await kube().delete(ref);
    // Without it the operator cannot even read the databases' credentials there; a change to the
    // Environment makes it look.
    await kube().mergePatch({ apiVersion: api, kind: 'Environment', namespace: projectNs, name }, { metadata: { labels: { 'example.com/touched': 'yes' } } }, { fieldManager: 'test' });
    await expect.poll(async () => (await kube().get(ref))?.metadata.uid ?? before, { timeout: 60_000, interval: 1000 }).not.toBe(before);
    await ready('main');
  });

  it('makes a branch pushed afterwards, announced to its Service by a webhook, Ready with real pods', async () => {
    await repo.commit('feature/chart', { 'CHANGE.md': 'from the chart test\n' });
    await repo.push();
    // From a pod, as the Git host would: through the operator's Service, signed with the Project's secret.
    const hook = pushWebhook(projectNs, project, SECRET, JSON.stringify({ ref: 'refs/heads/feature/chart' }));
    const answer = await httpFrom(releaseNs, release, 80, hook.path, { method: 'POST', headers: hook.headers, body: hook.body });
    expect(answer.status, answer.body).toBe(202);

    const branch = await ready('feature/chart');
    expect(branch.status?.lineage?.find((l) => l.volume === 'db')).toMatchObject({ source: 'snapshot', parent: environmentName(project, 'main') });
    const namespace = namespaceOf('feature/chart');
    expect((await page(namespace)).branch).toBe('feature/chart');
    const running = (await kube().list<Pod>('v1', 'Pod', { namespace, labelSelector: 'app.kubernetes.io/component in (application,service)' })).items.filter((p) => p.status?.phase === 'Running');
    expect(running.map((p) => p.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(['cache', 'db', 'web']);
    for (const p of running) expect(p.spec.nodeName, p.metadata.name).toBe(cluster().node!.name);
  });
});
