/**
 * Reads served from the operator's informers instead of the API server, the way controller-runtime
 * reads: a reconcile that only looks at objects costs the server nothing.
 *
 * A cache can lag the server by a few milliseconds. Callers that must not act on an absence that
 * is only lag (generating a password, taking over a namespace) confirm it with a live read.
 *
 * @module
 */
import type { KubeObject } from '../api/index.ts';
import type { ObjectRef } from '../kube/index.ts';
import type { Informer } from './informer.ts';

export interface ObjectCache {
  /**
   * `undefined` when the kind is not cached (or not synced yet): ask the API server.
   * `{ object: undefined }` when the cache knows the object does not exist.
   */
  lookup<T extends KubeObject>(ref: ObjectRef): { object: T | undefined } | undefined;
  /** The kind's objects in a namespace; `undefined` when the kind is not cached (or not synced yet). */
  list?<T extends KubeObject>(apiVersion: string, kind: string, namespace: string): T[] | undefined;
}

export class InformerCache implements ObjectCache {
  readonly #informers = new Map<string, Informer>();

  constructor(informers: Iterable<Informer>) {
    for (const informer of informers) this.#informers.set(`${informer.apiVersion}/${informer.kind}`, informer);
  }

  lookup<T extends KubeObject>(ref: ObjectRef): { object: T | undefined } | undefined {
    const informer = this.#informers.get(`${ref.apiVersion}/${ref.kind}`);
    if (!informer?.hasSynced) return undefined;
    return { object: informer.get(ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name) as T | undefined };
  }

  list<T extends KubeObject>(apiVersion: string, kind: string, namespace: string): T[] | undefined {
    const informer = this.#informers.get(`${apiVersion}/${kind}`);
    if (!informer?.hasSynced) return undefined;
    return informer.list().filter((o) => o.metadata.namespace === namespace) as T[];
  }
}

/** Fields every controller ignores and that take a large part of each object: dropped from caches. */
export function withoutManagedFields(obj: KubeObject): KubeObject {
  if (!obj.metadata.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}
