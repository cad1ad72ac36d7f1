/**
 * The Secrets Grove objects name, read only with the Secret's consent. A Project's repository
 * token or a BackupStore's S3 keys are sent to whatever URL that object gives, so an object may
 * use a Secret only when the Secret lists it in `grove.dev/usable-by`. The Secret's metadata is
 * read first; its contents are fetched only after it opted in, and never reach a log, an Event
 * or a condition.
 *
 * @module
 */
import { ANNOTATIONS, type KubeObject } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';

/** The Grove object that wants a Secret. */
export interface SecretUser {
  kind: 'Project' | 'BackupStore';
  name: string;
}

/** Whether a Secret's annotations let `user` use it: `grove.dev/usable-by` lists `Kind/name`. */
export function usableBy(annotations: Record<string, string> | undefined, user: SecretUser): boolean {
  const entries = (annotations?.[ANNOTATIONS.usableBy] ?? '').split(',').map((entry) => entry.trim());
  return entries.includes(`${user.kind}/${user.name}`);
}

/**
 * The decoded values of Secret `name` in `namespace` for `user`, or undefined when the Secret
 * does not exist. Throws a `Forbidden` GroveError, having read nothing but metadata, when the
 * Secret does not list `user`: the message says which annotation would let it.
 */
export async function readSecret(kube: Kube, namespace: string, name: string, user: SecretUser): Promise<Record<string, string> | undefined> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace, name };
  const meta = await kube.getMetadata(ref);
  if (!meta) return undefined;
  if (!usableBy(meta.metadata.annotations, user)) {
    throw new GroveError(
      'Forbidden',
      `Secret ${name} does not let ${user.kind} ${user.name} use it: a Secret is used only by the Grove objects its annotation ${ANNOTATIONS.usableBy} lists (add ${user.kind}/${user.name})`,
    );
  }
  return await readOwnSecret(kube, namespace, name);
}

/** The decoded values of a Secret Grove wrote itself (an Environment's service credentials), or undefined when it does not exist. */
export async function readOwnSecret(kube: Kube, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  if (!secret) return undefined;
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}
