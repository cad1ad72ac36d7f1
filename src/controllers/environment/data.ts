/**
 * The data step of the Environment controller: a new Environment's volumes are filled — from its
 * parent by VolumeSnapshot, from a backup, or left empty — and sanitised before its applications
 * start. The decision is pure (`data/clone.ts`); this module gathers the facts, creates the
 * objects one step at a time and reports where the data stands, so each reconcile moves it on and
 * a restarted operator picks up where the last one stopped.
 *
 * What was decided lives in `status.lineage` (which source each volume has); `DataCloned=True`
 * ends the step — until a Restore over the Environment's data (`grove.dev/restore` naming another
 * Restore than `status.lastRestore`) runs it again, with the applications stopped. Nothing here
 * deletes a volume: the only deletions are the temporary VolumeSnapshots of a clone once the
 * clone's claims are bound, and the old contents of a volume a Restore replaces, which the Restore
 * controller has backed up before it asked for that.
 *
 * @module
 */
import { findCondition } from '../../api/conditions.ts';
import { ANNOTATIONS, CONDITIONS, FIELD_MANAGER, LABELS, REASONS } from '../../api/constants.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { KubeObject } from '../../api/meta.ts';
import { environmentName } from '../../api/names.ts';
import type { Backup, Environment, EnvironmentStatus, Project, Restore, VolumeLineage } from '../../api/types.gen.ts';
import {
  anythingCloned,
  servicesToSanitize,
  type CloneFacts,
  childSnapshot,
  childSnapshotContent,
  cloneBackup,
  cloneSnapshotNames,
  cloneTargets,
  decideClone,
  parentSnapshot,
  SNAPSHOT_API_VERSION,
  snapshotSources,
  usableBackup,
  volumeClaimName,
} from '../../data/clone.ts';
import { type BackupTarget, moverJob, moverJobName, moverSecret } from '../../data/jobs.ts';
import { backupState } from '../../data/schedule.ts';
import { ReconcileError } from '../../errors/index.ts';
import { isNotFound, type Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import type { ResolvedManifest } from '../../manifest/index.ts';
import { type DataPlan, type Plan, sanitizeJobName, serviceClaim } from '../../planner/index.ts';
import { projectRepository } from '../backupstore/index.ts';
import { createOnce, jobOutcome, type Read } from '../shared.ts';

export interface DataStepInput {
  kube: Kube;
  read: Read;
  log: Logger;
  now: number;
  moverImage: string;
  env: Environment;
  project: Project;
  manifest: ResolvedManifest;
  /** The status being built; `lineage` is updated in place. */
  status: EnvironmentStatus;
  /** The Environment's namespace. */
  namespace: string;
  revision: string;
  /** The complete plan, for the claims a restore makes before their StatefulSet. */
  fullPlan: () => Plan;
}

export interface DataStepResult {
  plan: DataPlan;
  /** The DataCloned condition to set; undefined leaves it as it is. */
  condition?: { status: 'True' | 'False'; reason: string; message: string };
  /** When to look again while the data is not in. */
  requeueAfterMs?: number;
}

type Claim = KubeObject & { status?: { phase?: string } };
type Snapshot = KubeObject & { status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; creationTime?: string; error?: { message?: string } } };
type SnapshotContent = KubeObject & { spec?: { driver?: string }; status?: { snapshotHandle?: string } };
type StatefulSet = KubeObject & { status?: { readyReplicas?: number } };

const POLL_MS = 3_000;

/** One reconcile's data step: its input, and the snapshot class, looked up at most once. */
interface Step extends DataStepInput {
  snapshotClass: () => Promise<{ name: string; driver: string } | undefined>;
}

