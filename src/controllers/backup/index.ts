/**
 * The Backup controller: a Backup → one mover Job per volume or database, in Grove's namespace (a
 * database reached over the network, a volume's files through a snapshot offered there) → a
 * status built from the repository itself.
 *
 * A Job's success is not taken on trust: a volume counts as backed up only when the Project's
 * restic repository holds a snapshot tagged with this Backup and that volume. Figures (bytes,
 * files, duration) come from the mover's termination message when the snapshot it names is that
 * one. Backups are never owned by Environments: they carry the Environment's name and outlive it.
 * Expired Backups are forgotten and pruned from the repository, then deleted — and only those.
 *
 * @module
 */
import { API_VERSION, type Backup, BACKUP_FINALIZER, type BackupStatus, CONDITIONS, type Environment, environmentNamespace, FIELD_MANAGER, findCondition, type KubeObject, LABELS, type Project, REASONS, type VolumeBackup } from '../../api/index.ts';
import { actorOf, auditEvent, auditObject, type AuditSink, type AuditSource, noAudit } from '../../audit/index.ts';
import { type BackupClaim, backupMoverSelector, backupOffer, backupVolumeLeftovers, backupState, type BackupTarget, backupTargets, type BackupVolumeFacts, jobOutcome, moverJob, moverJobRef, type Movers, type Offer, prepareBackupVolume, releaseBackupVolume, SNAPSHOT_API_VERSION } from '../../data/index.ts';
import { Restic, type ResticRepository } from '../../data/restic/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube, ObjectRef } from '../../kube/index.ts';
import { type Outbound, refusedIn } from '../../outbound/index.ts';
import { type Clock, framedReconciler, type Reconciler } from '../../runtime/index.ts';
import type { GitSource } from '../../source/git/index.ts';
import { projectRepository } from '../../data/store/index.ts';
import { startMovers } from '../movers.ts';
import { createOnce, manifestAt, writeStatus } from '../shared.ts';
import { offerFacts, snapshotClassFor } from '../snapshots.ts';

export interface BackupControllerDeps {
  kube: Kube;
  /** Where the operator may connect for a Project: restic's connections go through its proxy. */
  outbound?: Outbound;
  git: GitSource;
  clock: Clock;
  /** Grove's image and namespace, where mover Jobs run. */
  movers: Movers;
  /** restic's cache for the operator's own repository reads. */
  resticCacheDir?: string;
  resticBinary?: string;
  /** How long a completed Job may wait for its snapshot to be listed before the Backup fails. */
  snapshotGraceMs?: number;
  audit?: AuditSink;
}

export const BACKUP_REASONS = {
  inProgress: 'InProgress',
  completed: 'Completed',
  failed: 'BackupFailed',
  noBackupStore: REASONS.noBackupStore,
  environmentNotFound: 'EnvironmentNotFound',
} as const;

