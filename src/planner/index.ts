/**
 * `planEnvironment`: everything an Environment runs, computed from its spec, its Project and
 * its resolved manifest. Pure — no I/O, no clock, no randomness: service credentials come in as
 * input (the controller reads them from the live Secret or generates them once). Objects come
 * out in a fixed order with deterministic names, so the same input always gives the same plan,
 * and the inventory lists them for pruning.
 *
 * Isolation is part of every plan: a `restricted` Pod Security namespace, default-deny network
 * policies with narrow allowances, a quota and defaults for resources, and a service account
 * without an API token. Nothing is cluster-scoped except the environment's own Namespace, and
 * nothing lands outside it.
 *
 * @module
 */
import { credentialsSecret, type EgressSpec, type Environment, environmentNamespace, type InventoryEntry, type KubeObject, LABELS, PRIVATE_RANGES, type Project, type RouteURL, sanitizeJobName, serviceClaimName, SNAPSHOT_GROUP } from '../api/index.ts';
import type { Application, ResolvedManifest } from '../manifest/index.ts';
import { CATALOG, parseServiceType, serviceResources } from '../catalog/index.ts';
import { DEFAULT_RESOURCES, quotaFor } from '../policy/index.ts';
import { parseRange } from '../util/index.ts';

/** A Project's Environments: which branches get one, and the changes that make the cluster match. */
export { alreadyApplied, type DesiredChanges, type DesiredInput, desiredEnvironments, environmentFor, lockdownChanges, type OpenPullRequest, type Skipped } from './branches.ts';
export { type RehearsalInput, requestedRehearsals } from './rehearsals.ts';

export interface ServiceCredentials {
  username: string;
  password: string;
  database: string;
}

export interface PlanInput {
  environment: Environment;
  project: Project;
  manifest: ResolvedManifest;
  revision: string;
  /** Per service name; every service of the manifest must have an entry. */
  credentials: Readonly<Record<string, ServiceCredentials>>;
  /** The deploy hooks' Jobs are planned only once the workloads of this revision are available. */
  workloadsAvailable?: boolean;
  /** Where the Environment's data stands; absent means ready. */
  data?: DataPlan;
  /**
   * Grove's own namespace, whose mover pods back up and restore the databases over the network:
   * the only pods from outside (besides the ingress controller's traffic) the namespace admits.
   */
  moverNamespace?: string;
  /** Asleep: every Deployment and StatefulSet at zero replicas, every CronJob suspended; volumes and data stay. */
  sleeping?: boolean;
  /** The operator's rights in the namespace, when they come from a RoleBinding it plans itself. */
  access?: NamespaceAccess;
  /**
   * The cluster's own networks (pods, Services, nodes), which an Environment allowed to reach
   * the internet must still not reach, like the private ranges: that would be every other
   * Environment's pods.
   */
  internalNetworks?: readonly string[];
  /**
   * Held by the kill switch: no egress beyond the namespace at all — no DNS, no BackupStore, no
   * allowlist or internet — while its pods keep running and talking among themselves.
   */
  lockdown?: boolean;
}

/**
 * Grove's rights inside an Environment's namespace: a RoleBinding of `clusterRole` to the
 * operator's own identity. Installed with least privilege (the Helm chart), the operator holds
 * no cluster-wide rights to Secrets or workloads; it may only `bind` this one ClusterRole, so
 * each namespace it makes is the only place it gets them.
 */
export interface NamespaceAccess {
  clusterRole: string;
  subject: { kind: 'ServiceAccount'; name: string; namespace: string } | { kind: 'User'; name: string };
}

/** The RoleBinding that gives the operator its rights in each Environment's namespace. */
export const OPERATOR_ROLE_BINDING = 'grove-operator';

/**
 * How far a new Environment's volumes have been filled (src/data/clone.ts decides). A plan holds
 * back what must not run on missing or unsanitised data:
 * - `sources`: the parent's snapshots or backup are being made — no volume, service or application yet;
 * - `fill`: volumes and services exist and are being filled — no applications;
 * - `sanitize`: the data is in; the sanitize hooks run — still no applications;
 * - `ready`: everything.
 */