export async function dataStep(dataInput: DataStepInput): Promise<DataStepResult> {
  let snapshotClass: ReturnType<Step['snapshotClass']> | undefined;
  const input: Step = { ...dataInput, snapshotClass: () => (snapshotClass ??= snapshotClassFor(dataInput.kube, dataInput.project.spec.storageClassName)) };
  const { env, status } = input;
  const cloned = findCondition(status.conditions, CONDITIONS.dataCloned);
  const restoreName = env.metadata.annotations?.[ANNOTATIONS.restore];
  // A Restore over this Environment's data (the Restore controller has backed that data up first).
  const restorePending = !!restoreName && status.lastRestore !== restoreName;
  if (cloned?.status === 'True') {
    if (!restorePending) return { plan: { stage: 'ready', snapshots: snapshotSources(status.lineage) } };
    delete status.lineage;
    input.log.info({ restore: restoreName }, 'Began replacing the data from a Restore');
  }
  if (!cloned && status.observedRevision && !restoreName) {
    // Running since before its data was tracked: its volumes are its own, and stay so.
    return { plan: { stage: 'ready' }, condition: { status: 'True', reason: REASONS.emptyVolumes, message: 'The Environment ran before data cloning was recorded; its volumes are its own' } };
  }

  if (!status.lineage) {
    const decision = decideClone(await gatherFacts(input, restoreName));
    if (decision.kind === 'wait') return { plan: { stage: 'sources' }, condition: { status: 'False', reason: REASONS.waitingForParent, message: decision.message }, requeueAfterMs: decision.requeueAfterMs };
    if (decision.kind === 'fail') throw new ReconcileError(REASONS.cloneFailed, decision.message, 'stall');
    status.lineage = decision.lineage;
    input.log.info({ strategy: decision.strategy }, decision.message);
  }
  const targets = new Map(cloneTargets(input.manifest).map((t) => [t.name, t]));
  const lineage = (status.lineage ?? []).filter((l) => targets.has(l.volume));
  status.lineage = lineage;

  // 1. Sources: the parent's snapshots taken and offered here, or the Backup chosen and complete.
  const pending: string[] = [];
  for (const entry of lineage) {
    const target = targets.get(entry.volume) as BackupTarget;
    const waiting = entry.source === 'snapshot' ? await snapshotSource(input, entry, target) : entry.source === 'backup' ? await backupSource(input, entry) : undefined;
    if (waiting) pending.push(waiting);
  }
  if (pending.length) {
    // Claims this Environment already has stay planned whatever the stage: never prune data.
    const hasClaims = (status.inventory ?? []).some((e) => e.id.endsWith('_PersistentVolumeClaim'));
    // Volumes cloned through one Backup wait for it once.
    return { plan: { stage: hasClaims ? 'fill' : 'sources' }, condition: { status: 'False', reason: REASONS.preparingSources, message: [...new Set(pending)].join('; ') }, requeueAfterMs: POLL_MS };
  }

  // 2. Fill: claims from snapshots bound; restores run into new claims and running databases.
  const held: string[] = [];
  for (const entry of lineage) {
    const target = targets.get(entry.volume) as BackupTarget;
    const waiting = entry.source === 'snapshot' ? await claimBound(input, target) : entry.source === 'backup' ? await restoreInto(input, entry, target) : undefined;
    if (!waiting) continue;
    pending.push(waiting);
    if (target.kind === 'redis' && entry.source === 'backup') held.push(target.name);
  }
  const snapshots = snapshotSources(lineage);
  if (pending.length) return { plan: { stage: 'fill', held, snapshots }, condition: { status: 'False', reason: REASONS.filling, message: pending.join('; ') }, requeueAfterMs: POLL_MS };

  // 3. Scrub the copies marked `clone: sanitized`, before anything serves them. The manifest
  // cannot mark one without an application that has a sanitize hook.
  const scrubbed = servicesToSanitize(input.manifest, lineage, env.spec.type ?? 'development');
  const hooks = scrubbed.length ? Object.entries(input.manifest.applications).filter(([, a]) => a.hooks?.sanitize).map(([name]) => name) : [];
  // A hook needs the servers it scrubs to answer: a StatefulSet is ready once its probe (a real
  // connection) passes. Until then nothing runs that could fail on a refused connection.
  const starting: string[] = [];
  for (const service of hooks.length ? scrubbed : []) {
    type Set = KubeObject & { status?: { readyReplicas?: number } };
    const sts = await input.read<Set>({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: input.namespace, name: service });
    if ((sts?.status?.readyReplicas ?? 0) < 1) starting.push(service);
  }
  if (starting.length) {
    return { plan: { stage: 'fill', snapshots }, condition: { status: 'False', reason: REASONS.sanitizing, message: `waiting for ${starting.join(', ')} to accept connections before the sanitize hook` }, requeueAfterMs: POLL_MS };
  }
  for (const app of hooks) {
    const job = sanitizeJobName(app, input.revision);
    const outcome = jobOutcome(await input.read<KubeObject>({ apiVersion: 'batch/v1', kind: 'Job', namespace: input.namespace, name: job }));
    if (outcome.failed) {
      const output = await hookOutput(input.kube, input.namespace, job);
      throw new ReconcileError(REASONS.sanitizeFailed, `the sanitize hook of ${app} failed (${outcome.failed})${output ? `; it printed:\n${output}` : ''}\nThe applications stay stopped until a revision's hook succeeds.`, 'stall');
    }
    if (!outcome.complete) pending.push(`running the sanitize hook of ${app} on ${scrubbed.join(', ')}`);
  }
  if (pending.length) return { plan: { stage: 'sanitize', snapshots }, condition: { status: 'False', reason: REASONS.sanitizing, message: pending.join('; ') }, requeueAfterMs: POLL_MS };

  await releaseSnapshots(input, lineage);
  if (restoreName) status.lastRestore = restoreName;
  const summary = lineage.map((l) => `${l.volume} ${l.source === 'empty' ? 'empty' : `from ${l.source === 'snapshot' ? `a snapshot of ${l.parent}` : `Backup ${l.backup}`}`}`).join(', ');
  const reason = anythingCloned(lineage) ? REASONS.cloned : REASONS.emptyVolumes;
  const sanitized = hooks.length ? `; ${scrubbed.join(', ')} sanitized by the hook of ${hooks.join(', ')}` : '';
  return { plan: { stage: 'ready', snapshots }, condition: { status: 'True', reason, message: summary ? `${summary}${sanitized}` : 'No volumes' } };
}

