/**
 * Who the operator is to the API server, for the RoleBinding it plans in each Environment's
 * namespace. Asked of the server (SelfSubjectReview) rather than configured, so the binding can
 * never name anyone but the operator itself.
 *
 * @module
 */
import type { KubeObject } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { NamespaceAccess } from '../planner/index.ts';

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

/** The RBAC subject of a Kubernetes username: its ServiceAccount, else the user. Pure. */
export function subjectOf(username: string): NamespaceAccess['subject'] {
  const sa = SERVICE_ACCOUNT_USER.exec(username);
  return sa ? { kind: 'ServiceAccount', namespace: sa[1] as string, name: sa[3] as string } : { kind: 'User', name: username };
}

type SelfSubjectReview = KubeObject & { status?: { userInfo?: { username?: string } } };

export async function namespaceAccess(kube: Kube, clusterRole: string): Promise<NamespaceAccess> {
  const review = await kube.create<SelfSubjectReview>({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
  const username = review.status?.userInfo?.username;
  if (!username) throw new GroveError('KubeApi', 'the API server did not say who the operator is (SelfSubjectReview had no username)');
  return { clusterRole, subject: subjectOf(username) };
}
