/**
 * What a Backup or a restore runs, computed without I/O: the volumes and databases of an
 * Environment (from its manifest) and one mover Job per volume, running Grove's own image. Pure,
 * so the Jobs' specs are tested as tables.
 *
 * A database is moved over the network from Grove's own namespace, where the store's keys are:
 * its Job gets one Secret there, with the repository and the database's credentials, and the
 * Environment's namespace admits only that namespace's mover pods labelled with its own name.
 * A volume's files are moved by a Job that mounts the claim, in the Environment's namespace.
 *
 * @module
 */
import { credentialsSecret, type KubeObject, LABELS, moverJobName, type VolumeBackup } from '../api/index.ts';
import type { ResticRepository } from './restic/index.ts';
import type { ResolvedManifest } from '../manifest/index.ts';
import { CATALOG, parseServiceType, type ServiceKind } from '../catalog/index.ts';
import { APPLICATION_FS_GROUP, WORKLOAD_SERVICE_ACCOUNT } from '../planner/index.ts';

/** The Secret, in an Environment's namespace, that gives the Jobs mounting its volumes the repository and its store. */
export const MOVER_SECRET = 'grove-backup-store';
/** Where a mover Job mounts the volume it backs up or restores. */
export const MOVER_DATA_PATH = '/data';
/** The applications' volume group, so moving their files never changes who owns them. */
const MOVER_UID = APPLICATION_FS_GROUP;

/** How Grove runs its movers: its own image, and its own namespace for those that need no volume. */
export interface Movers {
  image: string;
  namespace: string;
}

/** The Secret mover Jobs in an Environment's namespace read the repository and its store's keys from. */
export function moverSecret(repo: ResticRepository, namespace: string): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: MOVER_SECRET, namespace, labels: { [LABELS.managedBy]: 'grove' } },
    type: 'Opaque',
    stringData: repositoryEnv(repo),
  };
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
  /** For files, and for a Redis volume being restored: the PVC. */
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

/**
 * Whether a volume's mover runs in Grove's namespace, reaching a database over the network, or
 * in the Environment's, mounting the claim: files, and a Redis file restored before its server
 * starts.
 */
export function movesOverNetwork(target: BackupTarget, action: 'backup' | 'restore'): boolean {
  return target.kind !== 'files' && !(target.kind === 'redis' && action === 'restore');
}

/** Where a volume's mover Job runs, and its name. */
export function moverJobRef(input: Pick<MoverJobInput, 'action' | 'owner' | 'ownerNamespace' | 'namespace' | 'target' | 'movers'>): { apiVersion: 'batch/v1'; kind: 'Job'; namespace: string; name: string } {
  const namespace = movesOverNetwork(input.target, input.action) ? input.movers.namespace : input.namespace;
  return { apiVersion: 'batch/v1', kind: 'Job', namespace, name: moverJobName(input.action, { namespace: input.ownerNamespace, name: input.owner }, input.target.name) };
}

export interface MoverJobInput {
  action: 'backup' | 'restore';
  /** The Backup this Job works for; for a restore, the Restore (or the Environment whose clone) it serves. */
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

export function moverJob(input: MoverJobInput): KubeObject & Record<string, unknown> {
  const { target, action } = input;
  const remote = movesOverNetwork(target, action);
  const { namespace, name } = moverJobRef(input);
  const labels = {
    ...input.labels,
    [LABELS.managedBy]: 'grove',
    'app.kubernetes.io/component': 'mover',
    [LABELS.volume]: target.name,
    [action === 'backup' ? LABELS.backup : LABELS.restore]: input.owner,
    ...(remote ? { [LABELS.targetNamespace]: input.namespace } : {}),
  };
  const args = [
    'mover',
    action,
    '--name',
    target.name,
    '--kind',
    target.kind,
    ...(target.claimName && !remote ? ['--path', MOVER_DATA_PATH] : []),
    // A restored volume holds exactly the snapshot: it is new, or its data was backed up first.
    ...(action === 'backup' ? ['--backup', input.owner, '--environment', input.environment, '--result-file', '/dev/termination-log'] : ['--snapshot', input.snapshotId ?? '', ...(target.claimName && !remote ? ['--replace'] : [])]),
  ];
  const db = target.credentialsSecret;
  // In Grove's namespace the Job's own Secret holds everything; in the Environment's, the database's come from its Secret.
  const dbEnv =
    db && !remote
      ? [
          ['DB_HOST', 'host'],
          ['DB_PORT', 'port'],
          ['DB_USER', 'username'],
          ['DB_PASSWORD', 'password'],
          ['DB_NAME', 'database'],
        ].map(([variable, key]) => ({ name: variable, valueFrom: { secretKeyRef: { name: db, key } } }))
      : [];
  const volumes: Array<Record<string, unknown>> = [{ name: 'cache', emptyDir: {} }];
  const mounts: Array<Record<string, unknown>> = [{ name: 'cache', mountPath: '/cache' }];
  if (target.claimName && !remote) {
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
          // Grove's namespace has its default ServiceAccount; the Environment's, the workloads' one.
          ...(remote ? {} : { serviceAccountName: WORKLOAD_SERVICE_ACCOUNT }),
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: MOVER_UID, runAsGroup: MOVER_UID, fsGroup: MOVER_UID, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'mover',
              image: input.movers.image,
              args,
              envFrom: [{ secretRef: { name: remote ? name : MOVER_SECRET } }],
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

/**
 * The Secret of a mover Job in Grove's namespace: the repository, and how to reach the database.
 * The address is Grove's own — the service's name in the Environment's namespace and its
 * catalog port — never the one in the Environment's credentials Secret, which its admin may
 * rewrite to point at any server. Owned by the Job once it exists, so it goes with it.
 */
export function moverJobSecret(input: { job: KubeObject; target: BackupTarget; namespace: string; repo: ResticRepository; credentials: Readonly<Record<string, string>>; jobUid?: string }): KubeObject & Record<string, unknown> {
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
      ...repositoryEnv(input.repo),
      DB_HOST: `${target.name}.${input.namespace}.svc`,
      DB_PORT: String(target.port ?? ''),
      DB_USER: input.credentials.username ?? '',
      DB_PASSWORD: input.credentials.password ?? '',
      DB_NAME: input.credentials.database ?? '',
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
