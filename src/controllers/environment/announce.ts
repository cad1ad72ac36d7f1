/**
 * What an Environment reconcile tells people, after its status is written: Events for the
 * transitions they care about and audit events for the actions among them.
 *
 * @module
 */
import { CONDITIONS, type Environment, type EnvironmentStatus, findCondition, REASONS } from '../../api/index.ts';
import { type AuditSink, environmentEvent, sourceOf } from '../../audit/index.ts';
import type { EventRecorder } from '../../events/index.ts';

/**
 * Events for the transitions people care about — Ready changing, each newly applied revision,
 * the expiry warning — and audit events for the actions among them: clone, sleep, wake, denial.
 * Transitions only, so a requeue records nothing twice.
 */
export async function announce(events: EventRecorder, audit: AuditSink, env: Environment, status: EnvironmentStatus, now: number): Promise<void> {
  const changed = (type: string) => {
    const before = findCondition(env.status?.conditions, type);
    const after = findCondition(status.conditions, type);
    return after && (before?.status !== after.status || before.reason !== after.reason) ? after : undefined;
  };
  const revision = status.observedRevision;
  const cloned = changed(CONDITIONS.dataCloned);
  if (cloned?.status === 'True' && cloned.reason === REASONS.cloned) await audit.record(environmentEvent({ env, action: 'clone', now, message: cloned.message, ...(revision ? { revision } : {}) }));
  else if (cloned?.status === 'False' && (cloned.reason === REASONS.cloneFailed || cloned.reason === REASONS.sanitizeFailed)) await events.record(env, 'Warning', cloned.reason, 'Clone', cloned.message);
  const sleeping = changed(CONDITIONS.sleeping);
  const sleptBefore = findCondition(env.status?.conditions, CONDITIONS.sleeping)?.status === 'True';
  if (sleeping?.status === 'True' && !sleptBefore) await audit.record(environmentEvent({ env, action: 'sleep', now, source: sleeping.reason === REASONS.idle ? 'ttl' : 'kubectl', message: sleeping.message, discriminator: sleeping.lastTransitionTime }));
  else if (sleeping?.status === 'False' && sleptBefore) await audit.record(environmentEvent({ env, action: 'wake', now, message: 'Scaled back to the manifest', discriminator: sleeping.lastTransitionTime }));
  const expiring = changed(CONDITIONS.expiring);
  if (expiring?.status === 'True' && expiring.reason === REASONS.expiring) await events.record(env, 'Warning', REASONS.expiring, 'Expire', expiring.message);
  const before = findCondition(env.status?.conditions, CONDITIONS.ready);
  const after = findCondition(status.conditions, CONDITIONS.ready);
  if (after?.reason === REASONS.policyDenied && (before?.reason !== after.reason || before.message !== after.message)) {
    await audit.record(environmentEvent({ env, action: 'deny', now, decision: 'denied', result: 'failed', message: after.message, discriminator: after.message }));
    return;
  }
  // An update: someone changed the spec (a new generation), or a push moved the revision applied.
  const applied = env.status?.observedRevision;
  const revisionMoved = applied !== undefined && status.observedRevision !== undefined && status.observedRevision !== applied;
  const seen = env.status?.observedGeneration;
  const specChanged = seen !== undefined && env.metadata.generation !== undefined && env.metadata.generation !== seen;
  if (revisionMoved || specChanged) {
    const message = [revisionMoved && `applied revision ${status.observedRevision} over ${applied}`, specChanged && `spec changed (generation ${env.metadata.generation})`].filter(Boolean).join('; ');
    const pushed = revisionMoved && (sourceOf(env) === 'push' || !specChanged);
    const revision = status.observedRevision ?? env.spec.revision;
    await audit.record(environmentEvent({ env, action: 'update', now, source: pushed ? 'push' : 'kubectl', message, ...(revision ? { revision } : {}), discriminator: `${env.metadata.generation}/${revision ?? ''}` }));
  }
  if (status.observedRevision && status.observedRevision !== applied) await events.record(env, 'Normal', 'Applied', 'Apply', `Applied revision ${status.observedRevision}`);
  if (!after || (before?.status === after.status && before.reason === after.reason)) return;
  if (after.status === 'True') await events.record(env, 'Normal', after.reason, 'Reconcile', after.message);
  else if (after.status === 'False' && after.reason !== REASONS.rollingOut) await events.record(env, 'Warning', after.reason, 'Reconcile', after.message);
}