export function backupReconciler(deps: BackupControllerDeps): Reconciler {
  return framedReconciler<Backup, BackupStatus>({
    get: (namespace, name) => deps.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace, name }),
    // A failed Backup stays as it failed; a completed one is still collected when it expires.
    // A failed Backup stays as it failed (its Jobs kept for their logs); a completed one is still collected when it expires.
    finished: (backup) => backupState(backup).state === 'failed',
    finalize: async (backup, log) => {
      const released = await releaseMovers(deps, backup, { everywhere: true });
      if (released) log.info({ objects: released }, 'Released what the movers of a deleted Backup held');
      await dropFinalizer(deps.kube, backup);
      return {};
    },
    writeStatus: (backup, status) => writeStatus(deps.kube, backup, status),
    afterWrite: (backup, status, now) => recordOutcome(deps.audit ?? noAudit, backup, status, now),
    clock: deps.clock,
    steps: [
      {
        name: 'backup',
        async run({ object: backup, status, now, log }) {
          const name = backup.metadata.name as string;
          const namespace = backup.metadata.namespace as string;
          if (backupState(backup).state === 'completed') {
            // Released only once the completion is written: a Backup whose status did not reach
            // the API server still finds its Jobs done, rather than starting them again.
            await releaseMovers(deps, backup, { everywhere: false });
            await dropFinalizer(deps.kube, backup);
            return await collect(deps, backup, now, log);
          }
          const project = await projectOf(deps.kube, backup);
          const repo = await projectRepository(deps.kube, project);
          const restic = await resticFor(deps, repo);

          const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: backup.spec.environment });
          if (!env || !env.status?.observedRevision) {
            if (status.startTime) throw new ReconcileError(BACKUP_REASONS.failed, `Environment ${backup.spec.environment} went away during the backup`, 'stall');
            throw new ReconcileError(BACKUP_REASONS.environmentNotFound, `Environment ${backup.spec.environment} does not exist or has never been applied`, env ? 'wait' : 'stall', { requeueAfterMs: 10_000 });
          }
          const target = env.status.namespace ?? environmentNamespace(env.spec.project, backup.spec.environment);
          const revision = env.status.observedRevision;
          const manifest = await manifestAt(deps.kube, deps.git, project, env, revision);
          if (!manifest) throw new ReconcileError(BACKUP_REASONS.failed, `the manifest at ${revision} cannot be read, so its volumes are unknown`, 'stall');
          const targets = backupTargets(manifest);
          const labels = { [LABELS.project]: backup.spec.project, [LABELS.environment]: backup.spec.environment, [LABELS.environmentNamespace]: namespace };
          const jobOf = (t: BackupTarget) => moverJob({ action: 'backup', owner: name, ownerNamespace: namespace, environment: backup.spec.environment, namespace: target, target: t, movers: deps.movers, labels });

          if (!backup.metadata.finalizers?.includes(BACKUP_FINALIZER)) {
            // Before anything is made: what the movers hold is released even if the Backup is deleted at once.
            const finalizers = [...(backup.metadata.finalizers ?? []), BACKUP_FINALIZER];
            const patched = await deps.kube.mergePatch<Backup>(ref(backup), { metadata: { resourceVersion: backup.metadata.resourceVersion, finalizers } }, { fieldManager: FIELD_MANAGER });
            Object.assign(backup.metadata, { resourceVersion: patched.metadata.resourceVersion, finalizers });
          }
          if (!status.startTime) {
            status.startTime = new Date(now).toISOString();
            status.branch = env.spec.branch;
            status.revision = revision;
            await restic.ensureRepository();
          }

          // Each volume's Job, started once what it reads is there: a database's at once, a
          // volume's once its snapshot is offered to Grove's namespace and a claim made from it.
          // The snapshot class only shapes what is still to be made; names (and releases) need none.
          const offerOf = (t: BackupTarget, snapshotClass = { name: '', driver: '' }) => backupOffer({ backup: { namespace, name }, project: backup.spec.project, target: t, namespace: target, movers: deps.movers, snapshotClass });
          const offers = targets.filter((t) => t.kind === 'files').map((t) => offerOf(t));
          let snapshotClass: Promise<{ name: string; driver: string } | undefined> | undefined;
          const release = async () => {
            for (const ref of offers.flatMap(releaseBackupVolume)) await deps.kube.delete(ref);
          };
          const fail = async (message: string): Promise<never> => {
            await release();
            throw new ReconcileError(BACKUP_REASONS.failed, message, 'stall');
          };
          const jobs: Array<{ target: BackupTarget; job: JobObject | undefined }> = [];
          const preparing: string[] = [];
          const starting: Array<{ target: BackupTarget; job: KubeObject }> = [];
          for (const t of targets) {
            const job = await deps.kube.get<JobObject>(moverJobRef({ action: 'backup', owner: name, ownerNamespace: namespace, target: t, movers: deps.movers }));
            if (job) {
              jobs.push({ target: t, job });
              continue;
            }
            let reads = t;
            if (t.kind === 'files') {
              const found = await (snapshotClass ??= snapshotClassFor(deps.kube, project.spec.storageClassName));
              if (!found) return await fail(`backing up the files of ${t.name} needs a VolumeSnapshotClass for the driver of storage class ${project.spec.storageClassName ?? '(the default)'}, so that they reach Grove's namespace as a snapshot; there is none`);
              const offer = offerOf(t, found);
              const step = prepareBackupVolume(offer, await backupVolumeFacts(deps.kube, offer));
              for (const obj of step.create) await createOnce(deps.kube, obj);
              if (step.state === 'failed') return await fail(step.message);
              if (step.state === 'waiting') {
                preparing.push(step.message);
                continue;
              }
              reads = { ...t, claimName: step.claim };
            }
            starting.push({ target: reads, job: jobOf(reads) });
            jobs.push({ target: t, job: undefined });
          }
          await startMovers(deps.kube, { repo, namespace: target, jobs: starting });
          if (starting.length) log.info({ environment: backup.spec.environment, volumes: starting.map((s) => s.target.name) }, 'Started mover Jobs');
          const failed = jobs.filter(({ job }) => jobOutcome(job).failed);
          if (failed.length) return await fail(`mover Jobs failed: ${failed.map(({ job }) => `${job!.metadata.name} (${jobOutcome(job).failed})`).join('; ')}`);
          const running = jobs.filter(({ job }) => !jobOutcome(job).complete);
          if (running.length || preparing.length) {
            // The Jobs' informer wakes this Backup when they finish; the requeue is a safety net.
            const message = [...preparing, ...(running.length ? [`backing up ${running.map(({ target: t }) => t.name).join(', ')}`] : [])].join('; ');
            return { progressing: { reason: BACKUP_REASONS.inProgress, message: message.charAt(0).toUpperCase() + message.slice(1) }, requeueAfterMs: preparing.length ? 3_000 : 30_000 };
          }

          // Every Job says it is done: believe the repository.
          const snapshots = await restic.snapshots({ backup: name });
          const volumes: VolumeBackup[] = [];
          const absent: string[] = [];
          for (const { target: t, job } of jobs) {
            const snapshot = snapshots.filter((s) => s.tags.includes(`volume=${t.name}`)).at(-1);
            if (!snapshot) {
              absent.push(t.name);
              continue;
            }
            const reported = await terminationResult(deps.kube, job!.metadata.namespace as string, job!.metadata.name as string);
            // The mover names the snapshot as restic printed it (a prefix of the full id).
            const confirmed = reported?.snapshotId && snapshot.id.startsWith(reported.snapshotId) ? reported : {};
            volumes.push({ ...confirmed, name: t.name, kind: t.kind, snapshotId: snapshot.id });
          }
          if (absent.length) {
            const finished = Math.max(...jobs.map(({ job }) => Date.parse(job?.status?.completionTime ?? '') || now));
            const message = `the repository has no snapshot of ${absent.join(', ')} although the mover Jobs completed`;
            if (now - finished < (deps.snapshotGraceMs ?? 30_000)) throw new ReconcileError(BACKUP_REASONS.inProgress, message, 'wait', { requeueAfterMs: 3_000 });
            return await fail(message);
          }
          // Done. The next reconcile, once this is written, releases the Jobs and what they read.
          status.volumes = volumes;
          status.sizeBytes = volumes.reduce((sum, v) => sum + (v.bytesTotal ?? 0), 0);
          status.completionTime = new Date(now).toISOString();
          if (backup.spec.retentionSeconds !== undefined) status.expiresAt = new Date(now + backup.spec.retentionSeconds * 1000).toISOString();
          log.info({ environment: backup.spec.environment, volumes: volumes.length }, 'Completed the backup');
          const ready = { reason: BACKUP_REASONS.completed, message: `Backed up ${volumes.length} volume${volumes.length === 1 ? '' : 's'} of ${backup.spec.environment} at ${status.revision?.slice(0, 12) ?? ''}` };
          return { ready, requeueAfterMs: 1_000 };
        },
      },
    ],
  });
}

