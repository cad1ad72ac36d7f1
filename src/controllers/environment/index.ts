/**
 * The Environment controller: one Environment → its own namespace running what its manifest
 * declares, at its revision.
 *
 * The reconcile frame (DESIGN §3, §7):
 * 1. deletion: a final Backup when the manifest backs this type up, then delete the namespace
 *    Grove made, wait until it is gone, release the finalizer;
 * 2. the finalizer first, so deletion cannot race creation;
 * 3. the manifest at the revision; a broken one marks `ManifestValid=False` and stalls this
 *    Environment only — what runs keeps running, untouched;
 * 4. policy on what the manifest declares (`policy/`): a denial stalls with `PolicyDenied`;
 * 5. lifecycle (`lifecycle.ts`): activity, expiry (the Environment is deleted), the `Expiring`
 *    warning, and sleep — the plan then scales everything to zero;
 * 6. a new Environment's data (`data.ts`): cloned or restored, then sanitised, while the plan
 *    holds back what would use it — `DataCloned` says where it stands;
 * 7. plan (pure), server-side apply, prune what left the inventory;
 * 8. readiness from the live objects; not ready yet → requeue, never block a worker.
 * Status is computed in memory and written once, at the end, only when it changed. Transitions
 * people care about become Events, and actions become audit events.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { findCondition, removeCondition, setCondition } from '../../api/conditions.ts';
import { ANNOTATIONS, CONDITIONS, FIELD_MANAGER, FINALIZER, LABELS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { KubeObject } from '../../api/meta.ts';
import { environmentNamespace } from '../../api/names.ts';
import type { Backup, BackupStore, Environment, EnvironmentStatus, Project } from '../../api/types.gen.ts';
import { type AppliedRecord, applyPlan, assessReadiness } from '../../applier/index.ts';
import { actorOf, type AuditSink, environmentEvent, noAudit, sourceOf } from '../../audit/index.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import { isForbidden, type Kube, type ObjectRef } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import { type Backups, formatError, parseDuration, parseManifest, resolveManifest } from '../../manifest/index.ts';
import { backupFor, backupState, backupsApply, scheduledBackup } from '../../data/schedule.ts';
import { credentialsSecret, type NamespaceAccess, operatorRoleBinding, planEnvironment, type PlanInput, type ServiceCredentials } from '../../planner/index.ts';
import { actorKey, actorLimitReached, type Denial, describeDenial, environmentLimitReached, manifestDenial } from '../../policy/index.ts';
import type { EventRecorder } from '../../events/index.ts';
import type { ObjectCache } from '../../runtime/cache.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Reconciler } from '../../runtime/controller.ts';
import type { GitRemote, GitSource } from '../../source/git/index.ts';
import { remoteOf } from '../remote.ts';
import { createOnce, manifestAt, type Read, writeStatus } from '../shared.ts';
import { dataStep } from './data.ts';
import { lifecycleStep } from './lifecycle.ts';

export interface EnvironmentControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
  events: EventRecorder;
  /** How soon to look again while workloads roll out (events usually come first). */
  rolloutPollMs?: number;
  /** How often a Ready Environment is checked for drift anyway, and every object applied again. */
  resyncMs?: number;
  /** The operator's informers; without them every read goes to the API server and every object is applied. */
  cache?: ObjectCache;
  /** The image of restore Jobs (Grove's own). */
  moverImage: string;
  audit?: AuditSink;
  /** The operator's RoleBinding in each Environment's namespace, when its rights come from one. */
  access?: NamespaceAccess;
  /** The cluster's pod, Service and node networks, kept out of reach of internet egress. */
  internalNetworks?: readonly string[];
}

