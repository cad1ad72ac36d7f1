/**
 * The only module that imports `@kubernetes/client-node`.
 *
 * Grove works with Kubernetes objects as plain JSON. client-node's typed serializer maps JSON
 * through its generated models, which drops keys it has no model name for (every
 * `x-kubernetes-*` schema extension, for one) and turns timestamps into `Date`s. So this module
 * uses client-node for what it does well — kubeconfig loading, authentication, TLS — and sends
 * plain JSON itself, with a discovery-backed REST mapper for kind → resource.
 *
 * Every failed request becomes a {@link KubeError}; the rest of Grove never sees library types.
 *
 * @module
 */
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { Agent, type Dispatcher, fetch } from 'undici';
import type { KubeObject } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';

/** A failed API request, with the HTTP status and the Status reason the server gave. */
export class KubeError extends GroveError {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, reason: string | undefined, message: string, options?: { cause?: unknown }) {
    super('KubeApi', message, options);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeError && err.status === 404;
}

export function isForbidden(err: unknown): boolean {
  return err instanceof KubeError && err.status === 403;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeError && err.status === 409;
}

/** Identifies one object. `namespace` is absent for cluster-scoped kinds. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of fields other managers own (conflicts are otherwise errors). */
  force?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface List<T> {
  items: T[];
  resourceVersion: string;
}

export interface Kube {
  /** Server-side apply: the object as the field manager wants it; returns the live object. */
  apply<T extends KubeObject>(obj: T, opts: ApplyOptions): Promise<T>;
  /** Server-side apply of the status subresource. */
  applyStatus<T extends KubeObject>(obj: T, opts: ApplyOptions): Promise<T>;
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** The live object, or undefined when it does not exist. */
  get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  /**
   * The object's metadata alone (a PartialObjectMetadata), or undefined when it does not exist:
   * for deciding whether to read an object, such as a Secret, before its contents are fetched.
   */
  getMetadata(ref: ObjectRef): Promise<KubeObject | undefined>;
  list<T extends KubeObject>(apiVersion: string, kind: string, opts?: ListOptions): Promise<List<T>>;
  /**
   * A JSON merge patch, for changes that are not the manager's whole intent (a finalizer, an
   * annotation). With `metadata.resourceVersion` in the patch it is conditional (409 if changed).
   */
  mergePatch<T extends KubeObject>(ref: ObjectRef, patch: Record<string, unknown>, opts: { fieldManager: string }): Promise<T>;
  /** Replaces the object; `metadata.resourceVersion` makes it conditional (409 if it changed). */
  replace<T extends KubeObject>(obj: T): Promise<T>;
  /** Deletes with background propagation; a missing object is not an error. */
  delete(ref: ObjectRef, opts?: { uid?: string }): Promise<void>;
  /**
   * Streams changes after `resourceVersion` until the server ends the watch, `signal` aborts
   * it (both resolve), or the connection fails (rejects). Bookmarks are requested.
   */
  watch(apiVersion: string, kind: string, opts: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void>;
  /**
   * A pod's log (the kubelet's, through the API server), at most `limitBytes` of it: what a
   * finished Job printed. A pod without a node (or whose node is gone) has none: an error.
   */
  podLog(namespace: string, pod: string, opts?: { container?: string; limitBytes?: number }): Promise<string>;
  /** The server's version, e.g. `v1.36.4`. */
  serverVersion(): Promise<string>;
  /** The API server's URL, as the credentials name it. */
  serverUrl(): string;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  /** The server ends the watch after this long; the caller watches again. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  | { type: 'BOOKMARK'; object: KubeObject }
  | { type: 'ERROR'; object: { code?: number; reason?: string; message?: string } };

export interface KubeOptions {
  /** Called once per API request (method, and whether it is a watch), for metrics. */
  onRequest?: (method: string) => void;
}

export function kubeFromFile(path: string, opts: KubeOptions = {}): Kube {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return new RestClient(kc, opts);
}

/**
 * The pod's own ServiceAccount: the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`, the token
 * and CA from `/var/run/secrets/kubernetes.io/serviceaccount` under `root` (tests give a
 * directory). The token file is read per request, so the kubelet's rotations apply.
 */
export function kubeInCluster(opts: KubeOptions = {}, root = ''): Kube {
  const kc = new KubeConfig();
  kc.loadFromCluster(root);
  return new RestClient(kc, opts);
}

/**
 * kubectl's order: `--kubeconfig`, else `$KUBECONFIG`, else the pod's ServiceAccount when running
 * in a pod, else `~/.kube/config`.
 */
export function kubeFromEnvironment(flag: string | undefined, env: NodeJS.ProcessEnv, home: string, opts: KubeOptions = {}): Kube {
  const file = flag ?? env.KUBECONFIG;
  if (file) return kubeFromFile(file, opts);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return kubeInCluster(opts);
  return kubeFromFile(`${home}/.kube/config`, opts);
}

interface ResourceInfo {
  name: string;
  namespaced: boolean;
}

class RestClient implements Kube {
  readonly #kc: KubeConfig;
  readonly #server: string;
  /** apiVersion → kind → resource, from discovery; refreshed once when a kind is missing. */
  readonly #discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();
  readonly #onRequest: ((method: string) => void) | undefined;
  #dispatcher: Promise<Dispatcher | undefined> | undefined;

