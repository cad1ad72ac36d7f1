/**
 * Grove's metrics, in a private prom-client registry (no global default registry, so tests and
 * several operators in one process never collide). Names follow controller-runtime's, with the
 * `grove_` prefix.
 *
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileOutcome = 'success' | 'error' | 'requeue_after';

export interface Metrics {
  registry: Registry;
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileDuration: Histogram<'controller'>;
  workqueueDepth: Gauge<'name'>;
  kubeRequests: Counter<'method'>;
  webhookRequests: Counter<'result'>;
  /** Starts a controller's series at zero, as controller-runtime does, so rates exist from the start. */
  registerController(name: string): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // The process's own figures (resident memory, heap, CPU, event-loop lag), as every Node service exports them.
  collectDefaultMetrics({ register: registry });
  const reconcileTotal = new Counter({
    name: 'grove_reconcile_total',
    help: 'Reconciles per controller and result.',
    labelNames: ['controller', 'result'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'grove_reconcile_duration_seconds',
    help: 'Time per reconcile.',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const workqueueDepth = new Gauge({
    name: 'grove_workqueue_depth',
    help: 'Keys waiting in a controller\'s work queue.',
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const kubeRequests = new Counter({
    name: 'grove_kube_requests_total',
    help: 'Requests Grove made to the Kubernetes API, by HTTP method (WATCH for watches).',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const webhookRequests = new Counter({
    name: 'grove_webhook_requests_total',
    help: 'Webhook requests by result: accepted, refused (bad or missing signature, or no such webhook), too_large, unavailable (the API could not be read).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    registry,
    kubeRequests,
    webhookRequests,
    reconcileTotal,
    reconcileDuration,
    workqueueDepth,
    registerController(name) {
      for (const result of ['success', 'error', 'requeue_after'] as const) reconcileTotal.inc({ controller: name, result }, 0);
      workqueueDepth.set({ name }, 0);
    },
  };
}
