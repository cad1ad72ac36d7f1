/**
 * The Restore controller: a Restore puts a completed Backup into an Environment — by default a
 * new one, made for the backup's branch at the backup's revision with `clone: empty`. The
 * Environment controller fills its volumes from the Backup before any application starts (the
 * same data step that clones from a parent), and this controller reports what it does.
 *
 * The new Environment carries the Restore's name in `grove.dev/restore`; nothing else ever points
 * a Restore at an existing Environment's data, so a typo in `targetEnvironment` cannot overwrite
 * anything.
 *
 * @module
 */
import { findCondition, setCondition } from '../../api/conditions.ts';
import { ANNOTATIONS, CONDITIONS, LABELS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { Backup, Environment, Restore, RestoreStatus } from '../../api/types.gen.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import { isConflict, type Kube } from '../../kube/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import { writeStatus } from '../shared.ts';

export interface RestoreControllerDeps {
  kube: Kube;
  clock: Clock;
}

export const RESTORE_REASONS = {
  waitingForBackup: 'WaitingForBackup',
  backupNotFound: 'BackupNotFound',
  targetExists: 'TargetExists',
  restoring: 'Restoring',
  completed: 'Completed',
  failed: 'RestoreFailed',
} as const;

/** The Environment a Restore makes. Pure. */
export function restoredEnvironment(restore: Restore, backup: Backup, name: string): Environment {
  const branch = backup.status?.branch;
  const revision = backup.status?.revision;
  if (!branch || !revision) throw new ReconcileError(RESTORE_REASONS.failed, `Backup ${backup.metadata.name} records no branch and revision to restore`, 'stall');
  return {
    apiVersion: API_VERSION,
    kind: 'Environment',
    metadata: {
      name,
      namespace: restore.metadata.namespace,
      labels: { [LABELS.project]: backup.spec.project },
      annotations: { [ANNOTATIONS.restore]: restore.metadata.name as string, [ANNOTATIONS.branch]: branch },
    },
    spec: { project: backup.spec.project, branch, revision, type: 'development', clone: 'empty' },
  };
}

export function restoreReconciler(deps: RestoreControllerDeps): Reconciler {
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const restore = await deps.kube.get<Restore>({ apiVersion: API_VERSION, kind: 'Restore', namespace, name });
    if (!restore || restore.metadata.deletionTimestamp) return {};
    const ready = findCondition(restore.status?.conditions, CONDITIONS.ready);
    if (ready?.status === 'True' || ready?.reason === RESTORE_REASONS.failed) return {};
    const now = new Date(deps.clock.now()).toISOString();
    const generation = restore.metadata.generation;
    const status: RestoreStatus = { ...restore.status, observedGeneration: generation };
    const mark = (s: 'True' | 'False', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type: CONDITIONS.ready, status: s, reason, message }, now, generation);
    };
    try {
      const target = restore.spec.targetEnvironment ?? name;
      status.targetEnvironment = target;
      const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: target });
      if (!env) {
        const backup = await deps.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace, name: restore.spec.backup });
        if (!backup) throw new ReconcileError(RESTORE_REASONS.backupNotFound, `Backup ${restore.spec.backup} does not exist`, 'wait', { requeueAfterMs: 30_000 });
        const backupReady = findCondition(backup.status?.conditions, CONDITIONS.ready);
        if (backupReady?.status !== 'True') {
          if (backupReady?.reason === 'BackupFailed') throw new ReconcileError(RESTORE_REASONS.failed, `Backup ${restore.spec.backup} failed and cannot be restored: ${backupReady.message}`, 'stall');
          throw new ReconcileError(RESTORE_REASONS.waitingForBackup, `Waiting for Backup ${restore.spec.backup} to complete`, 'wait', { requeueAfterMs: 15_000 });
        }
        try {
          await deps.kube.create(restoredEnvironment(restore, backup, target));
          log.info({ environment: target, backup: restore.spec.backup }, 'Created the Environment to restore into');
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
        status.startTime ??= now;
        mark('False', RESTORE_REASONS.restoring, `Created Environment ${target}; filling its volumes from Backup ${restore.spec.backup}`);
        return { requeueAfterMs: 10_000 };
      }
      if (env.metadata.annotations?.[ANNOTATIONS.restore] !== name) {
        const why = restore.spec.overwriteExisting
          ? 'restoring over the data of an existing Environment is not supported: restore into a new Environment (leave targetEnvironment unset or name one that does not exist)'
          : 'set a targetEnvironment that does not exist yet, or leave it unset for a new one';
        throw new ReconcileError(RESTORE_REASONS.targetExists, `Environment ${target} already exists and was not made by this Restore; its data is left alone: ${why}`, 'stall');
      }
      status.startTime ??= now;
      const cloned = findCondition(env.status?.conditions, CONDITIONS.dataCloned);
      if (cloned?.status === 'True') {
        status.completionTime ??= now;
        mark('True', RESTORE_REASONS.completed, `Restored Backup ${restore.spec.backup} into Environment ${target}: ${cloned.message}`);
        log.info({ environment: target }, 'Completed the restore');
        return {};
      }
      if (cloned?.reason === REASONS.cloneFailed) throw new ReconcileError(RESTORE_REASONS.failed, `Restoring into ${target} failed: ${cloned.message}`, 'stall');
      mark('False', RESTORE_REASONS.restoring, cloned ? `${target}: ${cloned.message}` : `Waiting for Environment ${target} to start filling its volumes`);
      // The Environment's changes wake this Restore; the requeue is a safety net.
      return { requeueAfterMs: 30_000 };
    } catch (err) {
      mark('False', err instanceof ReconcileError ? err.reason : 'ReconcileFailed', messageOf(err));
      throw err;
    } finally {
      await writeStatus(deps.kube, restore, status);
    }
  };
}
