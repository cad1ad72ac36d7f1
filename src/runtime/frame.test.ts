import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/index.ts';
import { ReconcileError } from '../errors/index.ts';
import { silentLogger } from '../log/index.ts';
import { FakeClock } from './clock.ts';
import { framedReconciler, type FramedStatus, type ReconcileStep } from './frame.ts';

type Thing = KubeObject & { status?: FramedStatus & { note?: string } };
type Status = NonNullable<Thing['status']>;

/** One object, its status as the frame last wrote it, and how many writes there were. */
function harness(steps: Array<ReconcileStep<Thing, Status>>, initial: Status = {}) {
  const object: Thing = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'ns', generation: 3 }, status: initial };
  const written: Status[] = [];
  const reconcile = framedReconciler<Thing, Status>({
    get: () => Promise.resolve(structuredClone(object)),
    writeStatus: (_obj, status) => {
      written.push(status);
      object.status = status;
      return Promise.resolve();
    },
    clock: new FakeClock(),
    steps,
  });
  const run = () => reconcile({ key: 'ns/a', log: silentLogger(), signal: new AbortController().signal });
  const condition = (type: string) => object.status?.conditions?.find((c) => c.type === type);
  return { run, written, condition, object };
}

describe('the reconcile frame', () => {
  it('runs every step, takes the soonest requeue, and is Ready at the generation it saw', async () => {
    const order: string[] = [];
    const h = harness([
      { name: 'one', run: () => (order.push('one'), Promise.resolve({ requeueAfterMs: 60_000 })) },
      { name: 'two', run: ({ status }) => (order.push('two'), (status.note = 'seen'), Promise.resolve({ requeueAfterMs: 5_000, ready: { reason: 'Done', message: 'all good' } })) },
    ]);
    expect(await h.run()).toEqual({ requeueAfterMs: 5_000 });
    expect(order).toEqual(['one', 'two']);
    expect(h.written).toHaveLength(1);
    expect(h.object.status).toMatchObject({ observedGeneration: 3, note: 'seen' });
    expect(h.condition('Ready')).toMatchObject({ status: 'True', reason: 'Done', message: 'all good', observedGeneration: 3 });
    expect(h.condition('Reconciling')).toBeUndefined();
  });

  it('stops at a step still in progress: Reconciling and not Ready, later steps wait', async () => {
    const later: string[] = [];
    const h = harness([
      { name: 'fill', run: () => Promise.resolve({ progressing: { reason: 'Filling', message: 'copying data' }, requeueAfterMs: 2_000 }) },
      { name: 'serve', run: () => (later.push('serve'), Promise.resolve(undefined)) },
    ]);
    expect(await h.run()).toEqual({ requeueAfterMs: 2_000 });
    expect(later).toEqual([]);
    expect(h.condition('Reconciling')).toMatchObject({ status: 'True', reason: 'Filling' });
    expect(h.condition('Ready')).toMatchObject({ status: 'False', reason: 'Filling', message: 'copying data' });
  });

  it('says Stalled for an error only a person can fix, Reconciling for one that is retried, and clears both once Ready', async () => {
    let fail: ReconcileError | Error | undefined = new ReconcileError('ManifestInvalid', 'platform.yaml:3:5: web.port: must be a number', 'stall');
    const h = harness([{ name: 'only', run: () => (fail ? Promise.reject(fail) : Promise.resolve({ ready: { reason: 'Ready', message: 'ok' } })) }]);
    await expect(h.run()).rejects.toThrow('must be a number');
    expect(h.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ManifestInvalid' });
    expect(h.condition('Ready')).toMatchObject({ status: 'False', reason: 'ManifestInvalid' });
    expect(h.condition('Reconciling')).toBeUndefined();

    fail = new Error('connection reset');
    await expect(h.run()).rejects.toThrow('connection reset');
    expect(h.condition('Stalled')).toBeUndefined();
    expect(h.condition('Reconciling')).toMatchObject({ status: 'True', reason: 'ProgressingWithRetry', message: 'connection reset' });
    expect(h.condition('Ready')).toMatchObject({ status: 'False', reason: 'ReconcileFailed' });

    fail = undefined;
    await h.run();
    expect(h.condition('Ready')).toMatchObject({ status: 'True' });
    expect([h.condition('Stalled'), h.condition('Reconciling')]).toEqual([undefined, undefined]);
  });

  it('ends at a step with nothing more to do (a paused object): Ready from it, later steps skipped', async () => {
    const order: string[] = [];
    const h = harness(
      [
        { name: 'paused', run: () => (order.push('paused'), Promise.resolve({ ready: { reason: 'Suspended', message: 'paused' }, last: true })) },
        { name: 'work', run: () => (order.push('work'), Promise.resolve(undefined)) },
      ],
      { conditions: [{ type: 'Reconciling', status: 'True', reason: 'Busy', message: '', lastTransitionTime: '' }] },
    );
    await h.run();
    expect(order).toEqual(['paused']);
    expect(h.condition('Ready')).toMatchObject({ status: 'True', reason: 'Suspended', observedGeneration: 3 });
    expect(h.condition('Reconciling')).toBeUndefined();
  });

  it('leaves conditions a step owns to that step', async () => {
    const h = harness([{ name: 'data', owns: ['DataCloned'], run: ({ mark }) => (mark('DataCloned', 'True', 'Cloned', 'db from a snapshot'), Promise.resolve({ ready: { reason: 'Ready', message: 'ok' } })) }]);
    await h.run();
    expect(h.condition('DataCloned')).toMatchObject({ status: 'True', reason: 'Cloned', observedGeneration: 3 });
  });
});