export function environmentReconciler(deps: EnvironmentControllerDeps): Reconciler {
  const resyncMs = deps.resyncMs ?? 10 * 60_000;
  const read = readerOf(deps);
  const audit = deps.audit ?? noAudit;
  // What was applied to each child, and when each Environment last had everything applied.
  const records = new Map<string, AppliedRecord>();
  const forcedAt = new Map<string, number>();
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = await read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name });
    if (!cached) {
      forcedAt.delete(key);
      return {};
    }
    // Cached objects are shared with the informer: never change them in place.
    const env = structuredClone(cached);
    const target = environmentNamespace(env.spec.project, name);
    if (env.metadata.deletionTimestamp) {
      for (const entry of env.status?.inventory ?? []) records.delete(entry.id);
      forcedAt.delete(key);
      const backedUp = await finalBackup(deps, read, env, log);
      if (backedUp !== 'done') return backedUp;
      return finalize(deps, audit, env, target, log);
    }
    if (!env.metadata.finalizers?.includes(FINALIZER)) {
      // A patch, not an apply: the Project controller applies this object's spec with the same
      // field manager, and an apply of only the finalizer would tell the server to drop the spec.
      const ref = { apiVersion: API_VERSION, kind: 'Environment', namespace, name };
      const patched = await deps.kube.mergePatch<Environment>(
        ref,
        { metadata: { resourceVersion: env.metadata.resourceVersion, finalizers: [...(env.metadata.finalizers ?? []), FINALIZER] } },
        { fieldManager: FIELD_MANAGER },
      );
      env.metadata.resourceVersion = patched.metadata.resourceVersion;
    }

    const now = new Date(deps.clock.now()).toISOString();
    const generation = env.metadata.generation;
    const status: EnvironmentStatus = { ...env.status, observedGeneration: generation, namespace: target };
    const mark = (type: string, s: 'True' | 'False' | 'Unknown', reason: string, message: string): void => {
      status.conditions = setCondition(status.conditions, { type, status: s, reason, message }, now, generation);
    };
    const actor = actorOf(env);
    if (Object.keys(actor).length) status.actor = { ...actor, source: sourceOf(env) };
    if (!env.status) await audit.record(environmentEvent({ env, action: 'create', now: deps.clock.now(), discriminator: env.metadata.uid ?? '' }));

    try {
      const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: env.spec.project });
      if (!project) throw new ReconcileError(REASONS.projectNotFound, `Project ${env.spec.project} does not exist in namespace ${namespace}`, 'wait', { requeueAfterMs: 60_000 });
      const remote = await remoteOf(deps.kube, project);
      const revision = env.spec.revision ?? (await headOf(deps.git, remote, env.spec.branch));
      const manifestPath = project.spec.manifestPath ?? 'platform.yaml';

      let text: string | undefined;
      try {
        text = await deps.git.readFile(remote, { branch: env.spec.branch, commit: revision }, manifestPath);
      } catch (err) {
        if (err instanceof GroveError && err.code === 'NotFound') throw new ReconcileError(REASONS.revisionNotFound, messageOf(err), 'stall', { cause: err });
        throw new ReconcileError(REASONS.gitUnavailable, messageOf(err), 'retry', { cause: err });
      }
      if (text === undefined) {
        mark(CONDITIONS.manifestValid, 'False', REASONS.manifestNotFound, `${manifestPath} does not exist at ${revision}`);
        throw new ReconcileError(REASONS.manifestNotFound, `${manifestPath} does not exist at ${revision}`, 'stall');
      }
      const parsed = parseManifest(text, manifestPath);
      const lifecycle = (manifestLifecycle: { ttl?: string; sleepAfter?: string } | undefined) =>
        lifecycleStep({ kube: deps.kube, audit, log, env, project, lifecycle: manifestLifecycle, revision, status, mark, now: deps.clock.now() });
      if (!parsed.ok) {
        const message = `${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'} at ${revision.slice(0, 12)}:\n${parsed.errors.map(formatError).join('\n')}`;
        mark(CONDITIONS.manifestValid, 'False', REASONS.manifestInvalid, message);
        // A broken branch left alone still expires: what it runs is not kept forever.
        if ((await lifecycle(undefined)).deleted) return {};
        log.info({ revision, errors: parsed.errors.length }, 'Found the manifest invalid; left the running workloads as they are');
        throw new ReconcileError(REASONS.manifestInvalid, message, 'stall');
      }
      mark(CONDITIONS.manifestValid, 'True', REASONS.manifestValid, `${manifestPath} at ${revision.slice(0, 12)} is valid`);

      const namespaceExists = await ensureNamespaceIsOurs(deps.kube, read, target, env);
      const manifest = resolveManifest(parsed.manifest, { type: env.spec.type ?? 'development', commit: revision, branch: env.spec.branch, environment: name });
      // What the manifest asks for is fixed by a push; a limit frees up when another Environment goes.
      const denied = manifestDenial(project, env.spec.type ?? 'development', manifest);
      if (denied) throw new ReconcileError(REASONS.policyDenied, describeDenial(denied), 'stall');
      const limited = status.observedRevision ? undefined : await admissionDenial(deps.kube, project, env);
      if (limited) throw new ReconcileError(REASONS.policyDenied, describeDenial(limited), 'wait', { requeueAfterMs: 30_000 });
      const life = await lifecycle(parsed.manifest.lifecycle);
      if (life.deleted) return {};
      // The deploy hook runs once the workloads of this very revision are available.
      const workloadsAvailable = status.observedRevision === revision && findCondition(status.conditions, CONDITIONS.workloadsAvailable)?.status === 'True';
      const store = project.spec.backupStoreRef && (await read<BackupStore>({ apiVersion: API_VERSION, kind: 'BackupStore', namespace, name: project.spec.backupStoreRef.name }));
      const services = Object.keys(manifest.services);
      const planFor = (credentials: PlanInput['credentials']): PlanInput => ({ environment: env, project, manifest, revision, credentials, workloadsAvailable, sleeping: life.sleeping, ...(store ? { storeEndpoint: store.spec.s3.endpoint } : {}), ...(deps.access ? { access: deps.access } : {}), ...(deps.internalNetworks ? { internalNetworks: deps.internalNetworks } : {}) });
      const credentials = await credentialsFor(deps.kube, read, namespaceExists ? target : undefined, services).catch(async (err: unknown) => {
        if (!deps.access || !isForbidden(err)) throw err;
        // The operator's rights there come from its own RoleBinding, which is gone (or was never
        // applied after the namespace): put it back, then read again (a refusal retries later).
        const binding = operatorRoleBinding(planFor({}));
        if (binding) await deps.kube.apply(binding, { fieldManager: FIELD_MANAGER, force: true });
        return credentialsFor(deps.kube, read, target, services);
      });
      const planInput = planFor(credentials);
      // A new Environment's data comes first: what would use it waits until it is in.
      const data = await dataStep({ kube: deps.kube, read, log, now: deps.clock.now(), moverImage: deps.moverImage, env, project, manifest, status, namespace: target, revision, fullPlan: () => planEnvironment(planInput) }).catch((err: unknown) => {
        if (err instanceof ReconcileError) mark(CONDITIONS.dataCloned, 'False', err.reason, err.message);
        throw err;
      });
      if (data.condition) mark(CONDITIONS.dataCloned, data.condition.status, data.condition.reason, data.condition.message);
      const plan = planEnvironment({ ...planInput, data: data.plan });

      let outcome;
      const startedAt = deps.clock.now();
      const force = startedAt - (forcedAt.get(key) ?? Number.NEGATIVE_INFINITY) >= resyncMs;
      const cache = deps.cache;
      try {
        outcome = await applyPlan(
          deps.kube,
          plan.objects,
          env.status?.inventory,
          plan.inventory,
          cache && { observed: (ref) => cache.lookup(ref), records, force },
        );
        if (force) forcedAt.set(key, startedAt);
      } catch (err) {
        throw new ReconcileError(REASONS.applyFailed, messageOf(err), 'retry', { cause: err });
      }
      for (const ref of outcome.pruned) log.info({ kind: ref.kind, object: ref.name }, 'Pruned an object that left the plan');
      if (status.observedRevision !== revision) log.info({ revision }, 'Applied a new revision');
      status.observedRevision = revision;
      status.inventory = plan.inventory;
      status.urls = plan.urls;
      status.conditions = removeCondition(status.conditions, CONDITIONS.stalled);
      mark(CONDITIONS.routed, 'True', REASONS.routed, plan.urls.length ? plan.urls.map((u) => u.url).join(', ') : 'No routes declared');

      if (data.plan.stage !== 'ready') {
        const why = data.condition?.message ?? 'Filling the volumes';
        mark(CONDITIONS.workloadsAvailable, 'False', REASONS.waitingForData, 'The applications start once the data is in');
        mark(CONDITIONS.reconciling, 'True', data.condition?.reason ?? REASONS.filling, why);
        mark(CONDITIONS.ready, 'False', data.condition?.reason ?? REASONS.filling, why);
        return { requeueAfterMs: data.requeueAfterMs ?? deps.rolloutPollMs ?? 5_000 };
      }
      const readiness = assessReadiness(outcome.live);
      const workloads = assessReadiness(outcome.live.filter((o) => o.kind !== 'Job'));
      mark(CONDITIONS.workloadsAvailable, workloads.ready ? 'True' : 'False', workloads.ready ? REASONS.available : REASONS.rollingOut, workloads.ready ? 'All workloads are available' : workloads.waiting.join('; '));
      if (readiness.failed.length) {
        throw new ReconcileError(REASONS.deployHookFailed, readiness.failed.join('; '), 'stall');
      }
      if (!readiness.ready || (!workloadsAvailable && manifestHasDeployHook(manifest))) {
        mark(CONDITIONS.reconciling, 'True', REASONS.rollingOut, readiness.waiting.join('; ') || 'Running the deploy hook');
        mark(CONDITIONS.ready, 'False', REASONS.rollingOut, readiness.waiting.join('; ') || 'Running the deploy hook');
        return { requeueAfterMs: deps.rolloutPollMs ?? 5_000 };
      }
      status.conditions = removeCondition(status.conditions, CONDITIONS.reconciling);
      const asleep = life.sleeping ? ', asleep (scaled to zero)' : '';
      mark(CONDITIONS.ready, 'True', REASONS.ready, `Revision ${revision.slice(0, 12)} is available${asleep}${plan.urls[0] ? ` at ${plan.urls[0].url}` : ''}`);
      const nextBackupAt = project.spec.backupStoreRef ? await ensureScheduledBackup(deps.kube, read, env, status, manifest.backups, deps.clock.now(), log) : undefined;
      const next = Math.min(nextBackupAt ?? Number.POSITIVE_INFINITY, life.nextAt ?? Number.POSITIVE_INFINITY);
      return { requeueAfterMs: Math.min(resyncMs, Number.isFinite(next) ? Math.max(1000, next - deps.clock.now()) : resyncMs) };
    } catch (err) {
      const reason = err instanceof ReconcileError ? err.reason : 'ReconcileFailed';
      mark(CONDITIONS.ready, 'False', reason, messageOf(err));
      if (err instanceof ReconcileError && err.disposition === 'stall') {
        status.conditions = removeCondition(status.conditions, CONDITIONS.reconciling);
        mark(CONDITIONS.stalled, 'True', reason, messageOf(err));
      } else mark(CONDITIONS.reconciling, 'True', 'ProgressingWithRetry', messageOf(err));
      throw err;
    } finally {
      await writeStatus(deps.kube, env, status);
      await announce(deps.events, audit, env, status, deps.clock.now());
    }
  };
}

