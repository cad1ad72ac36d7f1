/**
 * The reconcile frame every controller runs in: read the object, run its named steps in order,
 * merge what they return (the soonest requeue wins), and write the status once, with `Ready`,
 * `Reconciling` and `Stalled` set the way kstatus reads them — Reconciling while work is under
 * way or being retried, Stalled when only a person's change can help, Ready when every step is
 * done — all at the object's `observedGeneration`. Flux's sub-reconcilers are the model: each
 * step says which other conditions it owns and sets only those, and hands what it found to the
 * later ones through the reconcile's `state`. An object being deleted runs `finalize` instead.
 *
 * @module
 */
import { type Condition, CONDITIONS, type KubeObject, removeCondition, setCondition } from '../api/index.ts';
import { messageOf, ReconcileError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { Clock } from './clock.ts';
import type { Reconciler, ReconcileResult } from './controller.ts';

export interface FramedStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface StepContext<T, S, W = undefined> {
  object: T;
  /** The status being built; written once, after the last step. */
  status: S;
  /** What earlier steps of this reconcile found, for the later ones (from `FrameSpec.state`). */
  state: W;
  now: number;
  log: Logger;
  /** Sets a condition at the object's generation (one the step owns). */
  mark: (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string) => void;
}

export interface StepOutcome {
  /** Not done yet: `Ready=False` and `Reconciling=True` with this reason; later steps wait. */
  progressing?: { reason: string; message: string };
  /** Done, with the reason and message `Ready=True` gets when no step is progressing. */
  ready?: { reason: string; message: string };
  /** The object is going away (this step deleted it): later steps do not run and Ready stays as it was. */
  halt?: boolean;
  /** Nothing more to do this time (the object is paused): later steps do not run; Ready follows `ready`. */
  last?: boolean;
  requeueAfterMs?: number;
}

export interface ReconcileStep<T, S, W = undefined> {
  name: string;
  /** The conditions besides Ready, Reconciling and Stalled that this step sets. */
  owns?: readonly string[];
  run(ctx: StepContext<T, S, W>): Promise<StepOutcome | undefined>;
}

export interface FrameSpec<T extends KubeObject & { status?: S }, S extends FramedStatus, W = undefined> {
  get(namespace: string, name: string): Promise<T | undefined>;
  /** Objects with nothing left to do (gone, finished for good): no step runs, no status is written. */
  finished?(object: T): boolean;
  /** Objects being deleted: no step runs and no status is written; this releases what they hold. */
  finalize?(object: T, log: Logger): Promise<ReconcileResult>;
  /** The shared state of one reconcile's steps, made fresh for each. */
  state?(object: T): W;
  steps: ReadonlyArray<ReconcileStep<T, S, W>>;
  writeStatus(object: T, status: S): Promise<void>;
  /** After the status is written, whatever the outcome: Events and audit records of its transitions. */
  afterWrite?(object: T, status: S, now: number): Promise<void>;
  clock: Clock;
}

/** Runs `spec.steps` for one object per reconcile; see the module comment for the conditions. */
export function framedReconciler<T extends KubeObject & { status?: S }, S extends FramedStatus, W = undefined>(spec: FrameSpec<T, S, W>): Reconciler {
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const object = await spec.get(namespace, name);
    if (!object) return {};
    if (object.metadata.deletionTimestamp && spec.finalize) return spec.finalize(object, log);
    if (spec.finished?.(object)) return {};
    const now = spec.clock.now();
    const generation = object.metadata.generation;
    const status = { ...object.status, observedGeneration: generation } as S;
    const at = new Date(now).toISOString();
    const mark = (type: string, s: 'True' | 'False' | 'Unknown', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type, status: s, reason, message }, at, generation);
    };
    const drop = (...types: string[]): void => {
      for (const type of types) status.conditions = removeCondition(status.conditions, type);
    };
    try {
      const result: ReconcileResult = {};
      let ready: StepOutcome['ready'];
      const state = spec.state?.(object) as W;
      for (const step of spec.steps) {
        const outcome = (await step.run({ object, status, state, now, log: log.child({ step: step.name }), mark })) ?? {};
        if (outcome.requeueAfterMs !== undefined) result.requeueAfterMs = Math.min(result.requeueAfterMs ?? Number.POSITIVE_INFINITY, outcome.requeueAfterMs);
        if (outcome.halt) return result;
        if (outcome.progressing) {
          drop(CONDITIONS.stalled);
          mark(CONDITIONS.reconciling, 'True', outcome.progressing.reason, outcome.progressing.message);
          mark(CONDITIONS.ready, 'False', outcome.progressing.reason, outcome.progressing.message);
          return result;
        }
        ready = outcome.ready ?? ready;
        if (outcome.last) break;
      }
      drop(CONDITIONS.stalled, CONDITIONS.reconciling);
      if (ready) mark(CONDITIONS.ready, 'True', ready.reason, ready.message);
      return result;
    } catch (err) {
      const reason = err instanceof ReconcileError ? err.reason : 'ReconcileFailed';
      mark(CONDITIONS.ready, 'False', reason, messageOf(err));
      if (err instanceof ReconcileError && err.disposition === 'stall') {
        drop(CONDITIONS.reconciling);
        mark(CONDITIONS.stalled, 'True', reason, messageOf(err));
      } else {
        drop(CONDITIONS.stalled);
        mark(CONDITIONS.reconciling, 'True', err instanceof ReconcileError && err.disposition === 'wait' ? reason : 'ProgressingWithRetry', messageOf(err));
      }
      throw err;
    } finally {
      await spec.writeStatus(object, status);
      await spec.afterWrite?.(object, status, now);
    }
  };
}
