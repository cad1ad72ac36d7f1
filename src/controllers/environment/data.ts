/**
 * The data step of the Environment controller (it owns `DataCloned`): a new Environment's volumes
 * are filled — from its parent by VolumeSnapshot, from a backup, or left empty — and sanitised
 * before its applications start. Gather → decide → execute: this module reads what exists, the
 * pure decisions of `data/` (`decideClone`: each volume's source; `decideFill`: the objects to
 * create and delete next) say what to do, and one executor does it — so each reconcile moves the
 * data on and a restarted operator picks up where the last one stopped.
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
import { ANNOTATIONS, API_VERSION, type Backup, cloneSnapshotNames, CONDITIONS, type Environment, environmentName, type EnvironmentStatus, findCondition, type Project, REASONS, type Restore, volumeClaimName, type VolumeLineage } from '../../api/index.ts';
import { type BackupTarget, type Claim, type CloneFacts, cloneTargets, decideClone, decideFill, type FillDecision, type FillFacts, type JobObject, jobOutcome, moverJobRef, type Movers, restoreOffer, sanitizeJobs, servicesToSanitize, type Snapshot, SNAPSHOT_API_VERSION, type SnapshotContent, snapshotSources, type StatefulSet, type VolumeFacts } from '../../data/index.ts';
import { projectRepository } from '../../data/store/index.ts';
import { ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import type { ResolvedManifest } from '../../manifest/index.ts';
import { type DataPlan, type Plan, planEnvironment, serviceClaim } from '../../planner/index.ts';
import { clearLegacyMoverSecret, startMovers } from '../movers.ts';
import { offerFacts, snapshotClassFor } from '../snapshots.ts';
import { createOnce, hookOutput, type Read } from '../shared.ts';
import { type EnvironmentStep, given, type StepDeps } from './context.ts';

interface DataStepInput {
  kube: Kube;
  read: Read;
  log: Logger;
  now: number;
  movers: Movers;
  env: Environment;
  project: Project;
  manifest: ResolvedManifest;
  /** The status being built; `lineage` is updated in place. */
  status: EnvironmentStatus;
  /** The Environment's namespace. */
  namespace: string;
  /** Whether it exists yet: until it does, nothing is in it, and the operator may have no rights there. */
  namespaceExists: boolean;
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

/** One reconcile's data step: its input, and the snapshot class, looked up at most once. */
interface Step extends DataStepInput {
  snapshotClass: () => Promise<{ name: string; driver: string } | undefined>;
}

export function dataStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'data',
    owns: [CONDITIONS.dataCloned],
    async run({ object: env, status, state, mark, log, now }) {
      const { project, manifest, revision, planInput, target, namespaceExists } = given(state, 'project', 'manifest', 'revision', 'planInput', 'namespaceExists');
      const input = { kube: deps.kube, read: deps.read, log, now, movers: deps.movers, env, project, manifest, status, namespace: target, namespaceExists, revision, fullPlan: () => planEnvironment(planInput) };
      const data = await advanceData(input).catch((err: unknown) => {
        if (err instanceof ReconcileError) mark(CONDITIONS.dataCloned, 'False', err.reason, err.message);
        throw err;
      });
      if (data.condition) mark(CONDITIONS.dataCloned, data.condition.status, data.condition.reason, data.condition.message);
      state.data = data;
      return undefined;
    },
  };
}

/** Moves the data on as far as it can go in this reconcile. */
async function advanceData(dataInput: DataStepInput): Promise<DataStepResult> {
  let snapshotClass: ReturnType<Step['snapshotClass']> | undefined;
  const input: Step = { ...dataInput, snapshotClass: () => (snapshotClass ??= snapshotClassFor(dataInput.kube, dataInput.project.spec.storageClassName)) };
  const { env, status } = input;
  const cloned = findCondition(status.conditions, CONDITIONS.dataCloned);
  const restoreName = env.metadata.annotations?.[ANNOTATIONS.restore];
  // A Restore over this Environment's data (the Restore controller has backed that data up first).
  const restorePending = !!restoreName && status.lastRestore !== restoreName;
  if (input.namespaceExists) await clearLegacyMoverSecret(input.kube, input.namespace);
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
  const targets = cloneTargets(input.manifest);
  const lineage = (status.lineage ?? []).filter((l) => targets.some((t) => t.name === l.volume));
  const decision = decideFill(await gatherFill(input, lineage, targets));
  await execute(input, decision);
  status.lineage = decision.lineage;
  const { outcome } = decision;
  if (outcome.kind === 'failed') throw new ReconcileError(outcome.reason, outcome.message, 'stall');
  if (outcome.kind === 'waiting') return { plan: outcome.plan, condition: { status: 'False', reason: outcome.reason, message: outcome.message }, requeueAfterMs: outcome.requeueAfterMs };
  if (restoreName) status.lastRestore = restoreName;
  return { plan: outcome.plan, condition: { status: 'True', reason: outcome.reason, message: outcome.message } };
}