/**
 * Events for the transitions people care about — Ready changing, each newly applied revision,
 * the expiry warning — and audit events for the actions among them: clone, sleep, wake, denial.
 * Transitions only, so a requeue records nothing twice.
 */
async function announce(events: EventRecorder, audit: AuditSink, env: Environment, status: EnvironmentStatus, now: number): Promise<void> {
  const changed = (type: string) => {
    const before = findCondition(env.status?.conditions, type);
    const after = findCondition(status.conditions, type);
    return after && (before?.status !== after.status || before.reason !== after.reason) ? after : undefined;
  };
  const revision = status.observedRevision;
  const cloned = changed(CONDITIONS.dataCloned);
  if (cloned?.status === 'True' && cloned.reason === REASONS.cloned) await audit.record(environmentEvent({ env, action: 'clone', now, message: cloned.message, ...(revision ? { revision } : {}) }));
  else if (cloned?.status === 'False' && (cloned.reason === REASONS.cloneFailed || cloned.reason === REASONS.sanitizeFailed)) await events.record(env, 'Warning', cloned.reason, 'Clone', cloned.message);
  const sleeping = changed(CONDITIONS.sleeping);
  const sleptBefore = findCondition(env.status?.conditions, CONDITIONS.sleeping)?.status === 'True';
  if (sleeping?.status === 'True' && !sleptBefore) await audit.record(environmentEvent({ env, action: 'sleep', now, source: sleeping.reason === REASONS.idle ? 'ttl' : 'kubectl', message: sleeping.message, discriminator: sleeping.lastTransitionTime }));
  else if (sleeping?.status === 'False' && sleptBefore) await audit.record(environmentEvent({ env, action: 'wake', now, message: 'Scaled back to the manifest', discriminator: sleeping.lastTransitionTime }));
  const expiring = changed(CONDITIONS.expiring);
  if (expiring?.status === 'True' && expiring.reason === REASONS.expiring) await events.record(env, 'Warning', REASONS.expiring, 'Expire', expiring.message);
  const before = findCondition(env.status?.conditions, CONDITIONS.ready);
  const after = findCondition(status.conditions, CONDITIONS.ready);
  if (after?.reason === REASONS.policyDenied && (before?.reason !== after.reason || before.message !== after.message)) {
    await audit.record(environmentEvent({ env, action: 'deny', now, decision: 'denied', result: 'failed', message: after.message, discriminator: after.message }));
    return;
  }
  // An update: someone changed the spec (a new generation), or a push moved the revision applied.
  const applied = env.status?.observedRevision;
  const revisionMoved = applied !== undefined && status.observedRevision !== undefined && status.observedRevision !== applied;
  const seen = env.status?.observedGeneration;
  const specChanged = seen !== undefined && env.metadata.generation !== undefined && env.metadata.generation !== seen;
  if (revisionMoved || specChanged) {
    const message = [revisionMoved && `applied revision ${status.observedRevision} over ${applied}`, specChanged && `spec changed (generation ${env.metadata.generation})`].filter(Boolean).join('; ');
    const pushed = revisionMoved && (sourceOf(env) === 'push' || !specChanged);
    const revision = status.observedRevision ?? env.spec.revision;
    await audit.record(environmentEvent({ env, action: 'update', now, source: pushed ? 'push' : 'kubectl', message, ...(revision ? { revision } : {}), discriminator: `${env.metadata.generation}/${revision ?? ''}` }));
  }
  if (status.observedRevision && status.observedRevision !== applied) await events.record(env, 'Normal', 'Applied', 'Apply', `Applied revision ${status.observedRevision}`);
  if (!after || (before?.status === after.status && before.reason === after.reason)) return;
  if (after.status === 'True') await events.record(env, 'Normal', after.reason, 'Reconcile', after.message);
  else if (after.status === 'False' && after.reason !== REASONS.rollingOut) await events.record(env, 'Warning', after.reason, 'Reconcile', after.message);
}