type HookPod = KubeObject & { status?: { containerStatuses?: Array<{ state?: { terminated?: { exitCode?: number; message?: string } } }> } };

/**
 * What a failed hook printed last: its pod's termination message, which the kubelet fills from
 * the end of the container's log (`FallbackToLogsOnError`). Undefined when no pod says.
 */
async function hookOutput(kube: Kube, namespace: string, job: string): Promise<string | undefined> {
  const pods = (await kube.list<HookPod>('v1', 'Pod', { namespace, labelSelector: `job-name=${job}` }).catch(() => ({ items: [] as HookPod[] }))).items;
  for (const pod of pods) {
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    if (terminated && terminated.exitCode !== 0 && terminated.message) return `exit code ${terminated.exitCode}: ${terminated.message.trim()}`;
  }
  return undefined;
}

async function gatherFacts(input: Step, restoreName: string | undefined): Promise<CloneFacts> {
  const { env, project } = input;
  const namespace = env.metadata.namespace as string;
  if (restoreName) {
    const restore = await input.kube.get<Restore>({ apiVersion: API_VERSION, kind: 'Restore', namespace, name: restoreName });
    const backup = restore && (await input.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace, name: restore.spec.backup }));
    return { environment: env, project, manifest: input.manifest, hasBackupStore: !!project.spec.backupStoreRef, restore: { name: restoreName, backup } };
  }
  const snapshotClass = await input.snapshotClass();
  const hasBackupStore = !!project.spec.backupStoreRef;
  const facts: CloneFacts = { environment: env, project, manifest: input.manifest, hasBackupStore, ...(snapshotClass ? { snapshotClass: snapshotClass.name } : {}) };
  // Without a way to clone there is no parent to look for.
  if (!snapshotClass && !hasBackupStore) return facts;
  const parentName = env.spec.parent ?? (await productionOf(input));
  const parent = parentName ? await input.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: parentName }) : undefined;
  return { ...facts, ...(parentName ? { parentName } : {}), ...(parent ? { parent } : {}) };
}

/** The Project's production Environment: the production branch's by name, else any of type production. */
async function productionOf(input: Step): Promise<string | undefined> {
  const { env, project } = input;
  const namespace = env.metadata.namespace as string;
  const byBranch = environmentName(env.spec.project, project.spec.productionBranch ?? 'main');
  const named = await input.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: byBranch });
  if (named?.spec.type === 'production' && named.spec.project === env.spec.project) return byBranch;
  // By spec, not label: Environments made with kubectl carry no labels.
  const all = await input.kube.list<Environment>(API_VERSION, 'Environment', { namespace });
  return all.items.find((e) => e.spec.type === 'production' && e.spec.project === env.spec.project && !e.metadata.deletionTimestamp)?.metadata.name;
}

/**
 * The VolumeSnapshotClass whose driver provisions the storage class (the named one, else the
 * cluster's default); the class marked default wins when several match. None when the snapshot
 * API is not installed.
 */
