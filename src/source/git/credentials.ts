/**
 * A Project's Git remote with its credentials, read from the Secret the Project names. The
 * Secret's values go to the Git client only: never to a log, an Event or a condition.
 *
 * @module
 */
import { type KubeObject, type Project, REASONS } from '../../api/index.ts';
import { ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { GitRemote } from './repository.ts';

/** Throws a `wait` ReconcileError (SecretNotFound, CredentialsInvalid) when the Secret is missing or unusable. */
export async function remoteOf(kube: Kube, project: Project): Promise<GitRemote> {
  const ref = project.spec.repo.secretRef;
  if (!ref) return { url: project.spec.repo.url };
  const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace: project.metadata.namespace, name: ref.name });
  if (!secret) {
    throw new ReconcileError(REASONS.secretNotFound, `Secret ${ref.name} with the repository credentials does not exist`, 'wait', { requeueAfterMs: 30_000 });
  }
  const value = (k: string): string | undefined => (secret.data?.[k] !== undefined ? Buffer.from(secret.data[k], 'base64').toString('utf8') : undefined);
  const token = value('token');
  const username = value('username');
  const password = value('password');
  if (!token && password === undefined) {
    throw new ReconcileError(REASONS.credentialsInvalid, `Secret ${ref.name} needs a key "token", or "username" and "password"`, 'wait', { requeueAfterMs: 30_000 });
  }
  return { url: project.spec.repo.url, credentials: { ...(token ? { token } : {}), ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) } };
}