function manifestHasDeployHook(manifest: { applications: Record<string, { hooks?: { deploy?: string[] } }> }): boolean {
  return Object.values(manifest.applications).some((a) => a.hooks?.deploy);
}

/** Creates the Backup of the current schedule slot if it has none; returns when the next slot comes. */
async function ensureScheduledBackup(kube: Kube, read: Read, env: Environment, status: EnvironmentStatus, backups: Backups | undefined, now: number, log: Logger): Promise<number | undefined> {
  const { due, nextAt } = scheduledBackup(env, backups, now);
  if (!due) return nextAt;
  // Another reconcile may create this slot's Backup first: the name keeps it to one.
  if (!(await read({ apiVersion: API_VERSION, kind: 'Backup', namespace: env.metadata.namespace, name: due.name })) && (await createOnce(kube, backupFor(env, due.name, 'scheduled', due.retentionSeconds)))) {
    log.info({ backup: due.name }, 'Created a scheduled backup');
  }
  status.lastScheduledBackupTime = new Date(due.slot).toISOString();
  return nextAt;
}

/**
 * Before an Environment whose type is backed up loses its namespace, a final Backup must complete.
 * Until it has, the namespace stays and `BackedUp` says why; nothing deletes the data without it
 * unless the Environment carries `grove.dev/skip-final-backup: "true"`.
 */
