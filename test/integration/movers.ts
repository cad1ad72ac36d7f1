// kwok runs no containers, so tests play the kubelet for mover Jobs with the local cluster's own
// runner (local/mover-runner.ts): a Job's very command runs on this host, with /data mapped to
// a directory and the database settings pointed at a real PostgreSQL server, and its pod is
// reported finished the way a kubelet reports it. Here a test says which directory and database
// stand for the Job's; the local cluster's runner decides that by itself. And the BackupStore such
// Jobs read and write.
import { type KubeObject, LABELS } from '../../src/api/index.ts';
import { claimOf, finishPod as finishMoverPod, type MoverPod, readSecrets, runMoverPod } from '../../local/mover-runner.ts';
import type { PostgresServer } from '../../local/postgres.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { cluster, createSecret, kube, volumeDir } from './helpers.ts';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  envFrom?: Array<{ secretRef: { name: string } }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }>;
  [field: string]: unknown;
}
export type Job = KubeObject & { spec: { template: { spec: { containers: Container[]; [field: string]: unknown } } } };

export async function secretData(namespace: string, name: string): Promise<Record<string, string>> {
  const secrets = await readSecrets(kube(), namespace, [name]).catch(() => undefined);
  return secrets?.[name] ?? {};
}

export interface MoverHost {
  /** Scratch space: restic's cache and the Jobs' result files. */
  work: string;
  /** The directory the Job's volume stands for; by default its claim's, on the local CSI driver. */
  dataDir?: string;
  /** The real server behind the Job's database, and the database it stands for. */
  pg?: PostgresServer;
  database?: string;
}

/** Runs a mover Job's container on this host, as a kubelet would run it in the pod. */
export async function runMoverJob(job: Job, host: MoverHost): Promise<void> {
  const pod = await runningPod(job);
  const { pg } = host;
  const claim = claimOf(pod);
  const dataDir = host.dataDir ?? (claim ? await volumeDir(job.metadata.namespace as string, claim) : undefined);
  await runMoverPod(kube(), pod, {
    work: host.work,
    ...(dataDir ? { dataDir } : {}),
    ...(pg ? { database: { host: pg.host, port: pg.port, username: pg.username, password: pg.password, name: host.database ?? 'app' } } : {}),
  });
}

/** Reports the Job's pod as finished, as its kubelet would: phase, exit code, termination message. */
export async function finishPod(job: Job, exitCode: number, message = ''): Promise<void> {
  await finishMoverPod(kube(), await runningPod(job), exitCode, message);
}

async function runningPod(job: Job): Promise<MoverPod> {
  const namespace = job.metadata.namespace as string;
  for (let i = 0; i < 300; i++) {
    const pod = (await kube().list<MoverPod>('v1', 'Pod', { namespace, labelSelector: `job-name=${job.metadata.name}` })).items.find((p) => p.status?.phase === 'Running');
    if (pod) return pod;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the pod of Job ${job.metadata.name} never ran`);
}

/**
 * The mover Jobs of a Backup (`grove.dev/backup`) or of a restore into an Environment
 * (`grove.dev/restore`) that move the data of Environment namespace `namespace`: in it (volumes),
 * or in Grove's namespace labelled for it (databases).
 */
export async function moverJobs(namespace: string, selector: string): Promise<Job[]> {
  const jobs = (await kube().list<Job>('batch/v1', 'Job', { labelSelector: selector })).items;
  return jobs.filter((j) => j.metadata.namespace === namespace || j.metadata.labels?.[LABELS.targetNamespace] === namespace);
}

/**
 * A fresh bucket on the cluster's MinIO and a BackupStore `store` for it in `namespace`, with
 * its two Secrets (`s3`, `restic`).
 */
export async function createBackupStore(namespace: string, bucket: string, resticPassword: string): Promise<void> {
  const minio = cluster().minio!;
  const s3 = new S3Client({ endpoint: minio.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  await createSecret(namespace, 's3', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }, ['BackupStore/store']);
  await createSecret(namespace, 'restic', { password: resticPassword }, ['BackupStore/store']);
  await kube().create({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'BackupStore',
    metadata: { name: 'store', namespace },
    spec: { s3: { endpoint: minio.url, bucket, prefix: 'grove' }, credentialsSecretRef: { name: 's3' }, resticPasswordSecretRef: { name: 'restic' } },
  } as KubeObject);
}
