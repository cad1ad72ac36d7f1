/**
 * The Rehearsal controller: does this branch's migration run against today's production data?
 *
 * A Rehearsal makes a short-lived Environment of the branch's revision whose volumes are a
 * snapshot of the parent's current data, and holds its deploy hook (`suspendDeployHook`) until
 * the schema of each database has been read by a mover (`grove mover schema`, in Grove's
 * namespace, over the same way in as the backup movers). Then the hook runs; once it has
 * succeeded or failed, the schema is read again, and the result — outcome, the hook's duration,
 * a failing hook's output and the schema difference — goes to the status. Only after that is
 * written is the Environment deleted, so a restart midway never loses a result nor leaves the
 * copy behind, and the Environment is never made twice.
 *
 * Like a Job, a finished Rehearsal is kept for `ttlSecondsAfterFinished`, then deleted.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, CONDITIONS, type Condition, type Environment, environmentName, FIELD_MANAGER, findCondition, type KubeObject, LABELS, type Project, REASONS, type Rehearsal, type RehearsalStatus, type SchemaChange } from '../../api/index.ts';
import { actorOf, auditEvent, auditObject, type AuditSink, noAudit } from '../../audit/index.ts';
import { type BackupTarget, backupTargets, jobOutcome, type JobObject, moverJob, moverJobRef, type Movers, schemaChange, schemaSummary } from '../../data/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import { type Clock, framedReconciler, type ObjectCache, type Reconciler } from '../../runtime/index.ts';
import { type GitSource, remoteOf } from '../../source/git/index.ts';
import { startMovers } from '../movers.ts';
import { createOnce, hookOutput, manifestAt, readerOf, writeStatus } from '../shared.ts';

export interface RehearsalControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
  movers: Movers;
  audit?: AuditSink;
  cache?: ObjectCache;
}

export const REHEARSAL_REASONS = {
  preparing: 'Preparing',
  readingSchema: 'ReadingSchema',
  migrating: 'Migrating',
  cleaningUp: 'CleaningUp',
  succeeded: 'Succeeded',
  migrationFailed: 'MigrationFailed',
  failed: 'RehearsalFailed',
} as const;

/** How long the copy may live at most, should this controller never come back to delete it. */
const ENVIRONMENT_TTL_SECONDS = 3600;
const POLL_MS = 3000;
/** A finished Rehearsal is looked at again at least daily, so a year's keeping never overflows a timer. */
const DAY_MS = 86_400_000;

