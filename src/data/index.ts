/**
 * Decisions about data, without doing any: how a new Environment's volumes are cloned (from its
 * parent's snapshots or a Backup), which mover Jobs fill, back up and sanitise them, when backups
 * run and expire, and what a Restore asks for. Pure.
 *
 * Doing lives in the subfolders, which the controllers, the audit trail and the mover load:
 * `store/` (the BackupStore's S3 access and restic repository), `restic/` (the restic binary)
 * and `mover/` (what a mover Job runs).
 *
 * @module
 */
export { type CloneFacts, cloneTargets, decideClone, servicesToSanitize, SNAPSHOT_API_VERSION, snapshotSources } from './clone.ts';
export { type Claim, decideFill, type FillDecision, type FillFacts, sanitizeJobs, type Snapshot, type SnapshotContent, type StatefulSet, type VolumeFacts } from './fill.ts';
export { type BackupTarget, backupTargets, type JobObject, jobOutcome, LEGACY_MOVER_SECRET, MOVER_DATA_PATH, moverJob, moverJobRef, moverJobSecret, type Movers } from './jobs.ts';
export { restoreFor } from './restore.ts';
export { backupFor, backupsApply, backupState, finalBackupApplies, manualBackupName, scheduledBackup, typesHeld } from './schedule.ts';
export { type BackupClaim, backupMoverSelector, backupOffer, backupVolumeLeftovers, type BackupVolumeFacts, prepareBackupVolume, releaseBackupVolume, releaseRestoreVolume, restoreClaim, restoreOffer, stagingClaim } from './transfer.ts';
export { advanceOffer, type Offer, type OfferFacts, releaseOffer } from './offer.ts';
export { lineDiff, schemaChange, schemaLines, schemaSummary, unifiedDiff } from './schema.ts';
