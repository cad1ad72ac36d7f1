import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Environment, environmentName, type KubeObject, type Project, type ProjectSpec } from '../api/index.ts';
import { type EnvironmentType, parseManifest, resolveManifest } from '../manifest/index.ts';
import { type DataPlan, type NamespaceAccess, planEnvironment, type Plan, serviceClaim } from './index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const REV = 'ab'.repeat(20);

function plan(
  manifestText: string,
  opts: { type?: EnvironmentType; branch?: string; project?: Partial<ProjectSpec>; workloadsAvailable?: boolean; data?: DataPlan; sleeping?: boolean; access?: NamespaceAccess; internalNetworks?: string[]; lockdown?: boolean; moverNamespace?: string; suspendDeployHook?: boolean } = {},
): Plan {
  const parsed = parseManifest(manifestText);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const branch = opts.branch ?? 'feature/login';
  const type = opts.type ?? 'development';
  const name = environmentName('shop', branch);
  const environment: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name, namespace: 'team' }, spec: { project: 'shop', branch, revision: REV, type, ...(opts.suspendDeployHook ? { suspendDeployHook: true } : {}) } };
  const project: Project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'https://git.example.com/shop.git' }, ...opts.project } };
  const manifest = resolveManifest(parsed.manifest, { type, commit: REV, branch, environment: name });
  const credentials = Object.fromEntries(Object.keys(manifest.services).map((s) => [s, { username: `${s}-user`, password: `${s}-secret`, database: s }]));
  return planEnvironment({
    environment,
    project,
    manifest,
    revision: REV,
    credentials,
    ...(opts.workloadsAvailable ? { workloadsAvailable: true } : {}),
    ...(opts.data ? { data: opts.data } : {}),
    ...(opts.moverNamespace ? { moverNamespace: opts.moverNamespace } : {}),
    ...(opts.sleeping ? { sleeping: true } : {}),
    ...(opts.access ? { access: opts.access } : {}),
    ...(opts.internalNetworks ? { internalNetworks: opts.internalNetworks } : {}),
    ...(opts.lockdown ? { lockdown: true } : {}),
  });
}

const shop = readFileSync(`${root}examples/shop/platform.yaml`, 'utf8');
const find = (p: Plan, kind: string, name: string) => p.objects.find((o) => o.kind === kind && o.metadata.name === name) as (KubeObject & Record<string, any>) | undefined;
type Pod = { containers: Array<Record<string, any>>; volumes?: Array<Record<string, any>>; securityContext?: Record<string, any>; [k: string]: any };

function podSpecs(p: Plan): Array<[string, Pod]> {
  return p.objects.flatMap((o): Array<[string, Pod]> => {
    const spec = (o as { spec?: Record<string, any> }).spec;
    if (o.kind === 'StatefulSet') {
      // Claim templates become pod volumes of the same name.
      const claims = (spec!.volumeClaimTemplates ?? []).map((t: { metadata: { name: string } }) => ({ name: t.metadata.name }));
      return [[`${o.kind}/${o.metadata.name}`, { ...spec!.template.spec, volumes: [...(spec!.template.spec.volumes ?? []), ...claims] }]];
    }
    if (o.kind === 'Deployment' || o.kind === 'Job') return [[`${o.kind}/${o.metadata.name}`, spec!.template.spec]];
    if (o.kind === 'CronJob') return [[`${o.kind}/${o.metadata.name}`, spec!.jobTemplate.spec.template.spec]];
    return [];
  });
}

