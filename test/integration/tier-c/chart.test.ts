// The Helm chart, with the real helm (built from the module proxy like the cluster's binaries):
// lint and schema, what it renders, an install on the local cluster, and the operator's
// ServiceAccount — its rights checked with `kubectl auth can-i`, its limits with real requests,
// and Grove itself running with nothing but those rights until an Environment is Ready.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ANNOTATIONS, type Backup, type Environment, environmentName, type KubeObject, type Project } from '../../../src/api/index.ts';
import { kubeInCluster } from '../../../src/kube/index.ts';
import { defaultCacheDir, ensureBinaries } from '../../../local/build.ts';
import { component } from '../../../local/components.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace, volumeDir } from '../helpers.ts';
import { createBackupStore, moverJobs, runMoverJob } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../../charts/grove', import.meta.url));
const CRDS = fileURLToPath(new URL('../../../crds', import.meta.url));
const api = 'grove.dev/v1alpha1';

let helmBin: string;
let releaseNs: string;
let projectNs: string;
let project: string;
let release: string;
let sa: string;
let op: OperatorProcess | undefined;

const helm = async (...args: string[]): Promise<string> => (await run(helmBin, ['--kubeconfig', cluster().kubeconfig, ...args], { maxBuffer: 16 << 20 })).stdout;
/** helm's stderr when it fails, for the errors a user would read. */
const helmFails = async (...args: string[]): Promise<string> =>
  helm(...args).then(
    (out) => {
      throw new Error(`helm ${args.join(' ')} succeeded: ${out.slice(0, 300)}`);
    },
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
const kubectl = async (...args: string[]): Promise<string> => (await run(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...args])).stdout.trim();
/** `kubectl auth can-i` as the operator's ServiceAccount: "yes" or "no". */
const canI = async (...args: string[]): Promise<string> => kubectl('auth', 'can-i', '--as', sa, ...args).catch((err: { stdout?: string }) => (err.stdout ?? '').trim());

type Doc = KubeObject & Record<string, any>;
async function render(...set: string[]): Promise<Doc[]> {
  const out = await helm('template', 'grove', CHART, '--namespace', 'grove-system', ...set.flatMap((s) => ['--set', s]));
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
}
const find = (docs: Doc[], kind: string, name?: string): Doc | undefined => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));

beforeAll(async () => {
  helmBin = (await ensureBinaries([component('helm')], { cacheDir: defaultCacheDir(), progress: () => undefined })).get('helm') as string;
}, 300_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
  if (release) await helm('uninstall', release, '--namespace', releaseNs, '--wait').catch(() => undefined);
});