const SOURCES: Record<string, AuditSource> = { scheduled: 'schedule', manual: 'kubectl' };

/** One audit event when a Backup completes or fails (the transition, not every reconcile). */
async function recordOutcome(audit: AuditSink, backup: Backup, status: BackupStatus, now: number): Promise<void> {
  const before = backupState(backup).state;
  const after = backupState({ ...backup, status }).state;
  if (before === after || (after !== 'completed' && after !== 'failed')) return;
  const ready = findCondition(status.conditions, CONDITIONS.ready);
  await audit.record(
    auditEvent({
      object: auditObject(backup),
      project: backup.spec.project,
      environment: backup.spec.environment,
      action: 'backup',
      now,
      actor: actorOf(backup),
      source: SOURCES[backup.spec.trigger ?? 'manual'] ?? 'push',
      ...(status.revision ? { revision: status.revision } : {}),
      result: after === 'completed' ? 'succeeded' : 'failed',
      message: `${backup.spec.trigger ?? 'manual'} backup: ${ready?.message ?? ''}`,
    }),
  );
}

/** The collector, for one completed Backup: at expiry, forget and prune its snapshots, then delete it. */
async function collect(deps: BackupControllerDeps, backup: Backup, now: number, log: { info: (o: object, m: string) => void }): Promise<{ requeueAfterMs?: number }> {
  const expiresAt = backup.status?.expiresAt ? Date.parse(backup.status.expiresAt) : undefined;
  if (expiresAt === undefined) return {};
  if (expiresAt > now) return { requeueAfterMs: expiresAt - now };
  const ids = (backup.status?.volumes ?? []).map((v) => v.snapshotId).filter((id): id is string => !!id);
  const restic = await resticFor(deps, await projectRepository(deps.kube, await projectOf(deps.kube, backup)));
  await restic.forget(ids, { prune: true });
  await deps.kube.delete({ apiVersion: API_VERSION, kind: 'Backup', namespace: backup.metadata.namespace, name: backup.metadata.name as string }, backup.metadata.uid ? { uid: backup.metadata.uid } : {});
  log.info({ snapshots: ids.length }, 'Forgot and pruned an expired backup');
  return {};
}