async function snapshotClassFor(kube: Kube, storageClassName: string | undefined): Promise<{ name: string; driver: string } | undefined> {
  type StorageClass = KubeObject & { provisioner?: string };
  type SnapshotClass = KubeObject & { driver?: string };
  const classes = (await kube.list<StorageClass>('storage.k8s.io/v1', 'StorageClass')).items;
  const storage = storageClassName
    ? classes.find((c) => c.metadata.name === storageClassName)
    : classes.find((c) => c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
  if (!storage?.provisioner) return undefined;
  let snapshotClasses: SnapshotClass[];
  try {
    snapshotClasses = (await kube.list<SnapshotClass>(SNAPSHOT_API_VERSION, 'VolumeSnapshotClass')).items;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const matching = snapshotClasses.filter((c) => c.driver === storage.provisioner);
  const chosen = matching.find((c) => c.metadata.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true') ?? matching[0];
  return chosen ? { name: chosen.metadata.name as string, driver: storage.provisioner } : undefined;
}

/** Takes the parent's snapshot and offers it in this namespace; returns what it waits for, if anything. */
async function snapshotSource(input: Step, entry: VolumeLineage, target: BackupTarget): Promise<string | undefined> {
  if (entry.snapshot) return undefined;
  const { kube, env } = input;
  const parent = await input.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: env.metadata.namespace, name: entry.parent ?? '' });
  const parentNamespace = parent?.status?.namespace;
  if (!parentNamespace) throw new ReconcileError(REASONS.cloneFailed, `the parent Environment ${entry.parent} went away before ${target.name} was cloned`, 'stall');
  const snapshotClass = await input.snapshotClass();
  if (!snapshotClass) throw new ReconcileError(REASONS.cloneFailed, 'the VolumeSnapshotClass used for the clone is gone', 'stall');
  const objects = { child: env, childNamespace: input.namespace, parentNamespace, volume: target, snapshotClass: snapshotClass.name };
  const names = cloneSnapshotNames(env, target.name);

  const source = await kube.get<Snapshot>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: parentNamespace, name: names.snapshot });
  if (!source) {
    if (!(await kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: parentNamespace, name: volumeClaimName(target) }))) {
      // The parent has no such volume (its manifest differs): this one starts empty.
      Object.assign(entry, { source: 'empty' });
      delete entry.parent;
      return undefined;
    }
    await createOnce(kube, parentSnapshot(objects));
    return `taking a snapshot of ${target.name} in ${parentNamespace}`;
  }
  if (source.status?.error?.message) throw new ReconcileError(REASONS.cloneFailed, `the snapshot of ${target.name} in ${parentNamespace} failed: ${source.status.error.message}`, 'stall');
  if (!source.status?.readyToUse || !source.status.boundVolumeSnapshotContentName) return `waiting for the snapshot of ${target.name} in ${parentNamespace}`;
  const content = await kube.get<SnapshotContent>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshotContent', name: source.status.boundVolumeSnapshotContentName });
  const handle = content?.status?.snapshotHandle;
  if (!handle) return `waiting for the snapshot handle of ${target.name}`;

  await createOnce(kube, childSnapshotContent({ ...objects, driver: content.spec?.driver ?? snapshotClass.driver, snapshotHandle: handle }));
  const offered = await kube.get<Snapshot>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: input.namespace, name: names.snapshot });
  if (!offered) {
    await createOnce(kube, childSnapshot(objects));
    return `offering the snapshot of ${target.name} in ${input.namespace}`;
  }
  if (offered.status?.error?.message) throw new ReconcileError(REASONS.cloneFailed, `the snapshot of ${target.name} could not be bound in ${input.namespace}: ${offered.status.error.message}`, 'stall');
  if (!offered.status?.readyToUse) return `waiting for the snapshot of ${target.name} to be ready in ${input.namespace}`;
  entry.snapshot = names.snapshot;
  if (source.status.creationTime) entry.time = source.status.creationTime;
  return undefined;
}

/** Chooses the parent's Backup (a fresh one when the latest is too old) and waits for it. */
async function backupSource(input: Step, entry: VolumeLineage): Promise<string | undefined> {
  if (entry.snapshotId) return undefined;
  const { kube, env } = input;
  const namespace = env.metadata.namespace as string;
  if (!entry.backup) {
    // By spec, not label: Backups made with kubectl carry no labels.
    const backups = (await kube.list<Backup>(API_VERSION, 'Backup', { namespace })).items.filter((b) => b.spec.environment === entry.parent);
    const choice = usableBackup(backups, input.now, input.project.spec.defaults?.cloneBackupMaxAgeSeconds ?? 86_400);
    if ('make' in choice) {
      const parent = await input.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: entry.parent ?? '' });
      if (!parent) throw new ReconcileError(REASONS.cloneFailed, `the parent Environment ${entry.parent} went away before its backup was taken`, 'stall');
      const fresh = cloneBackup(parent, input.now);
      await createOnce(kube, fresh);
      input.log.info({ backup: fresh.metadata.name }, 'Asked for a fresh backup of the parent to clone from');
      entry.backup = fresh.metadata.name;
    } else entry.backup = ('use' in choice ? choice.use : choice.wait).metadata.name;
  }
  const backup = await kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace, name: entry.backup ?? '' });
  if (!backup) throw new ReconcileError(REASONS.cloneFailed, `Backup ${entry.backup} to clone ${entry.volume} from was deleted`, 'stall');
  const { state, message } = backupState(backup);
  if (state === 'failed') throw new ReconcileError(REASONS.cloneFailed, `Backup ${entry.backup} failed: ${message}`, 'stall');
  if (state === 'running') return `waiting for Backup ${entry.backup}${message ? ` (${message})` : ''}`;
  const volume = backup.status?.volumes?.find((v) => v.name === entry.volume);
  if (!volume?.snapshotId) {
    // The backup predates this volume: it starts empty.
    Object.assign(entry, { source: 'empty' });
    for (const key of ['parent', 'backup', 'time'] as const) delete entry[key];
    return undefined;
  }
  entry.snapshotId = volume.snapshotId;
  if (backup.status?.completionTime) entry.time = backup.status.completionTime;
  return undefined;
}