  constructor(kc: KubeConfig, opts: KubeOptions) {
    this.#kc = kc;
    this.#onRequest = opts.onRequest;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new GroveError('InvalidInput', 'the kubeconfig has no current cluster');
    this.#server = cluster.server.replace(/\/$/, '');
  }

  async apply<T extends KubeObject>(obj: T, opts: ApplyOptions): Promise<T> {
    const path = await this.#path(obj, obj.metadata.name);
    return this.#request<T>(`apply ${describe(obj)}`, 'PATCH', path, {
      query: { fieldManager: opts.fieldManager, force: String(opts.force ?? false) },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  async applyStatus<T extends KubeObject>(obj: T, opts: ApplyOptions): Promise<T> {
    const path = `${await this.#path(obj, obj.metadata.name)}/status`;
    return this.#request<T>(`apply status of ${describe(obj)}`, 'PATCH', path, {
      query: { fieldManager: opts.fieldManager, force: String(opts.force ?? false) },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    return this.#request<T>(`create ${describe(obj)}`, 'POST', await this.#path(obj), { body: obj, contentType: 'application/json' });
  }

  async get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.#request<T>(`get ${describe(ref)}`, 'GET', await this.#path(toMeta(ref), ref.name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async getMetadata(ref: ObjectRef): Promise<KubeObject | undefined> {
    try {
      return await this.#request<KubeObject>(`get the metadata of ${describe(ref)}`, 'GET', await this.#path(toMeta(ref), ref.name), { accept: PARTIAL_METADATA });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(apiVersion: string, kind: string, opts: ListOptions = {}): Promise<List<T>> {
    const path = await this.#path({ apiVersion, kind, metadata: opts.namespace ? { namespace: opts.namespace } : {} });
    const query: Record<string, string> = {};
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    if (opts.fieldSelector) query.fieldSelector = opts.fieldSelector;
    const result = await this.#request<{ items: T[]; metadata: { resourceVersion: string } }>(`list ${kind}`, 'GET', path, { query });
    // Items of a list carry no apiVersion/kind; restore them so every object is self-describing.
    return { items: result.items.map((item) => ({ ...item, apiVersion, kind })), resourceVersion: result.metadata.resourceVersion };
  }

  async mergePatch<T extends KubeObject>(ref: ObjectRef, patch: Record<string, unknown>, opts: { fieldManager: string }): Promise<T> {
    return this.#request<T>(`patch ${describe(ref)}`, 'PATCH', await this.#path(toMeta(ref), ref.name), {
      query: { fieldManager: opts.fieldManager },
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  async replace<T extends KubeObject>(obj: T): Promise<T> {
    return this.#request<T>(`replace ${describe(obj)}`, 'PUT', await this.#path(obj, obj.metadata.name), { body: obj, contentType: 'application/json' });
  }

  async watch(apiVersion: string, kind: string, opts: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    const path = await this.#path({ apiVersion, kind, metadata: opts.namespace ? { namespace: opts.namespace } : {} });
    const url = new URL(this.#server + path);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('allowWatchBookmarks', 'true');
    url.searchParams.set('resourceVersion', opts.resourceVersion);
    if (opts.timeoutSeconds) url.searchParams.set('timeoutSeconds', String(opts.timeoutSeconds));
    if (opts.labelSelector) url.searchParams.set('labelSelector', opts.labelSelector);
    if (opts.fieldSelector) url.searchParams.set('fieldSelector', opts.fieldSelector);
    const auth = await this.#auth(url, 'GET');
    this.#onRequest?.('WATCH');
    let response;
    try {
      response = await fetch(url, { headers: { ...auth.headers, accept: 'application/json' }, ...auth.dispatcher, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (cause) {
      if (opts.signal?.aborted) return;
      throw new KubeError(0, undefined, `watch ${kind}: ${(cause as Error).message}`, { cause });
    }
    if (!response.ok || !response.body) {
      const status = parseStatus(await response.text());
      throw new KubeError(response.status, status.reason, `watch ${kind}: ${status.message ?? `HTTP ${response.status}`}`);
    }
    let buffered = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent;
          if (event.type !== 'ERROR' && event.type !== 'BOOKMARK') event.object = { ...event.object, apiVersion, kind };
          onEvent(event);
        }
      }
    } catch (cause) {
      if (opts.signal?.aborted) return;
      throw new KubeError(0, undefined, `watch ${kind}: ${(cause as Error).message}`, { cause });
    }
  }

  async delete(ref: ObjectRef, opts: { uid?: string } = {}): Promise<void> {
    try {
      await this.#request(`delete ${describe(ref)}`, 'DELETE', await this.#path(toMeta(ref), ref.name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}) },
        contentType: 'application/json',
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  serverUrl(): string {
    return this.#server;
  }

  async podLog(namespace: string, pod: string, opts: { container?: string; limitBytes?: number } = {}): Promise<string> {
    const query = { ...(opts.container ? { container: opts.container } : {}), ...(opts.limitBytes ? { limitBytes: String(opts.limitBytes) } : {}) };
    return this.#request<string>(`get the log of pod ${namespace}/${pod}`, 'GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`, { query, accept: '*/*', raw: true });
  }

  async serverVersion(): Promise<string> {
    return (await this.#request<{ gitVersion: string }>('get /version', 'GET', '/version')).gitVersion;
  }

  async #path(obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }, name?: string): Promise<string> {
    const info = await this.#resource(obj.apiVersion, obj.kind);
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    let path = base;
    if (info.namespaced && obj.metadata.namespace) path += `/namespaces/${encodeURIComponent(obj.metadata.namespace)}`;
    else if (info.namespaced && name !== undefined) {
      throw new GroveError('InvalidInput', `${obj.kind} ${name} is namespaced, but no namespace was given`);
    }
    path += `/${info.name}`;
    if (name !== undefined) path += `/${encodeURIComponent(name)}`;
    return path;
  }

  async #resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    // A kind missing from the cached discovery may belong to a CRD installed since: look once more.
    const found = (await this.#discovered(apiVersion, false)).get(kind) ?? (await this.#discovered(apiVersion, true)).get(kind);
    if (!found) throw new KubeError(404, 'NotFound', `the server does not serve kind ${kind} in ${apiVersion}`);
    return found;
  }

  #discovered(apiVersion: string, refresh: boolean): Promise<Map<string, ResourceInfo>> {
    let pending = this.#discovery.get(apiVersion);
    if (!pending || refresh) {
      pending = this.#discover(apiVersion);
      this.#discovery.set(apiVersion, pending);
      pending.catch(() => this.#discovery.delete(apiVersion));
    }
    return pending;
  }

  async #discover(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.#request<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>(`discover ${apiVersion}`, 'GET', path);
    return new Map(list.resources.filter((r) => !r.name.includes('/')).map((r) => [r.kind, { name: r.name, namespaced: r.namespaced }]));
  }

  /**
   * The headers of the kubeconfig's credentials (asked for per request: tokens rotate), and one
   * long-lived dispatcher for its TLS settings. client-node builds a new dispatcher on every
   * call, which means a TLS handshake per request — most of an operator's CPU, and the API
   * server's, under load.
   */
  async #auth(url: URL, method: keyof typeof HttpMethod): Promise<{ headers: Record<string, string>; dispatcher: { dispatcher?: Dispatcher } }> {
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.#kc.applySecurityAuthentication(ctx);
    this.#dispatcher ??= this.#sharedDispatcher();
    const dispatcher = (await this.#dispatcher) ?? ctx.getDispatcher();
    return { headers: ctx.getHeaders(), dispatcher: dispatcher ? { dispatcher } : {} };
  }

  /** An Agent with the kubeconfig's TLS settings; undefined for proxies, left to client-node. */
  async #sharedDispatcher(): Promise<Dispatcher | undefined> {
    const tls: Parameters<KubeConfig['createDispatcherOptions']>[1] = {};
    await this.#kc.applyToHTTPSOptions(tls);
    const options = this.#kc.createDispatcherOptions(this.#kc.getCurrentCluster(), tls);
    return options.type === 'agent' ? new Agent({ connect: options.connect }) : undefined;
  }

  async #request<T>(
    what: string,
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; contentType?: string; accept?: string; raw?: boolean } = {},
  ): Promise<T> {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const auth = await this.#auth(url, method);
    this.#onRequest?.(method);
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...auth.headers,
          accept: opts.accept ?? 'application/json',
          ...(opts.contentType ? { 'content-type': opts.contentType } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...auth.dispatcher,
      });
    } catch (cause) {
      throw new KubeError(0, undefined, `${what}: ${(cause as Error).message}`, { cause });
    }
    const text = await response.text();
    if (!response.ok) {
      const status = parseStatus(text);
      throw new KubeError(response.status, status.reason, `${what}: ${status.message ?? `HTTP ${response.status}`}`);
    }
    if (opts.raw) return text as T;
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** Asks the API server for metadata only: the contents never leave it. */
const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

function toMeta(ref: ObjectRef): { apiVersion: string; kind: string; metadata: { namespace?: string } } {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: ref.namespace ? { namespace: ref.namespace } : {} };
}

function describe(r: { kind: string; metadata?: { name?: string; namespace?: string } } | ObjectRef): string {
  const name = 'metadata' in r ? r.metadata?.name : (r as ObjectRef).name;
  const namespace = 'metadata' in r ? r.metadata?.namespace : (r as ObjectRef).namespace;
  return `${r.kind} ${namespace ? `${namespace}/` : ''}${name ?? ''}`.trim();
}

function parseStatus(text: string): { message?: string; reason?: string } {
  try {
    return JSON.parse(text) as { message?: string; reason?: string };
  } catch {
    return { message: text.slice(0, 500) };
  }
}
