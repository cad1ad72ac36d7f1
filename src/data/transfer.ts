/**
 * Volumes moved through Grove's namespace, so that the store's keys never enter an
 * Environment's. A backup offers the volume's claim to Grove's namespace by snapshot
 * (`offer.ts`), makes a claim there from the offered snapshot, and its mover mounts that claim
 * read-only beside the Secret with the keys: a crash-consistent copy, taken at one instant. A
 * restore of files (or of Redis's file) fills a new claim in Grove's namespace, then offers that
 * claim to the Environment's namespace, where its claim is made from the offered snapshot.
 * Pure: the controllers gather the facts and carry each step out.
 *
 * @module
 */
import { backupSnapshotNames, type KubeObject, LABELS, restoreSnapshotNames, volumeClaimName } from '../api/index.ts';
import type { BackupTarget, Movers } from './jobs.ts';
import { advanceOffer, type Offer, type OfferFacts, releaseOffer, SNAPSHOT_API_VERSION } from './offer.ts';

export type BackupClaim = KubeObject & { spec?: { storageClassName?: string; resources?: { requests?: { storage?: string } } }; status?: { phase?: string; capacity?: { storage?: string } } };

export interface BackupVolumeInput {
  backup: { namespace: string; name: string };
  project: string;
  target: BackupTarget;
  /** The Environment's namespace, where the volume's claim is. */
  namespace: string;
  movers: Movers;
  snapshotClass: { name: string; driver: string };
}

/** The volume's claim offered to Grove's namespace. */
export function backupOffer(input: BackupVolumeInput): Offer {
  return {
    from: { namespace: input.namespace, claim: volumeClaimName(input.target) },
    to: input.movers.namespace,
    names: backupSnapshotNames(input.backup, input.target.name),
    snapshotClass: input.snapshotClass,
    labels: backupOfferLabels(input),
    volume: input.target.name,
  };
}

/**
 * What marks everything a backup's offer makes, at both ends: the Backup (its name and project
 * namespace), the volume and the Environment's namespace, so that what is left of it can be
 * found and released from the labels alone, even once the Backup is gone.
 */
function backupOfferLabels(input: { backup: { namespace: string; name: string }; project: string; target: { name: string }; namespace: string }): Record<string, string> {
  return {
    [LABELS.managedBy]: 'grove',
    [LABELS.project]: input.project,
    [LABELS.backup]: input.backup.name,
    [LABELS.environmentNamespace]: input.backup.namespace,
    [LABELS.volume]: input.target.name,
    [LABELS.targetNamespace]: input.namespace,
  };
}

/** The label selector of everything a Backup's movers made (Jobs, claims and snapshots). */
export function backupMoverSelector(backup: { namespace: string; name: string }): string {
  return `${LABELS.backup}=${backup.name},${LABELS.environmentNamespace}=${backup.namespace}`;
}

/**
 * What a backup's offer of one volume may have left, from what its labels say (the volume and
 * the Environment's namespace): for releasing it once the Backup no longer needs it.
 */
export function backupVolumeLeftovers(backup: { namespace: string; name: string }, labels: Record<string, string>, movers: Movers): Array<{ apiVersion: string; kind: string; namespace?: string; name: string }> {
  const volume = labels[LABELS.volume];
  const from = labels[LABELS.targetNamespace];
  if (!volume || !from) return [];
  return releaseBackupVolume({ from: { namespace: from }, to: movers.namespace, names: backupSnapshotNames(backup, volume) });
}

/** The claim in Grove's namespace made from the offered snapshot: the source claim's class and size. */
export function stagingClaim(offer: Offer, source: BackupClaim): KubeObject & Record<string, unknown> {
  const size = source.status?.capacity?.storage ?? source.spec?.resources?.requests?.storage ?? '1Gi';
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: offer.names.snapshot, namespace: offer.to, labels: offer.labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(source.spec?.storageClassName ? { storageClassName: source.spec.storageClassName } : {}),
      resources: { requests: { storage: size } },
      dataSource: { apiGroup: SNAPSHOT_API_VERSION.split('/')[0], kind: 'VolumeSnapshot', name: offer.names.snapshot },
    },
  };
}

export interface BackupVolumeFacts extends OfferFacts {
  /** The volume's claim in the Environment's namespace. */
  claim?: BackupClaim;
  /** The claim made in Grove's namespace. */
  staged?: BackupClaim;
}

export type BackupVolumeStep = { create: KubeObject[] } & ({ state: 'waiting'; message: string } | { state: 'failed'; message: string } | { state: 'ready'; claim: string });

/** The next step towards a claim in Grove's namespace holding the volume's files. */
export function prepareBackupVolume(offer: Offer, facts: BackupVolumeFacts): BackupVolumeStep {
  if (!facts.claim) return { create: [], state: 'failed', message: `volume ${offer.volume} has no claim ${offer.from.claim} in ${offer.from.namespace}` };
  const step = advanceOffer(offer, facts);
  if (step.state !== 'ready') return step;
  // The mover's pod waits for the claim to be provisioned: the Job can start at once.
  return { create: [...step.create, ...(facts.staged ? [] : [stagingClaim(offer, facts.claim)])], state: 'ready', claim: offer.names.snapshot };
}

/**
 * The claim a restore fills in Grove's namespace, shaped like the one the Environment will
 * have (class and size), and offered to its namespace once the mover is done.
 */
export function restoreOffer(input: { owner: { namespace: string; name: string }; project: string; target: BackupTarget; namespace: string; movers: Movers; snapshotClass: { name: string; driver: string } }): Offer {
  const names = restoreSnapshotNames(input.owner, input.target.name);
  return {
    from: { namespace: input.movers.namespace, claim: names.snapshot },
    to: input.namespace,
    names,
    snapshotClass: input.snapshotClass,
    labels: { [LABELS.managedBy]: 'grove', [LABELS.project]: input.project, [LABELS.restore]: input.owner.name, [LABELS.volume]: input.target.name, [LABELS.targetNamespace]: input.namespace },
    volume: input.target.name,
  };
}

/** The empty claim in Grove's namespace a restore fills: the planned claim's class and size. */
export function restoreClaim(offer: Offer, planned: BackupClaim): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: offer.from.claim, namespace: offer.from.namespace, labels: offer.labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(planned.spec?.storageClassName ? { storageClassName: planned.spec.storageClassName } : {}),
      resources: { requests: { storage: planned.spec?.resources?.requests?.storage ?? '1Gi' } },
    },
  };
}

/** What identifies the objects of an offer, enough to release them. */
type Released = Pick<Offer, 'to' | 'names'> & { from: { namespace: string } };

/** What a restore left in Grove's namespace once the Environment's claim is made: the claim, then the offer. */
export function releaseRestoreVolume(offer: Pick<Offer, 'from' | 'to' | 'names'>): Array<{ apiVersion: string; kind: string; namespace?: string; name: string }> {
  return [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: offer.from.namespace, name: offer.from.claim }, ...releaseOffer(offer)];
}

/** Everything a volume's backup made, once its mover is done: the claim in Grove's namespace, then the offer. */
export function releaseBackupVolume(offer: Released): Array<{ apiVersion: string; kind: string; namespace?: string; name: string }> {
  return [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: offer.to, name: offer.names.snapshot }, ...releaseOffer(offer)];
}