async function claimBound(input: Step, target: BackupTarget): Promise<string | undefined> {
  const name = volumeClaimName(target);
  const claim = await input.kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: input.namespace, name });
  return claim?.status?.phase === 'Bound' ? undefined : `waiting for claim ${name} to be provisioned from its snapshot`;
}

/** Runs the restore Job of one volume once what it writes into exists; returns what it waits for. */
async function restoreInto(input: Step, entry: VolumeLineage, target: BackupTarget): Promise<string | undefined> {
  const { kube, read, env, namespace } = input;
  // Each Restore has its own Jobs; a clone's are the Environment's.
  const envName = env.metadata.name ?? '';
  const owner = env.metadata.annotations?.[ANNOTATIONS.restore] ?? envName;
  const name = moverJobName('restore', owner, target.name);
  const job = await read<KubeObject>({ apiVersion: 'batch/v1', kind: 'Job', namespace, name });
  const outcome = jobOutcome(job);
  if (outcome.complete) return undefined;
  if (outcome.failed) throw new ReconcileError(REASONS.cloneFailed, `restoring ${target.name} from Backup ${entry.backup} failed: ${outcome.failed}; delete Job ${name} in ${namespace} to try again`, 'stall');
  if (job) return `restoring ${target.name} from Backup ${entry.backup}`;

  if (target.kind === 'postgresql' || target.kind === 'mariadb') {
    // A dump is restored through the database server, which must be up.
    const sts = await read<StatefulSet>({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: target.name });
    if (!sts?.status?.readyReplicas) return `waiting for ${target.name} to start before restoring it`;
  } else if (target.kind === 'redis') {
    // Redis reads its RDB file when it starts: the file goes into the claim first.
    if (!(await kube.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: volumeClaimName(target) }))) await createOnce(kube, serviceClaim(input.fullPlan(), target.name));
  } else if (!(await kube.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: volumeClaimName(target) }))) {
    return `waiting for claim ${volumeClaimName(target)}`;
  }
  await kube.apply(moverSecret(await projectRepository(kube, input.project), namespace), { fieldManager: FIELD_MANAGER, force: true });
  const labels = { [LABELS.project]: env.spec.project, [LABELS.environment]: envName, [LABELS.environmentNamespace]: env.metadata.namespace ?? '' };
  // The sources step has set the snapshot of every volume that gets here.
  const snapshotId = entry.snapshotId ?? '';
  await kube.apply(moverJob({ action: 'restore', owner, environment: envName, namespace, target, image: input.moverImage, snapshotId, labels }), { fieldManager: FIELD_MANAGER, force: true });
  input.log.info({ volume: target.name, backup: entry.backup }, 'Started restoring a volume');
  return `restoring ${target.name} from Backup ${entry.backup}`;
}

/** The clone's snapshots have done their work once the claims are bound: the child's, then the parent's. */
async function releaseSnapshots(input: Step, lineage: readonly VolumeLineage[]): Promise<void> {
  for (const entry of lineage) {
    if (entry.source !== 'snapshot') continue;
    const names = cloneSnapshotNames(input.env, entry.volume);
    const parent = await input.read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: input.env.metadata.namespace, name: entry.parent ?? '' });
    await input.kube.delete({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: input.namespace, name: names.snapshot }).catch(ignoreNotFound);
    await input.kube.delete({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshotContent', name: names.content }).catch(ignoreNotFound);
    if (parent?.status?.namespace) await input.kube.delete({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: parent.status.namespace, name: names.snapshot }).catch(ignoreNotFound);
  }
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}
