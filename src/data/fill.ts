/**
 * How a new Environment's volumes are filled once `decideClone` has chosen each one's source:
 * from what exists now — the parent's snapshots and claims, the snapshot contents, the snapshots
 * offered in the child's namespace, the parent's Backups, the child's claims, restore Jobs,
 * StatefulSets and sanitize Jobs — which objects to create, apply and delete next, and where the
 * data stands. Pure: the Environment controller gathers the facts and carries the decision out,
 * so each reconcile moves the data one step on, and a restarted operator decides the same.
 *
 * The stages run in order, and a stage starts only when every volume is through the one before:
 * 1. sources — the parent's VolumeSnapshot taken and offered here (a VolumeSnapshotContent bound
 *    to a VolumeSnapshot in this namespace), or the parent's Backup chosen (a fresh one asked for
 *    when the latest is too old) and complete;
 *    — or, for files and Redis from a Backup, the backup restored into a claim in Grove's
 *    namespace, and that claim offered here the same way;
 * 2. fill — claims provisioned from the offered snapshots (an existing claim a Restore replaces
 *    goes first); restore Jobs run into running database servers (PostgreSQL, MariaDB);
 * 3. sanitize — the services marked `clone: sanitized` answer, then each sanitize hook succeeds;
 * 4. what carried the data is released: the clone's snapshots, a restore's Job, claim and
 *    snapshots in Grove's namespace — the only deletions this module asks for, with the claim a
 *    Restore replaces once its data is backed up.
 *
 * @module
 */
import { ANNOTATIONS, type Backup, type Environment, type KubeObject, LABELS, type Project, REASONS, sanitizeJobName, volumeClaimName, type VolumeLineage } from '../api/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import type { DataPlan } from '../planner/index.ts';
import { anythingCloned, cloneBackup, cloneOffer, servicesToSanitize, snapshotSources, usableBackup } from './clone.ts';
import { advanceOffer, releaseOffer, type Snapshot, type SnapshotContent } from './offer.ts';
import { type BackupTarget, type JobObject, jobOutcome, moverJob, type Movers } from './jobs.ts';
import { type BackupClaim, releaseRestoreVolume, restoreClaim, restoreOffer } from './transfer.ts';
import { backupState } from './schedule.ts';

export type { Snapshot, SnapshotContent } from './offer.ts';
export type Claim = KubeObject & { spec?: { dataSource?: { name?: string } }; status?: { phase?: string } };
export type StatefulSet = KubeObject & { status?: { readyReplicas?: number } };

/** What exists for one volume, as far as its stage needs to know. */
export interface VolumeFacts {
  /** The parent Environment the volume is cloned from, when it exists. */
  parent?: Environment;
  /** The VolumeSnapshot offered from: the parent's of its claim, or the one of the claim a restore filled in Grove's namespace. */
  sourceSnapshot?: Snapshot;
  /** Whether the parent has this volume's claim at all (asked only while it has no snapshot). */
  parentClaimExists?: boolean;
  /** The VolumeSnapshotContent that source snapshot is bound to. */
  content?: SnapshotContent;
  /** The VolumeSnapshot offered in the child's namespace. */
  offered?: Snapshot;
  /** The parent's Backups, while none is chosen yet. */
  parentBackups?: readonly Backup[];
  /** The Backup chosen (`lineage.backup`). */
  backup?: Backup;
  /** The child's claim of this volume. */
  claim?: Claim;
  /** The Job restoring this volume. */
  restoreJob?: JobObject;
  /** The claim a restore of files fills in Grove's namespace. */
  staged?: Claim;
  /** The service's StatefulSet in the child's namespace. */
  statefulSet?: StatefulSet;
}

export interface FillFacts {
  env: Environment;
  project: Project;
  manifest: ResolvedManifest;
  revision: string;
  now: number;
  /** The child Environment's namespace. */
  namespace: string;
  /** Whether it exists yet: nothing can be written into it before the apply step makes it. */
  namespaceExists: boolean;
  movers: Movers;
  /** Each volume's source, as decided; entries of volumes the manifest no longer has are dropped. */
  lineage: readonly VolumeLineage[];
  targets: readonly BackupTarget[];
  /** The VolumeSnapshotClass a snapshot clone uses. */
  snapshotClass?: { name: string; driver: string };
  volumes: ReadonlyMap<string, VolumeFacts>;
  /** Services in the child's namespace with a ready replica (their probe, a real connection, passed). */
  answering: ReadonlySet<string>;
  /** The sanitize Job of each application with a hook, at this revision, and what it printed when it failed. */
  hooks: Readonly<Record<string, { job?: JobObject; output?: string }>>;
  /** Whether the Environment already has claims (they stay planned whatever the stage: never prune data). */
  hasClaims: boolean;
  /** The claim the plan gives a volume (a mount's, or the one a service's StatefulSet makes), whose class and size a restore copies. */
  plannedClaim: (target: BackupTarget) => BackupClaim | undefined;
}

