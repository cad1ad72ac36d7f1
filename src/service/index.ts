/**
 * The operations people and agents ask Grove for — Environments (list, get, create, renew, sleep,
 * wake, delete), Backups, Restores and the audit trail — written once, for the HTTP API, its MCP
 * tools and the CLI alike. So Grove's own policy checks, who is recorded as asking, and the audit
 * events are the same whichever door a request comes through.
 *
 * Callers have already checked two things: the caller's RBAC (the API with a SubjectAccessReview;
 * the CLI by acting with the kubeconfig's own rights, which the API server checks) and the shape of
 * the input (names are DNS labels). What an operation finds wrong is a GroveError: `NotFound`, or
 * `Forbidden` for a policy denial.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, type Backup, type Environment, type KubeObject, LABELS, LOCKDOWN_CONFIGMAP, type Project, type Rehearsal, rehearsalName, type Restore } from '../api/index.ts';
import { auditEvent, type AuditEvent, type AuditFilter, type AuditSink, environmentEvent } from '../audit/index.ts';
import { readProjectTrail } from '../audit/sinks/index.ts';
import type { Outbound } from '../outbound/index.ts';
import { backupFor, manualBackupName, restoreFor } from '../data/index.ts';
import { GroveError } from '../errors/index.ts';
import { isNotFound, type Kube } from '../kube/index.ts';
import { lifecyclePatch } from '../lifecycle/index.ts';
import { agentMayNotMakeProduction, describeDenial, describeLockdown, heldByLockdown, type Lockdown, lockdownOf, overwriteNotConfirmed } from '../policy/index.ts';

export type LifecycleVerb = 'renew' | 'sleep' | 'wake';

/** Who asks, as the API server knows them (TokenReview, or SelfSubjectReview for a kubeconfig). */
export interface Requester {
  username: string;
  groups: readonly string[];
}

export interface ServiceDeps {
  kube: Kube;
  now: () => number;
  audit: AuditSink;
  /** Asked once, when an operation first needs it: reads need nobody's name. */
  requester: () => Promise<Requester>;
  /** The door: Grove's API (`api`) or the kubeconfig's own rights (`kubectl`). */
  source: 'api' | 'kubectl';
  /** The field manager of the changes made for the requester. */
  fieldManager: string;
  /** Where the BackupStore answers from here, when not at its spec.s3.endpoint (outside the cluster). */
  storeEndpoint?: string;
  /** Where the operator may connect for a Project (the HTTP API's service); anywhere when absent. */
  outbound?: Outbound;
  /**
   * The operator-wide kill switch and the operator's namespace, for the HTTP API: its requests
   * are the operator's, so Grove itself refuses what the admission policy would refuse its caller.
   */
  operator?: { home: string; lockdown: () => Lockdown | undefined };
  /**
   * Whether the requester holds the confirm right on an Environment, for the HTTP API, whose
   * writes are the operator's: admission checks it for requests made in the requester's name.
   */
  mayConfirm?: (namespace: string, environment: string) => Promise<boolean>;
}

export interface RestoreAsk {
  backup: string;
  targetEnvironment?: string;
  overwriteExisting?: boolean;
  name?: string;
}

export interface RehearsalAsk {
  project: string;
  branch: string;
  revision?: string;
  parent?: string;
  pullRequest?: number;
  name?: string;
}

export interface Operations {
  listEnvironments(namespace: string, project?: string): Promise<Environment[]>;
  /** Throws NotFound when absent. */
  getEnvironment(namespace: string, name: string): Promise<Environment>;
  createEnvironment(namespace: string, name: string, spec: Environment['spec']): Promise<Environment>;
  deleteEnvironment(namespace: string, name: string): Promise<Environment>;
  lifecycle(namespace: string, name: string, verb: LifecycleVerb): Promise<Environment>;
  listBackups(namespace: string, environment?: string): Promise<Backup[]>;
  createBackup(namespace: string, environment: string, name?: string, retainSeconds?: number): Promise<Backup>;
  createRestore(namespace: string, ask: RestoreAsk): Promise<Restore>;
  /** Throws NotFound when absent. */
  getRestore(namespace: string, name: string): Promise<Restore>;
  listRehearsals(namespace: string, project?: string): Promise<Rehearsal[]>;
  createRehearsal(namespace: string, ask: RehearsalAsk): Promise<Rehearsal>;
  /** Throws NotFound when absent. */
  getRehearsal(namespace: string, name: string): Promise<Rehearsal>;
  readAudit(namespace: string, project: string, filter: AuditFilter): Promise<AuditEvent[]>;
  /**
   * Engages or lifts the kill switch of one Project (`project`), or the operator-wide one (the
   * ConfigMap grove-lockdown in `namespace`, the operator's own), and records who did.
   */
  setLockdown(namespace: string, project: string | undefined, engaged: boolean, reason?: string): Promise<LockdownState>;
}

export interface LockdownState {
  engaged: boolean;
  /** The Project or ConfigMap that holds the switch. */
  by: string;
  reason?: string;
}

