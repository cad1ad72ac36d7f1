/**
 * Applies a plan: server-side apply with Grove's one field manager of every object that is not
 * already as planned, then pruning of what the previous inventory had and the plan no longer has.
 * Readiness is judged from the live objects; nothing here waits — the controller requeues instead.
 *
 * An apply that changes nothing still costs the API server a full merge, and an Environment is
 * reconciled many times while it rolls out, so unchanged objects are skipped: the applier keeps a
 * record of what it applied and compares it with the cached live object.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { FIELD_MANAGER, type InventoryEntry, type KubeObject } from '../api/index.ts';
import type { Kube, ObjectRef } from '../kube/index.ts';
import { inventoryEntry } from '../planner/index.ts';

const APPLY_CONCURRENCY = 8;

export interface ApplyOutcome {
  /** The live objects: as the server returned them after an apply, or as observed when unchanged. */
  live: KubeObject[];
  /** How many objects were sent; the rest were already as planned. */
  applied: number;
  pruned: ObjectRef[];
}

/** What Grove last applied to one object, and what the server made of it. */
export interface AppliedRecord {
  hash: string;
  uid: string | undefined;
  resourceVersion: string | undefined;
  generation: number | undefined;
}

export interface ApplyContext {
  /**
   * The cached live object (`object` undefined when the cache knows it is absent), or undefined
   * when no cache holds the kind. Secrets are never cached (see the operator's informers): an
   * object of such a kind is applied again only when its content changes, or at the forced resync.
   */
  observed: (ref: ObjectRef) => { object: KubeObject | undefined } | undefined;
  /** Records of earlier applies, by inventory id; read and updated here. */
  records: Map<string, AppliedRecord>;
  /** Apply everything regardless of the records: the periodic resync that catches any drift. */
  force: boolean;
}

/** Applied first, one at a time, and pruned last, in this order. */
const BOOTSTRAP_KINDS: readonly string[] = ['Namespace', 'RoleBinding'];

/**
 * Server-side applies every planned object that is not already as planned, then prunes.
 * Without a context every object is applied; with one, an object is skipped when Grove applied
 * this very content before and the live object has not changed since ({@link needsApply}).
 */
export async function applyPlan(kube: Kube, objects: readonly KubeObject[], previous: readonly InventoryEntry[] | undefined, current: readonly InventoryEntry[], ctx?: ApplyContext): Promise<ApplyOutcome> {
  const live = new Map<KubeObject, KubeObject>();
  const pending: Array<{ obj: KubeObject; id: string; hash: string }> = [];
  for (const obj of objects) {
    const id = inventoryEntry(obj).id;
    const hash = hashOf(obj);
    const seen = ctx?.observed(refOfObject(obj));
    const record = ctx?.records.get(id);
    if (ctx && !ctx.force && seen?.object && !needsApply(obj, hash, record, seen.object)) live.set(obj, seen.object);
    else if (ctx && !ctx.force && !seen && record?.hash === hash) live.set(obj, obj);
    else pending.push({ obj, id, hash });
  }
  const apply = async ({ obj, id, hash }: (typeof pending)[number]): Promise<void> => {
    const result = await kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
    live.set(obj, result);
    ctx?.records.set(id, { hash, uid: result.metadata.uid, resourceVersion: result.metadata.resourceVersion, generation: result.metadata.generation });
  };
  // Namespaces first (everything else lives in them), then RoleBindings (the operator's own
  // rights in a namespace may come from one), then the rest a few at a time.
  for (const kind of BOOTSTRAP_KINDS) for (const p of pending.filter((p) => p.obj.kind === kind)) await apply(p);
  const rest = pending.filter((p) => !BOOTSTRAP_KINDS.includes(p.obj.kind));
  for (let i = 0; i < rest.length; i += APPLY_CONCURRENCY) await Promise.all(rest.slice(i, i + APPLY_CONCURRENCY).map(apply));

  const stale = staleEntries(previous ?? [], current);
  // Pruned in the opposite order: the rest, then RoleBindings, then a Namespace (were it ever stale).
  const rank = (entry: InventoryEntry): number => {
    const i = BOOTSTRAP_KINDS.findIndex((kind) => entry.id.endsWith(`_${kind}`));
    return i < 0 ? 0 : BOOTSTRAP_KINDS.length - i;
  };
  for (const entry of [...stale].sort((a, b) => rank(a) - rank(b))) {
    await kube.delete(refOf(entry));
    ctx?.records.delete(entry.id);
  }
  return { live: objects.map((o) => live.get(o) as KubeObject), applied: pending.length, pruned: stale.map(refOf) };
}

/**
 * Kinds that controllers write to after Grove applies them (status, bookkeeping annotations): a
 * new resourceVersion there is not drift. Their spec changes show in `metadata.generation`.
 */
const WRITTEN_BY_OTHERS = new Set(['ResourceQuota', 'PersistentVolumeClaim', 'Deployment', 'StatefulSet', 'Job', 'CronJob', 'Ingress']);
/** Kinds whose rollout an Environment waits for. */
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job']);

export function writtenByOthers(kind: string): boolean {
  return WRITTEN_BY_OTHERS.has(kind);
}

