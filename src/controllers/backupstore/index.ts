/**
 * The BackupStore controller: proves that Grove can write to and read from the bucket with the
 * credentials the BackupStore names, and says so in `Ready`. Checked again every few minutes,
 * because keys get rotated and buckets get policies; a store that stops working shows it before
 * a backup fails.
 *
 * @module
 */
import { API_VERSION, type BackupStore, type BackupStoreStatus, REASONS } from '../../api/index.ts';
import { checkAccess, resolveStore } from '../../data/store/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import { type Outbound, refusedIn } from '../../outbound/index.ts';
import { type Clock, framedReconciler, type Reconciler } from '../../runtime/index.ts';
import { writeStatus } from '../shared.ts';

export interface BackupStoreControllerDeps {
  kube: Kube;
  clock: Clock;
  /** How often a working store is checked again. */
  recheckMs?: number;
  /** Where the operator may connect for a Project; anywhere when absent. */
  outbound?: Outbound;
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
            await checkAccess(access, new Date(now), deps.outbound);
          } catch (err) {
            log.info({ err: messageOf(err) }, 'Found the BackupStore unusable');
            throw new ReconcileError(refusedIn(err) ? REASONS.destinationRefused : REASONS.storeUnreachable, messageOf(err), 'wait', { cause: err, requeueAfterMs: 60_000 });
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
