/**
 * The Environment controller: one Environment → its own namespace running what its manifest
 * declares, at its revision (DESIGN §3, §7).
 *
 * Each reconcile runs in the frame of `runtime/frame.ts`, as these steps in order, one file each:
 * 1. `register` — the finalizer (so deletion cannot race creation), the namespace and the actor;
 * 2. `source` — the Project, the revision and the manifest there (`ManifestValid`);
 * 3. `lifecycle` — activity, expiry (the Environment is deleted), the `Expiring` warning, sleep;
 * 4. `admission` — a broken manifest, a namespace that is not ours or a policy denial stalls
 *    this Environment only, and what runs keeps running; a Project limit waits;
 * 5. `credentials` — each service's credentials, and with them the plan's input;
 * 6. `data` — a new Environment's data, cloned or restored, then sanitised (`DataCloned`);
 * 7. `apply` — plan (pure), server-side apply, prune what left the inventory (`Routed`);
 * 8. `readiness` — from the live objects (`WorkloadsAvailable`); not ready → requeue, never block;
 * 9. `scheduled-backup` — the Backup of the schedule's current slot.
 * Deletion runs `finalizer.ts` instead: a final Backup, then the namespace goes. Status is
 * written once, when it changed; `announce.ts` then turns transitions into Events and audit events.
 *
 * @module
 */
import { API_VERSION, type Environment, environmentNamespace, type EnvironmentStatus } from '../../api/index.ts';
import type { AppliedRecord } from '../../applier/index.ts';
import { noAudit } from '../../audit/index.ts';
import { framedReconciler, type Reconciler } from '../../runtime/index.ts';
import { readerOf, writeStatus } from '../shared.ts';
import { admissionStep } from './admission.ts';
import { announce } from './announce.ts';
import { applyStep } from './apply.ts';
import { scheduledBackupStep } from './backups.ts';
import type { EnvironmentControllerDeps, EnvironmentWork, StepDeps } from './context.ts';
import { credentialsStep } from './credentials.ts';
import { dataStep } from './data.ts';
import { finalizeEnvironment } from './finalizer.ts';
import { lifecycleStep } from './lifecycle.ts';
import { readinessStep } from './readiness.ts';
import { registerStep } from './register.ts';
import { sourceStep } from './source.ts';

export type { EnvironmentControllerDeps } from './context.ts';

export function environmentReconciler(options: EnvironmentControllerDeps): Reconciler {
  const deps: StepDeps = {
    ...options,
    read: readerOf(options),
    audit: options.audit ?? noAudit,
    resyncMs: options.resyncMs ?? 10 * 60_000,
    rolloutPollMs: options.rolloutPollMs ?? 5_000,
    records: new Map<string, AppliedRecord>(),
    forcedAt: new Map<string, number>(),
  };
  return framedReconciler<Environment, EnvironmentStatus, EnvironmentWork>({
    async get(namespace, name) {
      const cached = await deps.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name });
      if (!cached) deps.forcedAt.delete(`${namespace}/${name}`);
      // Cached objects are shared with the informer: never change them in place.
      return cached && structuredClone(cached);
    },
    finalize: (env, log) => finalizeEnvironment(deps, env, log),
    state: (env) => ({ target: environmentNamespace(env.spec.project, env.metadata.name as string) }),
    steps: [registerStep(deps), sourceStep(deps), lifecycleStep(deps), admissionStep(deps), credentialsStep(deps), dataStep(deps), applyStep(deps), readinessStep(deps), scheduledBackupStep(deps)],
    writeStatus: (env, status) => writeStatus(deps.kube, env, status),
    afterWrite: (env, status, now) => announce(deps.events, deps.audit, env, status, now),
    clock: deps.clock,
  });
}
