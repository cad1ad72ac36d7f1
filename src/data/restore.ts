/**
 * A Restore of a Backup as `grove restore` and the HTTP API ask for it. Pure.
 *
 * @module
 */
import { API_VERSION, type Backup, LABELS, type Restore } from '../api/index.ts';
import { compactTime } from '../util/index.ts';

export interface RestoreRequest {
  /** Default: `<backup>-restore-<time>`. */
  name?: string;
  /** Default: a new Environment for the backup's branch. */
  targetEnvironment?: string;
  overwriteExisting?: boolean;
  now: Date;
}

export function restoreFor(backup: Backup, req: RestoreRequest): Restore {
  const backupName = backup.metadata.name as string;
  return {
    apiVersion: API_VERSION,
    kind: 'Restore',
    metadata: {
      name: req.name ?? `${backupName.slice(0, 63 - 23)}-restore-${compactTime(req.now.getTime(), 'second')}`,
      ...(backup.metadata.namespace ? { namespace: backup.metadata.namespace } : {}),
      labels: { [LABELS.project]: backup.spec.project, [LABELS.environment]: backup.spec.environment },
    },
    spec: { backup: backupName, ...(req.targetEnvironment ? { targetEnvironment: req.targetEnvironment } : {}), ...(req.overwriteExisting ? { overwriteExisting: true } : {}) },
  };
}
