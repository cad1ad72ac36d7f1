/**
 * What every controller does the same way: write a status only when it changed, create an object
 * of a deterministic name once, read through the cache with a confirming read, read an
 * Environment's manifest at a revision, and read what a failed hook printed.
 *
 * @module
 */
import { type Environment, FIELD_MANAGER, type KubeObject, type Project } from '../api/index.ts';
import { isConflict, isNotFound, type Kube, type ObjectRef } from '../kube/index.ts';
import { parseManifest, type ResolvedManifest, resolveManifest } from '../manifest/index.ts';
import type { ObjectCache } from '../runtime/index.ts';
import { type GitSource, remoteOf } from '../source/git/index.ts';

/** A read through the operator's caches where they serve the kind, else from the API server. */
export type Read = <T extends KubeObject>(ref: ObjectRef) => Promise<T | undefined>;

/** Reads from the informers' cache when it serves the kind, from the API server otherwise. */
export function readerOf(deps: { kube: Kube; cache?: ObjectCache | undefined }): Read {
  return async <T extends KubeObject>(ref: ObjectRef) => {
    const hit = deps.cache?.lookup<T>(ref);
    return hit ? hit.object : deps.kube.get<T>(ref);
  };
}

/** The object from the cache, or — when the cache has none, which may be lag — from the API server. */
export async function readConfirmed<T extends KubeObject>(kube: Kube, read: Read, ref: ObjectRef): Promise<T | undefined> {
  return (await read<T>(ref)) ?? kube.get<T>(ref);
}

/**
 * Server-side applies `status` to the object's status subresource unless it equals what the
 * object has; an object deleted meanwhile is not an error (nothing is left to report on).
 */
export async function writeStatus<S>(kube: Kube, obj: KubeObject & { status?: S }, status: S): Promise<void> {
  if (JSON.stringify(obj.status ?? {}) === JSON.stringify(status)) return;
  try {
    await kube.applyStatus({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status }, { fieldManager: FIELD_MANAGER, force: true });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * The Environment's manifest at `revision`, resolved for its type; undefined when the file is
 * absent or invalid there (the Environment controller reports why). Git failures throw.
 */
export async function manifestAt(kube: Kube, git: GitSource, project: Project, env: Environment, revision: string): Promise<ResolvedManifest | undefined> {
  const text = await git.readFile(await remoteOf(kube, project), { branch: env.spec.branch, commit: revision }, project.spec.manifestPath ?? 'platform.yaml');
  const parsed = text === undefined ? undefined : parseManifest(text);
  if (!parsed?.ok) return undefined;
  return resolveManifest(parsed.manifest, { type: env.spec.type ?? 'development', commit: revision, branch: env.spec.branch, environment: env.metadata.name as string });
}

/**
 * Creates `obj` unless it exists; true when this call made it. Names are deterministic, so a
 * second reconcile (or replica) racing the first gets a conflict, never a duplicate.
 */
export async function createOnce(kube: Kube, obj: KubeObject): Promise<boolean> {
  try {
    await kube.create(obj);
    return true;
  } catch (err) {
    if (!isConflict(err)) throw err;
    return false;
  }
}

type HookPod = KubeObject & { status?: { containerStatuses?: Array<{ state?: { terminated?: { exitCode?: number; message?: string } } }> } };

/**
 * What a failed hook Job printed last: its pod's termination message, which the kubelet fills
 * from the end of the container's log (`FallbackToLogsOnError`). Undefined when no pod says.
 */
export async function hookOutput(kube: Kube, namespace: string, job: string): Promise<string | undefined> {
  const pods = (await kube.list<HookPod>('v1', 'Pod', { namespace, labelSelector: `job-name=${job}` }).catch(() => ({ items: [] as HookPod[] }))).items;
  for (const pod of pods) {
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    if (terminated && terminated.exitCode !== 0 && terminated.message) return `exit code ${terminated.exitCode}: ${terminated.message.trim()}`;
  }
  return undefined;
}
