/**
 * The webhook secret of each Project, as the receiver needs it before it can check a signature.
 *
 * Read through a short-lived cache, so that a burst of requests — signed or not, for Projects
 * that exist or not — costs at most one read of the Project and two of its Secret (its metadata, then, if it lets
 * the Project use it, its contents) per entry and TTL, and at most `maxLookups` reads at a time: the receiver cannot be made to amplify traffic
 * into the API server. Misses are cached too (the answer "no such webhook" is as cheap as a hit),
 * and the cache holds a bounded number of entries, the least recently used going first. A Secret
 * rotated in Git host and cluster is in force after at most one TTL.
 *
 * @module
 */
import { API_VERSION, type Project } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Clock } from '../runtime/index.ts';
import { readSecret } from '../secrets/index.ts';

export interface WebhookSecretOptions {
  kube: Kube;
  clock: Clock;
  log: Logger;
  /** How long an answer stands (default 10 s). */
  ttlMs?: number;
  /** Projects remembered (default 1024). */
  maxEntries?: number;
  /** API reads under way at once (default 4); more requests wait their turn. */
  maxLookups?: number;
}

export class WebhookSecrets {
  readonly #entries = new Map<string, { at: number; secret: Promise<string | undefined> }>();
  readonly #waiting: Array<() => void> = [];
  #lookups = 0;
  readonly #opts: Required<WebhookSecretOptions>;

  constructor(opts: WebhookSecretOptions) {
    this.#opts = { ttlMs: 10_000, maxEntries: 1024, maxLookups: 4, ...opts };
  }

  /** The Project's webhook secret; undefined when it has none (no such Project, no webhook, no Secret). Throws when the API cannot say. */
  secretOf(namespace: string, name: string): Promise<string | undefined> {
    const key = `${namespace}/${name}`;
    const now = this.#opts.clock.now();
    const cached = this.#entries.get(key);
    this.#entries.delete(key);
    if (cached && now - cached.at < this.#opts.ttlMs) {
      this.#entries.set(key, cached);
      return cached.secret;
    }
    const secret = this.#limited(() => this.#lookUp(namespace, name));
    // A failed lookup is not remembered: the next request asks again.
    secret.catch(() => this.#entries.get(key)?.secret === secret && this.#entries.delete(key));
    this.#entries.set(key, { at: now, secret });
    if (this.#entries.size > this.#opts.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    return secret;
  }

  async #lookUp(namespace: string, name: string): Promise<string | undefined> {
    const project = await this.#opts.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name });
    const ref = project?.spec.webhook?.secretRef;
    if (!ref) return undefined;
    // Once per lookup, not per request: a misconfigured Project is worth one line per TTL.
    const refuse = (why: string): undefined => void this.#opts.log.warn({ namespace, name, kind: 'Project', secret: ref.name }, `Webhooks for this Project are refused: ${why}`);
    let data;
    try {
      data = await readSecret(this.#opts.kube, namespace, ref.name, { kind: 'Project', name });
    } catch (err) {
      if (err instanceof GroveError && err.code === 'Forbidden') return refuse(err.message);
      throw err;
    }
    return data?.[ref.key ?? 'secret'] || refuse('its webhook Secret or its key is missing');
  }

  async #limited<T>(work: () => Promise<T>): Promise<T> {
    while (this.#lookups >= this.#opts.maxLookups) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#lookups++;
    try {
      return await work();
    } finally {
      this.#lookups--;
      this.#waiting.shift()?.();
    }
  }
}