async function finalBackup(deps: EnvironmentControllerDeps, read: Read, env: Environment, log: Logger): Promise<'done' | { requeueAfterMs: number }> {
  if (!env.metadata.finalizers?.includes(FINALIZER) || env.metadata.annotations?.[ANNOTATIONS.skipFinalBackup] === 'true') return 'done';
  const revision = env.status?.observedRevision;
  if (!revision) return 'done'; // never applied: there is no data
  const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace: env.metadata.namespace, name: env.spec.project });
  if (!project?.spec.backupStoreRef) return 'done';
  const mark = async (status: 'True' | 'False', reason: string, message: string): Promise<void> => {
    const now = new Date(deps.clock.now()).toISOString();
    const conditions = setCondition(env.status?.conditions, { type: CONDITIONS.backedUp, status, reason, message }, now, env.metadata.generation);
    await writeStatus(deps.kube, env, { ...env.status, conditions });
  };
  let backups: Backups | undefined;
  try {
    // No valid manifest at this revision: nothing was ever planned from it, so there is no data.
    const manifest = await manifestAt(deps.kube, deps.git, project, env, revision);
    if (!manifest) return 'done';
    backups = manifest.backups;
  } catch (err) {
    await mark('False', REASONS.finalBackupFailed, `Cannot read the manifest to decide on a final backup: ${messageOf(err)}. Set ${ANNOTATIONS.skipFinalBackup}: "true" to delete without one.`);
    return { requeueAfterMs: 30_000 };
  }
  if (!backupsApply(backups, env.spec.type ?? 'development')) return 'done';

  const name = `${env.metadata.name}-final`;
  const backup = await read<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace: env.metadata.namespace, name });
  if (!backup) {
    const retain = backups.retain ? parseDuration(backups.retain) : undefined;
    if (await createOnce(deps.kube, backupFor(env, name, 'final', retain))) log.info({ backup: name }, 'Created the final backup before deletion');
    await mark('False', REASONS.finalBackupRunning, `Waiting for Backup ${name} before deleting the namespace`);
    return { requeueAfterMs: 5_000 };
  }
  const { state, message } = backupState(backup);
  if (state === 'completed') {
    if (findCondition(env.status?.conditions, CONDITIONS.backedUp)?.status !== 'True') await mark('True', REASONS.finalBackupCompleted, `Backup ${name} completed`);
    return 'done';
  }
  if (state === 'failed') {
    await mark('False', REASONS.finalBackupFailed, `Backup ${name} failed: ${message}. The namespace and its data stay; set ${ANNOTATIONS.skipFinalBackup}: "true" to delete without a final backup.`);
    return { requeueAfterMs: 60_000 };
  }
  await mark('False', REASONS.finalBackupRunning, `Waiting for Backup ${name} before deleting the namespace${message ? `: ${message}` : ''}`);
  return { requeueAfterMs: 5_000 };
}

