/**
 * How a new Environment's volumes get their data, decided without I/O: from its parent by
 * VolumeSnapshot, from the parent's backup, from the Backup a Restore names, or empty — per
 * volume, with the reason in words. The Environment controller gathers the facts (the parent,
 * whether a VolumeSnapshotClass serves the storage class, the parent's backups) and carries the
 * decision out; these functions also name and shape every object it creates for a clone, so the
 * same input always gives the same objects.
 *
 * Snapshots cross from the parent's namespace to the child's as `offer.ts` describes.
 *
 * @module
 */
import { type Backup, cloneSnapshotNames, type Environment, type KubeObject, LABELS, type Project, serviceClaimName, volumeClaimName, type VolumeLineage } from '../api/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import { compactTime } from '../util/index.ts';
import { type BackupTarget, backupTargets } from './jobs.ts';
import { backupFor, backupState } from './schedule.ts';
import { type Offer, offeredContent, offeredSnapshot, sourceSnapshot } from './offer.ts';

export { SNAPSHOT_API_VERSION } from './offer.ts';

export type CloneStrategy = NonNullable<Environment['spec']['clone']>;

/** What the controller found out before deciding. */
export interface CloneFacts {
  environment: Environment;
  project: Project;
  manifest: ResolvedManifest;
  /** The parent by name (spec.parent, else the Project's production Environment); undefined when there is none, or when no strategy could use it. */
  parentName?: string;
  /** The parent Environment, when it exists. */
  parent?: Environment;
  /** The VolumeSnapshotClass whose driver serves the volumes' storage class, if any. */
  snapshotClass?: string;
  hasBackupStore: boolean;
  /** For an Environment a Restore made: that Restore's name and its Backup. */
  restore?: { name: string; backup: Backup | undefined };
}

export type CloneDecision =
  | { kind: 'decided'; strategy: 'snapshot' | 'backup' | 'empty'; lineage: VolumeLineage[]; message: string }
  | { kind: 'wait'; reason: 'WaitingForParent'; message: string; requeueAfterMs: number }
  | { kind: 'fail'; message: string };

/** The volumes of a manifest, each with the claim it lives in (a restore mounts Redis's claim too). */
export function cloneTargets(manifest: ResolvedManifest): BackupTarget[] {
  return backupTargets(manifest).map((t) => (t.kind === 'redis' ? { ...t, claimName: serviceClaimName(t.name) } : t));
}

export function decideClone(facts: CloneFacts): CloneDecision {
  const { environment: env, project, manifest } = facts;
  const targets = cloneTargets(manifest);
  /** Every volume from `source` where `takes` says so, the rest empty. */
  const decided = (message: string, source?: Omit<VolumeLineage, 'volume'>, takes: (t: BackupTarget) => boolean = () => true): CloneDecision => {
    const lineage = targets.map((t): VolumeLineage => (source && takes(t) ? { volume: t.name, ...source } : { volume: t.name, source: 'empty' }));
    const used = lineage.find((l) => l.source !== 'empty');
    return { kind: 'decided', strategy: used ? (used.source) : 'empty', lineage, message };
  };

  if (facts.restore) {
    const backup = facts.restore.backup;
    if (!backup) return { kind: 'fail', message: `the Backup of Restore ${facts.restore.name} does not exist` };
    const has = new Set((backup.status?.volumes ?? []).map((v) => v.name));
    const from = { source: 'backup' as const, parent: backup.spec.environment, backup: backup.metadata.name as string, ...(backup.status?.completionTime ? { time: backup.status.completionTime } : {}) };
    return decided(`Restoring Backup ${backup.metadata.name} of ${backup.spec.environment} (Restore ${facts.restore.name})`, from, (t) => has.has(t.name));
  }
  if (targets.length === 0) return decided('The manifest declares no volumes');
  if ((env.spec.type ?? 'development') === 'production') return decided('A production environment is the source of data: its volumes start empty');
  const requested: CloneStrategy = env.spec.clone ?? project.spec.defaults?.clone ?? 'auto';
  if (requested === 'empty') return decided('Empty volumes were asked for (clone: empty)');
  // What can be served decides before the parent does: an empty clone waits for nothing.
  const strategy = requested === 'auto' ? (facts.snapshotClass ? 'snapshot' : facts.hasBackupStore ? 'backup' : undefined) : requested;
  if (!strategy) return decided(`No VolumeSnapshotClass serves the storage class and Project ${project.metadata.name} has no BackupStore: volumes start empty`);
  if (strategy === 'snapshot' && !facts.snapshotClass) {
    return { kind: 'fail', message: `clone: snapshot needs a VolumeSnapshotClass for the driver of storage class ${project.spec.storageClassName ?? '(the default)'}, and there is none` };
  }
  if (strategy === 'backup' && !facts.hasBackupStore) return { kind: 'fail', message: `clone: backup needs a BackupStore, and Project ${project.metadata.name} names none` };
  if (!facts.parentName) return decided('There is no parent to clone from (no spec.parent and no production environment): volumes start empty');
  if (!facts.parent) {
    // A parent named by hand is awaited; a missing production environment is simply absent.
    if (env.spec.parent) return { kind: 'wait', reason: 'WaitingForParent', message: `Waiting for the parent Environment ${facts.parentName} to exist`, requeueAfterMs: 15_000 };
    return decided(`The production environment ${facts.parentName} does not exist: volumes start empty`);
  }
  if (!facts.parent.status?.observedRevision || facts.parent.status.conditions?.some((c) => c.type === 'DataCloned' && c.status !== 'True')) {
    return { kind: 'wait', reason: 'WaitingForParent', message: `Waiting for the parent Environment ${facts.parentName} to have its data`, requeueAfterMs: 10_000 };
  }
  const emptyByManifest = new Set(Object.entries(manifest.services).filter(([, s]) => s.clone === 'empty').map(([name]) => name));
  const note = emptyByManifest.size ? `; ${[...emptyByManifest].sort().join(', ')} empty (clone: empty)` : '';
  const how = strategy === 'snapshot' ? 'by VolumeSnapshot' : 'by restoring its backup';
  return decided(`Cloning from ${facts.parentName} ${how}${note}`, { source: strategy, parent: facts.parentName }, (t) => !emptyByManifest.has(t.name));
}

