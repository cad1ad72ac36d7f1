/**
 * The lifecycle step of an Environment reconcile: activity, expiry, the expiry warning and
 * sleep, from the pure decision of `lifecycle/` applied to the status and the plan.
 *
 * Expiry deletes the Environment, exactly once: the decision comes from stored timestamps only
 * (so a restarted operator decides the same), the delete carries the object's uid (so it can
 * never hit a new Environment of the same name), and an Environment already being deleted is
 * never deleted again. Its finalizer then takes the final backup, as for any deletion. For a
 * Git-driven Environment the Project first remembers the expired revision
 * (`expired.grove.dev/<name>`), so the Project controller does not make the Environment again
 * until the branch moves.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, CONDITIONS, type Environment, type EnvironmentStatus, EXPIRED_ANNOTATION_PREFIX, FIELD_MANAGER, LABELS, type Project, REASONS } from '../../api/index.ts';
import { type AuditSink, environmentEvent } from '../../audit/index.ts';
import { isConflict, type Kube } from '../../kube/index.ts';
import { decideLifecycle, type LifecycleDecision } from '../../lifecycle/index.ts';
import type { Logger } from '../../log/index.ts';
import { formatDuration } from '../../util/index.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

type Mark = (type: string, s: 'True' | 'False' | 'Unknown', reason: string, message: string) => void;

interface LifecycleStepInput {
  kube: Kube;
  audit: AuditSink;
  log: Logger;
  env: Environment;
  project: Project;
  /** The manifest's `lifecycle`, when the manifest at the revision is valid. */
  lifecycle: { ttl?: string; sleepAfter?: string } | undefined;
  /** The revision about to be applied: a new one is activity. */
  revision: string;
  status: EnvironmentStatus;
  mark: Mark;
  now: number;
}

/**
 * Runs for a broken manifest too (without its `lifecycle`): what a branch left alone runs is not
 * kept forever. An expired Environment is deleted here, and nothing after this step runs.
 */
export function lifecycleStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'lifecycle',
    owns: [CONDITIONS.expiring, CONDITIONS.sleeping],
    async run({ object: env, status, state, mark, now, log }) {
      const { project, revision } = given(state, 'project', 'revision');
      const life = await decideAndRecord({ kube: deps.kube, audit: deps.audit, log, env, project, lifecycle: state.manifestLifecycle, revision, status, mark, now });
      if (life.deleted) return { halt: true };
      state.life = life;
      return life.nextAt === undefined ? undefined : { requeueAfterMs: Math.max(1000, life.nextAt - now) };
    },
  };
}

/** Decides, writes `lastActivityTime`, `expiresAt`, `Expiring` and `Sleeping` into `status`; expires the Environment when due. */
async function decideAndRecord(input: LifecycleStepInput): Promise<LifecycleDecision & { deleted: boolean }> {
  const { env, project, status, mark, now } = input;
  const applied = env.status?.observedRevision;
  // A push (or a new pinned revision) is activity; it is recorded once, when first seen.
  const pushed = applied !== undefined && applied !== input.revision;
  const recorded = pushed ? { ...env, status: { ...env.status, lastActivityTime: new Date(now).toISOString() } } : env;
  const policy = project.spec.lifecycle;
  const decision = decideLifecycle({
    environment: recorded,
    project,
    ...(input.lifecycle ? { lifecycle: input.lifecycle } : {}),
    now,
    warningLeadSeconds: policy?.expiryWarningSeconds ?? 3600,
    protectedMay: { expire: policy?.protectedMayExpire ?? false, sleep: policy?.protectedMaySleep ?? false },
  });
  status.lastActivityTime = new Date(decision.lastActivity).toISOString();
  if (decision.expiresAt !== undefined) status.expiresAt = new Date(decision.expiresAt).toISOString();
  else delete status.expiresAt;

  if (decision.expired && decision.expiresAt !== undefined) {
    mark(CONDITIONS.expiring, 'True', REASONS.expired, `Expired at ${status.expiresAt} after ${formatDuration(decision.ttlSeconds * 1000)} without activity`);
    await expire(input, decision.expiresAt);
    return { ...decision, deleted: true };
  }
  if (decision.expiring) {
    mark(CONDITIONS.expiring, 'True', REASONS.expiring, `Expires at ${status.expiresAt} unless renewed (push, grove env renew, or the ${ANNOTATIONS.renew} annotation)`);
  } else if (decision.expiresAt !== undefined) {
    mark(CONDITIONS.expiring, 'False', REASONS.notExpiring, `Expires at ${status.expiresAt} after ${formatDuration(decision.ttlSeconds * 1000)} without activity`);
  } else {
    mark(CONDITIONS.expiring, 'False', REASONS.notExpiring, decision.exempt ? `Never expires: ${decision.exempt}` : 'Never expires: no TTL is set');
  }

  if (decision.sleeping) {
    const why = decision.sleepReason === 'requested' ? 'spec.state is sleeping' : `idle for ${formatDuration(decision.sleepAfterSeconds * 1000)}`;
    mark(CONDITIONS.sleeping, 'True', decision.sleepReason === 'requested' ? REASONS.sleepRequested : REASONS.idle, `Scaled to zero: ${why}; push, renew or set spec.state: active to wake`);
  } else mark(CONDITIONS.sleeping, 'False', REASONS.awake, 'Running');
  return { ...decision, deleted: false };
}

async function expire(input: LifecycleStepInput, expiresAt: number): Promise<void> {
  const { kube, env, log, now } = input;
  const name = env.metadata.name as string;
  const namespace = env.metadata.namespace as string;
  if (env.metadata.labels?.[LABELS.source] === 'git') {
    const revision = env.spec.revision ?? env.status?.observedRevision ?? '';
    await kube.mergePatch({ apiVersion: API_VERSION, kind: 'Project', namespace, name: env.spec.project }, { metadata: { annotations: { [`${EXPIRED_ANNOTATION_PREFIX}${name}`]: revision } } }, { fieldManager: FIELD_MANAGER });
  }
  // Recorded first: a restart between the two records it again under the same id, and readers count it once.
  await input.audit.record(
    environmentEvent({ env, action: 'expire', now, source: 'ttl', discriminator: new Date(expiresAt).toISOString(), message: `no activity since ${input.status.lastActivityTime}` }),
  );
  try {
    await kube.delete({ apiVersion: API_VERSION, kind: 'Environment', namespace, name }, env.metadata.uid ? { uid: env.metadata.uid } : {});
  } catch (err) {
    if (isConflict(err)) return; // another Environment of this name now: not the one that expired
    throw err;
  }
  log.info({ expiresAt: new Date(expiresAt).toISOString() }, 'Deleted the Environment: it expired');
}