/** Deletes the namespace Grove made for the Environment; the finalizer goes once it is gone. */
async function finalize(deps: EnvironmentControllerDeps, audit: AuditSink, env: Environment, target: string, log: Logger): Promise<{ requeueAfterMs?: number }> {
  if (!env.metadata.finalizers?.includes(FINALIZER)) return {};
  const ns = await deps.kube.get<KubeObject>({ apiVersion: 'v1', kind: 'Namespace', name: target });
  if (ns && ownedBy(ns, env)) {
    if (!ns.metadata.deletionTimestamp) {
      await deps.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: target }, ns.metadata.uid ? { uid: ns.metadata.uid } : {});
      log.info({ namespace: target }, 'Deleted the environment namespace');
    }
    return { requeueAfterMs: 2_000 };
  }
  const finalizers = (env.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  await deps.kube.mergePatch(
    { apiVersion: API_VERSION, kind: 'Environment', namespace: env.metadata.namespace, name: env.metadata.name as string },
    { metadata: { resourceVersion: env.metadata.resourceVersion, finalizers } },
    { fieldManager: FIELD_MANAGER },
  );
  log.info({}, 'Released the finalizer');
  // Git-driven Environments are deleted by the Project controller or by expiry, which record why; this is the rest.
  if (env.metadata.labels?.[LABELS.source] !== 'git' && findCondition(env.status?.conditions, CONDITIONS.expiring)?.reason !== REASONS.expired) {
    await audit.record(environmentEvent({ env, action: 'delete', now: deps.clock.now(), discriminator: env.metadata.uid ?? '' }));
  }
  return {};
}

function ownedBy(ns: KubeObject, env: Environment): boolean {
  const labels = ns.metadata.labels ?? {};
  return labels[LABELS.environment] === env.metadata.name && labels[LABELS.environmentNamespace] === env.metadata.namespace && labels[LABELS.project] === env.spec.project;
}

