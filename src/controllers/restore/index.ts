/**
 * The Restore controller: a Restore puts a completed Backup into an Environment — by default a
 * new one, made for the backup's branch at the backup's revision with `clone: empty`. The
 * Environment controller fills its volumes from the Backup before any application starts (the
 * same data step that clones from a parent), and this controller reports what it does.
 *
 * The Environment carries the Restore's name in `grove.dev/restore`. An existing Environment gets
 * it only when the Restore says `overwriteExisting: true` and a Backup of that Environment's own
 * data has completed, so a typo in `targetEnvironment` cannot overwrite anything, and no
 * restore leaves data unrecoverable.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, type Backup, CONDITIONS, type Environment, FIELD_MANAGER, findCondition, LABELS, REASONS, type Restore, type RestoreStatus } from '../../api/index.ts';
import { actorOf, auditEvent, auditObject, type AuditSink, noAudit } from '../../audit/index.ts';
import { backupFor, backupState } from '../../data/index.ts';
import { ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import { type Clock, framedReconciler, type Reconciler } from '../../runtime/index.ts';
import { createOnce, writeStatus } from '../shared.ts';

export interface RestoreControllerDeps {
  kube: Kube;
  clock: Clock;
  audit?: AuditSink;
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
  return framedReconciler<Restore, RestoreStatus>({
    get: (namespace, name) => deps.kube.get<Restore>({ apiVersion: API_VERSION, kind: 'Restore', namespace, name }),
    // Completed, or failed for good: a Restore is done once.
    finished: (restore) => {
      const ready = findCondition(restore.status?.conditions, CONDITIONS.ready);
      return !!restore.metadata.deletionTimestamp || ready?.status === 'True' || ready?.reason === RESTORE_REASONS.failed;
    },
    writeStatus: (restore, status) => writeStatus(deps.kube, restore, status),
    clock: deps.clock,
    steps: [
      {
        name: 'restore',
        async run({ object: restore, status, now: at, log }) {
          const name = restore.metadata.name as string;
          const namespace = restore.metadata.namespace as string;
          const now = new Date(at).toISOString();
          const target = restore.spec.targetEnvironment ?? name;
          status.targetEnvironment = target;
          const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: target });
          if (!env) {
            const backup = await deps.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace, name: restore.spec.backup });
            if (!backup) throw new ReconcileError(RESTORE_REASONS.backupNotFound, `Backup ${restore.spec.backup} does not exist`, 'wait', { requeueAfterMs: 30_000 });
            const { state, message } = backupState(backup);
            if (state === 'failed') throw new ReconcileError(RESTORE_REASONS.failed, `Backup ${restore.spec.backup} failed and cannot be restored: ${message}`, 'stall');
            if (state === 'running') throw new ReconcileError(RESTORE_REASONS.waitingForBackup, `Waiting for Backup ${restore.spec.backup} to complete`, 'wait', { requeueAfterMs: 15_000 });
            if (await createOnce(deps.kube, restoredEnvironment(restore, backup, target))) log.info({ environment: target, backup: restore.spec.backup }, 'Created the Environment to restore into');
            status.startTime ??= now;
            return { progressing: { reason: RESTORE_REASONS.restoring, message: `Created Environment ${target}; filling its volumes from Backup ${restore.spec.backup}` }, requeueAfterMs: 10_000 };
          }
          if (env.metadata.annotations?.[ANNOTATIONS.restore] !== name) {
            if (!restore.spec.overwriteExisting) {
              throw new ReconcileError(
                RESTORE_REASONS.targetExists,
                `Environment ${target} already exists and was not made by this Restore; its data is left alone: set overwriteExisting: true to replace it (after a backup of it), or restore into a new Environment`,
                'stall',
              );
            }
            status.startTime ??= now;
            const handedOver = await replaceAfterBackup(deps, restore, env, status, log);
            return { progressing: { reason: RESTORE_REASONS.restoring, message: handedOver }, requeueAfterMs: 10_000 };
          }
          status.startTime ??= now;
          const cloned = findCondition(env.status?.conditions, CONDITIONS.dataCloned);
          if (cloned?.status === 'True' && env.status?.lastRestore === name) {
            if (!status.completionTime) {
              status.completionTime = now;
              await (deps.audit ?? noAudit).record(
                auditEvent({
                  object: auditObject(restore),
                  project: env.spec.project,
                  environment: target,
                  action: 'restore',
                  now: deps.clock.now(),
                  actor: actorOf(restore),
                  source: 'kubectl',
                  ...(env.spec.revision ? { revision: env.spec.revision } : {}),
                  message: `Restored Backup ${restore.spec.backup} into Environment ${target}`,
                }),
              );
            }
            log.info({ environment: target }, 'Completed the restore');
            return { ready: { reason: RESTORE_REASONS.completed, message: `Restored Backup ${restore.spec.backup} into Environment ${target}: ${cloned.message}` } };
          }
          if (cloned?.status === 'False' && cloned.reason === REASONS.cloneFailed) throw new ReconcileError(RESTORE_REASONS.failed, `Restoring into ${target} failed: ${cloned.message}`, 'stall');
          // The Environment's changes wake this Restore; the requeue is a safety net.
          return { progressing: { reason: RESTORE_REASONS.restoring, message: cloned ? `${target}: ${cloned.message}` : `Waiting for Environment ${target} to start filling its volumes` }, requeueAfterMs: 30_000 };
        },
      },
    ],
  });
}

/**
 * Before an existing Environment's data is replaced, a Backup of it must complete; only then is
 * the Environment handed this Restore (its data step stops the applications, fills the volumes
 * and starts them again). Returns what is happening, in words.
 */
