/**
 * The admission step: whether this Environment may run what its manifest declares. A manifest
 * that cannot be used, a namespace that belongs to something else, or a policy denial stalls it
 * (only a push or a person's change can help); a limit of the Project waits, because a limit
 * frees up when another Environment goes.
 *
 * @module
 */
import { API_VERSION, type Environment, type KubeObject, LABELS, type Project, REASONS } from '../../api/index.ts';
import { ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import { actorKey, actorLimitReached, type Denial, describeDenial, environmentLimitReached, manifestDenial } from '../../policy/index.ts';
import { readConfirmed } from '../shared.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';
import { ownedBy } from './finalizer.ts';

export function admissionStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'admission',
    async run({ object: env, status, state }) {
      if (state.invalid) throw new ReconcileError(state.invalid.reason, state.invalid.message, 'stall');
      const { project, manifest, target } = given(state, 'project', 'manifest');
      const ns = await readConfirmed<KubeObject>(deps.kube, deps.read, { apiVersion: 'v1', kind: 'Namespace', name: target });
      if (ns && !ownedBy(ns, env)) {
        throw new ReconcileError(REASONS.namespaceConflict, `namespace ${target} exists and does not belong to Environment ${env.metadata.namespace}/${env.metadata.name}`, 'stall');
      }
      state.namespaceExists = ns !== undefined;
      // What the manifest asks for is fixed by a push; a limit frees up when another Environment goes.
      const denied = manifestDenial(project, env.spec.type ?? 'development', manifest);
      if (denied) throw new ReconcileError(REASONS.policyDenied, describeDenial(denied), 'stall');
      const limited = status.observedRevision ? undefined : await admissionDenial(deps.kube, project, env);
      if (limited) throw new ReconcileError(REASONS.policyDenied, describeDenial(limited), 'wait', { requeueAfterMs: 30_000 });
      return undefined;
    },
  };
}

/**
 * For an Environment made by hand that has never run: would it exceed the Project's limits?
 * Environments are admitted oldest first, so a limit never stops one that already runs; Git-driven
 * ones are admitted by the Project controller, under the same count.
 */
async function admissionDenial(kube: Kube, project: Project, env: Environment): Promise<Denial | undefined> {
  if (env.metadata.labels?.[LABELS.source] === 'git') return undefined;
  const limits = project.spec.limits;
  if (limits?.maxEnvironments === undefined && limits?.maxEnvironmentsPerActor === undefined) return undefined;
  const all = (await kube.list<Environment>(API_VERSION, 'Environment', { namespace: env.metadata.namespace as string })).items.filter(
    (e) => e.spec.project === env.spec.project && !e.metadata.deletionTimestamp,
  );
  // Ahead of this one: every Environment that runs or that Git drives, then hand-made ones that
  // wait too, oldest first (creation times have whole seconds: names break ties).
  const ahead = all.filter((e) => {
    if (e.metadata.name === env.metadata.name) return false;
    if (e.status?.observedRevision || e.metadata.labels?.[LABELS.source] === 'git') return true;
    const a = e.metadata.creationTimestamp ?? '';
    const b = env.metadata.creationTimestamp ?? '';
    return a < b || (a === b && (e.metadata.name ?? '') < (env.metadata.name ?? ''));
  });
  const actor = actorKey(env);
  return environmentLimitReached(project, ahead.length) ?? actorLimitReached(project, actor, ahead.filter((e) => actorKey(e) === actor).length);
}