export interface DataPlan {
  stage: 'sources' | 'fill' | 'sanitize' | 'ready';
  /** Services whose StatefulSet waits while the claim it would use is replaced (a Restore of Redis). */
  held?: readonly string[];
  /** Mounts whose claim is left out while a Restore replaces it with one made from the restored data. */
  replacing?: readonly string[];
  /** Volume name → the VolumeSnapshot, in the Environment's namespace, its claim is created from. */
  snapshots?: Readonly<Record<string, string>>;
}

export interface Plan {
  namespace: string;
  objects: KubeObject[];
  inventory: InventoryEntry[];
  urls: RouteURL[];
}

export const WORKLOAD_SERVICE_ACCOUNT = 'grove-workload';
const DEFAULT_INGRESS_NAMESPACE = 'ingress-nginx';
const DEFAULT_DOMAIN = '{route}-{environment}.localhost';
/** Every kind a plan may hold, in apply order, with its API version. */
export const PLANNED_KINDS = [
  ['v1', 'Namespace'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['v1', 'ServiceAccount'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['v1', 'ResourceQuota'],
  ['v1', 'LimitRange'],
  ['v1', 'Secret'],
  ['v1', 'ConfigMap'],
  ['v1', 'PersistentVolumeClaim'],
  ['v1', 'Service'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'Deployment'],
  ['batch/v1', 'CronJob'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['batch/v1', 'Job'],
] as const;
const KIND_ORDER: readonly string[] = PLANNED_KINDS.map(([, kind]) => kind);
/** What each data stage holds back: kinds that keep or use data, and the applications' own. */
const HELD_KINDS: Record<DataPlan['stage'], ReadonlySet<string>> = {
  sources: new Set(['PersistentVolumeClaim', 'StatefulSet', 'Deployment', 'CronJob', 'Job']),
  fill: new Set(['Deployment', 'CronJob', 'Job']),
  sanitize: new Set(['Deployment', 'CronJob']),
  ready: new Set(),
};

/** What every generator of a plan shares: the input, where it goes, and the labels of all it makes. */
interface PlanContext {
  input: PlanInput;
  namespace: string;
  envName: string;
  type: NonNullable<Environment['spec']['type']>;
  base: Record<string, string>;
  meta: (name: string, labels?: Record<string, string>) => { name: string; namespace: string; labels: Record<string, string> };
}

export function planEnvironment(input: PlanInput): Plan {
  const ctx = planContext(input);
  const { objects: routed, urls } = routeObjects(ctx);
  const objects = [...isolationObjects(ctx), ...serviceObjects(ctx), ...applicationObjects(ctx), ...jobObjects(ctx), ...routed];

  const stage = input.data?.stage ?? 'ready';
  const held = new Set(input.data?.held ?? []);
  const replacing = new Set(input.data?.replacing ?? []);
  const planned = objects.filter((o) => !HELD_KINDS[stage].has(o.kind) && !(o.kind === 'StatefulSet' && held.has(o.metadata.name ?? '')) && !(o.kind === 'PersistentVolumeClaim' && replacing.has(o.metadata.name ?? '')));
  const sorted = planned.map(clean).sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return { namespace: ctx.namespace, objects: sorted, inventory: sorted.map(inventoryEntry), urls };
}

function planContext(input: PlanInput): PlanContext {
  const env = input.environment;
  const envName = env.metadata.name ?? '';
  const namespace = environmentNamespace(env.spec.project, envName);
  const base = {
    [LABELS.project]: env.spec.project,
    [LABELS.environment]: envName,
    [LABELS.environmentNamespace]: env.metadata.namespace ?? '',
    [LABELS.managedBy]: 'grove',
    'app.kubernetes.io/instance': envName,
  };
  return { input, namespace, envName, type: env.spec.type ?? 'development', base, meta: (name, labels = {}) => ({ name, namespace, labels: { ...base, ...labels } }) };
}

/**
 * The operator's RoleBinding in the Environment's namespace, as the plan has it; alone, for a
 * controller that must put it back before it may read anything there.
 */
export function operatorRoleBinding(input: PlanInput): KubeObject | undefined {
  return roleBindingOf(planContext(input));
}

function roleBindingOf({ input, meta }: PlanContext): (KubeObject & Record<string, unknown>) | undefined {
  if (!input.access) return undefined;
  const { clusterRole, subject } = input.access;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(OPERATOR_ROLE_BINDING),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
    subjects: [subject.kind === 'ServiceAccount' ? subject : { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: subject.name }],
  };
}

/** The namespace and what fences it: Pod Security, the operator's RoleBinding, a token-less ServiceAccount, NetworkPolicies, quota and defaults. */
function isolationObjects(ctx: PlanContext): KubeObject[] {
  const { input, namespace, type, base, meta } = ctx;
  const { project } = input;
  const objects: KubeObject[] = [];
  const add = (o: KubeObject & Record<string, unknown>): void => void objects.push(o);
  add({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        ...base,
        [LABELS.type]: type,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  });
  const binding = roleBindingOf(ctx);
  if (binding) add(binding);
  add({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(WORKLOAD_SERVICE_ACCOUNT), automountServiceAccountToken: false });
  for (const policy of networkPolicies(project, type, meta, namespace, input)) add(policy);

  const quota = quotaFor(project, type);
  if (quota) {
    const hard: Record<string, string> = {};
    if (quota.cpu !== undefined) hard['requests.cpu'] = hard['limits.cpu'] = String(quota.cpu);
    if (quota.memory !== undefined) hard['requests.memory'] = hard['limits.memory'] = String(quota.memory);
    if (quota.storage !== undefined) hard['requests.storage'] = String(quota.storage);
    if (quota.pods !== undefined) hard.pods = String(quota.pods);
    add({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: meta('grove-quota'), spec: { hard } });
  }
  add({
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: meta('grove-defaults'),
    spec: { limits: [{ type: 'Container', default: DEFAULT_RESOURCES, defaultRequest: DEFAULT_RESOURCES }] },
  });
  return objects;
}

/** Each catalog service: its credentials Secret, a headless Service and a StatefulSet with its claim. */
function serviceObjects(ctx: PlanContext): KubeObject[] {
  const { input, namespace, base, meta } = ctx;
  const { project, manifest } = input;
  const objects: KubeObject[] = [];
  const add = (o: KubeObject & Record<string, unknown>): void => void objects.push(o);
  for (const [name, service] of Object.entries(manifest.services)) {
    const { kind, version } = parseServiceType(service.type);
    const entry = CATALOG[kind];
    const creds = input.credentials[name];
    if (!creds) throw new Error(`no credentials were given for service ${name}`);
    const host = `${name}.${namespace}.svc`;
    const userinfo = entry.hasDatabase ? `${encodeURIComponent(creds.username)}:${encodeURIComponent(creds.password)}` : `:${encodeURIComponent(creds.password)}`;
    const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'service' };
    add({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(credentialsSecret(name), labels),
      type: 'Opaque',
      stringData: {
        username: creds.username,
        password: creds.password,
        database: creds.database,
        host,
        port: String(entry.port),
        url: `${entry.scheme}://${userinfo}@${host}:${entry.port}${entry.hasDatabase ? `/${creds.database}` : ''}`,
      },
    });
    add({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name, labels),
      spec: { clusterIP: 'None', selector: { 'app.kubernetes.io/name': name }, ports: [{ name: kind, port: entry.port, targetPort: entry.port }] },
    });
    const image = `${project.spec.serviceImages?.[kind] ?? entry.image}:${version}`;
    const serviceEnv = [
      ...Object.entries(entry.env).map(([variable, key]) => ({ name: variable, valueFrom: { secretKeyRef: { name: credentialsSecret(name), key } } })),
      ...Object.entries(entry.fixedEnv ?? {}).map(([n, value]) => ({ name: n, value })),
    ];
    add({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(name, labels),
      spec: {
        serviceName: name,
        replicas: input.sleeping ? 0 : 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels: { ...base, ...labels } },
          spec: podSpec({
            uid: entry.uid,
            scratch: entry.scratch,
            containers: [
              {
                name: kind,
                image,
                ...(entry.command ? { command: entry.command } : {}),
                ...(entry.args ? { args: entry.args } : {}),
                ports: [{ name: kind, containerPort: entry.port }],
                env: serviceEnv,
                readinessProbe: { exec: { command: entry.ready }, periodSeconds: 5 },
                resources: resourcesOf(serviceResources(service)),
                volumeMounts: [{ name: 'data', mountPath: entry.dataPath }],
              },
            ],
            ...(entry.credentials
              ? {
                  initContainers: [
                    {
                      name: 'credentials',
                      image,
                      command: entry.credentials,
                      env: serviceEnv,
                      resources: resourcesOf(serviceResources(service)),
                      volumeMounts: [{ name: 'data', mountPath: entry.dataPath }],
                    },
                  ],
                }
              : {}),
          }),
        },
        volumeClaimTemplates: [{ metadata: { name: 'data', labels: { ...base, ...labels } }, spec: claimSpec(project, service.size, input.data?.snapshots?.[name]) }],
      },
    });
  }
  return objects;
}

