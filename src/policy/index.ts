/**
 * Policy: pure checks, each named after the invariant it protects, each returning why it
 * denies (or nothing). The controllers run them before creating or applying anything and turn a
 * denial into a condition with reason `PolicyDenied` and an audit event — never a silent skip.
 * What admission can enforce on one request (deleting protected Environments, TTL bounds, agents
 * and production) is also shipped as ValidatingAdmissionPolicies (`src/api/admission.ts`).
 *
 * @module
 */
import { ANNOTATIONS, type Environment, LABELS, type Project, type QuotaSpec } from '../api/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import { serviceResources } from '../catalog/index.ts';
import { matchesAny, parseQuantity } from '../util/index.ts';

export interface Denial {
  /** The check that denied, e.g. `environmentLimitReached`. */
  rule: string;
  message: string;
}

/** `rule: message`, as conditions and audit events show a denial. */
export function describeDenial(d: Denial): string {
  return `${d.rule}: ${d.message}`;
}

/**
 * Who an Environment counts against for per-actor limits, authenticated wherever possible: the
 * pusher named by the Git host's signed webhook, or, for one made through Kubernetes (kubectl,
 * Grove's API), the user admission recorded. Only when neither is known does the agent a commit
 * trailer claims count — a claim any pusher can write, so it never outranks an authenticated name.
 */
export function actorKey(env: { metadata: { annotations?: Record<string, string>; labels?: Record<string, string> } }): string | undefined {
  const a = env.metadata.annotations ?? {};
  // A Git-driven Environment is created by the operator, whose name admission records.
  const user = env.metadata.labels?.[LABELS.source] === 'git' ? undefined : a[ANNOTATIONS.requestedBy];
  return identityKey({ pusher: a[ANNOTATIONS.pushedBy], user, claimedAgent: a[ANNOTATIONS.agent] });
}

/** The key per-actor limits count by, saying how it is known: `pusher alice`, `user ada`, or `agent coder-7 (claimed)`. */
export function identityKey(who: { pusher?: string | undefined; user?: string | undefined; claimedAgent?: string | undefined }): string | undefined {
  if (who.pusher) return `pusher ${who.pusher}`;
  if (who.user) return `user ${who.user}`;
  if (who.claimedAgent) return `agent ${who.claimedAgent} (claimed)`;
  return undefined;
}

/** Admitting one more Environment would exceed `limits.maxEnvironments`. */
export function environmentLimitReached(project: Project, admitted: number): Denial | undefined {
  const max = project.spec.limits?.maxEnvironments;
  if (max === undefined || admitted < max) return undefined;
  return { rule: 'environmentLimitReached', message: `project ${project.metadata.name} allows ${max} environment${max === 1 ? "" : "s"} and has ${admitted}` };
}

/** Admitting one more Environment for `actor` would exceed `limits.maxEnvironmentsPerActor`. */
export function actorLimitReached(project: Project, actor: string | undefined, admittedForActor: number): Denial | undefined {
  const max = project.spec.limits?.maxEnvironmentsPerActor;
  if (max === undefined || actor === undefined || admittedForActor < max) return undefined;
  return { rule: 'actorLimitReached', message: `${actor} has ${admittedForActor} environments in project ${project.metadata.name}, which allows ${max} per actor` };
}

/** The branch is outside the patterns the Project allows for this kind of actor. */
export function branchNotAllowed(project: Project, branch: string, kind: 'agent' | 'human'): Denial | undefined {
  const patterns = (kind === 'agent' ? project.spec.policy?.agentBranches : project.spec.policy?.humanBranches) ?? [];
  if (patterns.length === 0 || matchesAny(branch, patterns)) return undefined;
  const field = kind === 'agent' ? 'agentBranches' : 'humanBranches';
  return { rule: 'branchNotAllowed', message: `branch ${branch} matches none of policy.${field} (${patterns.join(', ')}) for ${kind === 'agent' ? 'agents' : 'pushes without an agent'}` };
}

/** The manifest declares a service type the Project does not allow. */
export function serviceTypeNotAllowed(project: Project, manifest: ResolvedManifest): Denial | undefined {
  const allowed = project.spec.policy?.serviceTypes ?? [];
  if (allowed.length === 0) return undefined;
  for (const [name, service] of Object.entries(manifest.services)) {
    const kind = service.type.split(':')[0] ?? service.type;
    if (!allowed.includes(kind as (typeof allowed)[number])) {
      return { rule: 'serviceTypeNotAllowed', message: `services.${name} is ${kind}; project ${project.metadata.name} allows ${allowed.join(', ')}` };
    }
  }
  return undefined;
}

/** What a container asks for when the manifest says nothing (the namespace's LimitRange default). */
export const DEFAULT_RESOURCES = { cpu: '100m', memory: '128Mi' } as const;
const DEFAULT_SIZE = '1Gi';

/** Per-type quotas when the Project sets none; production is bounded only by what it declares. */
const DEFAULT_QUOTA: Record<string, QuotaSpec | undefined> = {
  development: { cpu: '4', memory: '8Gi', storage: '20Gi', pods: 50 },
  staging: { cpu: '8', memory: '16Gi', storage: '50Gi', pods: 100 },
  production: undefined,
};

