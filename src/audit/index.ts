/**
 * The audit trail: one AuditEvent for every create, update, delete, clone, backup, restore,
 * sleep, wake, expiry and denial, saying who (agent, on behalf of whom, for which task, as which
 * Kubernetes user), through what (push, webhook, kubectl, api, ttl, schedule), to what, at which
 * revision, what was decided and how it ended.
 *
 * Events go to three places (`sinks.ts`): a dedicated JSON-lines stream, Kubernetes Events on the
 * object, and batches of immutable objects under `audit/` in the Project's BackupStore, which
 * outlive the Environment and the cluster. An event's `id` is derived from the action itself, so
 * an action retried after a restart carries the same id and readers count it once.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ANNOTATIONS, type Environment, LABELS } from '../api/index.ts';
import { actorKey } from '../policy/index.ts';

export const AUDIT_SOURCES = ['push', 'webhook', 'kubectl', 'api', 'ttl', 'schedule'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];

export const AUDIT_ACTIONS = ['create', 'update', 'delete', 'clone', 'backup', 'restore', 'sleep', 'wake', 'expire', 'deny', 'lockdown', 'rehearse'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  agent?: string;
  onBehalfOf?: string;
  task?: string;
  kubernetesUser?: string;
  /** Who pushed, as the Git host's webhook named them. */
  pusher?: string;
  /**
   * Whom per-actor limits count this by, and how that is known: `pusher <name>` and `user <name>`
   * were authenticated (by the Git host's signed webhook, by the API server); `agent <name>
   * (claimed)` comes from a commit trailer alone. agent, onBehalfOf and task are always claims.
   */
  identity?: string;
}

export interface AuditObject {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface AuditEvent {
  /** Stable for one action: the same action recorded twice (after a restart) has the same id. */
  id: string;
  time: string;
  actor: AuditActor;
  source: AuditSource;
  action: AuditAction;
  object: AuditObject;
  /** The Project the object belongs to. */
  project: string;
  /** The Environment the action concerns, when there is one. */
  environment?: string;
  revision?: string;
  decision: 'allowed' | 'denied';
  result: 'succeeded' | 'failed' | 'started';
  /** Why: the rule of a denial, the error of a failure, the cause of an expiry. Never secrets. */
  message?: string;
}

export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}

/** A sink that keeps nothing, for wiring where no trail is wanted (unit tests). */
export const noAudit: AuditSink = { record: () => Promise.resolve() };

/** Who acted on an object, from what Grove recorded on it: commit trailers, and the user recorded at admission. */
export function actorOf(obj: { metadata: { annotations?: Record<string, string>; labels?: Record<string, string> } }): AuditActor {
  const a = obj.metadata.annotations ?? {};
  const identity = actorKey(obj);
  return {
    ...(identity ? { identity } : {}),
    ...(a[ANNOTATIONS.agent] ? { agent: a[ANNOTATIONS.agent] } : {}),
    ...(a[ANNOTATIONS.onBehalfOf] ? { onBehalfOf: a[ANNOTATIONS.onBehalfOf] } : {}),
    ...(a[ANNOTATIONS.task] ? { task: a[ANNOTATIONS.task] } : {}),
    ...(a[ANNOTATIONS.requestedBy] ? { kubernetesUser: a[ANNOTATIONS.requestedBy] } : {}),
    ...(a[ANNOTATIONS.pushedBy] ? { pusher: a[ANNOTATIONS.pushedBy] } : {}),
  };
}

/**
 * Where an Environment comes from: pushes for Git-driven ones, Grove's API for those it made,
 * kubectl (the API server) for the rest.
 */
export function sourceOf(env: Environment): AuditSource {
  const label = env.metadata.labels?.[LABELS.source];
  return label === 'git' ? 'push' : label === 'api' ? 'api' : 'kubectl';
}

export type EnvironmentAuditInput = Omit<AuditInput, 'object' | 'project' | 'environment' | 'actor' | 'source'> & {
  env: Environment;
  /** Default: from the Environment (pushes for Git-driven ones, kubectl for the rest). */
  source?: AuditSource;
  /** Default: who Grove recorded on the Environment; the API names its caller instead. */
  actor?: AuditActor;
};

