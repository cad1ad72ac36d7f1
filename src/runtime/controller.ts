/**
 * Runs a reconciler over a work queue with N workers: the controller-runtime contract. A
 * reconciler receives only a key, re-reads what it needs, and returns when to look again; it
 * never learns whether an event was a create, an update or a delete.
 *
 * The outcome of each reconcile decides what happens to its key:
 * - success → the key's backoff is forgotten; `requeueAfterMs` schedules the next look;
 * - ReconcileError `wait` → retried after its delay, without backoff;
 * - ReconcileError `stall` → not retried (a change to the object will enqueue it again);
 * - any other error → retried with per-key exponential backoff.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { messageOf, ReconcileError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics, ReconcileOutcome } from '../metrics/index.ts';
import type { Clock } from './clock.ts';
import { WorkQueue } from './queue.ts';

export interface ReconcileResult {
  /** Look at the key again after this long, even if nothing changes. */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  key: string;
  log: Logger;
  /** Aborted when the controller stops; long calls should pass it on. */
  signal: AbortSignal;
}

export type Reconciler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  workers?: number;
  queue?: WorkQueue;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #opts: ControllerOptions;
  readonly #abort = new AbortController();
  #workers: Promise<void>[] = [];

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#opts = opts;
    this.queue = opts.queue ?? new WorkQueue({ clock: opts.clock });
    opts.metrics.registerController(opts.name);
  }

  enqueue(key: string): void {
    this.queue.add(key);
    this.#updateDepth();
  }

  start(): void {
    const count = this.#opts.workers ?? 2;
    for (let i = 0; i < count; i++) this.#workers.push(this.#work());
  }

  /** Stops taking keys, aborts running reconciles' signal, and waits for them to return. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.queue.shutdown();
    await Promise.all(this.#workers);
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.#updateDepth();
      await this.#reconcileOne(key);
      this.queue.done(key);
      this.#updateDepth();
    }
  }

  async #reconcileOne(key: string): Promise<void> {
    const { name, metrics } = this.#opts;
    const [namespace, objectName] = key.includes('/') ? key.split('/', 2) : [undefined, key];
    const log = this.#opts.log.child({ controller: name, namespace, name: objectName, reconcileId: randomBytes(4).toString('hex') });
    const started = performance.now();
    let outcome: ReconcileOutcome = 'success';
    try {
      const result = await this.#opts.reconcile({ key, log, signal: this.#abort.signal });
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        outcome = 'requeue_after';
        this.queue.addAfter(key, result.requeueAfterMs);
      }
    } catch (err) {
      outcome = 'error';
      if (err instanceof ReconcileError && err.disposition === 'stall') {
        this.queue.forget(key);
        // What a person must change may lie outside the object (a branch to push): look again later.
        if (err.requeueAfterMs !== undefined) this.queue.addAfter(key, err.requeueAfterMs);
        log.warn({ reason: err.reason, err: messageOf(err), ...(err.requeueAfterMs !== undefined ? { requeueAfterMs: err.requeueAfterMs } : {}) }, 'Stalled until the object changes');
      } else if (err instanceof ReconcileError && err.disposition === 'wait') {
        this.queue.forget(key);
        this.queue.addAfter(key, err.requeueAfterMs ?? 30_000);
        log.info({ reason: err.reason, err: messageOf(err), requeueAfterMs: err.requeueAfterMs }, 'Waiting');
      } else {
        const delay = this.queue.addRateLimited(key);
        log.error({ err: messageOf(err), retryInMs: Math.round(delay), failures: this.queue.failures(key) }, 'Reconcile failed');
      }
    } finally {
      metrics.reconcileTotal.inc({ controller: name, result: outcome });
      metrics.reconcileDuration.observe({ controller: name }, (performance.now() - started) / 1000);
    }
  }

  #updateDepth(): void {
    this.#opts.metrics.workqueueDepth.set({ name: this.name }, this.queue.length);
  }
}
