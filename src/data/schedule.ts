/**
 * Backup objects, without I/O: where one stands, how one is made, and — when an Environment's
 * manifest asks for scheduled backups — which is due now. The schedule decision is pure: the
 * decision comes from the schedule, the clock and the Environment's creation time, and the Backup
 * of each slot has a deterministic name, so a restart (or two reconciles racing) never makes a
 * slot's Backup twice — the second create is a conflict, not a duplicate.
 *
 * The status records the last slot served, so a slot is never served twice even after its
 * Backup expired and was collected. Only the latest slot is caught up: an operator that was down for a week takes one backup, not
 * seven.
 *
 * @module
 */
import { type Backup, type BackupSpec, type Environment, LABELS } from '../api/index.ts';
import type { Backups } from '../manifest/index.ts';
import { parseDuration } from '../manifest/index.ts';
import { compactTime, nextRun, parseCron, previousRun } from '../util/index.ts';

export interface ScheduleDecision {
  /** The Backup due now, if its slot has none yet. */
  due?: { name: string; slot: number; retentionSeconds?: number };
  /** When the next slot comes (ms), to look again then. */
  nextAt?: number;
}

/** Whether backups (scheduled and final) apply to an Environment of this type. */
export function backupsApply(backups: Backups | undefined, type: string): backups is Backups {
  return !!backups && (backups.types ?? ['production']).includes(type as 'production');
}

/** The types an Environment has had, its current one included, as its status keeps them. */
export function typesHeld(env: Environment): NonNullable<NonNullable<Environment['status']>['typesHeld']> {
  const current = env.spec.type ?? 'development';
  const held = env.status?.typesHeld ?? [];
  return held.includes(current) ? held : [...held, current];
}

/**
 * Whether deleting `env` waits for a final Backup: when backups apply to any type it has had, so
 * demoting production before deleting it does not skip its last backup.
 */
export function finalBackupApplies(backups: Backups | undefined, env: Environment): backups is Backups {
  return typesHeld(env).some((type) => backupsApply(backups, type));
}

export function scheduledBackup(env: Environment, backups: Backups | undefined, now: number): ScheduleDecision {
  const type = env.spec.type ?? 'development';
  if (!backupsApply(backups, type)) return {};
  const parsed = parseCron(backups.schedule);
  if (!parsed.ok) return {};
  const nextAt = nextRun(parsed.cron, now);
  const slot = previousRun(parsed.cron, now);
  const created = Date.parse(env.metadata.creationTimestamp ?? '') || now;
  // A slot is served once: the time of the last one served is stored in the status, so a Backup
  // deleted later (expired, or by hand) is not made again.
  const served = Date.parse(env.status?.lastScheduledBackupTime ?? '') || Number.NEGATIVE_INFINITY;
  if (slot === undefined || slot < created || slot <= served) return nextAt === undefined ? {} : { nextAt };
  const retentionSeconds = backups.retain ? parseDuration(backups.retain) : undefined;
  return { due: { name: scheduledBackupName(env.metadata.name ?? '', slot), slot, ...(retentionSeconds !== undefined ? { retentionSeconds } : {}) }, ...(nextAt !== undefined ? { nextAt } : {}) };
}

/** `<environment>-<yyyymmddhhmm>` of the slot, in UTC. */
export function scheduledBackupName(environment: string, slot: number): string {
  return `${environment}-${compactTime(slot, 'minute')}`;
}

/** `<environment>-manual-<yyyymmddhhmmss>`, within the 63 characters of a name: a Backup asked for now. */
export function manualBackupName(environment: string, now: number): string {
  return `${environment.slice(0, 63 - 22)}-manual-${compactTime(now, 'second')}`;
}

/** A Backup of `env`, labelled with its Project, Environment and trigger (a due slot, the final one, a clone's or a restore's). */
export function backupFor(env: Environment, name: string, trigger: NonNullable<BackupSpec['trigger']>, retentionSeconds?: number): Backup {
  return {
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Backup',
    metadata: {
      name,
      namespace: env.metadata.namespace,
      labels: { [LABELS.project]: env.spec.project, [LABELS.environment]: env.metadata.name ?? '', 'grove.dev/trigger': trigger },
    },
    spec: { project: env.spec.project, environment: env.metadata.name ?? '', trigger, ...(retentionSeconds !== undefined ? { retentionSeconds } : {}) },
  };
}

/**
 * Where a Backup stands, from its `Ready` condition: `failed` is final (the Backup controller
 * stops at `BackupFailed`, or at `EnvironmentNotFound` before it started).
 */
export function backupState(backup: Backup): { state: 'completed' | 'failed' | 'running'; message?: string } {
  const ready = backup.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { state: 'completed', message: ready.message };
  if (ready?.reason === 'BackupFailed' || ready?.reason === 'EnvironmentNotFound') return { state: 'failed', message: ready.message };
  return ready ? { state: 'running', message: ready.message } : { state: 'running' };
}
