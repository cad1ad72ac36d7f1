/**
 * A watch cache of one kind: list, then watch from the list's resourceVersion, keeping a map of
 * the objects and telling a handler the key of every object that changed.
 *
 * Watches fail in ways a controller must survive: the server ends them (timeoutSeconds), the
 * history they resume from is compacted (410 Gone), connections drop, and — the client-node
 * failure this module exists for — a stream can stall silently and deliver nothing more. So:
 * - an ended watch resumes from the last resourceVersion seen (events or bookmarks);
 * - 410 Gone, or any error, relists after a jittered exponential backoff;
 * - a watchdog relists when nothing (not even a bookmark, which the server sends about once a
 *   minute) has arrived for `stallAfterMs`;
 * - a relist reports objects deleted while disconnected.
 *
 * The handler receives keys, never objects: controllers re-read what they need.
 *
 * @module
 */
import type { KubeObject } from '../api/index.ts';
import { messageOf } from '../errors/index.ts';
import type { Kube, WatchEvent } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Cancel, Clock } from './clock.ts';

export interface InformerOptions {
  kube: Kube;
  apiVersion: string;
  kind: string;
  namespace?: string;
  labelSelector?: string;
  /** One object by name, say (`metadata.name=x`). */
  fieldSelector?: string;
  clock: Clock;
  log: Logger;
  /**
   * Called with `namespace/name` (or `name`) of each object added, changed or deleted, with the
   * cached version it replaces (undefined when new), so callers can ignore status-only changes.
   */
  onChange: (key: string, obj: KubeObject, deleted: boolean, previous: KubeObject | undefined) => void;
  stallAfterMs?: number;
  /**
   * Keeps only what callers need of each object (client-go's transform): the cache holds one copy
   * of every watched object for the life of the process, and most of an object is never read.
   */
  transform?: (obj: KubeObject) => KubeObject;
  /** Also report every cached object this often, as a safety net for missed events. */
  resyncMs?: number;
  random?: () => number;
}