export function isWorkload(kind: string): boolean {
  return WORKLOADS.has(kind);
}

/**
 * Whether `desired` must be applied (again). Pure. Not when Grove applied exactly this content
 * before and the live object is the one that apply produced: same uid, and either the same
 * resourceVersion or — for kinds others write to — the same generation with Grove's labels and
 * annotations intact. Anything else (new content, a deleted, replaced or edited object) is applied.
 * Edits these checks cannot see (the spec of a kind without a generation that others also write)
 * are caught by the periodic forced apply.
 */
export function needsApply(desired: KubeObject, hash: string, record: AppliedRecord | undefined, live: KubeObject | undefined): boolean {
  if (!live || !record || record.hash !== hash || live.metadata.deletionTimestamp) return true;
  if (record.uid !== live.metadata.uid) return true;
  if (record.resourceVersion === live.metadata.resourceVersion) return false;
  if (!WRITTEN_BY_OTHERS.has(desired.kind) || record.generation !== live.metadata.generation) return true;
  return !includes(live.metadata.labels, desired.metadata.labels) || !includes(live.metadata.annotations, desired.metadata.annotations);
}

function includes(actual: Record<string, string> | undefined, wanted: Record<string, string> | undefined): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => actual?.[k] === v);
}

/** A digest of the content Grove wants; plans are deterministic, so equal content hashes equal. */
export function hashOf(obj: KubeObject): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('base64url');
}

/**
 * What the applier and readiness read of a live child: identity, Grove's labels and annotations,
 * replicas and status of workloads, and the data of Secrets (service credentials). The rest of
 * each object is dropped before it is cached.
 */
export function observedForm(obj: KubeObject): KubeObject {
  const o = obj as KubeObject & { spec?: { replicas?: number }; status?: unknown; data?: unknown };
  const { name, namespace, uid, resourceVersion, generation, labels, annotations, deletionTimestamp } = o.metadata;
  const slim: KubeObject & Record<string, unknown> = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, uid, resourceVersion, generation, labels, annotations, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
  };
  if (WORKLOADS.has(o.kind)) {
    if (o.spec?.replicas !== undefined) slim.spec = { replicas: o.spec.replicas };
    slim.status = o.status;
  }
  if (o.kind === 'Secret') slim.data = o.data;
  return slim;
}

/** Entries of `previous` that `current` no longer has. Pure. */
export function staleEntries(previous: readonly InventoryEntry[], current: readonly InventoryEntry[]): InventoryEntry[] {
  const keep = new Set(current.map((e) => e.id));
  return previous.filter((e) => !keep.has(e.id));
}

function refOfObject(o: KubeObject): ObjectRef {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name ?? '', ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) };
}

/** `<namespace>_<name>_<group>_<kind>` back to a reference. */
export function refOf(entry: InventoryEntry): ObjectRef {
  const [namespace, name, , kind] = entry.id.split('_') as [string, string, string, string];
  return { apiVersion: entry.v, kind, name, ...(namespace ? { namespace } : {}) };
}

export interface Readiness {
  ready: boolean;
  /** What is not ready yet, in words. */
  waiting: string[];
  /** What failed and will not recover by waiting (a failed hook Job). */
  failed: string[];
}

/** Whether the workloads among `live` have rolled out. Pure. */
export function assessReadiness(live: readonly KubeObject[]): Readiness {
  const waiting: string[] = [];
  const failed: string[] = [];
  for (const obj of live) {
    const o = obj as KubeObject & { spec?: { replicas?: number }; status?: Record<string, number | undefined> & { conditions?: unknown } };
    const status = o.status ?? {};
    const generation = o.metadata.generation ?? 0;
    const observed = status.observedGeneration ?? 0;
    const name = `${o.kind} ${o.metadata.name}`;
    if (o.kind === 'Deployment') {
      const wanted = o.spec?.replicas ?? 1;
      const conditions = (status.conditions as Array<{ type: string; status: string }> | undefined) ?? [];
      const available = conditions.some((c) => c.type === 'Available' && c.status === 'True');
      if (observed < generation || (status.updatedReplicas ?? 0) !== wanted || (status.availableReplicas ?? 0) < wanted || (wanted > 0 && !available)) {
        waiting.push(`${name}: ${String(status.availableReplicas ?? 0)}/${wanted} available`);
      }
    } else if (o.kind === 'StatefulSet') {
      const wanted = o.spec?.replicas ?? 1;
      if (observed < generation || (status.readyReplicas ?? 0) !== wanted || (status.updatedReplicas ?? 0) !== wanted) {
        waiting.push(`${name}: ${String(status.readyReplicas ?? 0)}/${wanted} ready`);
      }
    } else if (o.kind === 'Job') {
      const conditions = (status.conditions as Array<{ type: string; status: string }> | undefined) ?? [];
      if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) failed.push(`${name} failed`);
      else if (!conditions.some((c) => c.type === 'Complete' && c.status === 'True')) waiting.push(`${name}: running`);
    }
  }
  return { ready: waiting.length === 0 && failed.length === 0, waiting, failed };
}
