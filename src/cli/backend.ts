/**
 * Where the cluster commands send their requests: straight to the Kubernetes API with the
 * kubeconfig's rights, or through Grove's HTTP API with a token (`--server`). Both answer the
 * same questions with the same objects, so each command parses and prints one way whichever
 * door it uses.
 *
 * @module
 */
import { LABELS } from '../api/constants.ts';
import { API_VERSION } from '../api/crds.ts';
import type { Backup, Environment, Restore } from '../api/types.gen.ts';
import type { AuditEvent, AuditFilter } from '../audit/index.ts';
import { readProjectTrail } from '../audit/sinks.ts';
import { restoreFor } from '../data/restore.ts';
import { backupFor, manualBackupName } from '../data/schedule.ts';
import { GroveError } from '../errors/index.ts';
import { isNotFound, type Kube } from '../kube/index.ts';
import { lifecyclePatch } from '../lifecycle/index.ts';
import { apiClient, type ApiClient } from './api-client.ts';

export { SERVER_HELP, SERVER_OPTIONS } from './api-client.ts';
import { kubeOf } from './common.ts';

export type LifecycleVerb = 'renew' | 'sleep' | 'wake';

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
  readAudit(namespace: string, project: string, filter: AuditFilter): Promise<AuditEvent[]>;
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

const notFound = (kind: string, name: string, namespace: string): GroveError => new GroveError('NotFound', `${kind} ${name} does not exist in namespace ${namespace}`);

/** What people change with the kubeconfig is written under this manager, apart from the operator's own writes. */
const CLI_MANAGER = 'grove-cli';

/** `storeEndpoint` reaches the BackupStore there rather than at its spec.s3.endpoint (from outside the cluster). */
export function kubeBackend(kube: Kube, now: () => number = Date.now, storeEndpoint?: string): Backend {
  const ref = (kind: string, namespace: string, name: string) => ({ apiVersion: API_VERSION, kind, namespace, name });
  const environment = async (namespace: string, name: string): Promise<Environment> => {
    const env = await kube.get<Environment>(ref('Environment', namespace, name));
    if (!env) throw notFound('Environment', name, namespace);
    return env;
  };
  return {
    longPolls: false,
    listEnvironments: async (namespace, project) => (await kube.list<Environment>(API_VERSION, 'Environment', { namespace })).items.filter((e) => !project || e.spec.project === project),
    getEnvironment: environment,
    pollEnvironment: environment,
    createEnvironment: (namespace, name, spec) => kube.create<Environment>({ apiVersion: API_VERSION, kind: 'Environment', metadata: { name, namespace, labels: { [LABELS.project]: spec.project } }, spec }),
    async deleteEnvironment(namespace, name) {
      const env = await environment(namespace, name);
      await kube.delete(ref('Environment', namespace, name), env.metadata.uid ? { uid: env.metadata.uid } : {});
    },
    async lifecycle(namespace, name, verb) {
      try {
        return await kube.mergePatch<Environment>(ref('Environment', namespace, name), lifecyclePatch(verb, new Date(now())), { fieldManager: CLI_MANAGER });
      } catch (err) {
        if (isNotFound(err)) throw notFound('Environment', name, namespace);
        throw err;
      }
    },
    listBackups: async (namespace, env) => (await kube.list<Backup>(API_VERSION, 'Backup', { namespace, ...(env ? { labelSelector: `${LABELS.environment}=${env}` } : {}) })).items.filter((b) => !env || b.spec.environment === env),
    async createBackup(namespace, name, backupName, retain) {
      const env = await environment(namespace, name);
      return kube.create(backupFor(env, backupName ?? manualBackupName(name, now()), 'manual', retain));
    },
    async createRestore(namespace, ask) {
      const backup = await kube.get<Backup>(ref('Backup', namespace, ask.backup));
      if (!backup) throw notFound('Backup', ask.backup, namespace);
      return kube.create(restoreFor(backup, { ...(ask.name ? { name: ask.name } : {}), ...(ask.target ? { targetEnvironment: ask.target } : {}), ...(ask.overwrite ? { overwriteExisting: true } : {}), now: new Date(now()) }));
    },
    getRestore: (namespace, name) => kube.get<Restore>(ref('Restore', namespace, name)),
    readAudit: (namespace, project, filter) => readProjectTrail(kube, namespace, project, filter, now(), storeEndpoint),
  };
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
    async getRestore(namespace, name) {
      try {
        return await call<Restore>('getRestore', env(namespace, name));
      } catch (err) {
        if (err instanceof GroveError && err.code === 'NotFound') return undefined;
        throw err;
      }
    },
    readAudit: async (namespace, project, filter) => {
      const time = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
      const query = { environment: filter.environment, actor: filter.actor, action: filter.action, since: time(filter.since), until: time(filter.until) };
      return (await call<{ items: AuditEvent[] }>('readAudit', { params: { namespace, project }, query })).items;
    },
  };
}
