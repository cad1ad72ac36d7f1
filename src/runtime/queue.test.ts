import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { WorkQueue } from './queue.ts';

function queue(opts: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}) {
  const clock = new FakeClock();
  return { clock, q: new WorkQueue({ clock, random: () => 0.5, ...opts }) };
}

/** Keys available right now, without waiting. */
async function drain(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) keys.push((await q.get()) as string);
  return keys;
}

describe('WorkQueue', () => {
  it('holds a key once however often it is added, in first-added order', async () => {
    const { q } = queue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.length).toBe(3);
    expect(await drain(q)).toEqual(['a', 'b', 'c']);
  });

  it('never hands a key to two workers; an add during processing runs again after done', async () => {
    const { q } = queue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    expect(q.length).toBe(0); // not handed out while 'a' is being processed
    q.done(first as string);
    expect(await drain(q)).toEqual(['a']);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { q } = queue();
    const waiting = q.get();
    q.add('x');
    expect(await waiting).toBe('x');
  });

  it('delays a key; of two delays the earlier wins', async () => {
    const { q, clock } = queue();
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    clock.advance(299);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(await drain(q)).toEqual(['a']);
    clock.advance(1000);
    expect(q.length).toBe(0); // the later delay was dropped
  });

  it('backs off exponentially per key, with jitter, up to a maximum', () => {
    const { q } = queue({ baseDelayMs: 100, maxDelayMs: 1000 });
    const delays = Array.from({ length: 6 }, () => q.addRateLimited('a'));
    // random() = 0.5 → three quarters of the exponential delay.
    expect(delays).toEqual([75, 150, 300, 600, 750, 750]);
    expect(q.failures('a')).toBe(6);
    expect(q.addRateLimited('b')).toBe(75);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(75);
  });

  it('spreads retries with jitter', () => {
    const low = queue({ baseDelayMs: 1000, random: () => 0 }).q.addRateLimited('a');
    const high = queue({ baseDelayMs: 1000, random: () => 0.999 }).q.addRateLimited('a');
    expect(low).toBe(500);
    expect(high).toBeCloseTo(999.5);
  });

  it('limits the overall retry rate with a token bucket', () => {
    const { q, clock } = queue({ baseDelayMs: 1, ratePerSecond: 10, burst: 2 });
    expect(q.addRateLimited('a')).toBeLessThan(1);
    expect(q.addRateLimited('b')).toBeLessThan(1);
    expect(q.addRateLimited('c')).toBe(100); // bucket empty: one token per 100 ms
    expect(q.addRateLimited('d')).toBe(200);
    clock.advance(1000);
    expect(q.addRateLimited('e')).toBeLessThan(1);
  });

  it('ends waiting workers and drops delayed keys on shutdown', async () => {
    const { q, clock } = queue();
    const waiting = q.get();
    q.addAfter('a', 10);
    q.shutdown();
    expect(await waiting).toBeUndefined();
    clock.advance(100);
    expect(q.length).toBe(0);
    q.add('b');
    expect(await q.get()).toBeUndefined();
  });
});