/** The short-lived Environment a Rehearsal runs the hook in: the branch at the revision, the parent's data as it is now. Pure. */
export function rehearsalEnvironment(rehearsal: Rehearsal, revision: string, parent: string): Environment {
  const name = rehearsal.metadata.name as string;
  return {
    apiVersion: API_VERSION,
    kind: 'Environment',
    metadata: {
      name,
      namespace: rehearsal.metadata.namespace,
      labels: { [LABELS.project]: rehearsal.spec.project, [LABELS.rehearsal]: name, [LABELS.managedBy]: 'grove' },
      // A copy made to be thrown away: nothing in it is worth a final backup.
      annotations: { [ANNOTATIONS.branch]: rehearsal.spec.branch, [ANNOTATIONS.skipFinalBackup]: 'true', ...pick(rehearsal.metadata.annotations, [ANNOTATIONS.agent, ANNOTATIONS.onBehalfOf, ANNOTATIONS.task, ANNOTATIONS.requestedBy]) },
      ...(rehearsal.metadata.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Rehearsal', name, uid: rehearsal.metadata.uid, controller: true }] } : {}),
    },
    spec: {
      project: rehearsal.spec.project,
      branch: rehearsal.spec.branch,
      revision,
      parent,
      type: 'development',
      clone: 'snapshot',
      ttlSeconds: ENVIRONMENT_TTL_SECONDS,
      sleepAfterSeconds: 0,
      suspendDeployHook: true,
    },
  };
}

/** The databases whose schema a rehearsal compares. */
export function schemaTargets(targets: readonly BackupTarget[]): BackupTarget[] {
  return targets.filter((t) => t.kind === 'postgresql' || t.kind === 'mariadb');
}

/** The Rehearsal's result as one line, for its condition and the Git host. Pure. */
export function resultMessage(result: NonNullable<RehearsalStatus['result']>): string {
  const took = result.durationSeconds !== undefined ? ` in ${result.durationSeconds.toFixed(1)}s` : '';
  const schema = schemaSummary(result.schema ?? []);
  if (result.succeeded) return `The deploy hook succeeded${took}${schema ? `; ${schema}` : ''}`;
  return `${result.message ?? 'The deploy hook failed'}${took}${schema ? `; ${schema}` : ''}`;
}

type Step = { r: Rehearsal; status: RehearsalStatus; now: number; log: Logger };

export function rehearsalReconciler(deps: RehearsalControllerDeps): Reconciler {
  const read = readerOf(deps);
  const audit = deps.audit ?? noAudit;
  return framedReconciler<Rehearsal, RehearsalStatus>({
    get: (namespace, name) => deps.kube.get<Rehearsal>({ apiVersion: API_VERSION, kind: 'Rehearsal', namespace, name }),
    writeStatus: (r, status) => writeStatus(deps.kube, r, status),
    clock: deps.clock,
    steps: [
      {
        name: 'rehearse',
        run: ({ object: r, status, now, log }) => {
          const step = { r, status, now, log };
          if (status.completionTime) return finished(step);
          if (status.result) return cleanUp(step);
          return rehearse(step);
        },
      },
    ],
  });

  async function finished({ r, status, now }: Step) {
    const keepMs = (r.spec.ttlSecondsAfterFinished ?? 604_800) * 1000;
    const leftMs = Date.parse(status.completionTime as string) + keepMs - now;
    if (leftMs <= 0) {
      await deps.kube.delete({ apiVersion: API_VERSION, kind: 'Rehearsal', namespace: r.metadata.namespace, name: r.metadata.name as string }, r.metadata.uid ? { uid: r.metadata.uid } : {});
      return { halt: true };
    }
    return outcome(status, Math.min(leftMs, DAY_MS));
  }

  /** The result is written: the copy goes, and once it is gone the Rehearsal is complete. */
  async function cleanUp({ r, status, now, log }: Step) {
    const ref = environmentRef(r);
    const env = await deps.kube.get<Environment>(ref);
    if (env && env.metadata.labels?.[LABELS.rehearsal] === r.metadata.name) {
      if (!env.metadata.deletionTimestamp) {
        await deps.kube.delete(ref, env.metadata.uid ? { uid: env.metadata.uid } : {});
        log.info({ environment: ref.name }, 'Deleted the rehearsal Environment');
      }
      return { progressing: { reason: REHEARSAL_REASONS.cleaningUp, message: `${resultMessage(status.result!)}; deleting Environment ${ref.name}` }, requeueAfterMs: POLL_MS };
    }
    // The schema movers' Jobs (and with them their Secrets, the copy's credentials) go with it.
    const movers = await deps.kube.list<KubeObject>('batch/v1', 'Job', { namespace: deps.movers.namespace, labelSelector: `${LABELS.rehearsal}=${r.metadata.name},${LABELS.environmentNamespace}=${r.metadata.namespace}` });
    for (const job of movers.items) await deps.kube.delete({ apiVersion: 'batch/v1', kind: 'Job', namespace: deps.movers.namespace, name: job.metadata.name as string });
    status.completionTime = new Date(now).toISOString();
    const result = status.result!;
    await audit.record(
      auditEvent({
        object: auditObject(r),
        project: r.spec.project,
        environment: ref.name,
        action: 'rehearse',
        now,
        actor: actorOf(r),
        source: 'kubectl',
        ...(status.revision ? { revision: status.revision } : {}),
        result: result.succeeded ? 'succeeded' : 'failed',
        message: resultMessage(result),
      }),
    );
    log.info({ succeeded: result.succeeded, revision: status.revision }, 'Completed the rehearsal');
    return outcome(status, Math.min((r.spec.ttlSecondsAfterFinished ?? 604_800) * 1000, DAY_MS));
  }

  async function rehearse(step: Step) {
    const { r, status, now, log } = step;
    const namespace = r.metadata.namespace as string;
    const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: r.spec.project });
    if (!project) throw new ReconcileError(REASONS.projectNotFound, `Project ${r.spec.project} does not exist`, 'wait', { requeueAfterMs: 30_000 });
    const revision = (status.revision ??= r.spec.revision ?? (await branchHead(project, r.spec.branch)));
    const parent = (status.parent ??= r.spec.parent ?? environmentName(r.spec.project, project.spec.productionBranch ?? 'main'));
    const ref = environmentRef(r);
    const env = await deps.kube.get<Environment>(ref);

    if (!status.environment) {
      const source = await read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: parent });
      if (!source) throw new ReconcileError(REASONS.waitingForParent, `Environment ${parent}, whose data is rehearsed on, does not exist`, 'wait', { requeueAfterMs: 30_000 });
      if (env && env.metadata.labels?.[LABELS.rehearsal] !== r.metadata.name) throw new ReconcileError(REASONS.nameCollision, `Environment ${ref.name} exists and was not made by this Rehearsal`, 'stall');
      if (!env && (await createOnce(deps.kube, rehearsalEnvironment(r, revision, parent)))) log.info({ environment: ref.name, parent, revision }, 'Created the rehearsal Environment');
      status.environment = ref.name;
      status.startTime ??= new Date(now).toISOString();
      return { progressing: { reason: REHEARSAL_REASONS.preparing, message: `Cloning the data of ${parent} into Environment ${ref.name}` }, requeueAfterMs: POLL_MS };
    }
    if (!env || env.metadata.deletionTimestamp || env.metadata.labels?.[LABELS.rehearsal] !== r.metadata.name) {
      return conclude(step, { succeeded: false, message: `Environment ${ref.name} went away before the rehearsal finished` });
    }
    const current = (type: string): Condition | undefined => {
      const c = findCondition(env.status?.conditions, type);
      return c && c.observedGeneration === env.metadata.generation ? c : undefined;
    };
    const ready = current(CONDITIONS.ready);
    const stalled = current(CONDITIONS.stalled);
    if (stalled?.status === 'True' && stalled.reason !== REASONS.deployHookFailed) {
      return conclude(step, { succeeded: false, message: `Environment ${ref.name} failed before the deploy hook ran: ${stalled.reason}: ${stalled.message}` });
    }
    // Read only once there are schemas to read, not on every look while the copy comes up.
    const databasesAt = async (): Promise<BackupTarget[] | undefined> => {
      const manifest = await manifestAt(deps.kube, deps.git, project, env, revision);
      return manifest && schemaTargets(backupTargets(manifest));
    };
    const invalid = () => conclude(step, { succeeded: false, message: `The manifest at ${revision.slice(0, 12)} is missing or invalid` });

    if (env.spec.suspendDeployHook) {
      const hookless = ready?.status === 'True';
      if (!hookless && ready?.reason !== REASONS.deployHookSuspended) {
        return { progressing: { reason: REHEARSAL_REASONS.preparing, message: `Environment ${ref.name}: ${ready?.message ?? 'starting'}` }, requeueAfterMs: POLL_MS };
      }
      if (hookless) return conclude(step, { succeeded: true, message: 'The manifest declares no deploy hook: nothing to rehearse' });
      const databases = await databasesAt();
      if (!databases) return invalid();
      const before = await readSchemas(r, env, databases, 'schema-before');
      if (before.failed) return conclude(step, { succeeded: false, message: before.failed });
      if (before.running) return { progressing: { reason: REHEARSAL_REASONS.readingSchema, message: before.running }, requeueAfterMs: POLL_MS };
      await deps.kube.mergePatch(ref, { metadata: { resourceVersion: env.metadata.resourceVersion }, spec: { suspendDeployHook: false } }, { fieldManager: FIELD_MANAGER });
      log.info({ environment: ref.name }, 'Read the schema; released the deploy hook');
      return { progressing: { reason: REHEARSAL_REASONS.migrating, message: `Running the deploy hook of ${revision.slice(0, 12)} in Environment ${ref.name}` }, requeueAfterMs: POLL_MS };
    }

    const hookFailed = stalled?.status === 'True';
    const hookDone = hookFailed || (ready?.status === 'True' && env.status?.observedRevision === revision);
    if (!hookDone) return { progressing: { reason: REHEARSAL_REASONS.migrating, message: `Running the deploy hook of ${revision.slice(0, 12)} in Environment ${ref.name}` }, requeueAfterMs: POLL_MS };
    const databases = await databasesAt();
    if (!databases) return invalid();
    const after = await readSchemas(r, env, databases, 'schema-after');
    if (after.failed) return conclude(step, { succeeded: false, message: after.failed });
    if (after.running) return { progressing: { reason: REHEARSAL_REASONS.readingSchema, message: after.running }, requeueAfterMs: POLL_MS };
    const hooks = await deployHooks(env, revision);
    const schema: SchemaChange[] = [];
    for (const target of databases) schema.push(schemaChange(target.name, await schemaText(r, env, target, 'schema-before'), await schemaText(r, env, target, 'schema-after')));
    const output = hookFailed ? (await Promise.all(hooks.jobs.filter((j) => jobOutcome(j).failed).map((j) => hookOutput(deps.kube, env.status?.namespace as string, j.metadata.name as string)))).filter(Boolean).join('\n') : '';
    return conclude(step, {
      succeeded: !hookFailed,
      ...(hooks.durationSeconds !== undefined ? { durationSeconds: hooks.durationSeconds } : {}),
      // A hook's error is its last word.
      ...(hookFailed ? { message: `The deploy hook failed: ${lastLine(output) || stalled?.message || 'no output'}`.slice(0, 1024) } : {}),
      ...(output ? { output: output.slice(-4096) } : {}),
      schema,
    });
  }

  /** Records the result; the next reconcile deletes the copy. */
  function conclude({ status, log }: Step, result: NonNullable<RehearsalStatus['result']>) {
    status.result = result;
    log.info({ succeeded: result.succeeded }, `Rehearsed: ${resultMessage(result)}`);
    return Promise.resolve({ progressing: { reason: REHEARSAL_REASONS.cleaningUp, message: resultMessage(result) }, requeueAfterMs: 0 });
  }

  async function branchHead(project: Project, branch: string): Promise<string> {
    let branches: Map<string, string>;
    try {
      branches = await deps.git.listBranches(await remoteOf(deps.kube, project));
    } catch (err) {
      throw new ReconcileError(REASONS.gitUnavailable, `The branches could not be listed: ${messageOf(err)}`, 'retry', { cause: err });
    }
    const head = branches.get(branch);
    if (!head) throw new ReconcileError(REASONS.revisionNotFound, `Branch ${branch} does not exist`, 'stall');
    return head;
  }

  /**
   * Starts the schema movers of one side (before or after the hook); says what still runs, or
   * what failed (the mover retried twice already), or neither once every one has finished.
   */
  async function readSchemas(r: Rehearsal, env: Environment, databases: readonly BackupTarget[], action: 'schema-before' | 'schema-after'): Promise<{ running?: string; failed?: string }> {
    const namespace = env.status?.namespace as string;
    const side = action === 'schema-before' ? 'before' : 'after';
    const running: string[] = [];
    for (const target of databases) {
      const job = await deps.kube.get<JobObject>(schemaJobRef(r, target, action));
      if (!job) {
        await startMovers(deps.kube, { namespace, jobs: [{ target, job: schemaJob(r, env, target, action) }] });
        running.push(target.name);
        continue;
      }
      const { complete, failed } = jobOutcome(job);
      if (failed) return { failed: `The schema of ${target.name} could not be read ${side} the deploy hook: ${failed}` };
      if (!complete) running.push(target.name);
    }
    return running.length ? { running: `Reading the schema of ${running.join(', ')} ${side} the deploy hook` } : {};
  }

  function schemaJob(r: Rehearsal, env: Environment, target: BackupTarget, action: 'schema-before' | 'schema-after'): KubeObject {
    return moverJob({
      action,
      owner: r.metadata.name as string,
      ownerNamespace: r.metadata.namespace as string,
      environment: env.metadata.name as string,
      namespace: env.status?.namespace as string,
      target,
      movers: deps.movers,
      labels: { [LABELS.environment]: env.metadata.name as string, [LABELS.environmentNamespace]: env.metadata.namespace as string },
    });
  }

  function schemaJobRef(r: Rehearsal, target: BackupTarget, action: 'schema-before' | 'schema-after') {
    return moverJobRef({ action, owner: r.metadata.name as string, ownerNamespace: r.metadata.namespace as string, target, movers: deps.movers });
  }

  /** What a finished schema mover printed: the dump. */
  async function schemaText(r: Rehearsal, env: Environment, target: BackupTarget, action: 'schema-before' | 'schema-after'): Promise<string> {
    const jobRef = schemaJobRef(r, target, action);
    const pods = (await deps.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: jobRef.namespace, labelSelector: `job-name=${jobRef.name}` })).items;
    const pod = pods.find((p) => p.status?.phase === 'Succeeded');
    if (!pod) throw new ReconcileError(REHEARSAL_REASONS.failed, `The schema mover ${jobRef.name} of ${target.name} (${env.metadata.name}) left no pod to read`, 'retry');
    return deps.kube.podLog(jobRef.namespace, pod.metadata.name as string, { limitBytes: 8 * 1024 * 1024 });
  }

  /** The revision's deploy-hook Jobs and how long they ran, first start to last finish. */
  async function deployHooks(env: Environment, revision: string): Promise<{ jobs: JobObject[]; durationSeconds?: number }> {
    type HookJob = KubeObject & { status?: { startTime?: string; completionTime?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }> } };
    const namespace = env.status?.namespace as string;
    const jobs = (await deps.kube.list<HookJob>('batch/v1', 'Job', { namespace, labelSelector: 'app.kubernetes.io/component=deploy-hook' })).items.filter((j) => j.metadata.name?.endsWith(`-deploy-${revision.slice(0, 12)}`));
    const starts = jobs.map((j) => Date.parse(j.status?.startTime ?? '')).filter(Number.isFinite);
    const ends = jobs.map((j) => Date.parse(j.status?.completionTime ?? j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True')?.lastTransitionTime ?? '')).filter(Number.isFinite);
    if (!starts.length || ends.length < jobs.length) return { jobs };
    return { jobs, durationSeconds: Math.max(0, (Math.max(...ends) - Math.min(...starts)) / 1000) };
  }
}

function environmentRef(r: Rehearsal) {
  return { apiVersion: API_VERSION, kind: 'Environment', namespace: r.metadata.namespace as string, name: r.metadata.name as string };
}

/** A finished Rehearsal's conditions: Ready when the hook succeeded, stalled with the reason when it did not. */
function outcome(status: RehearsalStatus, requeueAfterMs: number) {
  const result = status.result!;
  if (!result.succeeded) throw new ReconcileError(result.durationSeconds !== undefined || result.output ? REHEARSAL_REASONS.migrationFailed : REHEARSAL_REASONS.failed, resultMessage(result), 'stall', { requeueAfterMs });
  return { ready: { reason: REHEARSAL_REASONS.succeeded, message: resultMessage(result) }, requeueAfterMs };
}

const lastLine = (text: string): string => text.split('\n').filter((l) => l.trim()).at(-1)?.trim() ?? '';

function pick(from: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => from?.[k] !== undefined).map((k) => [k, from![k] as string]));
}
