/**
 * The BackupStore controller: proves that Grove can write to and read from the bucket with the
 * credentials the BackupStore names, and says so in `Ready`. Checked again every few minutes,
 * because keys get rotated and buckets get policies; a store that stops working shows it before
 * a backup fails.
 *
 * @module
 */
import { setCondition } from '../../api/conditions.ts';
import { CONDITIONS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { BackupStore, BackupStoreStatus, Project } from '../../api/types.gen.ts';
import type { ResticRepository } from '../../data/restic.ts';
import { checkAccess, loadStoreAccess, repositoryOf, type StoreAccess } from '../../data/store.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import { writeStatus } from '../shared.ts';

export interface BackupStoreControllerDeps {
  kube: Kube;
  clock: Clock;
  /** How often a working store is checked again. */
  recheckMs?: number;
}

export function backupStoreReconciler(deps: BackupStoreControllerDeps): Reconciler {
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const store = await deps.kube.get<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace, name });
    if (!store) return {};
    const now = deps.clock.now();
    const generation = store.metadata.generation;
    const status: BackupStoreStatus = { ...store.status, observedGeneration: generation };
    const mark = (s: 'True' | 'False', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type: CONDITIONS.ready, status: s, reason, message }, new Date(now).toISOString(), generation);
    };
    try {
      const access = await resolveStore(deps.kube, store);
      try {
        await checkAccess(access, new Date(now));
      } catch (err) {
        throw new ReconcileError(REASONS.storeUnreachable, messageOf(err), 'wait', { cause: err, requeueAfterMs: 60_000 });
      }
      status.lastCheckedTime = new Date(now).toISOString();
      mark('True', REASONS.accessVerified, `Wrote and read back s3://${access.bucket}/${access.prefix ? `${access.prefix}/` : ''}.grove/access-check`);
      return { requeueAfterMs: deps.recheckMs ?? 5 * 60_000 };
    } catch (err) {
      const reason = err instanceof ReconcileError ? err.reason : 'CheckFailed';
      mark('False', reason, messageOf(err));
      log.info({ reason }, 'Found the BackupStore unusable');
      throw err;
    } finally {
      await writeStatus(deps.kube, store, status);
    }
  };
}

/** The store's settings and Secrets; a missing Secret or key is a `wait` with its name. */
export async function resolveStore(kube: Kube, store: BackupStore): Promise<StoreAccess> {
  try {
    return await loadStoreAccess(kube, store);
  } catch (err) {
    if (!(err instanceof GroveError)) throw err;
    const reason = err.code === 'NotFound' ? REASONS.secretNotFound : REASONS.credentialsInvalid;
    throw new ReconcileError(reason, err.message, 'wait', { cause: err, requeueAfterMs: 30_000 });
  }
}

/** The restic repository of a Project, in the BackupStore it names; a missing store is a `wait` or a `stall` that says which. */
export async function projectRepository(kube: Kube, project: Project): Promise<ResticRepository> {
  const ref = project.spec.backupStoreRef;
  if (!ref) throw new ReconcileError(REASONS.noBackupStore, `Project ${project.metadata.name} names no backupStoreRef`, 'stall');
  const store = await kube.get<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace: project.metadata.namespace, name: ref.name });
  if (!store) throw new ReconcileError(REASONS.noBackupStore, `BackupStore ${ref.name} does not exist`, 'wait', { requeueAfterMs: 30_000 });
  return repositoryOf(await resolveStore(kube, store), project.metadata.namespace as string, project.metadata.name as string);
}
