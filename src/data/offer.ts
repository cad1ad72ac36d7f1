/**
 * A claim's data offered to another namespace, the way the CSI snapshotter supports without
 * alpha feature gates: a VolumeSnapshot of the claim where it lives; a pre-provisioned
 * VolumeSnapshotContent naming the same snapshot handle, bound to a VolumeSnapshot of the same
 * name in the other namespace, from which claims there are created. Clones offer a parent's
 * volume to its child; backups offer an Environment's volume to Grove's namespace, where the
 * mover that holds the store's keys reads it. Pure: each step says what to create next.
 *
 * @module
 */
import { type KubeObject, SNAPSHOT_GROUP } from '../api/index.ts';

export const SNAPSHOT_API_VERSION = `${SNAPSHOT_GROUP}/v1`;

export type Snapshot = KubeObject & { status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; creationTime?: string; error?: { message?: string } } };
export type SnapshotContent = KubeObject & { spec?: { driver?: string; volumeSnapshotRef?: { namespace?: string; name?: string; uid?: string } }; status?: { snapshotHandle?: string } };

export interface Offer {
  /** The claim whose data is offered, and its namespace. */
  from: { namespace: string; claim: string };
  /** The namespace it is offered to. */
  to: string;
  /** The VolumeSnapshots' name (the same in both namespaces) and the content's. */
  names: { snapshot: string; content: string };
  snapshotClass: { name: string; driver: string };
  labels: Record<string, string>;
  /** How the volume is called in messages. */
  volume: string;
}

/** What exists of an offer. */
export interface OfferFacts {
  /** The VolumeSnapshot of the claim, where the claim is. */
  source?: Snapshot;
  /** The VolumeSnapshotContent the source is bound to. */
  content?: SnapshotContent;
  /** The VolumeSnapshot in the namespace the data is offered to. */
  offered?: Snapshot;
}

export type OfferStep = { create: Array<KubeObject & Record<string, unknown>> } & ({ state: 'waiting'; message: string } | { state: 'failed'; message: string } | { state: 'ready'; time?: string });

/** The VolumeSnapshot of the claim, in its namespace. */
export function sourceSnapshot(offer: Offer): KubeObject & Record<string, unknown> {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: { name: offer.names.snapshot, namespace: offer.from.namespace, labels: offer.labels },
    spec: { volumeSnapshotClassName: offer.snapshotClass.name, source: { persistentVolumeClaimName: offer.from.claim } },
  };
}

/**
 * The pre-provisioned content naming the source's snapshot handle, bound to the offered
 * VolumeSnapshot. `Retain`: the handle belongs to the source snapshot, which deletes it.
 */
export function offeredContent(offer: Offer, snapshotHandle: string, driver = offer.snapshotClass.driver): KubeObject & Record<string, unknown> {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshotContent',
    metadata: { name: offer.names.content, labels: offer.labels },
    spec: {
      deletionPolicy: 'Retain',
      driver,
      source: { snapshotHandle },
      sourceVolumeMode: 'Filesystem',
      volumeSnapshotClassName: offer.snapshotClass.name,
      volumeSnapshotRef: { name: offer.names.snapshot, namespace: offer.to },
    },
  };
}

export function offeredSnapshot(offer: Offer): KubeObject & Record<string, unknown> {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: { name: offer.names.snapshot, namespace: offer.to, labels: offer.labels },
    spec: { volumeSnapshotClassName: offer.snapshotClass.name, source: { volumeSnapshotContentName: offer.names.content } },
  };
}

/** The offer's next step: what to create, and whether the offered snapshot is ready to make claims from. */
export function advanceOffer(offer: Offer, facts: OfferFacts): OfferStep {
  const { volume } = offer;
  const { source, offered } = facts;
  if (!source) return { create: [sourceSnapshot(offer)], state: 'waiting', message: `taking a snapshot of ${volume} in ${offer.from.namespace}` };
  if (source.status?.error?.message) return { create: [], state: 'failed', message: `the snapshot of ${volume} in ${offer.from.namespace} failed: ${source.status.error.message}` };
  if (!source.status?.readyToUse || !source.status.boundVolumeSnapshotContentName) return { create: [], state: 'waiting', message: `waiting for the snapshot of ${volume} in ${offer.from.namespace}` };
  // A snapshot's status says which content it is bound to, and whoever may write that status could
  // name another's: the content must name this snapshot back before its handle is used.
  const ref = facts.content?.spec?.volumeSnapshotRef;
  if (facts.content && (ref?.namespace !== offer.from.namespace || ref.name !== offer.names.snapshot || (ref.uid && source.metadata.uid && ref.uid !== source.metadata.uid))) {
    return { create: [], state: 'failed', message: `the snapshot of ${volume} in ${offer.from.namespace} claims VolumeSnapshotContent ${facts.content.metadata.name ?? ''}, which belongs to another snapshot` };
  }
  const handle = facts.content?.status?.snapshotHandle;
  if (!handle) return { create: [], state: 'waiting', message: `waiting for the snapshot handle of ${volume}` };
  const content = offeredContent(offer, handle, facts.content?.spec?.driver ?? offer.snapshotClass.driver);
  if (!offered) return { create: [content, offeredSnapshot(offer)], state: 'waiting', message: `offering the snapshot of ${volume} in ${offer.to}` };
  if (offered.status?.error?.message) return { create: [content], state: 'failed', message: `the snapshot of ${volume} could not be bound in ${offer.to}: ${offered.status.error.message}` };
  if (!offered.status?.readyToUse) return { create: [content], state: 'waiting', message: `waiting for the snapshot of ${volume} to be ready in ${offer.to}` };
  return { create: [content], state: 'ready', ...(source.status.creationTime ? { time: source.status.creationTime } : {}) };
}

/** What an offer leaves once its claims are made: the offered snapshot, its content, then the source snapshot (which frees the handle). */
export function releaseOffer(offer: Pick<Offer, 'to' | 'names'> & { from: { namespace: string } }): Array<{ apiVersion: string; kind: string; namespace?: string; name: string }> {
  return [
    { apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: offer.to, name: offer.names.snapshot },
    { apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshotContent', name: offer.names.content },
    { apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace: offer.from.namespace, name: offer.names.snapshot },
  ];
}
