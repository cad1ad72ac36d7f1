/**
 * The readiness step: whether what was applied is up, from the live objects. The applications
 * wait for their data; a deploy hook runs once the workloads of this very revision are available,
 * and a failed one stalls the Environment until a push brings a revision whose hook succeeds.
 * While `spec.suspendDeployHook` holds it, the workloads run and the Environment is not Ready.
 *
 * @module
 */
import { CONDITIONS, REASONS } from '../../api/index.ts';
import { assessReadiness } from '../../applier/index.ts';
import { ReconcileError } from '../../errors/index.ts';
import type { ResolvedManifest } from '../../manifest/index.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

export function readinessStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'readiness',
    owns: [CONDITIONS.workloadsAvailable],
    run({ object: env, state, mark }) {
      const { data, applied, plan, planInput, revision, manifest, life } = given(state, 'data', 'applied', 'plan', 'planInput', 'revision', 'manifest', 'life');
      if (data.plan.stage !== 'ready') {
        mark(CONDITIONS.workloadsAvailable, 'False', REASONS.waitingForData, 'The applications start once the data is in');
        const progressing = { reason: data.condition?.reason ?? REASONS.filling, message: data.condition?.message ?? 'Filling the volumes' };
        return Promise.resolve({ progressing, requeueAfterMs: data.requeueAfterMs ?? deps.rolloutPollMs });
      }
      const readiness = assessReadiness(applied.live);
      const workloads = assessReadiness(applied.live.filter((o) => o.kind !== 'Job'));
      mark(CONDITIONS.workloadsAvailable, workloads.ready ? 'True' : 'False', workloads.ready ? REASONS.available : REASONS.rollingOut, workloads.ready ? 'All workloads are available' : workloads.waiting.join('; '));
      if (readiness.failed.length) throw new ReconcileError(REASONS.deployHookFailed, readiness.failed.join('; '), 'stall');
      if (readiness.ready && workloads.ready && env.spec.suspendDeployHook && hasDeployHook(manifest)) {
        return Promise.resolve({ progressing: { reason: REASONS.deployHookSuspended, message: 'The workloads are available; the deploy hook waits (spec.suspendDeployHook)' }, requeueAfterMs: deps.resyncMs });
      }
      if (!readiness.ready || (!planInput.workloadsAvailable && hasDeployHook(manifest))) {
        const message = readiness.waiting.join('; ') || 'Running the deploy hook';
        return Promise.resolve({ progressing: { reason: REASONS.rollingOut, message }, requeueAfterMs: deps.rolloutPollMs });
      }
      const asleep = life.sleeping ? ', asleep (scaled to zero)' : '';
      const at = plan.urls[0] ? ` at ${plan.urls[0].url}` : '';
      return Promise.resolve({ ready: { reason: REASONS.ready, message: `Revision ${revision.slice(0, 12)} is available${asleep}${at}` }, requeueAfterMs: deps.resyncMs });
    },
  };
}

function hasDeployHook(manifest: ResolvedManifest): boolean {
  return Object.values(manifest.applications).some((a) => a.hooks?.deploy);
}