export interface FillDecision {
  /** The lineage with what this step learnt (snapshots, Backups chosen, volumes found empty). */
  lineage: VolumeLineage[];
  /** Objects of deterministic names to create unless they exist. */
  create: KubeObject[];
  /** Restore Jobs to start, each with the volume it fills (its Secret depends on where it runs). */
  movers: Array<{ target: BackupTarget; job: KubeObject }>;
  /** Objects to delete, absent ones being fine: what carried the data, and a claim a Restore replaces. */
  delete: Array<{ apiVersion: string; kind: string; namespace?: string; name: string }>;
  /** What to say in the log. */
  notes: Array<{ message: string; fields: Record<string, unknown> }>;
  /** Where the data stands; `failed` stalls the Environment (CloneFailed or SanitizeFailed). */
  outcome:
    | { kind: 'waiting'; plan: DataPlan; reason: string; message: string; requeueAfterMs: number }
    | { kind: 'failed'; reason: string; message: string }
    | { kind: 'done'; plan: DataPlan; reason: string; message: string };
}

const POLL_MS = 3_000;

export function decideFill(facts: FillFacts): FillDecision {
  const targets = new Map(facts.targets.map((t) => [t.name, t]));
  const lineage = structuredClone(facts.lineage.filter((l) => targets.has(l.volume)));
  const decision: FillDecision = { lineage, create: [], movers: [], delete: [], notes: [], outcome: { kind: 'done', plan: { stage: 'ready' }, reason: '', message: '' } };
  const fail = (reason: string, message: string): FillDecision => ({ ...decision, create: [], movers: [], delete: [], outcome: { kind: 'failed', reason, message } });
  const volume = (name: string): VolumeFacts => facts.volumes.get(name) ?? {};

  // 0. The namespace, with its isolation, comes first: claims, offered snapshots, the mover
  // Secret and Jobs all go into it. The apply step makes it at the sources stage.
  if (!facts.namespaceExists && lineage.some((e) => e.source !== 'empty')) {
    return { ...decision, outcome: { kind: 'waiting', plan: { stage: 'sources' }, reason: REASONS.preparingSources, message: `waiting for namespace ${facts.namespace}`, requeueAfterMs: POLL_MS } };
  }

  // 1. Sources.
  const pending: string[] = [];
  for (const entry of lineage) {
    const target = targets.get(entry.volume) as BackupTarget;
    const found = volume(entry.volume);
    const step = entry.source === 'snapshot' ? snapshotSource(facts, entry, target, found, decision) : entry.source === 'backup' ? (backupSource(facts, entry, found, decision) ?? stagedRestore(facts, entry, target, found, decision)) : undefined;
    if (step && 'failed' in step) return fail(REASONS.cloneFailed, step.failed);
    if (step) pending.push(step.waiting);
  }
  if (pending.length) {
    // Volumes cloned through one Backup wait for it once.
    const plan: DataPlan = { stage: facts.hasClaims ? 'fill' : 'sources' };
    return { ...decision, outcome: { kind: 'waiting', plan, reason: REASONS.preparingSources, message: [...new Set(pending)].join('; '), requeueAfterMs: POLL_MS } };
  }

  // 2. Fill.
  const held: string[] = [];
  const replacing: string[] = [];
  for (const entry of lineage) {
    const target = targets.get(entry.volume) as BackupTarget;
    const found = volume(entry.volume);
    const step = entry.source === 'snapshot' ? claimBound(target, found) : entry.source === 'backup' ? (restoredAsFiles(target) ? claimFromRestore(facts, target, entry, found, decision, { held, replacing }) : restoreInto(facts, entry, target, found, decision)) : undefined;
    if (step && 'failed' in step) return fail(REASONS.cloneFailed, step.failed);
    if (step) pending.push(step.waiting);
  }
  const snapshots = snapshotSources(lineage);
  if (pending.length) return { ...decision, outcome: { kind: 'waiting', plan: { stage: 'fill', held, snapshots, ...(replacing.length ? { replacing } : {}) }, reason: REASONS.filling, message: pending.join('; '), requeueAfterMs: POLL_MS } };

  // 3. Sanitize the copies marked `clone: sanitized`, before anything serves them. The manifest
  // cannot mark one without an application that has a sanitize hook.
  const scrubbed = servicesToSanitize(facts.manifest, lineage, facts.env.spec.type ?? 'development');
  const hooks = scrubbed.length ? Object.entries(facts.manifest.applications).filter(([, a]) => a.hooks?.sanitize).map(([name]) => name) : [];
  // A hook needs the servers it scrubs to answer; until then nothing runs that could fail on a refused connection.
  const starting = hooks.length ? scrubbed.filter((s) => !facts.answering.has(s)) : [];
  if (starting.length) {
    const message = `waiting for ${starting.join(', ')} to accept connections before the sanitize hook`;
    return { ...decision, outcome: { kind: 'waiting', plan: { stage: 'fill', snapshots }, reason: REASONS.sanitizing, message, requeueAfterMs: POLL_MS } };
  }
  for (const app of hooks) {
    const hook = facts.hooks[app] ?? {};
    const outcome = jobOutcome(hook.job);
    if (outcome.failed) {
      const printed = hook.output ? `; it printed:\n${hook.output}` : '';
      return fail(REASONS.sanitizeFailed, `the sanitize hook of ${app} failed (${outcome.failed})${printed}\nThe applications stay stopped until a revision's hook succeeds.`);
    }
    if (!outcome.complete) pending.push(`running the sanitize hook of ${app} on ${scrubbed.join(', ')}`);
  }
  if (pending.length) return { ...decision, outcome: { kind: 'waiting', plan: { stage: 'sanitize', snapshots }, reason: REASONS.sanitizing, message: pending.join('; '), requeueAfterMs: POLL_MS } };

  // 4. The clone's snapshots have done their work once the claims are bound: the child's, then the parent's.
  for (const entry of lineage) {
    if (entry.source !== 'snapshot') continue;
    const parentNamespace = volume(entry.volume).parent?.status?.namespace;
    const offer = cloneOffer({ child: facts.env, childNamespace: facts.namespace, parentNamespace: parentNamespace ?? '', volume: targets.get(entry.volume) as BackupTarget, snapshotClass: '' });
    // Without the parent its snapshot cannot be named: it went with the parent's namespace.
    decision.delete.push(...releaseOffer(offer).filter((ref) => parentNamespace || ref.namespace !== ''));
  }
  // A restore's claim in Grove's namespace and its offer, once the claim here is made from it;
  // the Job first, whose pod holds that claim (its Secret, with the store's keys, goes with it).
  for (const entry of lineage) {
    const target = targets.get(entry.volume) as BackupTarget;
    if (entry.source !== 'backup' || !restoredAsFiles(target)) continue;
    const { offer, job } = restoreOf(facts, target, entry);
    decision.delete.push({ apiVersion: 'batch/v1', kind: 'Job', namespace: job.metadata.namespace, name: job.metadata.name as string }, ...releaseRestoreVolume(offer));
  }
  const summary = lineage.map((l) => `${l.volume} ${l.source === 'empty' ? 'empty' : `from ${l.source === 'snapshot' ? `a snapshot of ${l.parent}` : `Backup ${l.backup}`}`}`).join(', ');
  const sanitized = hooks.length ? `; ${scrubbed.join(', ')} sanitized by the hook of ${hooks.join(', ')}` : '';
  const reason = anythingCloned(lineage) ? REASONS.cloned : REASONS.emptyVolumes;
  return { ...decision, outcome: { kind: 'done', plan: { stage: 'ready', snapshots }, reason, message: summary ? `${summary}${sanitized}` : 'No volumes' } };
}

