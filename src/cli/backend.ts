/**
 * Where the cluster commands send their requests: straight to the Kubernetes API with the
 * kubeconfig's rights, or through Grove's HTTP API with a token (`--server`). Both run the same
 * operations (`service/`: the same policy checks and audit events) and answer with the same
 * objects, so each command parses and prints one way whichever door it uses.
 *
 * @module
 */
import type { Backup, Environment, KubeObject, Rehearsal, Restore } from '../api/index.ts';
import type { AuditEvent, AuditFilter } from '../audit/index.ts';
import { directStoreSink } from '../audit/sinks/index.ts';
import { GroveError, messageOf } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import { type LifecycleVerb, type LockdownState, operations, type RehearsalAsk, type Requester } from '../service/index.ts';
import { apiClient, type ApiClient } from './api-client.ts';

export { SERVER_HELP, SERVER_OPTIONS } from './api-client.ts';
import { kubeOf } from './common.ts';

export type { LifecycleVerb, RehearsalAsk } from '../service/index.ts';

export interface RestoreAsk {
  backup: string;
  target?: string;
  overwrite?: boolean;
  name?: string;
}

export interface Backend {
  /** True when `pollEnvironment` itself waits for a change, so the caller need not pause between polls. */
  readonly longPolls: boolean;
  listEnvironments(namespace: string, project?: string): Promise<Environment[]>;
  /** Throws NotFound when absent. */
  getEnvironment(namespace: string, name: string): Promise<Environment>;
  createEnvironment(namespace: string, name: string, spec: Environment['spec']): Promise<Environment>;
  deleteEnvironment(namespace: string, name: string): Promise<void>;
  lifecycle(namespace: string, name: string, verb: LifecycleVerb): Promise<Environment>;
  /** The Environment now, or once it is Ready or stalled when that comes within `waitMs`. */
  pollEnvironment(namespace: string, name: string, waitMs: number): Promise<Environment>;
  listBackups(namespace: string, environment?: string): Promise<Backup[]>;
  createBackup(namespace: string, environment: string, name?: string, retainSeconds?: number): Promise<Backup>;
  createRestore(namespace: string, ask: RestoreAsk): Promise<Restore>;
  getRestore(namespace: string, name: string): Promise<Restore | undefined>;
  createRehearsal(namespace: string, ask: RehearsalAsk): Promise<Rehearsal>;
  getRehearsal(namespace: string, name: string): Promise<Rehearsal | undefined>;
  readAudit(namespace: string, project: string, filter: AuditFilter): Promise<AuditEvent[]>;
  /** A Project's kill switch, or with no project the operator-wide one in `namespace` (the operator's). */
  setLockdown(namespace: string, project: string | undefined, engaged: boolean, reason?: string): Promise<LockdownState>;
}

/** `--server` (else `$GROVE_SERVER`) with `--token` (else `$GROVE_TOKEN`): the HTTP API; otherwise the kubeconfig. */
export function backendOf(values: { server?: string | undefined; token?: string | undefined; kubeconfig?: string | undefined }, env: NodeJS.ProcessEnv): Backend {
  const server = values.server ?? env.GROVE_SERVER;
  if (!server) {
    if (values.token) throw new GroveError('InvalidInput', '--token goes with --server (or GROVE_SERVER); with the kubeconfig, its own credentials are used');
    return kubeBackend(kubeOf(values.kubeconfig, env));
  }
  if (values.kubeconfig) throw new GroveError('InvalidInput', '--kubeconfig and --server exclude each other: through the API, the token decides');
  return apiBackend(apiClient(server, values.token ?? env.GROVE_TOKEN));
}

/** What people change with the kubeconfig is written under this manager, apart from the operator's own writes. */
const CLI_MANAGER = 'grove-cli';

/**
 * The kubeconfig's door: `service/`'s operations with the kubeconfig's own rights, so the same
 * policy checks and audit events apply as through the API; the requester is whoever the API
 * server says the kubeconfig is. `storeEndpoint` reaches the BackupStore there rather than at its
 * spec.s3.endpoint (from outside the cluster), for reading the trail and for writing to it.
 */
