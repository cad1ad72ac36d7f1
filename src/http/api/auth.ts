/**
 * Who calls the API, and what they may do: a Bearer token is checked by the API server
 * (TokenReview), and every operation by a SubjectAccessReview for the matching verb on the
 * `grove.dev` resource in the project namespace — so agents and people obey the same RBAC as
 * with kubectl. Answers are kept a few seconds: an agent polling an Environment costs the API
 * server one review per interval, not one per request.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { GROUP, type KubeObject } from '../../api/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Clock } from '../../runtime/index.ts';

export interface Caller {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface Access {
  verb: 'get' | 'list' | 'create' | 'patch' | 'delete' | 'confirm';
  /** Grove's kinds, or the ConfigMap that is the operator-wide kill switch. */
  resource: 'environments' | 'backups' | 'restores' | 'rehearsals' | 'projects' | 'configmaps';
  namespace: string;
  name?: string;
}

export interface Authorizer {
  /** The caller a token belongs to; undefined when the API server does not accept it. */
  authenticate(token: string): Promise<Caller | undefined>;
  /** Whether RBAC lets the caller do it, and the API server's reason when not. */
  authorize(caller: Caller, access: Access): Promise<{ allowed: boolean; reason?: string }>;
}

type TokenReview = KubeObject & { status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } };
type AccessReview = KubeObject & { status?: { allowed?: boolean; denied?: boolean; reason?: string } };

export function kubernetesAuthorizer(kube: Kube, clock: Clock, cacheMs = 10_000): Authorizer {
  const remembered = new Map<string, { until: number; value: unknown }>();
  const cached = async <T>(key: string, compute: () => Promise<T>): Promise<T> => {
    const now = clock.now();
    const hit = remembered.get(key);
    if (hit && hit.until > now) return hit.value as T;
    const value = await compute();
    if (remembered.size > 10_000) remembered.clear();
    remembered.set(key, { until: now + cacheMs, value });
    return value;
  };
  return {
    authenticate: (token) =>
      // Keyed by a hash: the cache never holds a token.
      cached(`token:${createHash('sha256').update(token).digest('hex')}`, async () => {
        const review = await kube.create<TokenReview>({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: { token } } as TokenReview);
        const user = review.status?.user;
        if (!review.status?.authenticated || !user?.username) return undefined;
        return { username: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups ?? [], ...(user.extra ? { extra: user.extra } : {}) };
      }),
    authorize: (caller, access) =>
      cached(`access:${JSON.stringify([caller, access])}`, async () => {
        const review = await kube.create<AccessReview>({
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          metadata: {},
          spec: {
            user: caller.username,
            ...(caller.uid ? { uid: caller.uid } : {}),
            groups: caller.groups,
            ...(caller.extra ? { extra: caller.extra } : {}),
            resourceAttributes: { group: access.resource === 'configmaps' ? '' : GROUP, resource: access.resource, verb: access.verb, namespace: access.namespace, ...(access.name ? { name: access.name } : {}) },
          },
        } as AccessReview);
        return { allowed: review.status?.allowed === true && review.status.denied !== true, ...(review.status?.reason ? { reason: review.status.reason } : {}) };
      }),
  };
}
