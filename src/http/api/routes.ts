/**
 * The operations of `/api/v1`: one table that the router, the authorisation and the OpenAPI
 * document all read, so they cannot disagree. Pure.
 *
 * @module
 */
import { LOCKDOWN_CONFIGMAP } from '../../api/index.ts';
import type { Access } from './auth.ts';

export type OperationId =
  | 'listEnvironments'
  | 'createEnvironment'
  | 'getEnvironment'
  | 'deleteEnvironment'
  | 'waitEnvironment'
  | 'renewEnvironment'
  | 'sleepEnvironment'
  | 'wakeEnvironment'
  | 'listBackups'
  | 'createBackup'
  | 'createRestore'
  | 'getRestore'
  | 'listRehearsals'
  | 'createRehearsal'
  | 'getRehearsal'
  | 'readAudit'
  | 'planBranch'
  | 'lockdownProject'
  | 'lockdownOperator';

export interface Operation {
  id: OperationId;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** With `{namespace}`, `{name}`, `{project}` placeholders. */
  path: string;
  summary: string;
  /** What RBAC must allow, in the project namespace. */
  verb: Access['verb'];
  resource: Access['resource'];
  /** Operations that change nothing may be retried freely. */
  readOnly: boolean;
}

const NS = '/api/v1/namespaces/{namespace}';

export const OPERATIONS: readonly Operation[] = [
  { id: 'listEnvironments', method: 'GET', path: `${NS}/environments`, summary: 'List the Environments of a project namespace', verb: 'list', resource: 'environments', readOnly: true },
  { id: 'createEnvironment', method: 'POST', path: `${NS}/environments`, summary: 'Create an Environment for a branch (data cloned from its parent)', verb: 'create', resource: 'environments', readOnly: false },
  { id: 'getEnvironment', method: 'GET', path: `${NS}/environments/{name}`, summary: 'Get one Environment with its conditions, URLs and expiry', verb: 'get', resource: 'environments', readOnly: true },
  { id: 'deleteEnvironment', method: 'DELETE', path: `${NS}/environments/{name}`, summary: 'Delete an Environment (after its final backup, when its type is backed up)', verb: 'delete', resource: 'environments', readOnly: false },
  { id: 'waitEnvironment', method: 'GET', path: `${NS}/environments/{name}/wait`, summary: 'Wait until the Environment is Ready, stalled, or the timeout passes (long poll)', verb: 'get', resource: 'environments', readOnly: true },
  { id: 'renewEnvironment', method: 'POST', path: `${NS}/environments/{name}/renew`, summary: 'Count now as activity: the expiry moves and an idle Environment wakes', verb: 'patch', resource: 'environments', readOnly: false },
  { id: 'sleepEnvironment', method: 'POST', path: `${NS}/environments/{name}/sleep`, summary: 'Scale the Environment to zero until woken', verb: 'patch', resource: 'environments', readOnly: false },
  { id: 'wakeEnvironment', method: 'POST', path: `${NS}/environments/{name}/wake`, summary: 'Scale the Environment back to its manifest, and renew it', verb: 'patch', resource: 'environments', readOnly: false },
  { id: 'listBackups', method: 'GET', path: `${NS}/backups`, summary: 'List Backups, optionally of one Environment', verb: 'list', resource: 'backups', readOnly: true },
  { id: 'createBackup', method: 'POST', path: `${NS}/backups`, summary: 'Back an Environment up now', verb: 'create', resource: 'backups', readOnly: false },
  { id: 'createRestore', method: 'POST', path: `${NS}/restores`, summary: 'Restore a Backup, into a new Environment by default', verb: 'create', resource: 'restores', readOnly: false },
  { id: 'getRestore', method: 'GET', path: `${NS}/restores/{name}`, summary: 'Get one Restore with its progress', verb: 'get', resource: 'restores', readOnly: true },
  { id: 'listRehearsals', method: 'GET', path: `${NS}/rehearsals`, summary: 'List migration rehearsals, optionally of one Project', verb: 'list', resource: 'rehearsals', readOnly: true },
  {
    id: 'createRehearsal',
    method: 'POST',
    path: `${NS}/rehearsals`,
    summary: "Rehearse a branch's migration: run its deploy hook against a fresh copy of its parent's current data, record the outcome and the schema change, and remove the copy",
    verb: 'create',
    resource: 'rehearsals',
    readOnly: false,
  },
  { id: 'getRehearsal', method: 'GET', path: `${NS}/rehearsals/{name}`, summary: 'Get one Rehearsal with its outcome, duration, schema difference and output', verb: 'get', resource: 'rehearsals', readOnly: true },
  { id: 'readAudit', method: 'GET', path: `${NS}/projects/{project}/audit`, summary: 'Read the audit trail of a Project from its BackupStore', verb: 'get', resource: 'projects', readOnly: true },
  // Reading the Project is what it takes: a plan shows what the Project's repository already
  // declares, to whoever may read the Project; it writes nothing and shows no secret.
  { id: 'planBranch', method: 'POST', path: `${NS}/projects/{project}/plan`, summary: 'Plan a branch: the Environment, objects, URLs and policy denials a push would bring, without writing anything', verb: 'get', resource: 'projects', readOnly: true },
  {
    id: 'lockdownProject',
    method: 'PUT',
    path: `${NS}/projects/{project}/lockdown`,
    summary: "Engage or lift a Project's kill switch: its Environments other than production lose all egress and are neither created nor changed until it is lifted",
    verb: 'patch',
    resource: 'projects',
    readOnly: false,
  },
  {
    id: 'lockdownOperator',
    method: 'PUT',
    path: `${NS}/lockdown`,
    summary: "Engage or lift the operator-wide kill switch (the ConfigMap grove-lockdown in the operator's namespace, which the path names): every Project's Environments other than production",
    verb: 'patch',
    resource: 'configmaps',
    readOnly: false,
  },
];

export interface Match {
  operation: Operation;
  params: Record<string, string>;
}

/** An object name as Kubernetes names namespaces and most objects: a DNS-1123 label. */
export const DNS_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const compiled = OPERATIONS.map((operation) => ({
  operation,
  pattern: new RegExp(`^${operation.path.replace(/\{(\w+)\}/g, (_, name: string) => `(?<${name}>${DNS_LABEL})`)}$`),
}));

/** The operation a request names; `methods` lists what the path allows when the method does not match. */
export function matchRoute(method: string, pathname: string): Match | { methods: string[] } | undefined {
  const methods: string[] = [];
  for (const { operation, pattern } of compiled) {
    const found = pattern.exec(pathname);
    if (!found) continue;
    if (operation.method === method) return { operation, params: { ...found.groups } };
    methods.push(operation.method);
  }
  return methods.length ? { methods } : undefined;
}

/** The resource an operation's RBAC check names, as kubectl writes it (`environments.grove.dev`, `configmaps`). */
export function rbacResource(operation: Operation): string {
  return operation.resource === 'configmaps' ? operation.resource : `${operation.resource}.grove.dev`;
}

/** The RBAC check of one matched request. */
export function accessOf(match: Match): Access {
  const { operation, params } = match;
  const name = operation.resource === 'projects' ? params.project : operation.resource === 'configmaps' ? LOCKDOWN_CONFIGMAP : params.name;
  return { verb: operation.verb, resource: operation.resource, namespace: params.namespace as string, ...(name ? { name } : {}) };
}
