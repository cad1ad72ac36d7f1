/**
 * Status conditions as the Kubernetes API conventions define them: one per type, and
 * `lastTransitionTime` moves only when the status changes. Pure; time comes from the caller.
 *
 * @module
 */
import type { Condition } from './types.gen.ts';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

const MAX_MESSAGE = 32_000;

/** Returns `conditions` with `next` set, keeping the transition time when the status is unchanged. */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, now: string, generation?: number): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const previous = i >= 0 ? list[i] : undefined;
  const message = next.message.length > MAX_MESSAGE ? `${next.message.slice(0, MAX_MESSAGE - 1)}…` : next.message;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message,
    lastTransitionTime: previous && previous.status === next.status ? previous.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}

/** Removes a condition type (kstatus `Reconciling` and `Stalled` exist only while True). */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
