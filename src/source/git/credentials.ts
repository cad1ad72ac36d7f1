/**
 * A Project's Git remote with its credentials, read from the Secret the Project names. The
 * Secret's values go to the Git client only: never to a log, an Event or a condition.
 *
 * @module
 */
import { type Project, REASONS } from '../../api/index.ts';
import { GroveError, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import { readSecret } from '../../secrets/index.ts';
import type { GitRemote } from './repository.ts';

/** Throws a `wait` ReconcileError (SecretNotFound, SecretNotUsable, CredentialsInvalid) when the Secret is missing or unusable. */
export async function remoteOf(kube: Kube, project: Project): Promise<GitRemote> {
  const ref = project.spec.repo.secretRef;
  if (!ref) return { url: project.spec.repo.url };
  const data = await projectSecret(kube, project, ref.name, 'the repository credentials');
  const value = (k: string): string | undefined => data[k];
  const token = value('token');
  const username = value('username');
  const password = value('password');
  if (!token && password === undefined) {
    throw new ReconcileError(REASONS.credentialsInvalid, `Secret ${ref.name} needs a key "token", or "username" and "password"`, 'wait', { requeueAfterMs: 30_000 });
  }
  return { url: project.spec.repo.url, credentials: { ...(token ? { token } : {}), ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) } };
}

/** The values of a Secret the Project names; a missing or unconsenting Secret is a `wait` that says which. */
async function projectSecret(kube: Kube, project: Project, name: string, holding: string): Promise<Record<string, string>> {
  let data;
  try {
    data = await readSecret(kube, project.metadata.namespace as string, name, { kind: 'Project', name: project.metadata.name as string });
  } catch (err) {
    if (err instanceof GroveError && err.code === 'Forbidden') throw new ReconcileError(REASONS.secretNotUsable, err.message, 'wait', { cause: err, requeueAfterMs: 30_000 });
    throw err;
  }
  if (!data) throw new ReconcileError(REASONS.secretNotFound, `Secret ${name} with ${holding} does not exist`, 'wait', { requeueAfterMs: 30_000 });
  return data;
}
