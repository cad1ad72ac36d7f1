/**
 * The parts of Kubernetes object metadata Grove reads and writes. Declared here rather than
 * imported so that `api/` depends on nothing but itself.
 */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  /** Server-side apply's record of who owns which field; Grove never reads it. */
  managedFields?: unknown[];
}

/** Any Kubernetes object, as plain JSON; its other fields are the kind's own. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}
