/**
 * Names shared across Grove: labels, annotations, finalizers, the field manager, condition types
 * and reasons. Constants, so a typo is a compile error rather than a silent mismatch.
 *
 * @module
 */

/** The one server-side-apply field manager of every Grove write. Never change it: fields would be orphaned. */
export const FIELD_MANAGER = 'grove';

export const LABELS = {
  /** The pull request an Environment was made for (`Project.spec.pullRequests`). */
  pullRequest: 'grove.dev/pull-request',
  project: 'grove.dev/project',
  environment: 'grove.dev/environment',
  /** On an Environment's children: the namespace the Environment object lives in. */
  environmentNamespace: 'grove.dev/environment-namespace',
  type: 'grove.dev/type',
  /** `git` for Environments the Project controller manages; absent for ones made by hand. */
  source: 'grove.dev/source',
  managedBy: 'app.kubernetes.io/managed-by',
  /** On mover Jobs: the Backup they work for. */
  backup: 'grove.dev/backup',
  /** On restore Jobs: the Environment whose volumes they fill. */
  restore: 'grove.dev/restore',
  /** On a volume's mover Job, snapshot and clone objects: the volume. */
  volume: 'grove.dev/volume',
  /**
   * On mover pods in Grove's namespace: the Environment namespace whose data they move. That
   * namespace admits Grove's mover pods carrying its own name here, and no others.
   */
  targetNamespace: 'grove.dev/target-namespace',
  /** On a rehearsal's Environment and its schema movers: the Rehearsal they work for. */
  rehearsal: 'grove.dev/rehearsal',
} as const;

export const ANNOTATIONS = {
  /** The full branch name (label values cannot hold it). */
  branch: 'grove.dev/branch',
  agent: 'grove.dev/agent',
  onBehalfOf: 'grove.dev/on-behalf-of',
  task: 'grove.dev/task',
  /** Who pushed the revision, as the webhook's Git host named them. */
  pushedBy: 'grove.dev/pushed-by',
  /** Set by a webhook received by a replica that is not the leader: asks the leader to sync. */
  syncRequestedAt: 'grove.dev/sync-requested-at',
  /** Must equal the object's name to delete a protected or production Environment. */
  confirmDelete: 'grove.dev/confirm-delete',
  /** `"true"` lets an Environment be deleted without its final backup (when that backup cannot succeed). */
  skipFinalBackup: 'grove.dev/skip-final-backup',
  /** On an Environment a Restore made: that Restore, whose Backup fills the volumes before the workloads start. */
  restore: 'grove.dev/restore',
  /** A time (RFC 3339): activity now. `grove env renew` sets it; a later time than the cluster's counts as now. */
  renew: 'grove.dev/renew',
  /** The Kubernetes user whose request created the Environment, recorded at admission (never by clients). */
  requestedBy: 'grove.dev/requested-by',
  /**
   * On a Secret: the Grove objects that may use it, as `Kind/name` entries separated by commas
   * (`Project/shop, BackupStore/s3`). Grove reads a Secret a Project or BackupStore names only
   * when it lists that object, so naming someone else's Secret gets nothing sent anywhere.
   */
  usableBy: 'grove.dev/usable-by',
  /** On a Project whose spec.lockdown is engaged: why, as whoever engaged it said. */
  lockdownReason: 'grove.dev/lockdown-reason',
  /** Set by the Project controller when an Environment's branch disappears: the grace period runs from it. */
  branchGoneSince: 'grove.dev/branch-gone-since',
} as const;

/**
 * On a Project, `expired.grove.dev/<environment>: <revision>` remembers that the Environment of a
 * branch expired at that revision, so it is not made again until the branch moves.
 */
export const EXPIRED_ANNOTATION_PREFIX = 'expired.grove.dev/';

export const FINALIZER = 'grove.dev/environment';
/** On a Backup while its movers hold anything (Jobs, snapshots, claims in other namespaces), which no owner reference can reach. */
export const BACKUP_FINALIZER = 'grove.dev/backup-movers';

/** The CSI snapshot API: clones go through its VolumeSnapshots. */
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

export const CONDITIONS = {
  ready: 'Ready',
  reconciling: 'Reconciling',
  stalled: 'Stalled',
  sourceAvailable: 'SourceAvailable',
  manifestValid: 'ManifestValid',
  workloadsAvailable: 'WorkloadsAvailable',
  routed: 'Routed',
  backedUp: 'BackedUp',
  dataCloned: 'DataCloned',
  sleeping: 'Sleeping',
  expiring: 'Expiring',
  /** On a Project: whether every selected branch got its Environment under policy. */
  admitted: 'Admitted',
} as const;

export const REASONS = {
  synced: 'Synced',
  suspended: 'Suspended',
  /** The kill switch is engaged (the Project's spec.lockdown or the operator-wide ConfigMap). */
  lockedDown: 'LockedDown',
  progressing: 'Progressing',
  gitUnavailable: 'GitUnavailable',
  secretNotFound: 'SecretNotFound',
  credentialsInvalid: 'CredentialsInvalid',
  /** The Secret an object names does not list that object in `grove.dev/usable-by`. */
  secretNotUsable: 'SecretNotUsable',
  /** An outbound request the operator would make for a Project goes to an address it may not reach. */
  destinationRefused: 'DestinationRefused',
  manifestValid: 'ManifestValid',
  manifestInvalid: 'ManifestInvalid',
  manifestNotFound: 'ManifestNotFound',
  projectNotFound: 'ProjectNotFound',
  revisionNotFound: 'RevisionNotFound',
  environmentLimitReached: 'EnvironmentLimitReached',
  nameCollision: 'NameCollision',
  namespaceConflict: 'NamespaceConflict',
  applyFailed: 'ApplyFailed',
  rollingOut: 'RollingOut',
  available: 'Available',
  deployHookFailed: 'DeployHookFailed',
  deployHookSuspended: 'DeployHookSuspended',
  routed: 'Routed',
  ready: 'Ready',
  accessVerified: 'AccessVerified',
  finalBackupRunning: 'FinalBackupRunning',
  finalBackupFailed: 'FinalBackupFailed',
  finalBackupCompleted: 'FinalBackupCompleted',
  storeUnreachable: 'StoreUnreachable',
  noBackupStore: 'NoBackupStore',
  waitingForParent: 'WaitingForParent',
  preparingSources: 'PreparingSources',
  filling: 'Filling',
  sanitizing: 'Sanitizing',
  cloned: 'Cloned',
  emptyVolumes: 'Empty',
  cloneFailed: 'CloneFailed',
  sanitizeFailed: 'SanitizeFailed',
  waitingForData: 'WaitingForData',
  policyDenied: 'PolicyDenied',
  admitted: 'Admitted',
  idle: 'Idle',
  sleepRequested: 'SleepRequested',
  awake: 'Awake',
  expiring: 'Expiring',
  expired: 'Expired',
  notExpiring: 'NotExpiring',
  branchGone: 'BranchGone',
} as const;

/**
 * Never "the internet": private, shared, link-local and loopback addresses (RFC 1918, 6598,
 * 3927). Environment egress never reaches them, whatever its mode or allowlist.
 */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '127.0.0.0/8'] as const;

/** The operator-wide kill switch: a ConfigMap of this name in the operator's namespace, `data.engaged: "true"`. */
export const LOCKDOWN_CONFIGMAP = 'grove-lockdown';