describe('planEnvironment', () => {
  it('plans the shop example: namespace, isolation, services, applications, route', () => {
    const p = plan(shop);
    const name = environmentName('shop', 'feature/login');
    expect(p.namespace).toBe(name);
    expect(p.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      `Namespace/${name}`,
      'ServiceAccount/grove-workload',
      'NetworkPolicy/allow-dns',
      'NetworkPolicy/allow-ingress-controller',
      'NetworkPolicy/allow-same-namespace',
      'NetworkPolicy/default-deny',
      'ResourceQuota/grove-quota',
      'LimitRange/grove-defaults',
      'Secret/cache-credentials',
      'Secret/db-credentials',
      'ConfigMap/web-env',
      'PersistentVolumeClaim/web-uploads',
      'Service/cache',
      'Service/db',
      'Service/web',
      'StatefulSet/cache',
      'StatefulSet/db',
      'Deployment/web',
      'CronJob/web-cleanup',
      'Ingress/web',
    ]);
    expect(p.urls).toEqual([{ name: 'web', url: `https://web-${name}.localhost` }]);
    expect(p.inventory[0]).toEqual({ id: `_${name}__Namespace`, v: 'v1' });
    expect(p.inventory).toContainEqual({ id: `${name}_web_apps_Deployment`, v: 'apps/v1' });
  });

  it('binds the operator\'s namespace role to the operator alone, first after the namespace, when its rights come from one', () => {
    const access: NamespaceAccess = { clusterRole: 'grove-environment', subject: { kind: 'ServiceAccount', namespace: 'grove-system', name: 'grove' } };
    const p = plan(shop, { access });
    expect(p.objects.slice(0, 2).map((o) => o.kind)).toEqual(['Namespace', 'RoleBinding']);
    expect(find(p, 'RoleBinding', 'grove-operator')).toMatchObject({
      metadata: { namespace: p.namespace, labels: { 'app.kubernetes.io/managed-by': 'grove' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'grove-environment' },
      subjects: [{ kind: 'ServiceAccount', namespace: 'grove-system', name: 'grove' }],
    });
    expect(p.inventory).toContainEqual({ id: `${p.namespace}_grove-operator_rbac.authorization.k8s.io_RoleBinding`, v: 'rbac.authorization.k8s.io/v1' });
    const user = plan(shop, { access: { clusterRole: 'grove-environment', subject: { kind: 'User', name: 'ops@example.com' } } });
    expect(find(user, 'RoleBinding', 'grove-operator')?.subjects).toEqual([{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'ops@example.com' }]);
    // Without it (an operator with its own cluster-wide rights), no binding at all.
    expect(plan(shop).objects.some((o) => o.kind === 'RoleBinding')).toBe(false);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(plan(shop))).toBe(JSON.stringify(plan(shop)));
  });

  it('applies the development overrides and the manifest\'s resources', () => {
    const web = find(plan(shop), 'Deployment', 'web')!;
    expect(web.spec.replicas).toBe(1);
    expect(web.spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } });
    expect(web.spec.template.spec.containers[0].image).toBe(`registry.example.com/shop/web:${REV}`);
    const prod = find(plan(shop, { type: 'production', branch: 'main' }), 'Deployment', 'web')!;
    expect(prod.spec.replicas).toBe(2);
  });

  it('injects relationships as URL, host, port and credentials from the service Secret', () => {
    const env = find(plan(shop), 'Deployment', 'web')!.spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: any }>;
    const names = env.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['DATABASE_URL', 'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_USERNAME', 'DATABASE_PASSWORD', 'DATABASE_DATABASE', 'CACHE_URL', 'CACHE_PASSWORD']));
    expect(names).not.toContain('CACHE_USERNAME');
    expect(env.find((e) => e.name === 'DATABASE_URL')!.valueFrom).toEqual({ secretKeyRef: { name: 'db-credentials', key: 'url' } });
  });

  it('writes service credentials into the environment\'s own Secret, with a connection URL', () => {
    const p = plan(shop);
    expect(find(p, 'Secret', 'db-credentials')!.stringData).toEqual({
      username: 'db-user',
      password: 'db-secret',
      database: 'db',
      host: `db.${p.namespace}.svc`,
      port: '5432',
      url: `postgresql://db-user:db-secret@db.${p.namespace}.svc:5432/db`,
    });
    expect(find(p, 'Secret', 'cache-credentials')!.stringData.url).toBe(`redis://:cache-secret@cache.${p.namespace}.svc:6379`);
  });

  it('runs services from the catalog, at the manifest\'s version, or from the Project\'s images', () => {
    const db = find(plan(shop), 'StatefulSet', 'db')!;
    expect(db.spec.template.spec.containers[0].image).toBe('docker.io/library/postgres:15');
    expect(db.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
    const custom = find(plan(shop, { project: { serviceImages: { postgresql: 'registry.internal/pg' } } }), 'StatefulSet', 'db')!;
    expect(custom.spec.template.spec.containers[0].image).toBe('registry.internal/pg:15');
  });

  it('sets the Environment\'s own database password in the data before the server starts', () => {
    const pod = find(plan(shop), 'StatefulSet', 'db')!.spec.template.spec;
    const [init] = pod.initContainers;
    // The server's image, environment and data: a volume cloned from the parent holds its password.
    expect(init.name).toBe('credentials');
    expect(init.image).toBe(pod.containers[0].image);
    expect(init.env).toEqual(pod.containers[0].env);
    expect(init.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/postgresql/data' });
    expect(init.command.join(' ')).toContain('postgres --single');
    // MariaDB reads an init file at every start, which its init container writes to the shared scratch.
    const maria = find(plan('version: 1\napplications:\n  web: { image: w:1, relationships: { db: db } }\nservices:\n  db: { type: "mariadb:10.11" }\n'), 'StatefulSet', 'db')!.spec.template.spec;
    expect(maria.containers[0].args).toEqual(['mariadbd', '--init-file=/run/mysqld/grove-credentials.sql']);
    expect(maria.initContainers[0].command.join(' ')).toContain('> /run/mysqld/grove-credentials.sql');
    expect(maria.initContainers[0].volumeMounts).toContainEqual({ name: 'scratch-run-mysqld', mountPath: '/run/mysqld' });
    // Its servers' own defaults when the manifest sets none: MariaDB's buffer pool alone is 128 MiB.
    expect(maria.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '384Mi' }, limits: { cpu: '100m', memory: '384Mi' } });
    // Redis takes its password on the command line at every start: nothing to set beforehand.
    expect(find(plan(shop), 'StatefulSet', 'cache')!.spec.template.spec.initContainers).toBeUndefined();
  });

  it('sizes the quota by type, lets the Project override it, and gives production none by default', () => {
    expect(find(plan(shop), 'ResourceQuota', 'grove-quota')!.spec.hard).toMatchObject({ 'requests.cpu': '4', pods: '50' });
    expect(find(plan(shop, { project: { limits: { quota: { cpu: '2', pods: 10 } } } }), 'ResourceQuota', 'grove-quota')!.spec.hard).toEqual({ 'requests.cpu': '2', 'limits.cpu': '2', pods: '10' });
    expect(find(plan(shop, { type: 'production', branch: 'main' }), 'ResourceQuota', 'grove-quota')).toBeUndefined();
    const byType = { limits: { quota: { cpu: '2' }, quotaByType: { production: { cpu: '16' } } } };
    expect(find(plan(shop, { type: 'production', branch: 'main', project: byType }), 'ResourceQuota', 'grove-quota')!.spec.hard).toMatchObject({ 'requests.cpu': '16' });
    expect(find(plan(shop, { project: byType }), 'ResourceQuota', 'grove-quota')!.spec.hard).toMatchObject({ 'requests.cpu': '2' });
  });

  it('scales everything to zero and suspends the crons while asleep, keeping volumes and data', () => {
    const awake = plan(shop);
    const asleep = plan(shop, { sleeping: true });
    const workloads = (p: Plan) => p.objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as unknown as Array<{ spec: { replicas: number } }>;
    expect(workloads(awake).length).toBeGreaterThan(1);
    expect(workloads(awake).every((o) => o.spec.replicas > 0)).toBe(true);
    expect(workloads(asleep).map((o) => o.spec.replicas)).toEqual(workloads(awake).map(() => 0));
    const crons = (p: Plan) => (p.objects.filter((o) => o.kind === 'CronJob') as unknown as Array<{ spec: { suspend?: boolean } }>).map((o) => o.spec.suspend);
    expect(crons(awake).length).toBeGreaterThan(0);
    expect(crons(awake).every((s) => s === undefined)).toBe(true);
    expect(crons(asleep).every((s) => s === true)).toBe(true);
    // Same objects, same inventory: sleeping prunes nothing.
    expect(asleep.inventory).toEqual(awake.inventory);
  });

  it('allows internet egress only when the Project says so, never to private ranges', () => {
    expect(find(plan(shop), 'NetworkPolicy', 'allow-internet-egress')).toBeUndefined();
    const egress = find(plan(shop, { project: { network: { egress: { mode: 'internet' } } } }), 'NetworkPolicy', 'allow-internet-egress')!;
    expect(egress.spec.egress[0].to[0].ipBlock).toEqual({ cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '127.0.0.0/8'] });
    // The cluster's own networks are other Environments' pods, whatever range they are in.
    const local = find(plan(shop, { project: { network: { egress: { mode: 'internet' } } }, internalNetworks: ['198.18.0.0/20', '198.19.0.0/20'] }), 'NetworkPolicy', 'allow-internet-egress')!;
    expect(local.spec.egress[0].to[0].ipBlock.except).toEqual(expect.arrayContaining(['198.18.0.0/20', '198.19.0.0/20', '10.0.0.0/8']));
  });

  it('under lockdown plans no policy that lets a pod out of its namespace, and keeps the rest', () => {
    const names = (p: ReturnType<typeof plan>) => p.objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name).sort();
    const network = { egress: { mode: 'internet' as const } };
    expect(names(plan(shop, { project: { network } }))).toEqual(['allow-dns', 'allow-ingress-controller', 'allow-internet-egress', 'allow-same-namespace', 'default-deny']);
    const held = plan(shop, { project: { network }, lockdown: true });
    expect(names(held)).toEqual(['allow-ingress-controller', 'allow-same-namespace', 'default-deny']);
    // The workloads themselves are untouched: the switch cuts the network, not the pods.
    expect(held.objects.filter((o) => o.kind === 'Deployment').length).toBe(plan(shop, { project: { network } }).objects.filter((o) => o.kind === 'Deployment').length);
  });

  it("admits to its services Grove's movers labelled for this namespace, and only them, lockdown or not", () => {
    const p = plan(shop, { moverNamespace: 'grove-system' });
    const movers = find(p, 'NetworkPolicy', 'allow-grove-movers')!;
    expect(movers.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/component': 'service' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'grove-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'mover', 'grove.dev/target-namespace': movers.metadata.namespace } } }] }],
    });
    expect(find(plan(shop, { moverNamespace: 'grove-system', lockdown: true }), 'NetworkPolicy', 'allow-grove-movers')!.spec).toEqual(movers.spec);
    expect(find(plan(shop), 'NetworkPolicy', 'allow-grove-movers')).toBeUndefined();
  });

  it('gives each environment type its own egress: deny, an allowlist of ranges and ports, or the internet', () => {
    const network = {
      egress: { mode: 'internet' as const },
      egressByType: {
        development: { mode: 'deny' as const },
        staging: { mode: 'allowlist' as const, allow: [{ cidr: '203.0.113.0/24', ports: [443, 8443] }, { cidr: '198.0.0.0/8' }, { cidr: '198.18.4.0/24' }] },
      },
    };
    const policies = (type: 'production' | 'staging' | 'development') =>
      plan(shop, { type, branch: type === 'production' ? 'main' : 'feature/x', project: { network }, internalNetworks: ['198.18.0.0/15'] })
        .objects.filter((o) => o.kind === 'NetworkPolicy')
        .map((o) => o.metadata.name);
    expect(policies('development').filter((n) => n?.includes('egress'))).toEqual([]);
    expect(policies('production')).toContain('allow-internet-egress');
    const staging = find(plan(shop, { type: 'staging', branch: 'feature/x', project: { network }, internalNetworks: ['198.18.0.0/15'] }), 'NetworkPolicy', 'allow-egress-allowlist')!;
    expect(staging.spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 8443 }] },
      // A wide range keeps its way round the cluster's network; one inside it is dropped.
      { to: [{ ipBlock: { cidr: '198.0.0.0/8', except: ['198.18.0.0/15'] } }] },
    ]);
  });

  it('lets in only the configured ingress controller namespace', () => {
    const p = plan(shop, { project: { network: { ingressNamespace: 'traefik' } } });
    expect(find(p, 'NetworkPolicy', 'allow-ingress-controller')!.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } } }] }]);
  });

  it('routes with the Project\'s domain template and ingress class', () => {
    const p = plan(shop, { project: { domain: '{route}.{environment}.preview.example.com', network: { ingressClassName: 'nginx' } } });
    const ingress = find(p, 'Ingress', 'web')!;
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.rules[0].host).toBe(`web.${p.namespace}.preview.example.com`);
    expect(ingress.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: 'web', port: { name: 'http' } } });
  });

  it('plans the deploy hook Job, named for the revision, only once workloads are available', () => {
    expect(plan(shop).objects.some((o) => o.kind === 'Job')).toBe(false);
    const job = find(plan(shop, { workloadsAvailable: true }), 'Job', `web-deploy-${REV.slice(0, 12)}`)!;
    expect(job.spec.template.spec.containers[0].command).toEqual(['/shop', 'migrate']);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // A failed hook's last lines are what its condition quotes; a transient failure gets two more tries.
    expect(job.spec.template.spec.containers[0].terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(job.spec.backoffLimit).toBe(2);
  });

  it('holds the deploy hook while spec.suspendDeployHook is set, the workloads planned as ever', () => {
    const held = plan(shop, { workloadsAvailable: true, suspendDeployHook: true });
    expect(held.objects.some((o) => o.kind === 'Job')).toBe(false);
    expect(find(held, 'Deployment', 'web')).toBeDefined();
  });

  it('probes the health path on the application port', () => {
    const c = find(plan(shop), 'Deployment', 'web')!.spec.template.spec.containers[0];
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 });
  });
});

