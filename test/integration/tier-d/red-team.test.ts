// The agent as the adversary, on the real node: an identity in the Project's agentsGroup, with the
// rights of the chart's grove-agent role in the project namespace and `admin` inside its own
// Environment's namespace, tries to escape — to production, its backups, other Environments, the
// cluster and the cloud. Every attempt must be refused, by the API server or by the network, and
// leave nothing changed. The table of attempts is printed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, environmentNamespace, type KubeObject, type Project, type ProjectSpec } from '../../../src/api/index.ts';
import { SERVICE_IMAGES } from '../../../local/images.ts';
import { internalNetworkArgs } from '../../../local/network.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';
import { image, reachFrom, readyPod, releaseEnvironments, type Target } from '../pods.ts';

const api = 'grove.dev/v1alpha1';
const AGENT = ['--as=coder-7', '--as-group=grove:agents'];
const MANIFEST = `version: 1
services:
  cache: { type: "redis:7", size: 64Mi }
`;

let ns: string;
let project: string;
let op: OperatorProcess;

/** kubectl as someone, with `input` on stdin; what it printed, refused or not. */
function kubectl(as: string[], args: string[], input?: object): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...as, ...args], (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
    child.stdin?.end(input ? JSON.stringify(input) : '');
  });
}
const envName = (branch: string) => environmentName(project, branch);
const namespaceOf = (branch: string) => environmentNamespace(project, envName(branch));
const env = (name: string) => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name });

const ready = async (name: string): Promise<void> => {
  const deadline = Date.now() + 300_000;
  while (conditionStatus(await env(name), 'Ready') !== 'True') {
    if (Date.now() > deadline) throw new Error(`Environment ${name} never became Ready: ${JSON.stringify((await env(name))?.status?.conditions)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
};

beforeAll(async () => {
  ns = await testNamespace('redteam');
  project = `rt${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, `redteam-${randomBytes(3).toString('hex')}`, 'red team');
  const repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': MANIFEST });
  await repo.commit('agent/work', { 'notes.txt': 'work' });
  await repo.push();
  const spec: ProjectSpec = {
    repo: { url: `${cluster().git!.url}/${project}.git` },
    pollIntervalSeconds: 3600,
    backupStoreRef: { name: 'store' },
    serviceImages: { ...SERVICE_IMAGES },
    defaults: { clone: 'empty' },
    policy: { agentsGroup: 'grove:agents' },
    limits: { maxEnvironmentsPerActor: 1, quota: { cpu: '2', memory: '1Gi', storage: '1Gi', pods: 10 } },
  };
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec });
  op = await startOperator(ns, ['--mover-image', image('grove'), ...internalNetworkArgs(cluster().node!.network)]);
  await ready(envName('main'));
  await ready(envName('agent/work'));
  // The agent's rights: grove-agent's in the project namespace, admin in its own Environment's.
  const admin = (...args: string[]) => kubectl([], args);
  await admin('-n', ns, 'create', 'role', 'agent-envs', '--verb=get,list,watch,create,update,patch,delete', '--resource=environments.grove.dev');
  await admin('-n', ns, 'create', 'role', 'agent-data', '--verb=get,list,watch,create', '--resource=backups.grove.dev,restores.grove.dev');
  await admin('-n', ns, 'create', 'role', 'agent-read', '--verb=get,list,watch', '--resource=projects.grove.dev,backupstores.grove.dev');
  for (const role of ['agent-envs', 'agent-data', 'agent-read']) await admin('-n', ns, 'create', 'rolebinding', role, `--role=${role}`, '--group=grove:agents');
  await admin('-n', namespaceOf('agent/work'), 'create', 'rolebinding', 'agent-admin', '--clusterrole=admin', '--group=grove:agents');
}, 420_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  await releaseEnvironments(ns);
});

