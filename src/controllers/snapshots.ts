/**
 * The cluster's snapshot support, as the data moves need it: which VolumeSnapshotClass serves a
 * storage class, and what exists of an offer.
 *
 * @module
 */
import type { KubeObject } from '../api/index.ts';
import { type Offer, type OfferFacts, type Snapshot, SNAPSHOT_API_VERSION, type SnapshotContent } from '../data/index.ts';
import { isNotFound, type Kube } from '../kube/index.ts';

/**
 * The VolumeSnapshotClass whose driver provisions the storage class (the named one, else the
 * cluster's default); the class marked default wins when several match. None when the snapshot
 * API is not installed.
 */
export async function snapshotClassFor(kube: Kube, storageClassName: string | undefined): Promise<{ name: string; driver: string } | undefined> {
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

/** What exists of an offer: the source snapshot, the content it is bound to, the offered snapshot. */
export async function offerFacts(kube: Kube, offer: Offer): Promise<OfferFacts> {
  const snapshot = (namespace: string) => kube.get<Snapshot>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot', namespace, name: offer.names.snapshot });
  const source = await snapshot(offer.from.namespace);
  const bound = source?.status?.boundVolumeSnapshotContentName;
  const content = bound ? await kube.get<SnapshotContent>({ apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshotContent', name: bound }) : undefined;
  const offered = await snapshot(offer.to);
  return { ...(source ? { source } : {}), ...(content ? { content } : {}), ...(offered ? { offered } : {}) };
}