export function objectKey(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name ?? '');
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly #opts: InformerOptions;
  readonly apiVersion: string;
  readonly kind: string;
  readonly #cache = new Map<string, T>();
  #resourceVersion = '';
  #abort: AbortController | undefined;
  #stopped = false;
  #failures = 0;
  #lastActivity = 0;
  #watchdog: Cancel | undefined;
  #resync: Cancel | undefined;
  #retry: Cancel | undefined;
  #synced!: () => void;
  readonly synced: Promise<void> = new Promise((resolve) => (this.#synced = resolve));
  /** Number of full lists so far (1 after a clean start); visible for tests and metrics. */
  lists = 0;

  constructor(opts: InformerOptions) {
    this.#opts = opts;
    this.apiVersion = opts.apiVersion;
    this.kind = opts.kind;
  }

  /** Whether the first list has arrived: before it, an absent key proves nothing. */
  get hasSynced(): boolean {
    return this.lists > 0;
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  start(): void {
    this.#lastActivity = this.#opts.clock.now();
    this.#armWatchdog();
    if (this.#opts.resyncMs) this.#armResync(this.#opts.resyncMs);
    void this.#run(true);
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
    this.#watchdog?.();
    this.#resync?.();
    this.#retry?.();
  }

  async #run(relist: boolean): Promise<void> {
    if (this.#stopped) return;
    const { kube, apiVersion, kind, namespace, labelSelector, fieldSelector, log } = this.#opts;
    try {
      if (relist) await this.#relist();
      this.#abort = new AbortController();
      await kube.watch(
        apiVersion,
        kind,
        {
          resourceVersion: this.#resourceVersion,
          // Like client-go: a random server-side timeout, so many watches do not renew together.
          timeoutSeconds: Math.floor(300 + (this.#opts.random ?? Math.random)() * 300),
          signal: this.#abort.signal,
          ...(namespace ? { namespace } : {}),
          ...(labelSelector ? { labelSelector } : {}),
          ...(fieldSelector ? { fieldSelector } : {}),
        },
        (event) => this.#handle(event),
      );
      if (this.#stopped) return;
      // The server ended the watch (its timeout) or the watchdog aborted it: resume.
      this.#failures = 0;
      void this.#run(this.#needsRelist);
    } catch (err) {
      if (this.#stopped) return;
      this.#failures++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#failures - 1, 6)) * (0.5 + (this.#opts.random ?? Math.random)() * 0.5);
      log.warn({ kind, err: messageOf(err), retryInMs: Math.round(delay) }, 'Watch failed; relisting after a pause');
      this.#retry = this.#opts.clock.after(delay, () => void this.#run(true));
    }
  }

  #needsRelist = false;

  async #relist(): Promise<void> {
    const { kube, apiVersion, kind, namespace, labelSelector, fieldSelector } = this.#opts;
    const result = await kube.list<T>(apiVersion, kind, { ...(namespace ? { namespace } : {}), ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
    this.lists++;
    this.#needsRelist = false;
    this.#touch();
    const seen = new Set<string>();
    for (const item of result.items) {
      const obj = this.#transform(item);
      const key = objectKey(obj);
      seen.add(key);
      const previous = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (previous?.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#opts.onChange(key, obj, false, previous);
    }
    for (const [key, obj] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#opts.onChange(key, obj, true, obj);
    }
    this.#resourceVersion = result.resourceVersion;
    this.#synced();
  }

  #handle(event: WatchEvent): void {
    this.#touch();
    switch (event.type) {
      case 'ERROR':
        // 410 Gone: the resourceVersion is too old to resume from. End this watch and relist.
        this.#needsRelist = true;
        this.#abort?.abort();
        return;
      case 'BOOKMARK':
        this.#resourceVersion = event.object.metadata.resourceVersion ?? this.#resourceVersion;
        return;
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.#transform(event.object);
        this.#resourceVersion = obj.metadata.resourceVersion ?? this.#resourceVersion;
        const previous = this.#cache.get(objectKey(obj));
        this.#cache.set(objectKey(obj), obj);
        this.#opts.onChange(objectKey(obj), obj, false, previous);
        return;
      }
      case 'DELETED': {
        const obj = event.object as T;
        this.#resourceVersion = obj.metadata.resourceVersion ?? this.#resourceVersion;
        const previous = this.#cache.get(objectKey(obj));
        this.#cache.delete(objectKey(obj));
        this.#opts.onChange(objectKey(obj), obj, true, previous);
        return;
      }
    }
  }

  #transform(obj: KubeObject): T {
    return (this.#opts.transform ? this.#opts.transform(obj) : obj) as T;
  }

  #touch(): void {
    this.#lastActivity = this.#opts.clock.now();
  }

  #armWatchdog(): void {
    const stallAfterMs = this.#opts.stallAfterMs ?? 180_000;
    const check = (): void => {
      if (this.#stopped) return;
      const idle = this.#opts.clock.now() - this.#lastActivity;
      if (idle >= stallAfterMs && this.#abort && !this.#abort.signal.aborted) {
        this.#opts.log.warn({ kind: this.#opts.kind, idleMs: idle }, 'Watch stalled; restarting it with a relist');
        this.#needsRelist = true;
        this.#touch();
        this.#abort.abort();
      }
      this.#watchdog = this.#opts.clock.after(Math.max(1000, stallAfterMs / 4), check);
    };
    this.#watchdog = this.#opts.clock.after(Math.max(1000, stallAfterMs / 4), check);
  }

  #armResync(every: number): void {
    this.#resync = this.#opts.clock.after(every, () => {
      if (this.#stopped) return;
      for (const [key, obj] of this.#cache) this.#opts.onChange(key, obj, false, undefined);
      this.#armResync(every);
    });
  }
}