/** Reads from the cache when it serves the kind, from the API server otherwise. */
function readerOf(deps: EnvironmentControllerDeps): Read {
  return async <T extends KubeObject>(ref: ObjectRef) => {
    const hit = deps.cache?.lookup<T>(ref);
    return hit ? hit.object : deps.kube.get<T>(ref);
  };
}

/** The object from the cache, or — when the cache has none, which may be lag — from the API server. */
async function readConfirmed<T extends KubeObject>(kube: Kube, read: Read, ref: ObjectRef): Promise<T | undefined> {
  return (await read<T>(ref)) ?? kube.get<T>(ref);
}

/** Refuses to take over a namespace that exists and belongs to something else; says whether it exists. */
async function ensureNamespaceIsOurs(kube: Kube, read: Read, target: string, env: Environment): Promise<boolean> {
  const ns = await readConfirmed<KubeObject>(kube, read, { apiVersion: 'v1', kind: 'Namespace', name: target });
  if (ns && !ownedBy(ns, env)) {
    throw new ReconcileError(REASONS.namespaceConflict, `namespace ${target} exists and does not belong to Environment ${env.metadata.namespace}/${env.metadata.name}`, 'stall');
  }
  return ns !== undefined;
}

/**
 * The live credentials of each service in `namespace`, or new random ones; never copied from
 * another environment. Without a namespace (not made yet) there is nothing to read, and nothing
 * may be: the operator's rights there come from the RoleBinding it has not applied yet.
 */
async function credentialsFor(kube: Kube, read: Read, namespace: string | undefined, services: string[]): Promise<Record<string, ServiceCredentials>> {
  const result: Record<string, ServiceCredentials> = {};
  for (const service of services) {
    // Confirmed, because an absent Secret means new credentials: a cache that lags must not cause that.
    const secret = namespace ? await readConfirmed<KubeObject & { data?: Record<string, string> }>(kube, read, { apiVersion: 'v1', kind: 'Secret', namespace, name: credentialsSecret(service) }) : undefined;
    const value = (k: string): string | undefined => (secret?.data?.[k] ? Buffer.from(secret.data[k], 'base64').toString('utf8') : undefined);
    const username = value('username');
    const password = value('password');
    const database = value('database');
    result[service] = username && password && database ? { username, password, database } : { username: 'app', password: randomBytes(24).toString('base64url'), database: 'app' };
  }
  return result;
}

async function headOf(git: GitSource, remote: GitRemote, branch: string): Promise<string> {
  const head = (await git.listBranches(remote)).get(branch);
  // Stalled for kstatus (only a push can help), and checked again each minute for that push.
  if (!head) throw new ReconcileError(REASONS.revisionNotFound, `branch ${branch} does not exist in the repository`, 'stall', { requeueAfterMs: 60_000 });
  return head;
}

/**
 * For an Environment made by hand that has never run: would it exceed the Project's limits?
 * Environments are admitted oldest first, so a limit never stops one that already runs; Git-driven
 * ones are admitted by the Project controller, under the same count.
 */
async function admissionDenial(kube: Kube, project: Project, env: Environment): Promise<Denial | undefined> {
  if (env.metadata.labels?.[LABELS.source] === 'git') return undefined;
  const limits = project.spec.limits;
  if (limits?.maxEnvironments === undefined && limits?.maxEnvironmentsPerActor === undefined) return undefined;
  const all = (await kube.list<Environment>(API_VERSION, 'Environment', { namespace: env.metadata.namespace as string })).items.filter(
    (e) => e.spec.project === env.spec.project && !e.metadata.deletionTimestamp,
  );
  // Ahead of this one: every Environment that runs or that Git drives, then hand-made ones that
  // wait too, oldest first (creation times have whole seconds: names break ties).
  const ahead = all.filter((e) => {
    if (e.metadata.name === env.metadata.name) return false;
    if (e.status?.observedRevision || e.metadata.labels?.[LABELS.source] === 'git') return true;
    const a = e.metadata.creationTimestamp ?? '';
    const b = env.metadata.creationTimestamp ?? '';
    return a < b || (a === b && (e.metadata.name ?? '') < (env.metadata.name ?? ''));
  });
  const actor = actorKey(env);
  return environmentLimitReached(project, ahead.length) ?? actorLimitReached(project, actor, ahead.filter((e) => actorKey(e) === actor).length);
}
