/**
 * Applies a plan: server-side apply of every object with Grove's one field manager, then pruning
 * of what the previous inventory had and the plan no longer has. Readiness is judged from the
 * live objects the applies return; nothing here waits — the controller requeues instead.
 *
 * @module
 */
import { FIELD_MANAGER } from '../api/constants.ts';
import type { KubeObject } from '../api/meta.ts';
import type { InventoryEntry } from '../api/types.gen.ts';
import type { Kube, ObjectRef } from '../kube/index.ts';

const APPLY_CONCURRENCY = 8;

export interface ApplyOutcome {
  /** The live objects, as the API server returned them after the apply. */
  live: KubeObject[];
  pruned: ObjectRef[];
}

export async function applyPlan(kube: Kube, objects: readonly KubeObject[], previous: readonly InventoryEntry[] | undefined, current: readonly InventoryEntry[]): Promise<ApplyOutcome> {
  // Namespaces first (everything else lives in them), then the rest a few at a time.
  const live: KubeObject[] = [];
  for (const obj of objects.filter((o) => o.kind === 'Namespace')) live.push(await kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true }));
  const rest = objects.filter((o) => o.kind !== 'Namespace');
  for (let i = 0; i < rest.length; i += APPLY_CONCURRENCY) {
    live.push(...(await Promise.all(rest.slice(i, i + APPLY_CONCURRENCY).map((obj) => kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true })))));
  }
  const pruned = staleEntries(previous ?? [], current).map(refOf);
  // Namespaced objects first, so a Namespace (were it ever stale) goes last.
  for (const ref of [...pruned].sort((a, b) => Number(a.kind === 'Namespace') - Number(b.kind === 'Namespace'))) await kube.delete(ref);
  return { live, pruned };
}

/** Entries of `previous` that `current` no longer has. Pure. */
export function staleEntries(previous: readonly InventoryEntry[], current: readonly InventoryEntry[]): InventoryEntry[] {
  const keep = new Set(current.map((e) => e.id));
  return previous.filter((e) => !keep.has(e.id));
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