/** Each application: its environment ConfigMap, mounted claims, Service and Deployment. */
function applicationObjects(ctx: PlanContext): KubeObject[] {
  const { input, base, meta } = ctx;
  const { project, manifest, revision } = input;
  const objects: KubeObject[] = [];
  const add = (o: KubeObject & Record<string, unknown>): void => void objects.push(o);
  for (const [name, app] of Object.entries(manifest.applications)) {
    const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'application' };
    add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${name}-env`, labels), data: { ...(app.env ?? {}) } });
    for (const [mount, spec] of Object.entries(app.mounts ?? {})) {
      add({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: meta(`${name}-${mount}`, labels),
        spec: claimSpec(project, spec.size, input.data?.snapshots?.[`${name}-${mount}`]),
      });
    }
    if (app.port !== undefined) {
      add({ apiVersion: 'v1', kind: 'Service', metadata: meta(name, labels), spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'http', port: 80, targetPort: app.port }] } });
    }
    const pod = podSpec({ ...applicationPod(name, app), containers: [container(name, app, manifest, revision)] });
    add({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(name, labels),
      spec: {
        replicas: input.sleeping ? 0 : (app.replicas ?? 1),
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        // A single RWO volume cannot be shared by old and new pods at once.
        strategy: Object.keys(app.mounts ?? {}).length ? { type: 'Recreate' } : { type: 'RollingUpdate' },
        template: { metadata: { labels: { ...base, ...labels }, annotations: { 'grove.dev/revision': revision } }, spec: pod },
      },
    });
  }
  return objects;
}

/** What runs to completion from an application's container: its crons, and its hooks when their moment has come. */
function jobObjects(ctx: PlanContext): KubeObject[] {
  const { input, base, meta } = ctx;
  const { manifest, revision } = input;
  const objects: KubeObject[] = [];
  const add = (o: KubeObject & Record<string, unknown>): void => void objects.push(o);
  for (const [name, app] of Object.entries(manifest.applications)) {
    const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'application' };
    for (const [cron, spec] of Object.entries(app.crons ?? {})) {
      add({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta(`${name}-${cron}`, { ...labels, 'app.kubernetes.io/component': 'cron' }),
        spec: {
          schedule: spec.schedule,
          concurrencyPolicy: 'Forbid',
          ...(input.sleeping ? { suspend: true } : {}),
          jobTemplate: {
            spec: {
              backoffLimit: 2,
              template: {
                metadata: { labels: { ...base, ...labels, 'app.kubernetes.io/component': 'cron' } },
                spec: { ...podSpec({ ...applicationPod(name, app), containers: [{ ...container(name, app, manifest, revision), command: spec.command, readinessProbe: undefined, livenessProbe: undefined, ports: undefined }] }), restartPolicy: 'Never' },
              },
            },
          },
        },
      });
    }
    // A hook is the application's container running one command to completion, once.
    const hookJob = (jobName: string, component: string, command: string[]) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(jobName, { ...labels, 'app.kubernetes.io/component': component }),
      spec: {
        // A database that restarts under a hook should not fail the revision; a hook that fails
        // three times does.
        backoffLimit: 2,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels: { ...base, ...labels, 'app.kubernetes.io/component': component } },
          // A failed hook's last lines become its termination message, which the condition quotes.
          spec: { ...podSpec({ ...applicationPod(name, app), containers: [{ ...container(name, app, manifest, revision), command, readinessProbe: undefined, livenessProbe: undefined, ports: undefined, terminationMessagePolicy: 'FallbackToLogsOnError' }] }), restartPolicy: 'Never' },
        },
      },
    });
    if (app.hooks?.sanitize && input.data?.stage === 'sanitize') add(hookJob(sanitizeJobName(name, revision), 'sanitize-hook', app.hooks.sanitize));
    // A suspended hook waits, with the workloads running: a Rehearsal reads the schema first.
    if (app.hooks?.deploy && input.workloadsAvailable && !input.environment.spec.suspendDeployHook) add(hookJob(`${name}-deploy-${revision.slice(0, 12)}`, 'deploy-hook', app.hooks.deploy));
  }
  return objects;
}

/** Each route: an Ingress, and the URL it answers at. */
function routeObjects(ctx: PlanContext): { objects: KubeObject[]; urls: RouteURL[] } {
  const { input, envName, meta } = ctx;
  const { environment: env, project, manifest } = input;
  const objects: KubeObject[] = [];
  const add = (o: KubeObject & Record<string, unknown>): void => void objects.push(o);
  const urls: RouteURL[] = [];
  for (const [name, route] of Object.entries(manifest.routes ?? {})) {
    const host = (project.spec.domain ?? DEFAULT_DOMAIN).replaceAll('{route}', name).replaceAll('{environment}', envName).replaceAll('{project}', env.spec.project);
    urls.push({ name, url: `https://${host}${route.path && route.path !== '/' ? route.path : ''}` });
    add({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(name, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'route' }),
      spec: {
        ...(project.spec.network?.ingressClassName ? { ingressClassName: project.spec.network.ingressClassName } : {}),
        rules: [{ host, http: { paths: [{ path: route.path ?? '/', pathType: 'Prefix', backend: { service: { name: route.upstream, port: { name: 'http' } } } }] } }],
      },
    });
  }
  return { objects, urls };
}

