/**
 * Grove's API: the kinds (their CRDs and generated types), the labels, annotations and names of
 * what Grove creates, the conditions it reports, and the admission policies the API server
 * enforces. Everything else builds on it; it imports nothing of Grove's.
 *
 * @module
 */
export { admissionPolicies } from './admission.ts';
export { findCondition, removeCondition, setCondition } from './conditions.ts';
export { ANNOTATIONS, BACKUP_FINALIZER, CONDITIONS, EXPIRED_ANNOTATION_PREFIX, FIELD_MANAGER, FINALIZER, LABELS, LOCKDOWN_CONFIGMAP, PRIVATE_RANGES, REASONS, SNAPSHOT_GROUP } from './constants.ts';
export { API_VERSION, customResourceDefinition, GROUP, type KindDefinition, KINDS } from './crds.ts';
export type { KubeObject } from './meta.ts';
export { backupSnapshotNames, cloneSnapshotNames, restoreSnapshotNames, credentialsSecret, environmentName, environmentNamespace, moverJobName, pullRequestEnvironmentName, rehearsalName, sanitizeJobName, serviceClaimName, slugify, volumeClaimName } from './names.ts';
export type { MoverAction } from './names.ts';
export { obj, type Schema, str } from './schema.ts';
export type { Backup, BackupSpec, BackupStatus, BackupStore, BackupStoreSpec, BackupStoreStatus, Condition, EgressSpec, Environment, EnvironmentSpec, EnvironmentStatus, InventoryEntry, Project, ProjectSpec, ProjectStatus, PullRequestRef, QuotaSpec, Rehearsal, RehearsalStatus, Restore, RestoreStatus, RouteURL, SchemaChange, VolumeBackup, VolumeLineage } from './types.gen.ts';