describe('the agent as the adversary', () => {
  it('is refused every escape, by the API server or the network, and changes nothing', { timeout: 420_000 }, async () => {
    const own = namespaceOf('agent/work');
    const prod = namespaceOf('main');
    const main = envName('main');
    const rows: Array<[string, string, string]> = [];
    // The agent backs up its own Environment, as it may: the database's mover runs in Grove's
    // namespace and reaches the server through the one door its namespace opens for it.
    const backupName = `${project}-mine-1`;
    expect((await kubectl(AGENT, ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Backup', metadata: { name: backupName, namespace: ns }, spec: { project, environment: envName('agent/work') } })).ok).toBe(true);
    // Its mover Job, while it runs (a completed Backup's Jobs go, with their Secrets).
    let moverJob: KubeObject | undefined;
    for (const deadline = Date.now() + 60_000; !moverJob && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
      [moverJob] = (await kube().list<KubeObject>('batch/v1', 'Job', { namespace: ns, labelSelector: `grove.dev/backup=${backupName}` })).items;
    }
    expect(moverJob?.metadata.labels?.['grove.dev/target-namespace']).toBe(own);
    const backedUp = async () => conditionStatus(await kube().get({ apiVersion: api, kind: 'Backup', namespace: ns, name: backupName }), 'Ready');
    for (const deadline = Date.now() + 180_000; (await backedUp()) !== 'True'; await new Promise((resolve) => setTimeout(resolve, 1000))) {
      if (Date.now() > deadline) throw new Error(`Backup ${backupName} never completed: ${JSON.stringify(await kube().get({ apiVersion: api, kind: 'Backup', namespace: ns, name: backupName }))}`);
    }
    const before = { main: (await env(main))?.metadata.resourceVersion, project: (await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: project }))?.metadata.resourceVersion };

    // Requests, each refused by the API server.
    const pod = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: own }, spec: { containers: [{ name: 'c', image: image('toolbox'), command: ['sleep', '1'], ...spec }] } });
    const requests: Array<[string, string[], object | undefined, RegExp]> = [
      ['read the store credentials', ['-n', ns, 'get', 'secret', 's3', '-o', 'yaml'], undefined, /forbidden: User "coder-7" cannot get resource "secrets"/],
      ['list the project namespace Secrets', ['-n', ns, 'get', 'secrets'], undefined, /cannot list resource "secrets"/],
      ["read its backup mover's Secret", ['-n', ns, 'get', 'secret', moverJob!.metadata.name as string, '-o', 'yaml'], undefined, /cannot get resource "secrets"/],
      ['read production Secrets', ['-n', prod, 'get', 'secrets'], undefined, /cannot list resource "secrets"/],
      ['delete production', ['-n', ns, 'delete', 'environment', main], undefined, /is production: it is deleted only after someone with the confirm right/],
      ['demote production', ['-n', ns, 'patch', 'environment', main, '--type=merge', '-p', '{"spec":{"type":"development"}}'], undefined, /Changing spec.type of production Environment .* needs the confirm right/],
      ['shorten its TTL', ['-n', ns, 'patch', 'environment', main, '--type=merge', '-p', '{"spec":{"ttlSeconds":60}}'], undefined, /Shortening spec.ttlSeconds of production/],
      ['re-parent production', ['-n', ns, 'patch', 'environment', main, '--type=merge', '-p', `{"spec":{"parent":"${envName('agent/work')}"}}`], undefined, /a production environment has no parent/],
      ['confirm its deletion', ['-n', ns, 'annotate', 'environment', main, `grove.dev/confirm-delete=${main}`], undefined, /Confirming the deletion .* needs the confirm right/],
      ['skip its final backup', ['-n', ns, 'annotate', 'environment', main, 'grove.dev/skip-final-backup=true'], undefined, /Skipping the final backup .* needs the confirm right/],
      ['overwrite production with a Restore', ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Restore', metadata: { name: 'over-main', namespace: ns }, spec: { backup: backupName, targetEnvironment: main, overwriteExisting: true } }, /Restoring over the data .* of production Environment .* needs the confirm right/],
      ['create a production Environment', ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Environment', metadata: { name: `${project}-mine`, namespace: ns }, spec: { project, branch: 'agent/work', type: 'production' } }, /members of grove:agents cannot create or promote a production Environment/],
      ['name a Secret in a Project', ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Project', metadata: { name: 'grab', namespace: ns }, spec: { repo: { url: 'https://evil.example/x.git', secretRef: { name: 's3' } } } }, /cannot create resource "projects"/],
      ['point the Project at the API server', ['-n', ns, 'patch', 'project', project, '--type=merge', '-p', '{"spec":{"repo":{"url":"https://kubernetes.default.svc/x.git"}}}'], undefined, /cannot patch resource "projects"/],
      ['lift or engage the kill switch', ['-n', ns, 'patch', 'project', project, '--type=merge', '-p', '{"spec":{"lockdown":false}}'], undefined, /cannot patch resource "projects"/],
      ['run a privileged pod', ['create', '-f', '-'], pod('priv', { securityContext: { privileged: true } }), /violates PodSecurity "restricted:latest"/],
      ['mount the host', ['create', '-f', '-'], { ...pod('host', {}), spec: { volumes: [{ name: 'h', hostPath: { path: '/' } }], containers: [{ name: 'c', image: image('toolbox'), command: ['sleep', '1'], volumeMounts: [{ name: 'h', mountPath: '/host' }] }] } }, /violates PodSecurity "restricted:latest".*hostPath/],
      ['exceed its quota', ['-n', own, 'create', '-f', '-'], { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'big', namespace: own }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '50Gi' } } } }, /exceeded quota/],
      ['open its own egress', ['-n', own, 'create', '-f', '-'], { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'let-me-out', namespace: own }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } }, /are its isolation, which only Grove changes/],
      ['remove its default-deny', ['-n', own, 'delete', 'networkpolicy', 'default-deny'], undefined, /are its isolation, which only Grove changes/],
      ['raise its quota', ['-n', own, 'patch', 'resourcequota', 'grove-quota', '--type=merge', '-p', '{"spec":{"hard":{"pods":"1000"}}}'], undefined, /forbidden|only Grove changes/],
    ];
    for (const [what, args, input, refusal] of requests) {
      const result = await kubectl(AGENT, args, input);
      rows.push([what, 'request refused', result.ok ? `ACCEPTED: ${result.out.trim()}` : result.out.trim().split('\n')[0]!.replace(/^.*denied request: /, '').replace(/^Error from server \(\w+\): /, '').slice(0, 200)]);
      expect(result.ok, `${what}: ${result.out}`).toBe(false);
      expect(result.out, what).toMatch(refusal);
    }

    // What it may read, its own namespace's Secrets, holds none of the store's keys.
    const ownSecrets = await kubectl(AGENT, ['-n', own, 'get', 'secrets', '-o', 'json']);
    expect(ownSecrets.ok, ownSecrets.out).toBe(true);
    const values = (JSON.parse(ownSecrets.out) as { items: Array<{ metadata: { name: string }; data?: Record<string, string> }> }).items.flatMap((s) => Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')));
    const keys = [cluster().minio!.secretKey, 'red team'].filter((k) => values.some((v) => v.includes(k)));
    rows.push(['find store keys in its own Secrets', 'none there', keys.length ? `FOUND ${keys.length}` : `none in ${values.length} values`]);
    expect(keys).toEqual([]);

    // A forged identity: the agent makes the one Environment its limit allows, then another whose
    // annotations claim someone else; it still counts against the Kubernetes user admission recorded.
    const first = `${project}-first`;
    expect((await kubectl(AGENT, ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Environment', metadata: { name: first, namespace: ns }, spec: { project, branch: 'agent/work', clone: 'empty' } })).ok).toBe(true);
    await ready(first);
    const forged = `${project}-forged`;
    const made = await kubectl(AGENT, ['-n', ns, 'create', '-f', '-'], { apiVersion: api, kind: 'Environment', metadata: { name: forged, namespace: ns, annotations: { 'grove.dev/agent': 'someone-else', 'grove.dev/requested-by': 'someone-else' } }, spec: { project, branch: 'agent/work', clone: 'empty' } });
    expect(made.ok, made.out).toBe(true);
    const admitted = async () => (await env(forged))?.status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'PolicyDenied');
    let verdict: { reason?: string; message?: string } | undefined;
    const deadline = Date.now() + 60_000;
    while (!(verdict = await admitted())?.message?.includes('per actor') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
    rows.push(['forge an agent past its limit', 'policy denied, nothing made', verdict?.message ?? 'NOT DENIED']);
    expect(verdict?.message).toContain('user coder-7 has 1 environments in project');
    expect(verdict?.message).toContain('which allows 1 per actor');
    expect((await env(forged))?.metadata.annotations?.['grove.dev/requested-by']).toBe('coder-7');
    expect(await kube().get({ apiVersion: 'v1', kind: 'Namespace', name: environmentNamespace(project, forged) })).toBeUndefined();

    // Connections from a pod in its own namespace, each refused by the network.
    const clusterIp = async (namespace: string, name: string) => (await kube().get<KubeObject & { spec: { clusterIP: string } }>({ apiVersion: 'v1', kind: 'Service', namespace, name }))!.spec.clusterIP;
    // The services' Services are headless: by address means the pod's.
    const podIp = async (namespace: string, name: string) => (await readyPod(namespace, `app.kubernetes.io/name=${name}`)).status!.podIP as string;
    const url = new URL(cluster().minio!.url);
    const targets: Array<[string, Target]> = [
      ['reach the backup store', { host: url.hostname, port: Number(url.port) }],
      ["reach production's database", { host: `cache.${prod}.svc.cluster.local`, port: 6379 }],
      ["reach production's database by address", { host: await podIp(prod, 'cache'), port: 6379 }],
      ['reach the API server', { host: 'kubernetes.default.svc.cluster.local', port: 443 }],
      ['reach the API server by address', { host: await clusterIp('default', 'kubernetes'), port: 443 }],
      ['reach cloud metadata', { host: '169.254.169.254', port: 80 }],
      ['reach the Git server', { host: new URL(cluster().git!.url).hostname, port: Number(new URL(cluster().git!.url).port) }],
    ];
    const reached = await reachFrom(own, { host: 'cache', port: 6379 }, targets.map(([, t]) => t));
    for (const [what, t] of targets) {
      const result = reached[`${t.host}:${t.port}`];
      rows.push([what, 'connection refused', result ?? 'not tried']);
      expect(result, what).toBe('refused');
    }
    // Dressed as Grove's mover: production admits movers from Grove's namespace only, and no
    // policy lets a pod of an Environment out to the store.
    const disguised: Array<[string, Target]> = [
      ["pose as Grove's mover for production", { host: await podIp(prod, 'cache'), port: 6379 }],
      ["pose as Grove's mover to reach the store", { host: url.hostname, port: Number(url.port) }],
    ];
    const posed = await reachFrom(own, { host: 'cache', port: 6379 }, disguised.map(([, t]) => t), { 'app.kubernetes.io/component': 'mover', 'grove.dev/target-namespace': prod });
    for (const [what, t] of disguised) {
      rows.push([what, 'connection refused', posed[`${t.host}:${t.port}`] ?? 'not tried']);
      expect(posed[`${t.host}:${t.port}`], what).toBe('refused');
    }

    console.log(`The agent's escapes (${rows.length}), as coder-7 in grove:agents with admin in ${own}:\n${rows.map(([a, e, r]) => `  ${a.padEnd(40)} ${e.padEnd(28)} ${r}`).join('\n')}`);
    expect(rows.length).toBeGreaterThanOrEqual(15);
    // Nothing changed: production, the Project, and the agent's own isolation.
    expect((await env(main))?.metadata.resourceVersion).toBe(before.main);
    expect((await kube().get<Project>({ apiVersion: api, kind: 'Project', namespace: ns, name: project }))?.metadata.resourceVersion).toBe(before.project);
    const policies = (await kube().list<KubeObject>('networking.k8s.io/v1', 'NetworkPolicy', { namespace: own })).items.map((p) => p.metadata.name);
    expect(policies).toContain('default-deny');
    expect(policies).not.toContain('let-me-out');
  });
});