/** The quota of an environment type: the ceiling its manifest is checked against and its ResourceQuota. */
export function quotaFor(project: Project, type: string): QuotaSpec | undefined {
  const limits = project.spec.limits;
  return limits?.quotaByType?.[type as 'development' | 'staging' | 'production'] ?? limits?.quota ?? DEFAULT_QUOTA[type];
}

export interface Requests {
  cpu: number;
  memory: number;
  storage: number;
  pods: number;
}

/** What the manifest's steady state requests: every replica of every application and service, and every volume. */
export function manifestRequests(manifest: ResolvedManifest): Requests {
  const total: Requests = { cpu: 0, memory: 0, storage: 0, pods: 0 };
  const add = (replicas: number, r: { cpu?: string; memory?: string } | undefined): void => {
    total.pods += replicas;
    total.cpu += replicas * parseQuantity(r?.cpu ?? DEFAULT_RESOURCES.cpu);
    total.memory += replicas * parseQuantity(r?.memory ?? DEFAULT_RESOURCES.memory);
  };
  for (const app of Object.values(manifest.applications)) {
    add(app.replicas ?? 1, app.resources);
    for (const mount of Object.values(app.mounts ?? {})) total.storage += parseQuantity(mount.size ?? DEFAULT_SIZE);
  }
  for (const service of Object.values(manifest.services)) {
    add(1, serviceResources(service));
    total.storage += parseQuantity(service.size ?? DEFAULT_SIZE);
  }
  return total;
}

/** The manifest asks for more than the quota of its environment type: it could never run whole. */
export function resourceCeilingExceeded(project: Project, type: string, manifest: ResolvedManifest): Denial | undefined {
  const quota = quotaFor(project, type);
  if (!quota) return undefined;
  const asked = manifestRequests(manifest);
  const over = (['cpu', 'memory', 'storage', 'pods'] as const).filter((k) => quota[k] !== undefined && asked[k] > parseQuantity(quota[k]) + 1e-9);
  if (over.length === 0) return undefined;
  const shown = (k: keyof Requests, v: number): string => (k === 'memory' || k === 'storage' ? `${+(v / 2 ** 30).toFixed(2)}Gi` : k === 'cpu' ? `${+v.toFixed(3)}` : `${v}`);
  const parts = over.map((k) => `${k} ${shown(k, asked[k])} > ${quota[k]}`);
  return { rule: 'resourceCeilingExceeded', message: `the manifest requests ${parts.join(', ')}, beyond the ${type} quota of project ${project.metadata.name}` };
}

/**
 * Deleting a production or protected Environment needs `grove.dev/confirm-delete` equal to its
 * name, which admission lets only a holder of the `confirm` verb on it set.
 */
export function deletionNotConfirmed(env: Environment): Denial | undefined {
  const name = env.metadata.name ?? '';
  const guarded = guardOf(env);
  if (!guarded || env.metadata.annotations?.[ANNOTATIONS.confirmDelete] === name) return undefined;
  return { rule: 'deletionNotConfirmed', message: `Environment ${name} is ${guarded}: it is deleted only after someone with the confirm right on it (verb confirm on environments.grove.dev, which the admins of the Project hold) confirms by setting ${ANNOTATIONS.confirmDelete}=${name}` };
}

/** `production` or `protected` when the Environment is guarded, else undefined. */
function guardOf(env: Environment): 'production' | 'protected' | undefined {
  return (env.spec.type ?? 'development') === 'production' ? 'production' : env.spec.protected ? 'protected' : undefined;
}

/**
 * A Restore over a production or protected Environment replaces its data, which only a holder
 * of the `confirm` verb on it may ask for. The admission policy enforces this for requests made
 * in the requester's own name; Grove's API checks it for its callers.
 */
export function overwriteNotConfirmed(env: Environment, mayConfirm: boolean): Denial | undefined {
  const guarded = guardOf(env);
  if (!guarded || mayConfirm) return undefined;
  return {
    rule: 'overwriteNotConfirmed',
    message: `Restoring over the data (overwriteExisting) of ${guarded} Environment ${env.metadata.name ?? ''} needs the confirm right on it (verb confirm on environments.grove.dev in namespace ${env.metadata.namespace ?? ''}), which the admins of the Project hold and its agents do not`,
  };
}

/** The checks on what one Environment's manifest declares, in order; the first denial wins. */
export function manifestDenial(project: Project, type: string, manifest: ResolvedManifest): Denial | undefined {
  return serviceTypeNotAllowed(project, manifest) ?? resourceCeilingExceeded(project, type, manifest);
}

/**
 * A member of the Project's agents group asks for a production Environment. The admission
 * policy enforces this for requests agents make themselves; Grove's API, which writes with its
 * own identity, checks it for its callers.
 */
export function agentMayNotMakeProduction(project: Project, callerGroups: readonly string[], type: string | undefined): Denial | undefined {
  const group = project.spec.policy?.agentsGroup;
  if (!group || type !== 'production' || !callerGroups.includes(group)) return undefined;
  return { rule: 'agentMayNotMakeProduction', message: `members of ${group} cannot create or promote a production Environment (policy.agentsGroup of project ${project.metadata.name})` };
}
export { describeLockdown, heldByLockdown, type Lockdown, lockdownOf, operatorLockdown } from './lockdown.ts';

export { advance, type BudgetLimits, type BudgetPeriod, type BudgetState, budgetState, type Consumption, periodStart, ratesOf, type Rates, total, type Usage } from './budget.ts';