const notFound = (kind: string, name: string, namespace: string): GroveError => new GroveError('NotFound', `${kind} ${name} does not exist in namespace ${namespace}`);

export function operations(deps: ServiceDeps): Operations {
  const { kube } = deps;
  const ref = (kind: string, namespace: string, name: string) => ({ apiVersion: API_VERSION, kind, namespace, name });
  let asked: Promise<Requester> | undefined;
  const requester = (): Promise<Requester> => (asked ??= deps.requester());
  const actor = async () => ({ kubernetesUser: (await requester()).username });
  const must = async <T extends KubeObject>(kind: string, namespace: string, name: string): Promise<T> => {
    const found = await kube.get<T>(ref(kind, namespace, name));
    if (!found) throw notFound(kind, name, namespace);
    return found;
  };
  const environment = (namespace: string, name: string) => must<Environment>('Environment', namespace, name);
  const refuseWhileLockedDown = (project: Project, type: string | undefined): void => {
    const lockdown = lockdownOf(project, deps.operator?.lockdown());
    if (heldByLockdown(lockdown, type)) throw new GroveError('Forbidden', describeLockdown(lockdown as Lockdown));
  };
  return {
    listEnvironments: async (namespace, project) => (await kube.list<Environment>(API_VERSION, 'Environment', { namespace })).items.filter((e) => !project || e.spec.project === project),
    getEnvironment: environment,

    async createEnvironment(namespace, name, spec) {
      const project = await must<Project>('Project', namespace, spec.project);
      // Admission refuses this too for requests in the requester's own name; the API's requests
      // are the operator's, so Grove checks for its caller.
      const denial = agentMayNotMakeProduction(project, [...(await requester()).groups], spec.type);
      if (denial) throw new GroveError('Forbidden', describeDenial(denial));
      refuseWhileLockedDown(project, spec.type);
      // One action, one audit event: the Environment controller records the creation, from the
      // source label and the requester the admission policy keeps.
      const labels = { [LABELS.project]: spec.project, [LABELS.source]: deps.source };
      return kube.create<Environment>(requestedBy(await requester(), { apiVersion: API_VERSION, kind: 'Environment', metadata: { name, namespace, labels }, spec }));
    },

    async deleteEnvironment(namespace, name) {
      const env = await environment(namespace, name);
      await kube.delete(ref('Environment', namespace, name), env.metadata.uid ? { uid: env.metadata.uid } : {});
      // The controller records a deletion it sees under the same id (the uid): readers count it once, as this one.
      await deps.audit.record(environmentEvent({ env, action: 'delete', now: deps.now(), source: deps.source, discriminator: env.metadata.uid ?? '', actor: await actor() }));
      return env;
    },

    async lifecycle(namespace, name, verb) {
      const current = await environment(namespace, name);
      const project = await kube.get<Project>(ref('Project', namespace, current.spec.project));
      if (project) refuseWhileLockedDown(project, current.spec.type);
      let patched: Environment;
      try {
        patched = await kube.mergePatch<Environment>(ref('Environment', namespace, name), lifecyclePatch(verb, new Date(deps.now())), { fieldManager: deps.fieldManager });
      } catch (err) {
        if (isNotFound(err)) throw notFound('Environment', name, namespace);
        throw err;
      }
      await deps.audit.record(environmentEvent({ env: patched, action: 'update', now: deps.now(), source: deps.source, message: `${verb} requested`, discriminator: `${verb} ${deps.now()}`, actor: await actor() }));
      return patched;
    },

    listBackups: async (namespace, env) => (await kube.list<Backup>(API_VERSION, 'Backup', { namespace })).items.filter((b) => !env || b.spec.environment === env),

    async createBackup(namespace, envName, name, retainSeconds) {
      const env = await environment(namespace, envName);
      const backupName = name ?? manualBackupName(envName, deps.now());
      const created = await kube.create(requestedBy(await requester(), backupFor(env, backupName, 'manual', retainSeconds)));
      await deps.audit.record(environmentEvent({ env, action: 'backup', now: deps.now(), source: deps.source, result: 'started', message: `Backup ${backupName} requested`, discriminator: backupName, actor: await actor() }));
      return created;
    },

    async createRestore(namespace, ask) {
      // Without a name or a target, the Restore's target is a new Environment named after it.
      const target = ask.targetEnvironment ?? ask.name;
      if (ask.overwriteExisting && target && deps.mayConfirm) {
        const existing = await kube.get<Environment>(ref('Environment', namespace, target));
        const denial = existing && overwriteNotConfirmed(existing, await deps.mayConfirm(namespace, target));
        if (denial) throw new GroveError('Forbidden', describeDenial(denial));
      }
      const backup = await must<Backup>('Backup', namespace, ask.backup);
      const options = { ...(ask.name ? { name: ask.name } : {}), ...(ask.targetEnvironment ? { targetEnvironment: ask.targetEnvironment } : {}), ...(ask.overwriteExisting ? { overwriteExisting: true } : {}), now: new Date(deps.now()) };
      const created = await kube.create(requestedBy(await requester(), restoreFor(backup, options)));
      await deps.audit.record(
        auditEvent({
          object: { kind: 'Restore', namespace, name: created.metadata.name as string },
          project: backup.spec.project,
          environment: ask.targetEnvironment ?? backup.spec.environment,
          action: 'restore',
          now: deps.now(),
          actor: await actor(),
          source: deps.source,
          result: 'started',
          message: `Restore of Backup ${ask.backup} requested`,
        }),
      );
      return created;
    },

    getRestore: (namespace, name) => must<Restore>('Restore', namespace, name),

    listRehearsals: async (namespace, project) => (await kube.list<Rehearsal>(API_VERSION, 'Rehearsal', { namespace })).items.filter((r) => !project || r.spec.project === project),

    async createRehearsal(namespace, ask) {
      const project = await must<Project>('Project', namespace, ask.project);
      // A rehearsal makes an Environment: not while the switch holds new ones.
      refuseWhileLockedDown(project, 'development');
      // Named for its revision, a second ask for the same one is refused as a duplicate; without one, the API server names it.
      const naming = ask.name ? { name: ask.name } : ask.revision ? { name: rehearsalName(ask.project, ask.revision) } : { generateName: `${ask.project.slice(0, 40)}-rehearse-` };
      const rehearsal: Rehearsal = {
        apiVersion: API_VERSION,
        kind: 'Rehearsal',
        metadata: { ...naming, namespace, labels: { [LABELS.project]: ask.project } },
        spec: { project: ask.project, branch: ask.branch, ...(ask.revision ? { revision: ask.revision } : {}), ...(ask.parent ? { parent: ask.parent } : {}), ...(ask.pullRequest ? { pullRequest: ask.pullRequest } : {}) },
      };
      const created = await kube.create(requestedBy(await requester(), rehearsal));
      await deps.audit.record(
        auditEvent({
          object: { kind: 'Rehearsal', namespace, name: created.metadata.name as string },
          project: ask.project,
          action: 'rehearse',
          now: deps.now(),
          actor: await actor(),
          source: deps.source,
          ...(ask.revision ? { revision: ask.revision } : {}),
          result: 'started',
          message: `Rehearsal of branch ${ask.branch} requested`,
        }),
      );
      return created;
    },

    getRehearsal: (namespace, name) => must<Rehearsal>('Rehearsal', namespace, name),
    async setLockdown(namespace, project, engaged, reason) {
      const who = await requester();
      const note = reason?.trim() ? reason.trim() : undefined;
      let state: LockdownState;
      let object: { kind: string; namespace: string; name: string };
      if (project) {
        const annotations = { [ANNOTATIONS.lockdownReason]: engaged && note ? note : null };
        try {
          await kube.mergePatch<Project>(ref('Project', namespace, project), { metadata: { annotations }, spec: { lockdown: engaged } }, { fieldManager: deps.fieldManager });
        } catch (err) {
          if (isNotFound(err)) throw notFound('Project', project, namespace);
          throw err;
        }
        state = { engaged, by: `Project ${project} (spec.lockdown)`, ...(engaged && note ? { reason: note } : {}) };
        object = { kind: 'Project', namespace, name: project };
      } else {
        if (deps.operator && namespace !== deps.operator.home) throw new GroveError('NotFound', `the operator's kill switch is in its own namespace, ${deps.operator.home}, not ${namespace}`);
        const data = { engaged: String(engaged), ...(engaged && note ? { reason: note } : {}), changedBy: who.username };
        await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: LOCKDOWN_CONFIGMAP, namespace }, data } as KubeObject, { fieldManager: deps.fieldManager, force: true });
        state = { engaged, by: `ConfigMap ${namespace}/${LOCKDOWN_CONFIGMAP}`, ...(engaged && note ? { reason: note } : {}) };
        object = { kind: 'ConfigMap', namespace, name: LOCKDOWN_CONFIGMAP };
      }
      await deps.audit.record(
        auditEvent({
          object,
          project: project ?? '',
          action: 'lockdown',
          now: deps.now(),
          actor: { kubernetesUser: who.username },
          source: deps.source,
          message: `${engaged ? 'Engaged' : 'Lifted'} the kill switch of ${state.by}${note ? `: ${note}` : ''}`,
          discriminator: `${engaged} ${deps.now()}`,
        }),
      );
      return state;
    },

    readAudit: (namespace, project, filter) => readProjectTrail(kube, namespace, project, filter, deps.now(), { ...(deps.storeEndpoint ? { endpoint: deps.storeEndpoint } : {}), ...(deps.outbound ? { outbound: deps.outbound } : {}) }),
  };
}

/**
 * The requester, not the operator, asked for what is created. The API server sees only the
 * operator when the API creates it, so the operator names its caller; the record-requester
 * admission policy keeps that annotation on the operator's own requests and overwrites it on
 * everyone else's — a kubeconfig's requests get the name the API server knows.
 */
function requestedBy<T extends KubeObject>(requester: Requester, obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [ANNOTATIONS.requestedBy]: requester.username } } };
}