type Step = { waiting: string } | { failed: string } | undefined;

/** The parent's snapshot taken and offered in this namespace. */
function snapshotSource(facts: FillFacts, entry: VolumeLineage, target: BackupTarget, found: VolumeFacts, decision: FillDecision): Step {
  if (entry.snapshot) return undefined;
  const parentNamespace = found.parent?.status?.namespace;
  if (!parentNamespace) return { failed: `the parent Environment ${entry.parent} went away before ${target.name} was cloned` };
  if (!facts.snapshotClass) return { failed: 'the VolumeSnapshotClass used for the clone is gone' };
  if (!found.sourceSnapshot && !found.parentClaimExists) {
    // The parent has no such volume (its manifest differs): this one starts empty.
    Object.assign(entry, { source: 'empty' });
    delete entry.parent;
    return undefined;
  }
  const offer = cloneOffer({ child: facts.env, childNamespace: facts.namespace, parentNamespace, volume: target, snapshotClass: facts.snapshotClass.name, driver: facts.snapshotClass.driver });
  const step = advanceOffer(offer, { ...(found.sourceSnapshot ? { source: found.sourceSnapshot } : {}), ...(found.content ? { content: found.content } : {}), ...(found.offered ? { offered: found.offered } : {}) });
  if (step.state === 'failed') return { failed: step.message };
  decision.create.push(...step.create);
  if (step.state === 'waiting') return { waiting: step.message };
  entry.snapshot = offer.names.snapshot;
  if (step.time) entry.time = step.time;
  return undefined;
}