describe('security invariants, on every plan of every example and type', () => {
  const plans: Array<[string, Plan]> = [];
  for (const example of readdirSync(`${root}examples`)) {
    const text = readFileSync(`${root}examples/${example}/platform.yaml`, 'utf8');
    for (const type of ['production', 'staging', 'development'] as const) {
      plans.push([`${example}/${type}`, plan(text, { type, branch: type === 'production' ? 'main' : 'feature/x', workloadsAvailable: true, project: { network: { egress: { mode: 'internet' } } } })]);
    }
  }

  it.each(plans)('%s: every pod passes the restricted Pod Security profile', (_, p) => {
    for (const [where, pod] of podSpecs(p)) {
      expect(pod.hostNetwork ?? false, where).toBe(false);
      expect(pod.hostPID ?? false, where).toBe(false);
      expect(pod.hostIPC ?? false, where).toBe(false);
      expect(pod.automountServiceAccountToken, where).toBe(false);
      expect(pod.securityContext?.runAsNonRoot, where).toBe(true);
      expect(pod.securityContext?.seccompProfile, where).toEqual({ type: 'RuntimeDefault' });
      for (const v of pod.volumes ?? []) expect(Object.keys(v), where).not.toContain('hostPath');
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(c.securityContext.privileged, where).toBe(false);
        expect(c.securityContext.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext.capabilities, where).toEqual({ drop: ['ALL'] });
        expect(c.securityContext.readOnlyRootFilesystem, where).toBe(true);
        expect(c.volumeMounts?.map((m: { mountPath: string }) => m.mountPath), `${where}: somewhere to write temporary files`).toContain('/tmp');
        expect(c.resources?.limits, where).toBeDefined();
        expect(c.ports?.some((port: { hostPort?: number }) => port.hostPort) ?? false, where).toBe(false);
        const volumes = new Set((pod.volumes ?? []).map((v) => v.name as string));
        for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name), `${where} mounts ${m.name}, which the pod does not declare`).toBe(true);
      }
    }
  });

  it.each(plans)('%s: the namespace is restricted and default-deny, and nothing lands elsewhere', (_, p) => {
    const ns = p.objects.find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(p.objects.filter((o) => o.kind === 'Namespace')).toHaveLength(1);
    expect(find(p, 'NetworkPolicy', 'default-deny')!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const allowedClusterScoped = new Set(['Namespace']);
    for (const o of p.objects) {
      if (allowedClusterScoped.has(o.kind)) continue;
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(p.namespace);
    }
    expect(p.objects.every((o) => !['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'PersistentVolume'].includes(o.kind))).toBe(true);
  });
});

describe('planEnvironment while the data comes in', () => {
  const kinds = (p: Plan) => [...new Set(p.objects.map((o) => o.kind))];
  it.each([
    ['sources', { stage: 'sources' as const }, [], ['PersistentVolumeClaim', 'StatefulSet', 'Deployment', 'CronJob', 'Job']],
    ['fill', { stage: 'fill' as const }, ['PersistentVolumeClaim', 'StatefulSet'], ['Deployment', 'CronJob', 'Job']],
    ['sanitize', { stage: 'sanitize' as const }, ['PersistentVolumeClaim', 'StatefulSet', 'Job'], ['Deployment', 'CronJob']],
    ['ready', { stage: 'ready' as const }, ['PersistentVolumeClaim', 'StatefulSet', 'Deployment', 'CronJob'], []],
  ])('%s: holds back what would use data that is not in yet', (_stage, data, present, absent) => {
    const p = plan(shop, { data });
    for (const kind of present) expect(kinds(p), kind).toContain(kind);
    for (const kind of absent) expect(kinds(p), kind).not.toContain(kind);
    // Isolation is never held back.
    expect(kinds(p)).toEqual(expect.arrayContaining(['Namespace', 'NetworkPolicy', 'ResourceQuota', 'ServiceAccount']));
  });

  it('holds a service whose volume is being restored from files, and no other', () => {
    const p = plan(shop, { data: { stage: 'fill', held: ['cache'] } });
    expect(p.objects.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name)).toEqual(['db']);
  });

  it('runs the sanitize hook as a Job with the application\'s container, only in the sanitize stage', () => {
    const job = find(plan(shop, { data: { stage: 'sanitize' } }), 'Job', `web-sanitize-${REV.slice(0, 12)}`);
    expect(job?.spec.template.spec.containers[0].command).toEqual(['/shop', 'sanitize']);
    expect(job?.spec.template.spec.containers[0].env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } });
    expect(job?.spec.template.spec.volumes).toContainEqual({ name: 'uploads', persistentVolumeClaim: { claimName: 'web-uploads' } });
    expect(find(plan(shop), 'Job', `web-sanitize-${REV.slice(0, 12)}`)).toBeUndefined();
  });

  it('creates cloned claims from their VolumeSnapshots, in the Project\'s storage class', () => {
    const p = plan(shop, { project: { storageClassName: 'csi-hostpath' }, data: { stage: 'ready', snapshots: { db: 'clone-db-1', 'web-uploads': 'clone-web-uploads-2' } } });
    expect(find(p, 'PersistentVolumeClaim', 'web-uploads')?.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'csi-hostpath',
      resources: { requests: { storage: '1Gi' } },
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'clone-web-uploads-2' },
    });
    expect(find(p, 'StatefulSet', 'db')?.spec.volumeClaimTemplates[0].spec.dataSource).toEqual({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'clone-db-1' });
    expect(find(p, 'StatefulSet', 'cache')?.spec.volumeClaimTemplates[0].spec.dataSource).toBeUndefined();
    expect(find(plan(shop), 'PersistentVolumeClaim', 'web-uploads')?.spec.storageClassName).toBeUndefined();
  });

  it('gives a restore the claim the StatefulSet will adopt, outside the inventory', () => {
    const p = plan(shop, { project: { storageClassName: 'fast' } });
    const claim = serviceClaim(p, 'cache') as KubeObject & Record<string, any>;
    expect(claim.metadata).toMatchObject({ name: 'data-cache-0', namespace: p.namespace });
    expect(claim.spec).toEqual(find(p, 'StatefulSet', 'cache')?.spec.volumeClaimTemplates[0].spec);
    expect(p.inventory.some((e) => e.id.includes('data-cache-0'))).toBe(false);
  });

  it('leaves a mount out while a Restore replaces its claim, and holds a service whose claim it replaces', () => {
    const p = plan(shop, { data: { stage: 'fill', replacing: ['web-uploads'], held: ['cache'], snapshots: { 'web-uploads': 'restore-web-uploads-1' } } });
    expect(find(p, 'PersistentVolumeClaim', 'web-uploads')).toBeUndefined();
    expect(find(p, 'StatefulSet', 'cache')).toBeUndefined();
    const back = plan(shop, { data: { stage: 'fill', snapshots: { 'web-uploads': 'restore-web-uploads-1' } } });
    expect(find(back, 'PersistentVolumeClaim', 'web-uploads')?.spec.dataSource).toEqual({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'restore-web-uploads-1' });
  });
});