/**
 * Lets go of what a Backup's movers hold, found by their labels: each volume's offer (the
 * snapshots at both ends, the content between them, the claim in Grove's namespace), then the
 * Jobs — with their pods, which mount those claims, and their Secrets, which hold the store's
 * keys. The Jobs go last, so an interrupted release is found again from them. `everywhere`
 * also looks in the Environment's namespace for offers that never reached Grove's (a Backup
 * deleted while its snapshots were being taken); a completed Backup's all did. Returns how many
 * objects it found.
 */
async function releaseMovers(deps: BackupControllerDeps, backup: Backup, { everywhere }: { everywhere: boolean }): Promise<number> {
  const key = { namespace: backup.metadata.namespace as string, name: backup.metadata.name as string };
  const labelSelector = backupMoverSelector(key);
  const home = { namespace: deps.movers.namespace, labelSelector };
  const jobs = (await deps.kube.list<KubeObject>('batch/v1', 'Job', home)).items;
  const held = jobs.filter(readsStagedClaim);
  if (everywhere) {
    const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: key.namespace, name: backup.spec.environment });
    const source = { namespace: env?.status?.namespace ?? environmentNamespace(backup.spec.project, backup.spec.environment), labelSelector };
    held.push(...(await deps.kube.list<KubeObject>('v1', 'PersistentVolumeClaim', home)).items, ...(await deps.kube.list<KubeObject>(SNAPSHOT_API_VERSION, 'VolumeSnapshot', home)).items);
    held.push(...(await deps.kube.list<KubeObject>(SNAPSHOT_API_VERSION, 'VolumeSnapshot', source)).items);
  }
  const refs = new Map<string, ObjectRef>();
  for (const obj of held) for (const ref of backupVolumeLeftovers(key, obj.metadata.labels ?? {}, deps.movers)) refs.set(`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`, ref);
  for (const ref of refs.values()) await deps.kube.delete(ref);
  for (const job of jobs) await deps.kube.delete({ apiVersion: 'batch/v1', kind: 'Job', namespace: job.metadata.namespace, name: job.metadata.name as string });
  return jobs.length + held.length;
}

