/**
 * The BackupStore controller: proves that Grove can write to and read from the bucket with the
 * credentials the BackupStore names, and says so in `Ready`. Checked again every few minutes,
 * because keys get rotated and buckets get policies; a store that stops working shows it before
 * a backup fails.
 *
 * @module
 */
import { REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { BackupStore, BackupStoreStatus, Project } from '../../api/types.gen.ts';
import type { ResticRepository } from '../../data/restic.ts';
import { checkAccess, loadStoreAccess, repositoryOf, type StoreAccess } from '../../data/store.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import { framedReconciler } from '../../runtime/frame.ts';
import { writeStatus } from '../shared.ts';

export interface BackupStoreControllerDeps {
  kube: Kube;
  clock: Clock;
  /** How often a working store is checked again. */
  recheckMs?: number;
}

export function backupStoreReconciler(deps: BackupStoreControllerDeps): Reconciler {
  return framedReconciler<BackupStore, BackupStoreStatus>({
    get: (namespace, name) => deps.kube.get<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace, name }),
    writeStatus: (store, status) => writeStatus(deps.kube, store, status),
    clock: deps.clock,
    steps: [
      {
        name: 'access',
        async run({ object: store, status, now, log }) {
          const access = await resolveStore(deps.kube, store);
          try {
            await checkAccess(access, new Date(now));
          } catch (err) {
            log.info({ err: messageOf(err) }, 'Found the BackupStore unusable');
            throw new ReconcileError(REASONS.storeUnreachable, messageOf(err), 'wait', { cause: err, requeueAfterMs: 60_000 });
          }
          status.lastCheckedTime = new Date(now).toISOString();
          return {
            ready: { reason: REASONS.accessVerified, message: `Wrote and read back s3://${access.bucket}/${access.prefix ? `${access.prefix}/` : ''}.grove/access-check` },
            requeueAfterMs: deps.recheckMs ?? 5 * 60_000,
          };
        },
      },
    ],
  });
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