/**
 * The claim a service's StatefulSet would make, made beforehand so a restore can fill it before the
 * service starts; the StatefulSet adopts a claim of that name. Not in the inventory, like the
 * claims StatefulSets make: removing a service from the manifest never deletes its data.
 */
export function serviceClaim(plan: Plan, service: string): KubeObject & Record<string, unknown> {
  const sts = plan.objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === service) as
    | (KubeObject & { spec: { volumeClaimTemplates: Array<{ metadata: { labels?: Record<string, string> }; spec: Record<string, unknown> }> } })
    | undefined;
  const template = sts?.spec.volumeClaimTemplates[0];
  if (!template) throw new Error(`the plan has no StatefulSet ${service}`);
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: serviceClaimName(service), namespace: plan.namespace, labels: { ...template.metadata.labels } }, spec: structuredClone(template.spec) };
}

function claimSpec(project: Project, size: string | undefined, snapshot: string | undefined): Record<string, unknown> {
  return {
    accessModes: ['ReadWriteOnce'],
    ...(project.spec.storageClassName ? { storageClassName: project.spec.storageClassName } : {}),
    resources: { requests: { storage: size ?? '1Gi' } },
    ...(snapshot ? { dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: snapshot } } : {}),
  };
}

export function inventoryEntry(o: KubeObject): InventoryEntry {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return { id: `${o.metadata.namespace ?? ''}_${o.metadata.name}_${group}_${o.kind}`, v: o.apiVersion };
}

