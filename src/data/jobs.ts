/**
 * What a Backup or a restore runs, computed without I/O: the volumes and databases of an
 * Environment (from its manifest) and one mover Job per volume, running Grove's own image. Pure,
 * so the Jobs' specs are tested as tables.
 *
 * Every mover runs in Grove's own namespace, where the store's keys are: each Job gets one Secret
 * there, with the repository (and a database's credentials). A database is reached over the
 * network — the Environment's namespace admits only Grove's mover pods labelled with its own
 * name — and a volume's files move as snapshots between a claim there and one in Grove's
 * namespace (`transfer.ts`). No Environment namespace ever holds the store's keys.
 *
 * @module
 */
import { credentialsSecret, type KubeObject, LABELS, type MoverAction, moverJobName, type VolumeBackup } from '../api/index.ts';
import type { ResticRepository } from './restic/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import { CATALOG, parseServiceType, type ServiceKind } from '../catalog/index.ts';
import { APPLICATION_FS_GROUP } from '../planner/index.ts';

/** The Secret earlier versions kept in each Environment's namespace for its movers: removed where found. */
export const LEGACY_MOVER_SECRET = 'grove-backup-store';
/** Where a mover Job mounts the volume it backs up or restores. */
export const MOVER_DATA_PATH = '/data';
/** The applications' volume group, so moving their files never changes who owns them. */
const MOVER_UID = APPLICATION_FS_GROUP;

/** How Grove runs its movers: its own image, in its own namespace (where the store's keys may be). */
export interface Movers {
  image: string;
  namespace: string;
}

function repositoryEnv(repo: ResticRepository): Record<string, string> {
  return { RESTIC_REPOSITORY: repo.location, RESTIC_PASSWORD: repo.password, ...repo.env };
}

export interface BackupTarget {
  /** The service name, or `<application>-<mount>` for a mounted volume (also its PVC's name). */
  name: string;
  kind: VolumeBackup['kind'];
  /** For databases: the Secret with username, password and database, and the port the server listens on. */
  credentialsSecret?: string;
  port?: number;
  /** For files, and for Redis's restored file: the PVC (for a mover, the one in Grove's namespace it mounts). */
  claimName?: string;
}

const DUMP_KIND: Record<ServiceKind, VolumeBackup['kind']> = { postgresql: 'postgresql', mariadb: 'mariadb', mysql: 'mariadb', redis: 'redis' };

/** Every service and mounted volume of the manifest, services first, each in name order. */
export function backupTargets(manifest: ResolvedManifest): BackupTarget[] {
  const services = Object.entries(manifest.services)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, service]) => {
      const { kind } = parseServiceType(service.type);
      return { name, kind: DUMP_KIND[kind], credentialsSecret: credentialsSecret(name), port: CATALOG[kind].port };
    });
  const mounts = Object.entries(manifest.applications)
    .flatMap(([app, spec]) => Object.keys(spec.mounts ?? {}).map((mount) => `${app}-${mount}`))
    .sort()
    .map((name) => ({ name, kind: 'files' as const, claimName: name }));
  return [...services, ...mounts];
}

/** A volume's mover Job: in Grove's namespace, named for its owner and volume. */
export function moverJobRef(input: Pick<MoverJobInput, 'action' | 'owner' | 'ownerNamespace' | 'target' | 'movers'>): { apiVersion: 'batch/v1'; kind: 'Job'; namespace: string; name: string } {
  return { apiVersion: 'batch/v1', kind: 'Job', namespace: input.movers.namespace, name: moverJobName(input.action, { namespace: input.ownerNamespace, name: input.owner }, input.target.name) };
}

export interface MoverJobInput {
  action: MoverAction;
  /** The Backup this Job works for; for a restore, the Restore (or the Environment whose clone) it serves; for a schema, the Rehearsal. */
  owner: string;
  /** Where that owner lives: the project namespace. */
  ownerNamespace: string;
  environment: string;
  /** The Environment's namespace, whose data the Job moves. */
  namespace: string;
  target: BackupTarget;
  movers: Movers;
  /** For restores: the snapshot to restore. */
  snapshotId?: string;
  /** Labels that tie the Job to its Environment. */
  labels: Record<string, string>;
}