/** The parent's Backup chosen (a fresh one when the latest is too old), and complete. */
function backupSource(facts: FillFacts, entry: VolumeLineage, found: VolumeFacts, decision: FillDecision): Step {
  if (entry.snapshotId) return undefined;
  let backup = found.backup;
  if (!entry.backup) {
    const choice = usableBackup(found.parentBackups ?? [], facts.now, facts.project.spec.defaults?.cloneBackupMaxAgeSeconds ?? 86_400);
    if ('make' in choice) {
      if (!found.parent) return { failed: `the parent Environment ${entry.parent} went away before its backup was taken` };
      const fresh = cloneBackup(found.parent, facts.now);
      decision.create.push(fresh);
      decision.notes.push({ message: 'Asked for a fresh backup of the parent to clone from', fields: { backup: fresh.metadata.name } });
      entry.backup = fresh.metadata.name;
      backup = fresh;
    } else {
      backup = 'use' in choice ? choice.use : choice.wait;
      entry.backup = backup.metadata.name;
    }
  }
  if (!backup) return { failed: `Backup ${entry.backup} to clone ${entry.volume} from was deleted` };
  const { state, message } = backupState(backup);
  if (state === 'failed') return { failed: `Backup ${entry.backup} failed: ${message}` };
  if (state === 'running') return { waiting: `waiting for Backup ${entry.backup}${message ? ` (${message})` : ''}` };
  const saved = backup.status?.volumes?.find((v) => v.name === entry.volume);
  if (!saved?.snapshotId) {
    // The backup predates this volume: it starts empty.
    Object.assign(entry, { source: 'empty' });
    for (const key of ['parent', 'backup', 'time'] as const) delete entry[key];
    return undefined;
  }
  entry.snapshotId = saved.snapshotId;
  if (backup.status?.completionTime) entry.time = backup.status.completionTime;
  return undefined;
}

function claimBound(target: BackupTarget, found: VolumeFacts): Step {
  return found.claim?.status?.phase === 'Bound' ? undefined : { waiting: `waiting for claim ${volumeClaimName(target)} to be provisioned from its snapshot` };
}

/** Files, and Redis's file (which it reads when it starts), are restored into a claim; dumps through their server. */
function restoredAsFiles(target: BackupTarget): boolean {
  return target.kind === 'files' || target.kind === 'redis';
}

/** The restore Job of one volume (each Restore has its own; a clone's are the Environment's), and for files the claim it fills and offers. */
function restoreOf(facts: FillFacts, target: BackupTarget, entry: VolumeLineage) {
  const envName = facts.env.metadata.name ?? '';
  const owner = { namespace: facts.env.metadata.namespace ?? '', name: facts.env.metadata.annotations?.[ANNOTATIONS.restore] ?? envName };
  const offer = restoreOffer({ owner, project: facts.env.spec.project, target, namespace: facts.namespace, movers: facts.movers, snapshotClass: facts.snapshotClass ?? { name: '', driver: '' } });
  const reads = restoredAsFiles(target) ? { ...target, claimName: offer.from.claim } : target;
  const job = moverJob({ action: 'restore', owner: owner.name, ownerNamespace: owner.namespace, environment: envName, namespace: facts.namespace, target: reads, movers: facts.movers, snapshotId: entry.snapshotId ?? '', labels: restoreLabels(facts) });
  return { offer, job, reads };
}

