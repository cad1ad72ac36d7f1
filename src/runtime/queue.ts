/**
 * A keyed work queue with client-go's semantics: a key waits in the queue at most once however
 * often it is added; a key being processed is never handed to a second worker, and if it is added
 * meanwhile it is queued again when the first worker is done. Retries back off per key,
 * exponentially with jitter, under an overall token-bucket rate limit.
 *
 * The queue holds keys only (`namespace/name`), never objects: every reconcile re-reads the world.
 *
 * @module
 */
import type { Cancel, Clock } from './clock.ts';

export interface QueueOptions {
  clock: Clock;
  /** First retry delay; doubles per failure of the same key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall retry rate (tokens per second) and burst. */
  ratePerSecond?: number;
  burst?: number;
  /** Returns [0, 1); injected so tests are deterministic. */
  random?: () => number;
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #random: () => number;
  readonly #bucket: TokenBucket;

  /** Keys waiting, in order. */
  #queue: string[] = [];
  /** Keys that need processing: waiting, or added again while processing. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; cancel: Cancel }>();
  #waiters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;

  constructor(opts: QueueOptions) {
    this.#clock = opts.clock;
    this.#baseDelayMs = opts.baseDelayMs ?? 500;
    this.#maxDelayMs = opts.maxDelayMs ?? 5 * 60_000;
    this.#random = opts.random ?? Math.random;
    this.#bucket = new TokenBucket(opts.clock, opts.ratePerSecond ?? 10, opts.burst ?? 100);
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) this.#take(key, waiter);
    else this.#queue.push(key);
  }

  /** Adds the key after a delay. Of several pending delays for one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.#clock.after(ms, () => {
      this.#delayed.delete(key);
      this.add(key);
    });
    this.#delayed.set(key, { at, cancel });
  }

  /** Adds the key after its backoff: the next retry of a failing key. Returns the delay. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const exp = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures, 30));
    // Equal jitter: half the delay is fixed, half random, so retries of many keys spread out.
    const backoff = exp / 2 + (this.#random() * exp) / 2;
    const delay = Math.max(backoff, this.#bucket.reserve());
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count (after it succeeded). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. Call `done` after. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (!this.#dirty.has(key) || this.#shuttingDown) return;
    this.#dirty.delete(key);
    this.add(key);
  }

  /** Keys waiting to be processed (not those being processed or delayed). */
  get length(): number {
    return this.#queue.length;
  }

  shutdown(): void {
    this.#shuttingDown = true;
    for (const { cancel } of this.#delayed.values()) cancel();
    this.#delayed.clear();
    for (const waiter of this.#waiters) waiter(undefined);
    this.#waiters = [];
    this.#queue = [];
  }

  #take(key: string, waiter: (key: string) => void): void {
    this.#dirty.delete(key);
    this.#processing.add(key);
    waiter(key);
  }
}

/** Tokens refill at `rate` per second up to `burst`; `reserve` takes one and says how long to wait for it. */
class TokenBucket {
  readonly #clock: Clock;
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(clock: Clock, rate: number, burst: number) {
    this.#clock = clock;
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  reserve(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }
}