/**
 * The parent's Backup to clone from: its latest complete one if young enough, else one in
 * progress, else none (a fresh one must be made).
 */
export function usableBackup(backups: readonly Backup[], now: number, maxAgeSeconds: number): { use: Backup } | { wait: Backup } | { make: true } {
  const live = backups.filter((b) => !b.metadata.deletionTimestamp);
  const complete = live
    .filter((b) => backupState(b).state === 'completed' && b.status?.completionTime)
    .sort((a, b) => Date.parse(b.status!.completionTime!) - Date.parse(a.status!.completionTime!));
  const latest = complete[0];
  if (latest && now - Date.parse(latest.status!.completionTime!) <= maxAgeSeconds * 1000) return { use: latest };
  const running = live.find((b) => backupState(b).state === 'running');
  if (running) return { wait: running };
  return { make: true };
}

/** The fresh Backup of a parent taken for clones, named by the minute so concurrent clones share it. */
export function cloneBackup(parent: Environment, now: number, retentionSeconds = 7 * 86400): Backup {
  return backupFor(parent, `${(parent.metadata.name ?? '').slice(0, 63 - 19)}-clone-${compactTime(now, 'minute')}`, 'clone', retentionSeconds);
}

export interface SnapshotObjectsInput {
  child: Environment;
  childNamespace: string;
  parentNamespace: string;
  volume: BackupTarget;
  snapshotClass: string;
}

function cloneLabels(child: Environment, volume: string): Record<string, string> {
  // Deliberately without grove.dev/environment-namespace: these are not planned children.
  return { [LABELS.managedBy]: 'grove', [LABELS.project]: child.spec.project, 'grove.dev/clone-for': child.metadata.name ?? '', [LABELS.volume]: volume };
}

/** A parent's volume offered to its child. */
export function cloneOffer(input: SnapshotObjectsInput & { driver?: string }): Offer {
  return {
    from: { namespace: input.parentNamespace, claim: volumeClaimName(input.volume) },
    to: input.childNamespace,
    names: cloneSnapshotNames(input.child, input.volume.name),
    snapshotClass: { name: input.snapshotClass, driver: input.driver ?? '' },
    labels: cloneLabels(input.child, input.volume.name),
    volume: input.volume.name,
  };
}

/** The VolumeSnapshot of the parent's claim, in the parent's namespace. */
export function parentSnapshot(input: SnapshotObjectsInput): KubeObject & Record<string, unknown> {
  return sourceSnapshot(cloneOffer(input));
}

/** The pre-provisioned content naming the parent's snapshot handle, bound to the child's VolumeSnapshot. */
export function childSnapshotContent(input: SnapshotObjectsInput & { driver: string; snapshotHandle: string }): KubeObject & Record<string, unknown> {
  return offeredContent(cloneOffer(input), input.snapshotHandle);
}

export function childSnapshot(input: SnapshotObjectsInput): KubeObject & Record<string, unknown> {
  return offeredSnapshot(cloneOffer(input));
}

/** Volume → VolumeSnapshot its claim is created from, for the planner. */
export function snapshotSources(lineage: readonly VolumeLineage[] | undefined): Record<string, string> {
  // A clone's snapshot of its parent, or a restore's of the claim it filled in Grove's namespace.
  return Object.fromEntries((lineage ?? []).filter((l) => l.source !== 'empty' && l.snapshot).map((l) => [l.volume, l.snapshot as string]));
}

/** Whether any volume got data. */
export function anythingCloned(lineage: readonly VolumeLineage[] | undefined): boolean {
  return (lineage ?? []).some((l) => l.source !== 'empty');
}

/**
 * The services whose copy must be scrubbed before anything serves it: those the manifest marks
 * `clone: sanitized` that got data from the parent. Production is never a scrubbed copy (a
 * restore into it brings back its own data). `full` copies, and mounted volumes, stay as they came.
 */
export function servicesToSanitize(manifest: ResolvedManifest, lineage: readonly VolumeLineage[] | undefined, type: string): string[] {
  if (type === 'production') return [];
  const copied = new Set((lineage ?? []).filter((l) => l.source !== 'empty').map((l) => l.volume));
  return Object.entries(manifest.services)
    .filter(([name, s]) => s.clone === 'sanitized' && copied.has(name))
    .map(([name]) => name)
    .sort();
}
