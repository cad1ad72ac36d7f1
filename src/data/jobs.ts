/**
 * What a Backup runs, computed without I/O: the volumes and databases of an Environment (from its
 * manifest) and one mover Job per volume, in the Environment's namespace, running Grove's own
 * image. Pure, so the Jobs' specs are tested as tables.
 *
 * @module
 */
import { credentialsSecret, type KubeObject, LABELS, moverJobName, type VolumeBackup } from '../api/index.ts';
import type { ResticRepository } from './restic/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import { parseServiceType, type ServiceKind } from '../catalog/index.ts';
import { APPLICATION_FS_GROUP, WORKLOAD_SERVICE_ACCOUNT } from '../planner/index.ts';

/** The Secret, in the Environment's namespace, that gives mover Jobs the repository and its store. */
export const MOVER_SECRET = 'grove-backup-store';
/** Where a mover Job mounts the volume it backs up or restores. */
export const MOVER_DATA_PATH = '/data';
/** The applications' volume group, so moving their files never changes who owns them. */
const MOVER_UID = APPLICATION_FS_GROUP;

/** The Secret mover Jobs read the repository and its store's keys from, in the Environment's namespace. */
export function moverSecret(repo: ResticRepository, namespace: string): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: MOVER_SECRET, namespace, labels: { [LABELS.managedBy]: 'grove' } },
    type: 'Opaque',
    stringData: { RESTIC_REPOSITORY: repo.location, RESTIC_PASSWORD: repo.password, ...repo.env },
  };
}

export interface BackupTarget {
  /** The service name, or `<application>-<mount>` for a mounted volume (also its PVC's name). */
  name: string;
  kind: VolumeBackup['kind'];
  /** For databases: the Secret with host, port, username, password and database. */
  credentialsSecret?: string;
  /** For files, and for a Redis volume being restored: the PVC. */
  claimName?: string;
}

const DUMP_KIND: Record<ServiceKind, VolumeBackup['kind']> = { postgresql: 'postgresql', mariadb: 'mariadb', mysql: 'mariadb', redis: 'redis' };

/** Every service and mounted volume of the manifest, services first, each in name order. */
export function backupTargets(manifest: ResolvedManifest): BackupTarget[] {
  const services = Object.entries(manifest.services)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, service]) => ({ name, kind: DUMP_KIND[parseServiceType(service.type).kind], credentialsSecret: credentialsSecret(name) }));
  const mounts = Object.entries(manifest.applications)
    .flatMap(([app, spec]) => Object.keys(spec.mounts ?? {}).map((mount) => `${app}-${mount}`))
    .sort()
    .map((name) => ({ name, kind: 'files' as const, claimName: name }));
  return [...services, ...mounts];
}

export interface MoverJobInput {
  action: 'backup' | 'restore';
  /** The Backup this Job works for; for a restore, the Restore (or the Environment whose clone) it serves. */
  owner: string;
  environment: string;
  namespace: string;
  target: BackupTarget;
  image: string;
  /** For restores: the snapshot to restore. */
  snapshotId?: string;
  /** Labels that tie the Job to its Environment. */
  labels: Record<string, string>;
}

export function moverJob(input: MoverJobInput): KubeObject & Record<string, unknown> {
  const { target, action } = input;
  const labels = { ...input.labels, [LABELS.managedBy]: 'grove', 'app.kubernetes.io/component': 'mover', [LABELS.volume]: target.name, [action === 'backup' ? LABELS.backup : LABELS.restore]: input.owner };
  const args = [
    'mover',
    action,
    '--name',
    target.name,
    '--kind',
    target.kind,
    ...(target.claimName ? ['--path', MOVER_DATA_PATH] : []),
    // A restored volume holds exactly the snapshot: it is new, or its data was backed up first.
    ...(action === 'backup' ? ['--backup', input.owner, '--environment', input.environment, '--result-file', '/dev/termination-log'] : ['--snapshot', input.snapshotId ?? '', ...(target.claimName ? ['--replace'] : [])]),
  ];
  const db = target.credentialsSecret;
  const dbEnv = db
    ? [
        ['DB_HOST', 'host'],
        ['DB_PORT', 'port'],
        ['DB_USER', 'username'],
        ['DB_PASSWORD', 'password'],
        ['DB_NAME', 'database'],
      ].map(([name, key]) => ({ name, valueFrom: { secretKeyRef: { name: db, key } } }))
    : [];
  const volumes: Array<Record<string, unknown>> = [{ name: 'cache', emptyDir: {} }];
  const mounts: Array<Record<string, unknown>> = [{ name: 'cache', mountPath: '/cache' }];
  if (target.claimName) {
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: target.claimName, readOnly: action === 'backup' } });
    mounts.push({ name: 'data', mountPath: MOVER_DATA_PATH, readOnly: action === 'backup' });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: moverJobName(action, input.owner, target.name), namespace: input.namespace, labels },
    spec: {
      // A failed mover is retried twice; after that the Backup reports the failure.
      backoffLimit: 2,
      activeDeadlineSeconds: 6 * 3600,
      ttlSecondsAfterFinished: 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: WORKLOAD_SERVICE_ACCOUNT,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: MOVER_UID, runAsGroup: MOVER_UID, fsGroup: MOVER_UID, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'mover',
              image: input.image,
              args,
              envFrom: [{ secretRef: { name: MOVER_SECRET } }],
              // restic writes its pack files to TMPDIR while it uploads them: the root is read-only.
              env: [{ name: 'RESTIC_CACHE_DIR', value: '/cache' }, { name: 'HOME', value: '/cache' }, { name: 'TMPDIR', value: '/cache' }, ...dbEnv],
              volumeMounts: mounts,
              resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              terminationMessagePolicy: 'File',
            },
          ],
          volumes,
        },
      },
    },
  };
}

export type JobObject = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };

/** A Job's outcome from its conditions: `failed` carries the Job controller's reason. */
export function jobOutcome(job: JobObject | undefined): { complete: boolean; failed?: string } {
  const condition = (type: string) => job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const failed = condition('Failed');
  if (failed) return { complete: false, failed: failed.message || failed.reason || 'Failed' };
  return { complete: !!condition('Complete') };
}