async function replaceAfterBackup(deps: RestoreControllerDeps, restore: Restore, env: Environment, status: RestoreStatus, log: Logger): Promise<string> {
  const name = restore.metadata.name as string;
  const target = env.metadata.name as string;
  const other = env.metadata.annotations?.[ANNOTATIONS.restore];
  if (other && other !== env.status?.lastRestore) {
    throw new ReconcileError(RESTORE_REASONS.waitingForBackup, `Environment ${target} is being restored by Restore ${other}; waiting for it to finish`, 'wait', { requeueAfterMs: 15_000 });
  }
  const safety = safetyBackupName(name);
  status.safetyBackup = safety;
  const backup = await deps.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace: restore.metadata.namespace, name: safety });
  if (!backup) {
    // Without retention, kept until deleted: it is the way back from this Restore.
    if (await createOnce(deps.kube, backupFor(env, safety, 'restore'))) log.info({ backup: safety, environment: target }, 'Created the backup of the data a restore replaces');
    return `Backing up the current data of ${target} (Backup ${safety}) before replacing it`;
  }
  const { state, message } = backupState(backup);
  if (state === 'failed') throw new ReconcileError(RESTORE_REASONS.failed, `the current data of ${target} could not be backed up (${message}), so it was not replaced`, 'stall');
  if (state === 'running') return `Backing up the current data of ${target} (Backup ${safety}) before replacing it${message ? `: ${message}` : ''}`;
  await deps.kube.mergePatch(
    { apiVersion: API_VERSION, kind: 'Environment', namespace: env.metadata.namespace, name: target },
    { metadata: { resourceVersion: env.metadata.resourceVersion, annotations: { [ANNOTATIONS.restore]: name } } },
    { fieldManager: FIELD_MANAGER },
  );
  log.info({ environment: target, backup: restore.spec.backup }, 'Handed the Environment its restore, its own data backed up');
  return `Replacing the data of ${target} from Backup ${restore.spec.backup}; its previous data is in Backup ${safety}`;
}

/** `<restore>-before`, within 63 characters. */
export function safetyBackupName(restore: string): string {
  return `${restore.slice(0, 63 - 7)}-before`;
}
