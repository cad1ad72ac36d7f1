// kwok runs no containers, so tests play the kubelet for mover Jobs: a Job's very command runs on
// this host — same arguments, same environment from the same Secrets — with /data mapped to a
// directory and the database settings pointed at a real PostgreSQL server. Then its pod is marked
// finished the way a kubelet reports it (exit code, termination message), and the Job controller
// completes the Job from that. The local cluster's kwok leaves mover pods running for this. And
// the BackupStore such Jobs read and write.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KubeObject } from '../../src/api/meta.ts';
import type { PostgresServer } from '../../src/local/postgres.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { cluster, kube } from './helpers.ts';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

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
type Secret = KubeObject & { data?: Record<string, string> };

export async function secretData(namespace: string, name: string): Promise<Record<string, string>> {
  const s = await kube().get<Secret>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  return Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

export interface MoverHost {
  /** Scratch space: restic's cache and the Jobs' result files. */
  work: string;
  /** The directory the Job's volume stands for. */
  dataDir?: string;
  /** The real server behind the Job's database, and the database it stands for. */
  pg?: PostgresServer;
  database?: string;
}

/** Runs a mover Job's container on this host, as a kubelet would run it in the pod. */
export async function runMoverJob(job: Job, host: MoverHost): Promise<void> {
  const container = job.spec.template.spec.containers[0] as Container;
  const namespace = job.metadata.namespace as string;
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: host.work };
  for (const from of container.envFrom ?? []) Object.assign(env, await secretData(namespace, from.secretRef.name));
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    env[e.name] = e.value ?? (ref ? (await secretData(namespace, ref.name))[ref.key] : undefined) ?? '';
  }
  env.RESTIC_CACHE_DIR = join(host.work, 'restic-cache');
  // The database the Secret names (db.<namespace>.svc) lives in kwok's imagination; the real one is here.
  if (env.DB_HOST && host.pg) Object.assign(env, { DB_HOST: host.pg.host, DB_PORT: String(host.pg.port), DB_USER: host.pg.username, DB_PASSWORD: host.pg.password, DB_NAME: host.database ?? 'app' });
  const resultFile = join(host.work, `${job.metadata.name}.result`);
  const args = container.args.map((a) => (a === '/data' ? (host.dataDir ?? a) : a === '/dev/termination-log' ? resultFile : a));
  try {
    await run(process.execPath, [main, ...args], { env });
  } catch (err) {
    await finishPod(job, 1, String((err as { stderr?: string }).stderr ?? err).slice(-1000));
    throw err;
  }
  await finishPod(job, 0, await readFile(resultFile, 'utf8').catch(() => ''));
}

/** Reports the Job's pod as finished, as its kubelet would: phase, exit code, termination message. */
export async function finishPod(job: Job, exitCode: number, message = ''): Promise<void> {
  const namespace = job.metadata.namespace as string;
  type Pod = KubeObject & { status?: { phase?: string }; spec: { containers: Array<{ name: string; image: string }> } };
  let pod: Pod | undefined;
  for (let i = 0; i < 300 && !pod; i++) {
    pod = (await kube().list<Pod>('v1', 'Pod', { namespace, labelSelector: `job-name=${job.metadata.name}` })).items.find((p) => p.status?.phase === 'Running');
    if (!pod) await new Promise((r) => setTimeout(r, 100));
  }
  if (!pod) throw new Error(`the pod of Job ${job.metadata.name} never ran`);
  const now = new Date().toISOString();
  await kube().applyStatus(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.metadata.name, namespace },
      status: {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message, startedAt: now, finishedAt: now } },
        })),
      },
    } as KubeObject,
    { fieldManager: 'test-kubelet', force: true },
  );
}

/** The mover Jobs of a Backup (`grove.dev/backup`) or of a restore into an Environment (`grove.dev/restore`). */
export async function moverJobs(namespace: string, selector: string): Promise<Job[]> {
  return (await kube().list<Job>('batch/v1', 'Job', { namespace, labelSelector: selector })).items;
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
  const secret = (name: string, stringData: Record<string, string>) => kube().create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData } as KubeObject);
  await secret('s3', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey });
  await secret('restic', { password: resticPassword });
  await kube().create({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'BackupStore',
    metadata: { name: 'store', namespace },
    spec: { s3: { endpoint: minio.url, bucket, prefix: 'grove' }, credentialsSecretRef: { name: 's3' }, resticPasswordSecretRef: { name: 'restic' } },
  } as KubeObject);
}
