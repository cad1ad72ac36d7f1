/**
 * The apply step: the plan (pure, `planner/`) for this revision and data stage, applied with
 * server-side apply; what left the inventory is pruned. Unchanged objects are not sent again,
 * except once per resync, when everything is — so drift is repaired even without an event.
 *
 * @module
 */
import { CONDITIONS, REASONS } from '../../api/index.ts';
import { applyPlan } from '../../applier/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import { planEnvironment } from '../../planner/index.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

export function applyStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'apply',
    owns: [CONDITIONS.routed],
    async run({ object: env, status, state, mark, log }) {
      const { planInput, data, revision } = given(state, 'planInput', 'data', 'revision');
      const plan = planEnvironment({ ...planInput, data: data.plan });
      const key = `${env.metadata.namespace}/${env.metadata.name}`;
      const startedAt = deps.clock.now();
      const force = startedAt - (deps.forcedAt.get(key) ?? Number.NEGATIVE_INFINITY) >= deps.resyncMs;
      const cache = deps.cache;
      try {
        state.applied = await applyPlan(deps.kube, plan.objects, env.status?.inventory, plan.inventory, cache && { observed: (ref) => cache.lookup(ref), records: deps.records, force });
        if (force) deps.forcedAt.set(key, startedAt);
      } catch (err) {
        throw new ReconcileError(REASONS.applyFailed, messageOf(err), 'retry', { cause: err });
      }
      for (const ref of state.applied.pruned) log.info({ kind: ref.kind, object: ref.name }, 'Pruned an object that left the plan');
      if (status.observedRevision !== revision) log.info({ revision }, 'Applied a new revision');
      status.observedRevision = revision;
      status.inventory = plan.inventory;
      status.urls = plan.urls;
      mark(CONDITIONS.routed, 'True', REASONS.routed, plan.urls.length ? plan.urls.map((u) => u.url).join(', ') : 'No routes declared');
      state.plan = plan;
      return undefined;
    },
  };
}