async function dropFinalizer(kube: Kube, backup: Backup): Promise<void> {
  if (!backup.metadata.finalizers?.includes(BACKUP_FINALIZER)) return;
  const finalizers = backup.metadata.finalizers.filter((f) => f !== BACKUP_FINALIZER);
  await kube.mergePatch(ref(backup), { metadata: { resourceVersion: backup.metadata.resourceVersion, finalizers } }, { fieldManager: FIELD_MANAGER });
}

const ref = (backup: Backup) => ({ apiVersion: API_VERSION, kind: 'Backup', namespace: backup.metadata.namespace, name: backup.metadata.name as string });

/** A mover Job that reads a volume's files from a claim in Grove's namespace (a database's reads none). */
function readsStagedClaim(job: KubeObject): boolean {
  const volumes = (job as KubeObject & { spec?: { template?: { spec?: { volumes?: Array<{ persistentVolumeClaim?: unknown }> } } } }).spec?.template?.spec?.volumes ?? [];
  return volumes.some((v) => v.persistentVolumeClaim);
}

/** What exists of a volume's offer to Grove's namespace, and the claims at both ends. */
async function backupVolumeFacts(kube: Kube, offer: Offer): Promise<BackupVolumeFacts> {
  const claim = (namespace: string, name: string) => kube.get<BackupClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name });
  const found = { claim: await claim(offer.from.namespace, offer.from.claim), staged: await claim(offer.to, offer.names.snapshot) };
  return { ...(await offerFacts(kube, offer)), ...(found.claim ? { claim: found.claim } : {}), ...(found.staged ? { staged: found.staged } : {}) };
}

async function projectOf(kube: Kube, backup: Backup): Promise<Project> {
  const project = await kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace: backup.metadata.namespace, name: backup.spec.project });
  if (!project) throw new ReconcileError('ProjectNotFound', `Project ${backup.spec.project} does not exist`, 'wait', { requeueAfterMs: 60_000 });
  return project;
}

/** restic for the operator's own reads and prunes, its connections going where the operator's may. */
async function resticFor(deps: BackupControllerDeps, repo: ResticRepository): Promise<Restic> {
  if (deps.outbound) {
    // The endpoint itself first: restic sends requests for loopback hosts around any proxy.
    try {
      await deps.outbound.checkUrl(repo.location.replace(/^s3:/, ''));
    } catch (err) {
      if (refusedIn(err)) throw new ReconcileError(REASONS.destinationRefused, `cannot reach the BackupStore: ${messageOf(err)}`, 'wait', { cause: err, requeueAfterMs: 60_000 });
      throw err;
    }
  }
  return new Restic(repo, {
    ...(deps.resticBinary ? { binary: deps.resticBinary } : {}),
    ...(deps.resticCacheDir ? { cacheDir: deps.resticCacheDir } : {}),
    ...(deps.outbound ? { proxy: await deps.outbound.proxy() } : {}),
  });
}

type JobObject = KubeObject & { status?: { completionTime?: string; conditions?: Array<{ type: string; status: string; message?: string; reason?: string }> } };

/** The mover's JSON result from its pod's termination message, when the pod ran for real. */
async function terminationResult(kube: Kube, namespace: string, job: string): Promise<VolumeBackup | undefined> {
  type Pod = KubeObject & { status?: { phase?: string; containerStatuses?: Array<{ state?: { terminated?: { exitCode?: number; message?: string } } }> } };
  const pods = await kube.list<Pod>('v1', 'Pod', { namespace, labelSelector: `job-name=${job}` });
  for (const pod of pods.items) {
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    if (terminated?.exitCode !== 0 || !terminated.message) continue;
    try {
      const parsed = JSON.parse(terminated.message) as VolumeBackup;
      if (typeof parsed.snapshotId === 'string') return parsed;
    } catch {
      // Not the mover's JSON (a different image, a truncated message): figures stay unknown.
    }
  }
  return undefined;
}
