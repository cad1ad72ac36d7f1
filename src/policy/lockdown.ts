/**
 * The kill switch. Engaged on a Project (`spec.lockdown`) or for the whole operator (the
 * ConfigMap `grove-lockdown` in its namespace), it holds every Environment an agent may drive —
 * all but production — where it is: no egress beyond its namespace, nothing created, moved or
 * deleted for it, until it is lifted. Production keeps running and keeps following Git.
 *
 * @module
 */
import { ANNOTATIONS, type KubeObject, type Project } from '../api/index.ts';

export interface Lockdown {
  /** What engaged it, as a person would look for it. */
  by: string;
  reason?: string;
}

/** The operator-wide switch from its ConfigMap, or undefined when it is not engaged. */
export function operatorLockdown(configMap: (KubeObject & { data?: Record<string, string> }) | undefined): Lockdown | undefined {
  if (configMap?.data?.engaged !== 'true') return undefined;
  const reason = configMap.data.reason?.trim();
  return { by: `ConfigMap ${configMap.metadata.namespace}/${configMap.metadata.name}`, ...(reason ? { reason } : {}) };
}

/** The lockdown a Project is under: its own, else the operator's. */
export function lockdownOf(project: Project, operatorWide: Lockdown | undefined): Lockdown | undefined {
  const reason = project.metadata.annotations?.[ANNOTATIONS.lockdownReason]?.trim();
  if (project.spec.lockdown) return { by: `Project ${project.metadata.name} (spec.lockdown)`, ...(reason ? { reason } : {}) };
  return operatorWide;
}

/** Whether an Environment of this type is held by an engaged lockdown: every type but production. */
export function heldByLockdown(lockdown: Lockdown | undefined, type: string | undefined): boolean {
  return lockdown !== undefined && (type ?? 'development') !== 'production';
}

export function describeLockdown(lockdown: Lockdown): string {
  return `Locked down by ${lockdown.by}${lockdown.reason ? ` (${lockdown.reason})` : ''}: Environments other than production have no egress beyond their namespace, and none is created, changed or deleted until it is lifted`;
}