describe('the chart', () => {
  it('lints, and its schema refuses bad values with the field named', async () => {
    expect(await helm('lint', CHART, '--set', 'projectNamespaces={team}')).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(await helmFails('lint', CHART, '--set', 'replicas=3')).toContain("at '/replicas': maximum: got 3, want 2");
    expect(await helmFails('template', 'grove', CHART, '--set', 'projectNamespaces={Team_A}')).toMatch(/at '\/projectNamespaces\/0': .*pattern/);
    expect(await helmFails('template', 'grove', CHART, '--set', 'servicemonitor.enabled=true')).toContain("additional properties 'servicemonitor' not allowed");
    expect(await helmFails('template', 'grove', CHART, '--set', 'ingress.enabled=true')).toContain('ingress.host is required when ingress.enabled is true');
  });

  it('renders a restricted, leader-elected Deployment and least-privilege RBAC', async () => {
    const docs = await render('projectNamespaces={team-a,team-b}');
    const deployment = find(docs, 'Deployment', 'grove');
    const pod = deployment?.spec.template.spec;
    const container = pod.containers[0];
    expect(deployment?.spec.replicas).toBe(1);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.args).toEqual(expect.arrayContaining(['operator', '--leader-elect', '--lease-namespace=grove-system', '--namespace-role=grove-environment', '--identity=$(POD_NAME)']));
    expect(container.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=4 --max-old-space-size=384' });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(find(docs, 'PodDisruptionBudget')).toBeUndefined();
    expect(find(docs, 'Service', 'grove')?.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);

    // No rule anywhere grants Secrets cluster-wide, wildcards, or escalate; bind names one role.
    const operatorRole = find(docs, 'ClusterRole', 'grove-operator');
    const rules = operatorRole?.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
    expect(rules.some((r) => r.resources.includes('secrets'))).toBe(false);
    for (const doc of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')) {
      for (const r of doc.rules as typeof rules) {
        expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
        expect(r.verbs).not.toContain('escalate');
        expect(r.verbs).not.toContain('impersonate');
      }
    }
    expect(rules.filter((r) => r.verbs.includes('bind'))).toEqual([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['grove-environment'] }]);
    const projectBindings = docs.filter((d) => d.kind === 'RoleBinding' && d.metadata.name === 'grove-project');
    expect(projectBindings.map((b) => b.metadata.namespace)).toEqual(['team-a', 'team-b']);
    expect(find(docs, 'ClusterRole', 'grove-project')?.rules[0]).toEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    // The movers' Secrets are written in the release's namespace only.
    const writesSecrets = docs.filter((d) => (d.kind === 'Role' || d.kind === 'ClusterRole') && (d.rules as typeof rules).some((r) => r.resources.includes('secrets') && r.verbs.includes('create')));
    expect(writesSecrets.map((d) => `${d.kind}/${d.metadata.name} ${d.metadata.namespace ?? ''}`.trim())).toEqual(['ClusterRole/grove-environment', 'Role/grove-movers grove-system']);

    // The roles for people and agents differ in the right to confirm what could lose production.
    const verbsOf = (role: string) => (find(docs, 'ClusterRole', role)?.rules as typeof rules).filter((r) => r.resources.includes('environments')).flatMap((r) => r.verbs);
    expect(verbsOf('grove-agent')).not.toContain('confirm');
    expect(verbsOf('grove-project-admin')).toContain('confirm');

    // The admission policies name the release's ServiceAccount as the operator.
    const guard = find(docs, 'ValidatingAdmissionPolicy', 'grove-operator-namespaces');
    expect(guard?.spec.matchConditions[0].expression).toBe("request.userInfo.username == 'system:serviceaccount:grove-system:grove'");
    expect(find(docs, 'MutatingAdmissionPolicy', 'grove-record-requester')?.spec.matchConditions[0].expression).toContain("'system:serviceaccount:grove-system:grove'");
    expect(docs.filter((d) => d.kind.endsWith('AdmissionPolicy')).map((d) => d.metadata.name).sort()).toEqual(['grove-environment-isolation', 'grove-environment-policy', 'grove-lockdown', 'grove-operator-namespaces', 'grove-protect-environments', 'grove-protect-restores', 'grove-record-requester', 'grove-secret-references']);
    // The operator relays Restores for the callers of Grove's API, whose confirm right it checks itself.
    expect(find(docs, 'ValidatingAdmissionPolicy', 'grove-protect-restores')?.spec.matchConditions[0].expression).toBe("request.userInfo.username != 'system:serviceaccount:grove-system:grove'");
    expect((await render('admissionPolicies.enabled=false')).filter((d) => d.kind.includes('Admission'))).toEqual([]);
  });

  it('renders the optional pieces only when asked: standby, Ingress, ServiceMonitor, dashboard', async () => {
    const docs = await render('replicas=2', 'ingress.enabled=true', 'ingress.host=grove.example.com', 'serviceMonitor.enabled=true', 'dashboard.enabled=true');
    expect(find(docs, 'Deployment')?.spec.replicas).toBe(2);
    expect(find(docs, 'Deployment')?.spec.template.spec.affinity.podAntiAffinity).toBeDefined();
    expect(find(docs, 'PodDisruptionBudget')?.spec.maxUnavailable).toBe(1);
    expect(find(docs, 'Ingress')?.spec.rules).toEqual([
      { host: 'grove.example.com', http: { paths: [{ path: '/hooks/', pathType: 'Prefix', backend: { service: { name: 'grove', port: { name: 'http' } } } }] } },
    ]);
    expect(find(docs, 'ServiceMonitor')?.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
    const dashboard = JSON.parse(find(docs, 'ConfigMap', 'grove-dashboard')?.data['grove.json'] as string) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    expect(dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join(' ')).toContain('grove_reconcile_total');
    const plain = await render();
    for (const kind of ['Ingress', 'ServiceMonitor', 'ConfigMap', 'PodDisruptionBudget']) expect(find(plain, kind)).toBeUndefined();
  });

  it('ships the CRDs that crds/ holds, byte for byte', async () => {
    const files = (await readdir(CRDS)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toHaveLength(6);
    for (const f of files) expect(await readFile(join(CHART, 'crds', f), 'utf8')).toBe(await readFile(join(CRDS, f), 'utf8'));
    const withCrds = await helm('template', 'grove', CHART, '--include-crds');
    expect((withCrds.match(/^kind: CustomResourceDefinition$/gm) ?? []).length).toBe(6);
  });
});

describe('the chart installed on the local cluster', () => {
  beforeAll(async () => {
    releaseNs = await testNamespace('grove-system');
    // The operator's pod must pass Pod Security "restricted" where it is installed.
    await kubectl('label', 'namespace', releaseNs, 'pod-security.kubernetes.io/enforce=restricted');
    projectNs = await testNamespace('chart');
    release = `grove-${randomBytes(2).toString('hex')}`;
    sa = `system:serviceaccount:${releaseNs}:${release}`;
    const out = await helm('install', release, CHART, '--namespace', releaseNs, '--set', `projectNamespaces={${projectNs}}`, '--set', `watchNamespace=${projectNs}`, '--wait', '--timeout', '90s');
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(`kubectl apply -n ${projectNs} -f -`);
  }, 180_000);

  it('renders optional pieces the API server accepts as they are', async () => {
    // A server-side dry run: the real API server's schemas and admission, nothing stored. (No
    // ServiceMonitor: the local cluster has no Prometheus Operator CRDs.)
    const rendered = await helm('template', release, CHART, '--namespace', releaseNs, '--set', 'replicas=2', '--set', 'ingress.enabled=true', '--set', 'ingress.host=grove.example.com', '--set', 'ingress.apiPaths=true', '--set', 'dashboard.enabled=true');
    const file = join(await mkdtemp(join(tmpdir(), 'grove-chart-')), 'rendered.yaml');
    await writeFile(file, rendered);
    // Every namespaced object names its namespace (the release's, or default for the API server's addresses).
    const out = await kubectl('apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=helm', '-f', file);
    for (const object of ['poddisruptionbudget.policy/', 'ingress.networking.k8s.io/', `configmap/${release}-dashboard`, `deployment.apps/${release}`]) expect(out).toContain(object);
  });

  it('runs the operator Deployment under Pod Security "restricted"', async () => {
    const deployment = await kube().get<KubeObject & { status?: { availableReplicas?: number } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: releaseNs, name: release });
    expect(deployment?.status?.availableReplicas).toBe(1);
  });

  it('gives the operator\'s ServiceAccount what Grove needs and nothing it does not', async () => {
    // What Grove needs.
    expect(await canI('create', 'namespaces')).toBe('yes');
    expect(await canI('watch', 'deployments.apps', '--all-namespaces')).toBe('yes');
    expect(await canI('create', 'tokenreviews.authentication.k8s.io')).toBe('yes');
    expect(await canI('create', 'subjectaccessreviews.authorization.k8s.io')).toBe('yes');
    expect(await canI('update', 'environments.grove.dev/status', '-n', projectNs)).toBe('yes');
    expect(await canI('get', 'secrets', '-n', projectNs)).toBe('yes');
    expect(await canI('update', 'leases.coordination.k8s.io', '-n', releaseNs)).toBe('yes');
    expect(await canI('bind', `clusterroles/${release}-environment`)).toBe('yes');
    // What it does not.
    expect(await canI('get', 'secrets', '-n', 'kube-system')).toBe('no');
    expect(await canI('list', 'secrets', '--all-namespaces')).toBe('no');
    expect(await canI('list', 'secrets', '-n', projectNs)).toBe('no');
    expect(await canI('create', 'deployments.apps', '-n', 'kube-system')).toBe('no');
    expect(await canI('create', 'deployments.apps', '-n', projectNs)).toBe('no');
    expect(await canI('escalate', 'clusterroles')).toBe('no');
    expect(await canI('bind', 'clusterroles/cluster-admin')).toBe('no');
    expect(await canI('bind', 'clusterroles/admin')).toBe('no');
    expect(await canI('create', 'clusterrolebindings')).toBe('no');
    expect(await canI('impersonate', 'users')).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io', '-n', 'kube-system')).toBe('no');
    // The movers' Secrets and claims: in the release's namespace, where its backup movers run.
    expect(await canI('create', 'secrets', '-n', releaseNs)).toBe('yes');
    expect(await canI('create', 'persistentvolumeclaims', '-n', releaseNs)).toBe('yes');
    expect(await canI('create', 'secrets', '-n', projectNs)).toBe('no');
  });

  it('gives agents and project admins the rights its roles document, and only the admins may confirm', async () => {
    await kubectl('-n', projectNs, 'create', 'rolebinding', 'agents', `--clusterrole=${release}-agent`, '--group=team:agents');
    await kubectl('-n', projectNs, 'create', 'rolebinding', 'admins', `--clusterrole=${release}-project-admin`, '--group=team:admins');
    const as = { agent: ['--as=coder-7', '--as-group=team:agents'], admin: ['--as=ada', '--as-group=team:admins'] };
    // kubectl warns about a verb it does not know (confirm) on stderr; the answer is stdout's first line.
    const can = async (who: keyof typeof as, verb: string, resource: string) =>
      (await kubectl('auth', 'can-i', ...as[who], '-n', projectNs, verb, ...resource.split(' ')).catch((err: { stdout?: string }) => err.stdout ?? '')).split('\n')[0]!.trim();
    const matrix: Array<[string, string, string, string]> = [
      ['get', 'environments.grove.dev', 'yes', 'yes'],
      ['create', 'environments.grove.dev', 'yes', 'yes'],
      ['delete', 'environments.grove.dev', 'yes', 'yes'],
      ['confirm', 'environments.grove.dev', 'no', 'yes'],
      ['create', 'backups.grove.dev', 'yes', 'yes'],
      ['delete', 'backups.grove.dev', 'no', 'yes'],
      ['create', 'restores.grove.dev', 'yes', 'yes'],
      ['create', 'rehearsals.grove.dev', 'yes', 'yes'],
      ['delete', 'rehearsals.grove.dev', 'no', 'yes'],
      ['update', 'projects.grove.dev', 'no', 'yes'],
      ['update', 'backupstores.grove.dev', 'no', 'yes'],
      // Status is the controllers' word, not a person's.
      ['update', 'environments.grove.dev --subresource=status', 'no', 'no'],
      ['get', 'secrets', 'no', 'no'],
    ];
    const rows: string[] = [];
    for (const [verb, resource, agent, admin] of matrix) {
      const got = [await can('agent', verb, resource), await can('admin', verb, resource)];
      rows.push(`  ${`${verb} ${resource}`.padEnd(50)} ${got[0]!.padEnd(6)} ${got[1]}`);
      expect(got, `${verb} ${resource}`).toEqual([agent, admin]);
    }
    console.log(`kubectl auth can-i in a project namespace (${release}-agent, ${release}-project-admin):\n  ${'verb resource'.padEnd(50)} agent  admin\n${rows.join('\n')}`);
  });

  it('reconciles an Environment with only those rights, and cannot reach beyond Grove\'s namespaces', async () => {
    // The operator runs on this host with the ServiceAccount's own token, as its pod would.
    const token = await kubectl('-n', releaseNs, 'create', 'token', release, '--duration', '1h');
    const dir = await mkdtemp(join(tmpdir(), 'grove-sa-'));
    const admin = parse(await readFile(cluster().kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> };
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: admin.clusters[0]?.cluster }],
        users: [{ name: 'operator', user: { token } }],
        contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
        'current-context': 'operator',
      }),
    );
    // The pod's way in (token and CA mounted, the API server from the environment) names the same identity.
    const mount = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(mount, { recursive: true });
    await writeFile(join(mount, 'token'), token);
    await writeFile(join(mount, 'ca.crt'), Buffer.from(admin.clusters[0]?.cluster['certificate-authority-data'] as string, 'base64'));
    const apiserver = new URL(cluster().apiserver.url);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    Object.assign(process.env, { KUBERNETES_SERVICE_HOST: apiserver.hostname, KUBERNETES_SERVICE_PORT: apiserver.port });
    const inPod = kubeInCluster({}, dir);
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    expect((await inPod.list('v1', 'Namespace')).items.map((n) => n.metadata.name)).toContain(projectNs);
    await expect(inPod.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: 'anything' })).rejects.toThrow(/forbidden/i);

    // A Project with a BackupStore (Secrets read in the project namespace) and a volume.
    project = `shop${randomBytes(2).toString('hex')}`;
    await createBackupStore(projectNs, `chart-${randomBytes(3).toString('hex')}`, 'chart restic password');
    const repo = await createRepo(cluster().git!.root, project);
    await repo.commit('main', { 'platform.yaml': 'version: 1\napplications:\n  web:\n    image: shop/web:1\n    port: 8080\n    mounts: { uploads: { path: /app/uploads, size: 1Gi } }\n' });
    await repo.push();
    await kube().create<Project>({
      apiVersion: api,
      kind: 'Project',
      metadata: { name: project, namespace: projectNs },
      spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, storageClassName: cluster().csi!.storageClass, branches: { include: ['feature/*'] } },
    });
    // Its own namespace is the release's, as in its pod: the backup movers run there.
    op = await startOperator(projectNs, ['--namespace-role', `${release}-environment`, '--lease-namespace', releaseNs], kubeconfig);

    const name = `${project}-main`;
    const environment = () => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: projectNs, name });
    await expect.poll(async () => conditionStatus(await environment(), 'Ready'), { timeout: 90_000, interval: 500 }).toBe('True');
    await expect.poll(async () => conditionStatus(await kube().get({ apiVersion: api, kind: 'BackupStore', namespace: projectNs, name: 'store' }), 'Ready'), { timeout: 30_000 }).toBe('True');

    // Its rights in the Environment's namespace come from the RoleBinding it made there.
    const binding = await kube().get<KubeObject & { roleRef: { name: string }; subjects: unknown[] }>({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespace: name, name: 'grove-operator' });
    expect(binding?.roleRef.name).toBe(`${release}-environment`);
    expect(binding?.subjects).toEqual([{ kind: 'ServiceAccount', name: release, namespace: releaseNs }]);
    expect(await canI('create', 'deployments.apps', '-n', name)).toBe('yes');
    expect(await canI('get', 'secrets', '-n', name)).toBe('yes');

    // A backup: the volume offered by snapshot to the release's namespace, where its mover Job and that Job's Secret are.
    const uploads = await volumeDir(name, 'web-uploads');
    await writeFile(join(uploads, 'logo.png'), randomBytes(50_000));
    await kube().create<Backup>({ apiVersion: api, kind: 'Backup', metadata: { name: 'least-privilege', namespace: projectNs }, spec: { project, environment: name } });
    await expect.poll(async () => (await moverJobs(name, 'grove.dev/backup=least-privilege')).length, { timeout: 30_000 }).toBe(1);
    const [job] = await moverJobs(name, 'grove.dev/backup=least-privilege');
    expect(job?.metadata.namespace).toBe(releaseNs);
    await runMoverJob(job!, { work: dir });
    await expect.poll(async () => conditionStatus(await kube().get({ apiVersion: api, kind: 'Backup', namespace: projectNs, name: 'least-privilege' }), 'Ready'), { timeout: 60_000, interval: 500 }).toBe('True');

    // A branch cloned by snapshot: VolumeSnapshots in both namespaces, a VolumeSnapshotContent between them.
    await repo.commit('feature/rbac', { 'app.txt': 'rbac' });
    await repo.push();
    await kube().mergePatch({ apiVersion: api, kind: 'Project', namespace: projectNs, name: project }, { metadata: { annotations: { [ANNOTATIONS.syncRequestedAt]: new Date().toISOString() } } }, { fieldManager: 'test' });
    const branch = environmentName(project, 'feature/rbac');
    const child = () => kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: projectNs, name: branch });
    await expect.poll(async () => conditionStatus(await child(), 'Ready'), { timeout: 120_000, interval: 500 }).toBe('True');
    expect((await child())?.status?.lineage?.map((l) => [l.volume, l.source, l.parent])).toEqual([['web-uploads', 'snapshot', name]]);
    expect(await readdir(await volumeDir(branch, 'web-uploads'))).toContain('logo.png');

    // Beyond Grove's namespaces its cluster-wide rights stop: the admission policy refuses what RBAC alone would allow.
    const asOperator = async (...args: string[]): Promise<string> =>
      run(cluster().kubectl, ['--kubeconfig', kubeconfig, ...args]).then(
        () => 'allowed',
        (err: { stderr?: string }) => err.stderr ?? '',
      );
    const bind = (namespace: string, role: string) => ['-n', namespace, 'create', 'rolebinding', `sneaky-${randomBytes(2).toString('hex')}`, `--clusterrole=${role}`, `--serviceaccount=${releaseNs}:${release}`];
    expect(await asOperator(...bind('kube-system', `${release}-environment`))).toContain(`the Grove operator may only bind roles in namespaces labelled app.kubernetes.io/managed-by=grove, and kube-system is not one`);
    expect(await asOperator(...bind(name, 'cluster-admin'))).toMatch(/forbidden: user "system:serviceaccount:.*" \(groups=.*\) is attempting to grant RBAC permissions not currently held/);
    expect(await asOperator('label', 'namespace', 'kube-system', 'app.kubernetes.io/managed-by=grove')).toContain('the Grove operator may only change namespaces labelled app.kubernetes.io/managed-by=grove, and kube-system is not one');
    expect(await asOperator('delete', 'namespace', releaseNs, '--wait=false')).toContain('may only change namespaces');
    expect(await asOperator('-n', 'kube-system', 'get', 'secrets')).toContain('forbidden');
    // Nothing it tried was written.
    const kubeSystem = await kube().get({ apiVersion: 'v1', kind: 'Namespace', name: 'kube-system' });
    expect(kubeSystem?.metadata.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    expect((await kube().list('rbac.authorization.k8s.io/v1', 'RoleBinding', { namespace: 'kube-system' })).items.filter((b) => b.metadata.name?.startsWith('sneaky-'))).toEqual([]);
    // And no request of its own was refused on the way, not even once before a retry.
    expect(op.logs.filter((l) => /forbidden/i.test(JSON.stringify(l)))).toEqual([]);
  }, 240_000);
});
