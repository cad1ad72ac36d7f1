import { describe, expect, it } from 'vitest';
import { ReconcileError } from '../errors/index.ts';
import { silentLogger } from '../log/index.ts';
import { createMetrics } from '../metrics/index.ts';
import { FakeClock } from './clock.ts';
import { Controller, type ReconcileContext, type ReconcileResult } from './controller.ts';
import { WorkQueue } from './queue.ts';

function setup(reconcile: (ctx: ReconcileContext) => Promise<ReconcileResult>, workers = 2) {
  const clock = new FakeClock();
  const metrics = createMetrics();
  const queue = new WorkQueue({ clock, random: () => 0.5 });
  const controller = new Controller({ name: 'test', reconcile, clock, log: silentLogger(), metrics, workers, queue });
  return { clock, metrics, controller };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

async function counter(metrics: ReturnType<typeof createMetrics>, result: string): Promise<number> {
  const values = (await metrics.reconcileTotal.get()).values;
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('Controller', () => {
  it('reconciles each key, one worker per key at a time', async () => {
    const running = new Set<string>();
    const seen: string[] = [];
    let overlap = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { controller } = setup(async ({ key }) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      seen.push(key);
      await gate;
      running.delete(key);
      return {};
    });
    controller.start();
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    await settle();
    controller.enqueue('ns/a'); // while ns/a is running
    await settle();
    expect(seen).toEqual(['ns/a', 'ns/b']);
    release();
    await settle();
    expect(seen).toEqual(['ns/a', 'ns/b', 'ns/a']);
    expect(overlap).toBe(false);
    await controller.stop();
  });

  it('retries a failing key with backoff and counts errors', async () => {
    let calls = 0;
    const { controller, clock, metrics } = setup(async () => {
      calls++;
      if (calls < 3) throw new Error('API server unavailable');
      return {};
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    expect(calls).toBe(1);
    clock.advance(374); // first retry after 375 ms (500 ms base, jitter 0.5 → 375..500)
    await settle();
    expect(calls).toBe(1);
    clock.advance(10_000);
    await settle();
    clock.advance(10_000);
    await settle();
    expect(calls).toBe(3);
    expect(await counter(metrics, 'error')).toBe(2);
    expect(await counter(metrics, 'success')).toBe(1);
    await controller.stop();
  });

  it('requeues after the requested time on success', async () => {
    let calls = 0;
    const { controller, clock, metrics } = setup(async () => {
      calls++;
      return { requeueAfterMs: 60_000 };
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    clock.advance(59_999);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2);
    expect(await counter(metrics, 'requeue_after')).toBe(2);
    await controller.stop();
  });

  it('does not retry a stalled key until it is enqueued again, and waits without backoff', async () => {
    const calls: string[] = [];
    const { controller, clock } = setup(async ({ key }) => {
      calls.push(key);
      if (key === 'ns/stall') throw new ReconcileError('ManifestInvalid', 'bad manifest', 'stall');
      throw new ReconcileError('DependencyNotReady', 'waiting for the parent', 'wait', { requeueAfterMs: 5000 });
    });
    controller.start();
    controller.enqueue('ns/stall');
    controller.enqueue('ns/wait');
    await settle();
    clock.advance(4999);
    await settle();
    expect(calls).toEqual(['ns/stall', 'ns/wait']);
    clock.advance(1);
    await settle();
    expect(calls).toEqual(['ns/stall', 'ns/wait', 'ns/wait']);
    clock.advance(600_000);
    await settle();
    expect(calls.filter((k) => k === 'ns/stall')).toHaveLength(1);
    await controller.stop();
  });

  it('looks at a stalled key again after the delay its error names, without backoff', async () => {
    const calls: string[] = [];
    const { controller, clock } = setup(async ({ key }) => {
      calls.push(key);
      throw new ReconcileError('RevisionNotFound', 'branch gone/away does not exist', 'stall', { requeueAfterMs: 60_000 });
    });
    controller.start();
    controller.enqueue('ns/missing-branch');
    await settle();
    clock.advance(59_999);
    await settle();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    clock.advance(60_000);
    await settle();
    expect(calls).toHaveLength(3);
    await controller.stop();
  });

  it('starts its metric series at zero', async () => {
    const { metrics } = setup(async () => ({}));
    const text = await metrics.registry.metrics();
    expect(text).toContain('grove_reconcile_total{controller="test",result="success"} 0');
    expect(text).toContain('grove_workqueue_depth{name="test"} 0');
  });

  it('stops: aborts the signal and waits for running reconciles', async () => {
    let aborted = false;
    const { controller } = setup(async ({ signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = signal.aborted;
      return {};
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    await controller.stop();
    expect(aborted).toBe(true);
  });
});
