/**
 * The Project's Git host, as the controllers reach it: its API (`spec.gitHost`), with the token
 * of a Secret that lists the Project in `grove.dev/usable-by`, through the operator's outbound
 * policy.
 *
 * @module
 */
import type { Project } from '../api/index.ts';
import { messageOf, ReconcileError } from '../errors/index.ts';
import { type GitHost, gitHost, hostRepo } from '../githost/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Outbound } from '../outbound/index.ts';
import type { Clock } from '../runtime/index.ts';
import { readSecret } from '../secrets/index.ts';

export const GIT_HOST_TOKEN_UNAVAILABLE = 'GitHostTokenUnavailable';

/** The client of a Project that has `spec.gitHost`; a ReconcileError (wait) when its token cannot be read. */
export async function gitHostOf(deps: { kube: Kube; clock: Clock; outbound?: Outbound }, project: Project): Promise<GitHost> {
  const spec = project.spec.gitHost;
  if (!spec) throw new ReconcileError(GIT_HOST_TOKEN_UNAVAILABLE, `Project ${project.metadata.name ?? ''} names no Git host (spec.gitHost)`, 'stall');
  const key = spec.secretRef.key ?? 'token';
  let token: string | undefined;
  try {
    token = (await readSecret(deps.kube, project.metadata.namespace as string, spec.secretRef.name, { kind: 'Project', name: project.metadata.name as string }))?.[key];
  } catch (err) {
    throw new ReconcileError(GIT_HOST_TOKEN_UNAVAILABLE, messageOf(err), 'wait', { cause: err, requeueAfterMs: 60_000 });
  }
  if (!token) throw new ReconcileError(GIT_HOST_TOKEN_UNAVAILABLE, `Secret ${spec.secretRef.name} has no key ${key} (spec.gitHost.secretRef)`, 'wait', { requeueAfterMs: 60_000 });
  return gitHost({ repo: hostRepo(spec.type, project.spec.repo.url, spec.apiUrl), token, now: () => deps.clock.now(), ...(deps.outbound ? { dispatcher: deps.outbound.dispatcher } : {}) });
}