/** The AuditEvent of an action on an Environment. Pure. */
export function environmentEvent(input: EnvironmentAuditInput): AuditEvent {
  const { env, source, actor, revision: given, ...rest } = input;
  const revision = given ?? env.status?.observedRevision ?? env.spec.revision;
  return auditEvent({
    ...rest,
    object: auditObject(env),
    project: env.spec.project,
    environment: env.metadata.name ?? '',
    actor: actor ?? actorOf(env),
    source: source ?? sourceOf(env),
    ...(revision ? { revision } : {}),
  });
}

/** A short stable id: the same action on the same object instance gives the same id. */
export function auditId(action: AuditAction, object: AuditObject, discriminator: string): string {
  const identity = `${action}\0${object.kind}\0${object.namespace}\0${object.name}\0${object.uid ?? ''}\0${discriminator}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 24);
}

export interface AuditFilter {
  environment?: string;
  /** Matches agent, onBehalfOf, kubernetesUser or pusher. */
  actor?: string;
  action?: AuditAction;
  since?: number;
  until?: number;
}

/** The events that match, each id once, oldest first. Pure. */
export function selectEvents(events: Iterable<AuditEvent>, filter: AuditFilter): AuditEvent[] {
  const seen = new Map<string, AuditEvent>();
  for (const e of events) {
    const t = Date.parse(e.time);
    if (filter.environment !== undefined && e.environment !== filter.environment) continue;
    if (filter.actor !== undefined && ![e.actor.agent, e.actor.onBehalfOf, e.actor.kubernetesUser, e.actor.pusher].includes(filter.actor)) continue;
    if (filter.action !== undefined && e.action !== filter.action) continue;
    if (filter.since !== undefined && t < filter.since) continue;
    if (filter.until !== undefined && t > filter.until) continue;
    // The first record of an action is when it happened; a repeat after a restart is the same action.
    const earlier = seen.get(e.id);
    if (!earlier || Date.parse(earlier.time) > t) seen.set(e.id, e);
  }
  return [...seen.values()].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Where a batch of the trail is stored: by Project, then day, so readers list only the days they need. */
export function auditKey(projectNamespace: string, project: string, firstTime: string, writer: string, sequence: number): string {
  const day = firstTime.slice(0, 10);
  const stamp = firstTime.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `audit/${projectNamespace}/${project}/${day}/${stamp}-${writer}-${String(sequence).padStart(6, '0')}.jsonl`;
}

/** The day prefixes of the trail between two times (inclusive), for listing only those. */
export function auditDays(since: number, until: number): string[] {
  const days: string[] = [];
  const start = Date.UTC(new Date(since).getUTCFullYear(), new Date(since).getUTCMonth(), new Date(since).getUTCDate());
  for (let t = start; t <= until && days.length < 3660; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export interface AuditInput {
  object: AuditObject;
  project: string;
  action: AuditAction;
  now: number;
  /** The Environment the action concerns (which may not exist: a denied branch has none). */
  environment?: string;
  actor: AuditActor;
  source: AuditSource;
  revision?: string;
  decision?: AuditEvent['decision'];
  result?: AuditEvent['result'];
  message?: string;
  /** What makes this action distinct from other actions of the same kind on the same object (a revision, a time). */
  discriminator?: string;
}

/** The AuditEvent of any action. Pure. */
export function auditEvent(input: AuditInput): AuditEvent {
  return {
    id: auditId(input.action, input.object, `${input.environment ?? ''}\0${input.discriminator ?? input.revision ?? ''}`),
    time: new Date(input.now).toISOString(),
    actor: input.actor,
    source: input.source,
    action: input.action,
    object: input.object,
    project: input.project,
    ...(input.environment ? { environment: input.environment } : {}),
    ...(input.revision ? { revision: input.revision } : {}),
    decision: input.decision ?? 'allowed',
    result: input.result ?? 'succeeded',
    ...(input.message ? { message: input.message } : {}),
  };
}

/** The audit identity of a Kubernetes object. */
export function auditObject(obj: { kind: string; metadata: { name?: string; namespace?: string; uid?: string } }): AuditObject {
  return { kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) };
}
