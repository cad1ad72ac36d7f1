/**
 * The first step of every Environment reconcile: the finalizer, so deletion cannot race creation;
 * the namespace the Environment gets, who it acts for and the types it has had, in its status;
 * and, the first time it is seen, the audit record of its creation.
 *
 * @module
 */
import { API_VERSION, type Environment, FIELD_MANAGER, FINALIZER } from '../../api/index.ts';
import { actorOf, environmentEvent, sourceOf } from '../../audit/index.ts';
import { typesHeld } from '../../data/index.ts';
import type { EnvironmentStep, StepDeps } from './context.ts';

export function registerStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'register',
    async run({ object: env, status, state, now }) {
      if (!env.metadata.finalizers?.includes(FINALIZER)) {
        // A patch, not an apply: the Project controller applies this object's spec with the same
        // field manager, and an apply of only the finalizer would tell the server to drop the spec.
        const ref = { apiVersion: API_VERSION, kind: 'Environment', namespace: env.metadata.namespace as string, name: env.metadata.name as string };
        const patched = await deps.kube.mergePatch<Environment>(
          ref,
          { metadata: { resourceVersion: env.metadata.resourceVersion, finalizers: [...(env.metadata.finalizers ?? []), FINALIZER] } },
          { fieldManager: FIELD_MANAGER },
        );
        env.metadata.resourceVersion = patched.metadata.resourceVersion;
      }
      status.namespace = state.target;
      // Kept for the final backup, which follows every type the Environment has had.
      status.typesHeld = typesHeld(env);
      const actor = actorOf(env);
      if (Object.keys(actor).length) status.actor = { ...actor, source: sourceOf(env) };
      const pr = env.spec.pullRequest;
      if (pr) status.pullRequest = pr;
      else delete status.pullRequest;
      const forPr = pr ? `for pull request #${pr.number}${pr.title ? ` (${pr.title})` : ''}${pr.author ? ` by ${pr.author}` : ''}` : undefined;
      if (!env.status) await deps.audit.record(environmentEvent({ env, action: 'create', now, discriminator: env.metadata.uid ?? '', ...(forPr ? { message: `Created ${forPr}` } : {}) }));
      return undefined;
    },
  };
}