function networkPolicies(project: Project, type: NonNullable<Environment['spec']['type']>, meta: (name: string) => KubeObject['metadata'], namespace: string, input: PlanInput): Array<KubeObject & Record<string, unknown>> {
  const { moverNamespace } = input;
  const internal = input.internalNetworks ?? [];
  const ingressNamespace = project.spec.network?.ingressNamespace ?? DEFAULT_INGRESS_NAMESPACE;
  const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta(name), spec });
  const inside = [
    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-same-namespace', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] }),
    policy('allow-ingress-controller', {
      podSelector: { matchLabels: { 'app.kubernetes.io/component': 'application' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ingressNamespace } } }] }],
    }),
  ];
  if (moverNamespace) {
    // Only the movers labelled with this namespace: a mover sent to another Environment's data,
    // where that Environment's admin could point its Service at this one, is refused here.
    const movers = { 'app.kubernetes.io/component': 'mover', [LABELS.targetNamespace]: namespace };
    inside.push(
      policy('allow-grove-movers', {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'service' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': moverNamespace } }, podSelector: { matchLabels: movers } }] }],
      }),
    );
  }
  // NetworkPolicies only ever allow: cutting egress means planning none of the policies that do.
  // A held Environment's data can still be backed up: the movers' way in is ingress.
  if (input.lockdown) return inside;
  const policies = [
    ...inside,
    policy('allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
  ];
  const egress = egressPolicy(project.spec.network?.egressByType?.[type] ?? project.spec.network?.egress, internal);
  if (egress) policies.push(policy(egress.name, { podSelector: {}, policyTypes: ['Egress'], egress: egress.rules }));
  return policies;
}