/** How a restore Job stands: undefined once complete; started (with what it needs) when absent. */
function runRestore(facts: FillFacts, target: BackupTarget, entry: VolumeLineage, found: VolumeFacts, decision: FillDecision, start: () => Step): Step {
  const { job, reads } = restoreOf(facts, target, entry);
  const outcome = jobOutcome(found.restoreJob);
  if (outcome.complete) return undefined;
  if (outcome.failed) return { failed: `restoring ${target.name} from Backup ${entry.backup} failed: ${outcome.failed}; delete Job ${job.metadata.name ?? ''} in ${job.metadata.namespace ?? ''} to try again` };
  const restoring = { waiting: `restoring ${target.name} from Backup ${entry.backup}` };
  if (found.restoreJob) return restoring;
  const waiting = start();
  if (waiting) return waiting;
  decision.movers.push({ target: reads, job });
  decision.notes.push({ message: 'Started restoring a volume', fields: { volume: target.name, backup: entry.backup } });
  return restoring;
}

/** A dump restored through the database server, which must be up. */
function restoreInto(facts: FillFacts, entry: VolumeLineage, target: BackupTarget, found: VolumeFacts, decision: FillDecision): Step {
  return runRestore(facts, target, entry, found, decision, () => (found.statefulSet?.status?.readyReplicas ? undefined : { waiting: `waiting for ${target.name} to start before restoring it` }));
}

/**
 * Files (or Redis's file) from a Backup: restored into a claim in Grove's namespace, where the
 * store's keys are, then offered here by snapshot — the claim here is made from it in the fill
 * stage, as for a snapshot clone.
 */
function stagedRestore(facts: FillFacts, entry: VolumeLineage, target: BackupTarget, found: VolumeFacts, decision: FillDecision): Step {
  if (entry.source !== 'backup' || !restoredAsFiles(target) || entry.snapshot) return undefined;
  if (!facts.snapshotClass) return { failed: `restoring ${target.name} needs a VolumeSnapshotClass for the driver of storage class ${facts.project.spec.storageClassName ?? '(the default)'}, so that the restored files reach ${facts.namespace} as a snapshot; there is none` };
  const { offer } = restoreOf(facts, target, entry);
  const restored = runRestore(facts, target, entry, found, decision, () => {
    const planned = facts.plannedClaim(target);
    if (!planned) return { failed: `the plan has no claim for ${target.name}` };
    if (!found.staged) decision.create.push(restoreClaim(offer, planned));
    return undefined;
  });
  if (restored) return restored;
  const step = advanceOffer(offer, { ...(found.sourceSnapshot ? { source: found.sourceSnapshot } : {}), ...(found.content ? { content: found.content } : {}), ...(found.offered ? { offered: found.offered } : {}) });
  if (step.state === 'failed') return { failed: step.message };
  decision.create.push(...step.create);
  if (step.state === 'waiting') return { waiting: step.message };
  entry.snapshot = offer.names.snapshot;
  return undefined;
}

/**
 * The claim made from a restore's offered snapshot. A claim that is already there holds the
 * data a Restore replaces (which it backed up first): it goes, and comes back from the snapshot —
 * a mount's left out of the plan, a service's once its StatefulSet is held.
 */
function claimFromRestore(facts: FillFacts, target: BackupTarget, entry: VolumeLineage, found: VolumeFacts, decision: FillDecision, plan: { held: string[]; replacing: string[] }): Step {
  const claim = found.claim;
  if (claim && claim.spec?.dataSource?.name !== entry.snapshot) {
    if (target.kind === 'files') plan.replacing.push(target.name);
    else plan.held.push(target.name);
    decision.delete.push({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: facts.namespace, name: volumeClaimName(target) });
    return { waiting: `replacing claim ${volumeClaimName(target)} with one made from the restored data` };
  }
  return claimBound(target, found);
}

function restoreLabels(facts: FillFacts): Record<string, string> {
  return { [LABELS.project]: facts.env.spec.project, [LABELS.environment]: facts.env.metadata.name ?? '', [LABELS.environmentNamespace]: facts.env.metadata.namespace ?? '' };
}

/** The sanitize Job name of each application with a sanitize hook, at `revision`. */
export function sanitizeJobs(manifest: ResolvedManifest, revision: string): Record<string, string> {
  return Object.fromEntries(Object.entries(manifest.applications).filter(([, a]) => a.hooks?.sanitize).map(([app]) => [app, sanitizeJobName(app, revision)]));
}