const OWNER_LABEL: Record<MoverAction, string> = { backup: LABELS.backup, restore: LABELS.restore, 'schema-before': LABELS.rehearsal, 'schema-after': LABELS.rehearsal };

export function moverJob(input: MoverJobInput): KubeObject & Record<string, unknown> {
  const { target, action } = input;
  const { namespace, name } = moverJobRef(input);
  const labels = {
    ...input.labels,
    [LABELS.managedBy]: 'grove',
    'app.kubernetes.io/component': 'mover',
    [LABELS.volume]: target.name,
    [OWNER_LABEL[action]]: input.owner,
    [LABELS.targetNamespace]: input.namespace,
  };
  const schema = action === 'schema-before' || action === 'schema-after';
  const args = [
    'mover',
    schema ? 'schema' : action,
    '--name',
    target.name,
    '--kind',
    target.kind,
    ...(target.claimName && !schema ? ['--path', MOVER_DATA_PATH] : []),
    // A restored volume holds exactly the snapshot: it is new, or its data was backed up first.
    ...(action === 'backup' ? ['--backup', input.owner, '--environment', input.environment, '--result-file', '/dev/termination-log'] : action === 'restore' ? ['--snapshot', input.snapshotId ?? '', ...(target.claimName ? ['--replace'] : [])] : []),
  ];
  const volumes: Array<Record<string, unknown>> = [{ name: 'cache', emptyDir: {} }];
  const mounts: Array<Record<string, unknown>> = [{ name: 'cache', mountPath: '/cache' }];
  if (target.claimName && !schema) {
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: target.claimName, readOnly: action === 'backup' } });
    mounts.push({ name: 'data', mountPath: MOVER_DATA_PATH, readOnly: action === 'backup' });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels },
    spec: {
      // A failed mover is retried twice; after that the Backup reports the failure.
      backoffLimit: 2,
      activeDeadlineSeconds: 6 * 3600,
      ttlSecondsAfterFinished: 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: MOVER_UID, runAsGroup: MOVER_UID, fsGroup: MOVER_UID, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'mover',
              image: input.movers.image,
              args,
              envFrom: [{ secretRef: { name } }],
              // restic writes its pack files to TMPDIR while it uploads them: the root is read-only.
              env: [{ name: 'RESTIC_CACHE_DIR', value: '/cache' }, { name: 'HOME', value: '/cache' }, { name: 'TMPDIR', value: '/cache' }],
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

/**
 * The Secret of a mover Job in Grove's namespace: the repository (none to read a schema), and for a database how to reach it.
 * The address is Grove's own — the service's name in the Environment's namespace and its
 * catalog port — never the one in the Environment's credentials Secret, which its admin may
 * rewrite to point at any server. Owned by the Job once it exists, so it goes with it.
 */
export function moverJobSecret(input: { job: KubeObject; target: BackupTarget; namespace: string; repo?: ResticRepository; credentials?: Readonly<Record<string, string>>; jobUid?: string }): KubeObject & Record<string, unknown> {
  const { job, target } = input;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: job.metadata.name,
      namespace: job.metadata.namespace,
      labels: { [LABELS.managedBy]: 'grove', [LABELS.targetNamespace]: input.namespace },
      ...(input.jobUid ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name as string, uid: input.jobUid }] } : {}),
    },
    type: 'Opaque',
    stringData: {
      ...(input.repo ? repositoryEnv(input.repo) : {}),
      ...(input.credentials
        ? {
            DB_HOST: `${target.name}.${input.namespace}.svc`,
            DB_PORT: String(target.port ?? ''),
            DB_USER: input.credentials.username ?? '',
            DB_PASSWORD: input.credentials.password ?? '',
            DB_NAME: input.credentials.database ?? '',
          }
        : {}),
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
