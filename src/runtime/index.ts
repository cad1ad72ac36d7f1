/**
 * The controller machinery, after controller-runtime: informers and their cache, work queues
 * behind controllers, the reconcile frame every controller runs in, leader election, and the
 * clock they all take so tests can drive time.
 *
 * @module
 */
export { InformerCache, type ObjectCache, withoutManagedFields } from './cache.ts';
export { type Cancel, type Clock, FakeClock, systemClock } from './clock.ts';
export { Controller, type Reconciler, type ReconcileResult } from './controller.ts';
export { framedReconciler, type ReconcileStep } from './frame.ts';
export { Informer, objectKey } from './informer.ts';
export { LeaderElector } from './leader.ts';