/**
 * The egress an Environment's type is given beyond its namespace: none (`deny`), the listed
 * ranges and ports (`allowlist`), or every address but private and cluster ones (`internet`).
 * Private ranges and the cluster's own networks are cut out of every range that holds them,
 * and a range that lies inside the cluster's networks is dropped: the API server rejects an
 * `except` outside its `cidr`, and the cluster is never a destination.
 */
export function egressPolicy(spec: EgressSpec | undefined, internal: readonly string[]): { name: string; rules: Array<Record<string, unknown>> } | undefined {
  const mode = spec?.mode ?? 'deny';
  if (mode === 'deny') return undefined;
  const blocked = [...new Set([...PRIVATE_RANGES, ...internal])].flatMap((text) => {
    const range = parseRange(text);
    return range ? [range] : [];
  });
  const block = (cidr: string): Record<string, unknown> | undefined => {
    const range = parseRange(cidr);
    if (!range || blocked.some((b) => b.v6 === range.v6 && b.first <= range.first && range.last <= b.last)) return undefined;
    const except = blocked.filter((b) => b.v6 === range.v6 && range.first <= b.first && b.last <= range.last && !(b.first === range.first && b.last === range.last)).map((b) => b.text);
    return { cidr, ...(except.length ? { except } : {}) };
  };
  if (mode === 'internet') return { name: 'allow-internet-egress', rules: [{ to: [{ ipBlock: block('0.0.0.0/0') }] }] };
  const rules = (spec?.allow ?? []).flatMap((rule) => {
    const ipBlock = block(rule.cidr);
    if (!ipBlock) return [];
    return [{ to: [{ ipBlock }], ...(rule.ports?.length ? { ports: rule.ports.map((port) => ({ protocol: 'TCP', port })) } : {}) }];
  });
  return rules.length ? { name: 'allow-egress-allowlist', rules } : undefined;
}

/**
 * The group that owns applications' volumes (the kubelet gives a volume to the pod's fsGroup),
 * so an application writes its mounts whatever user its image runs as. The mover's, so backups
 * and restores of those volumes never change their owner back and forth.
 */
export const APPLICATION_FS_GROUP = 65532;

interface PodOptions {
  containers: Array<Record<string, unknown>>;
  initContainers?: Array<Record<string, unknown>>;
  volumes?: Array<Record<string, unknown>>;
  /** The user and group the pod runs as, and the group its volumes belong to. */
  uid?: number;
  fsGroup?: number;
  /** Writable emptyDirs on the read-only root filesystem, mounted into every container. */
  scratch?: readonly string[];
}

/**
 * A pod that passes the `restricted` Pod Security profile, with no API token and a read-only
 * root filesystem: what a process may change is its volumes and its scratch directories.
 */