export function kubeBackend(kube: Kube, now: () => number = Date.now, storeEndpoint?: string, warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Backend {
  const ops = operations({
    kube,
    now,
    // Asked of the API server only by an operation that writes or records in the requester's name.
    requester: () => whoAmI(kube),
    source: 'kubectl',
    fieldManager: CLI_MANAGER,
    ...(storeEndpoint ? { storeEndpoint } : {}),
    audit: directStoreSink({ kube, writer: 'cli', ...(storeEndpoint ? { endpoint: storeEndpoint } : {}), onError: (err) => warn(`grove: done, but its audit event could not be written to the BackupStore: ${messageOf(err)}`) }),
  });
  return {
    longPolls: false,
    listEnvironments: (namespace, project) => ops.listEnvironments(namespace, project),
    getEnvironment: (namespace, name) => ops.getEnvironment(namespace, name),
    pollEnvironment: (namespace, name) => ops.getEnvironment(namespace, name),
    createEnvironment: (namespace, name, spec) => ops.createEnvironment(namespace, name, spec),
    async deleteEnvironment(namespace, name) {
      await ops.deleteEnvironment(namespace, name);
    },
    lifecycle: (namespace, name, verb) => ops.lifecycle(namespace, name, verb),
    listBackups: (namespace, env) => ops.listBackups(namespace, env),
    createBackup: (namespace, env, name, retain) => ops.createBackup(namespace, env, name, retain),
    createRestore: async (namespace, ask) =>
      ops.createRestore(namespace, { backup: ask.backup, ...(ask.name ? { name: ask.name } : {}), ...(ask.target ? { targetEnvironment: ask.target } : {}), ...(ask.overwrite ? { overwriteExisting: true } : {}) }),
    getRestore: (namespace, name) => absentAsUndefined(ops.getRestore(namespace, name)),
    createRehearsal: (namespace, ask) => ops.createRehearsal(namespace, ask),
    getRehearsal: (namespace, name) => absentAsUndefined(ops.getRehearsal(namespace, name)),
    readAudit: (namespace, project, filter) => ops.readAudit(namespace, project, filter),
    setLockdown: (namespace, project, engaged, reason) => ops.setLockdown(namespace, project, engaged, reason),
  };
}

/** An object that does not exist, as undefined: what `--wait` loops ask. */
async function absentAsUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof GroveError && err.code === 'NotFound') return undefined;
    throw err;
  }
}

/** Who the kubeconfig is, as the API server says (SelfSubjectReview, which every user may make). */
async function whoAmI(kube: Kube): Promise<Requester> {
  type Review = KubeObject & { status?: { userInfo?: { username?: string; groups?: string[] } } };
  const review = await kube.create<Review>({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
  return { username: review.status?.userInfo?.username ?? 'unknown', groups: review.status?.userInfo?.groups ?? [] };
}

export function apiBackend(call: ApiClient): Backend {
  const env = (namespace: string, name: string) => ({ params: { namespace, name } });
  return {
    longPolls: true,
    listEnvironments: async (namespace, project) => (await call<{ items: Environment[] }>('listEnvironments', { params: { namespace }, query: { project } })).items,
    getEnvironment: (namespace, name) => call<Environment>('getEnvironment', env(namespace, name)),
    async pollEnvironment(namespace, name, waitMs) {
      const answer = await call<{ environment: Environment }>('waitEnvironment', { ...env(namespace, name), query: { timeoutSeconds: String(Math.max(0, Math.floor(waitMs / 1000))) } });
      return answer.environment;
    },
    createEnvironment: (namespace, name, spec) => call<Environment>('createEnvironment', { params: { namespace }, body: { name, ...spec } }),
    async deleteEnvironment(namespace, name) {
      await call('deleteEnvironment', env(namespace, name));
    },
    lifecycle: (namespace, name, verb) => call<Environment>(`${verb}Environment`, env(namespace, name)),
    listBackups: async (namespace, environment) => (await call<{ items: Backup[] }>('listBackups', { params: { namespace }, query: { environment } })).items,
    createBackup: (namespace, environment, name, retainSeconds) =>
      call<Backup>('createBackup', { params: { namespace }, body: { environment, ...(name ? { name } : {}), ...(retainSeconds !== undefined ? { retainSeconds } : {}) } }),
    createRestore: (namespace, ask) =>
      call<Restore>('createRestore', { params: { namespace }, body: { backup: ask.backup, ...(ask.name ? { name: ask.name } : {}), ...(ask.target ? { targetEnvironment: ask.target } : {}), ...(ask.overwrite ? { overwriteExisting: true } : {}) } }),
    getRestore: (namespace, name) => absentAsUndefined(call<Restore>('getRestore', env(namespace, name))),
    createRehearsal: (namespace, ask) => call<Rehearsal>('createRehearsal', { params: { namespace }, body: { ...ask } }),
    getRehearsal: (namespace, name) => absentAsUndefined(call<Rehearsal>('getRehearsal', env(namespace, name))),
    readAudit: async (namespace, project, filter) => {
      const time = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
      const query = { environment: filter.environment, actor: filter.actor, action: filter.action, since: time(filter.since), until: time(filter.until) };
      return (await call<{ items: AuditEvent[] }>('readAudit', { params: { namespace, project }, query })).items;
    },
    setLockdown: (namespace, project, engaged, reason) => {
      const body = { engaged, ...(reason ? { reason } : {}) };
      return project ? call<LockdownState>('lockdownProject', { params: { namespace, project }, body }) : call<LockdownState>('lockdownOperator', { params: { namespace }, body });
    },
  };
}