/** Reads what the fill decision needs to know, for every volume at once. */
async function gatherFill(input: Step, lineage: readonly VolumeLineage[], targets: readonly BackupTarget[]): Promise<FillFacts> {
  const { kube, read, env, namespace } = input;
  const envNamespace = env.metadata.namespace as string;
  const owner = env.metadata.annotations?.[ANNOTATIONS.restore] ?? env.metadata.name ?? '';
  const parents = new Map<string, Environment | undefined>();
  const parentOf = async (name: string | undefined): Promise<Environment | undefined> => {
    if (!name) return undefined;
    if (!parents.has(name)) parents.set(name, await read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: envNamespace, name }));
    return parents.get(name);
  };
  let backups: Backup[] | undefined;
  const volumes = new Map<string, VolumeFacts>();
  for (const entry of lineage) {
    const target = targets.find((t) => t.name === entry.volume) as BackupTarget;
    const found: VolumeFacts = {};
    const parent = await parentOf(entry.parent);
    if (parent) found.parent = parent;
    // Only what the volume's source needs, and in this namespace only once it exists.
    const here = input.namespaceExists && entry.source !== 'empty';
    const claim = here ? await kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: volumeClaimName(target) }) : undefined;
    if (claim) found.claim = claim;
    if (entry.source === 'snapshot' && !entry.snapshot && parent?.status?.namespace) {
      const names = cloneSnapshotNames(env, target.name);
      const source = await kube.get<Snapshot>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: parent.status.namespace, name: names.snapshot });
      if (source) found.sourceSnapshot = source;
      else found.parentClaimExists = !!(await kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: parent.status.namespace, name: volumeClaimName(target) }));
      const bound = source?.status?.boundVolumeSnapshotContentName;
      const content = bound ? await kube.get<SnapshotContent>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshotContent', name: bound }) : undefined;
      if (content) found.content = content;
      const offered = here ? await kube.get<Snapshot>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace, name: names.snapshot }) : undefined;
      if (offered) found.offered = offered;
    }
    if (entry.source === 'backup') {
      if (!entry.backup) {
        // By spec, not label: Backups made with kubectl carry no labels.
        backups ??= (await kube.list<Backup>(API_VERSION, 'Backup', { namespace: envNamespace })).items;
        found.parentBackups = backups.filter((b) => b.spec.environment === entry.parent);
      } else if (!entry.snapshotId) {
        const backup = await kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace: envNamespace, name: entry.backup });
        if (backup) found.backup = backup;
      }
      const job = here ? await read<JobObject>(moverJobRef({ action: 'restore', owner, ownerNamespace: envNamespace, target, movers: input.movers })) : undefined;
      if (job) found.restoreJob = job;
      if (here && (target.kind === 'files' || target.kind === 'redis') && entry.snapshotId && !entry.snapshot) {
        // Restored in Grove's namespace, then offered here: what of that exists.
        const offer = restoreOffer({ owner: { namespace: envNamespace, name: owner }, project: env.spec.project, target, namespace, movers: input.movers, snapshotClass: { name: '', driver: '' } });
        const staged = await kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: offer.from.namespace, name: offer.from.claim });
        if (staged) found.staged = staged;
        const { source, content, offered } = await offerFacts(kube, offer);
        Object.assign(found, { ...(source ? { sourceSnapshot: source } : {}), ...(content ? { content } : {}), ...(offered ? { offered } : {}) });
      }
      if (here && (target.kind === 'postgresql' || target.kind === 'mariadb')) {
        const sts = await read<StatefulSet>({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: target.name });
        if (sts) found.statefulSet = sts;
      }
    }
    volumes.set(entry.volume, found);
  }
  // The servers a sanitize hook would scrub, and the hooks: only when there is something to scrub.
  const scrubbed = input.namespaceExists ? servicesToSanitize(input.manifest, lineage, env.spec.type ?? 'development') : [];
  const answering = new Set<string>();
  for (const service of scrubbed) {
    const sts = await read<StatefulSet>({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: service });
    if ((sts?.status?.readyReplicas ?? 0) >= 1) answering.add(service);
  }
  const hooks: Record<string, { job?: JobObject; output?: string }> = {};
  for (const [app, name] of scrubbed.length ? Object.entries(sanitizeJobs(input.manifest, input.revision)) : []) {
    const job = await read<JobObject>({ apiVersion: 'batch/v1', kind: 'Job', namespace, name });
    const output = jobOutcome(job).failed ? await hookOutput(kube, namespace, name) : undefined;
    hooks[app] = { ...(job ? { job } : {}), ...(output ? { output } : {}) };
  }
  const offering = (l: VolumeLineage) => !l.snapshot && (l.source === 'snapshot' || (l.source === 'backup' && ['files', 'redis'].includes(targets.find((t) => t.name === l.volume)?.kind ?? '')));
  const snapshotClass = lineage.some(offering) ? await input.snapshotClass() : undefined;
  return {
    env,
    project: input.project,
    manifest: input.manifest,
    revision: input.revision,
    now: input.now,
    namespace,
    namespaceExists: input.namespaceExists,
    movers: input.movers,
    lineage,
    targets,
    ...(snapshotClass ? { snapshotClass } : {}),
    volumes,
    answering,
    hooks,
    hasClaims: (input.status.inventory ?? []).some((e) => e.id.endsWith('_PersistentVolumeClaim')),
    plannedClaim: (target) => (target.kind === 'files' ? input.fullPlan().objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === target.claimName) : serviceClaim(input.fullPlan(), target.name)),
  };
}

/** Carries a fill decision out: creates (once), starts restore Jobs, then deletions. */
async function execute(input: Step, decision: FillDecision): Promise<void> {
  const { kube } = input;
  for (const obj of decision.create) await createOnce(kube, obj);
  if (decision.movers.length) await startMovers(kube, { repo: await projectRepository(kube, input.project), namespace: input.namespace, jobs: decision.movers });
  for (const ref of decision.delete) await kube.delete(ref);
  for (const note of decision.notes) input.log.info(note.fields, note.message);
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