function podSpec(opts: PodOptions): Record<string, unknown> {
  const scratch = (opts.scratch ?? []).map((path) => ({ path, name: `scratch-${path.replace(/^\/+/, '').replace(/[^a-z0-9]+/g, '-')}` }));
  const fsGroup = opts.fsGroup ?? opts.uid;
  const volumes = [...(opts.volumes ?? []), ...scratch.map((s) => ({ name: s.name, emptyDir: {} }))];
  const restricted = (c: Record<string, unknown>) => ({
    ...c,
    ...(scratch.length ? { volumeMounts: [...((c.volumeMounts as unknown[] | undefined) ?? []), ...scratch.map((s) => ({ name: s.name, mountPath: s.path }))] } : {}),
    securityContext: { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
  });
  return {
    serviceAccountName: WORKLOAD_SERVICE_ACCOUNT,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      ...(opts.uid !== undefined ? { runAsUser: opts.uid, runAsGroup: opts.uid } : {}),
      // Only a volume whose top is not the group's yet is walked, so a big one mounts at once.
      ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(opts.initContainers?.length ? { initContainers: opts.initContainers.map(restricted) } : {}),
    containers: opts.containers.map(restricted),
    ...(volumes.length ? { volumes } : {}),
  };
}

/** What every application container may write besides its mounts. */
const APPLICATION_SCRATCH = ['/tmp'];

function container(name: string, app: Application, manifest: ResolvedManifest, revision: string): Record<string, unknown> {
  const env: Array<Record<string, unknown>> = [
    { name: 'GROVE_REVISION', value: revision },
  ];
  for (const [relationship, service] of Object.entries(app.relationships ?? {})) {
    const prefix = relationship.toUpperCase().replace(/-/g, '_');
    const hasDatabase = CATALOG[parseServiceType(manifest.services[service]?.type ?? 'redis:0').kind].hasDatabase;
    const keys: Array<[string, string]> = [
      ['URL', 'url'],
      ['HOST', 'host'],
      ['PORT', 'port'],
      ['PASSWORD', 'password'],
      ...(hasDatabase
        ? ([
            ['USERNAME', 'username'],
            ['DATABASE', 'database'],
          ] as Array<[string, string]>)
        : []),
    ];
    for (const [suffix, key] of keys) env.push({ name: `${prefix}_${suffix}`, valueFrom: { secretKeyRef: { name: credentialsSecret(service), key } } });
  }
  const probePort = app.health?.port ?? app.port;
  const probe = app.health && probePort !== undefined ? { httpGet: { path: app.health.path, port: probePort }, periodSeconds: 10 } : undefined;
  return {
    name,
    image: app.image,
    ...(app.port !== undefined ? { ports: [{ name: 'http', containerPort: app.port }] } : {}),
    envFrom: [{ configMapRef: { name: `${name}-env` } }],
    env,
    resources: resourcesOf(app.resources),
    ...(probe ? { readinessProbe: probe, livenessProbe: { ...probe, periodSeconds: 20, failureThreshold: 6 } } : {}),
    ...(app.mounts ? { volumeMounts: Object.entries(app.mounts).map(([mount, spec]) => ({ name: mount, mountPath: spec.path })) } : {}),
  };
}

/** The pod-level part of every pod an application runs: its mounts, their group, its scratch space. */
function applicationPod(name: string, app: Application): Omit<PodOptions, 'containers'> {
  const mounts = Object.keys(app.mounts ?? {});
  return {
    volumes: mounts.map((mount) => ({ name: mount, persistentVolumeClaim: { claimName: `${name}-${mount}` } })),
    ...(mounts.length ? { fsGroup: APPLICATION_FS_GROUP } : {}),
    scratch: APPLICATION_SCRATCH,
  };
}

function resourcesOf(r: { cpu?: string; memory?: string } | undefined): Record<string, unknown> {
  const amount = { cpu: r?.cpu ?? DEFAULT_RESOURCES.cpu, memory: r?.memory ?? DEFAULT_RESOURCES.memory };
  return { requests: amount, limits: amount };
}

/** Drops undefined fields, so plans compare and serialise cleanly. */
function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
