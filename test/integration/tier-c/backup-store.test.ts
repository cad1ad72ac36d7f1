// The BackupStore controller against MinIO: Ready only when Grove can really write and read the
// bucket, and a precise reason when it cannot.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStore } from '../../../src/api/index.ts';
import { cluster, createSecret, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

let ns: string;
let op: OperatorProcess;
const bucket = `store-${randomBytes(3).toString('hex')}`;

const STORES = ['main', 'late', 'wrong-key', 'no-bucket', 'at-api-server', 'at-metadata'].map((name) => `BackupStore/${name}`);
const secret = (name: string, data: Record<string, string>, usableBy = STORES) => createSecret(ns, name, data, usableBy);
const store = (name: string, credentials: string, bucketName = bucket, endpoint = cluster().minio!.url): BackupStore => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'BackupStore',
  metadata: { name, namespace: ns },
  spec: { s3: { endpoint, bucket: bucketName, prefix: 'grove' }, credentialsSecretRef: { name: credentials }, resticPasswordSecretRef: { name: 'restic' } },
});
const readyOf = async (name: string) => {
  const s = await kube().get<BackupStore>({ apiVersion: 'grove.dev/v1alpha1', kind: 'BackupStore', namespace: ns, name });
  const ready = s?.status?.conditions?.find((c) => c.type === 'Ready');
  return ready && `${ready.status} ${ready.reason}: ${ready.message}`;
};

beforeAll(async () => {
  ns = await testNamespace('stores');
  const minio = cluster().minio!;
  const s3 = new S3Client({ endpoint: minio.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  await secret('s3', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey });
  await secret('s3-wrong', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: 'not-the-key' });
  await secret('restic', { password: 'correct horse battery staple' }, [...STORES, 'BackupStore/borrowed']);
  op = await startOperator(ns);
}, 60_000);

afterAll(async () => {
  await op?.kill();
});

describe('BackupStore', () => {
  it('is Ready once Grove has written and read back an object in the bucket', async () => {
    await kube().create(store('main', 's3'));
    await expect.poll(() => readyOf('main'), { timeout: 20_000 }).toBe(`True AccessVerified: Wrote and read back s3://${bucket}/grove/.grove/access-check`);
    const s = await kube().get<BackupStore>({ apiVersion: 'grove.dev/v1alpha1', kind: 'BackupStore', namespace: ns, name: 'main' });
    expect(s?.status?.observedGeneration).toBe(s?.metadata.generation);
    expect(Date.parse(s!.status!.lastCheckedTime!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('says which Secret, then which key, is missing', async () => {
    await kube().create(store('late', 's3-late'));
    await expect.poll(() => readyOf('late'), { timeout: 20_000 }).toBe('False SecretNotFound: BackupStore late: Secret s3-late (S3 credentials) does not exist');
    const minio = cluster().minio!;
    await secret('s3-late', { AWS_ACCESS_KEY_ID: minio.accessKey });
    await expect.poll(() => readyOf('late'), { timeout: 45_000 }).toBe('False CredentialsInvalid: BackupStore late: missing Secret keys s3-late.AWS_SECRET_ACCESS_KEY');
  }, 90_000);

  it('uses a Secret only when the Secret lets it, and heals once it does', async () => {
    // Valid keys another team's Secret holds: without their consent, Grove sends them nowhere.
    const minio = cluster().minio!;
    await secret('team-keys', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }, ['BackupStore/theirs']);
    await kube().create(store('borrowed', 'team-keys'));
    await expect
      .poll(() => readyOf('borrowed'), { timeout: 20_000 })
      .toBe('False SecretNotUsable: Secret team-keys does not let BackupStore borrowed use it: a Secret is used only by the Grove objects its annotation grove.dev/usable-by lists (add BackupStore/borrowed)');
    await kube().mergePatch({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: 'team-keys' }, { metadata: { annotations: { 'grove.dev/usable-by': 'BackupStore/theirs, BackupStore/borrowed' } } }, { fieldManager: 'test' });
    await expect.poll(() => readyOf('borrowed'), { timeout: 45_000 }).toMatch(/^True AccessVerified/);
  }, 90_000);

  it('sends its keys to neither the API server nor cloud metadata, and says why', async () => {
    const api = new URL(cluster().apiserver.url);
    await kube().create(store('at-api-server', 's3', bucket, cluster().apiserver.url));
    await kube().create(store('at-metadata', 's3', bucket, 'http://169.254.169.254'));
    await expect
      .poll(() => readyOf('at-api-server'), { timeout: 20_000 })
      .toBe(`False DestinationRefused: cannot reach BackupStore endpoint ${cluster().apiserver.url}: ${api.hostname}:${api.port} is the Kubernetes API server, which Grove never connects to on a Project's behalf`);
    await expect.poll(() => readyOf('at-metadata'), { timeout: 20_000 }).toMatch(/^False DestinationRefused: cannot reach BackupStore endpoint http:\/\/169\.254\.169\.254: 169\.254\.169\.254:80 is link-local/);
  });

  it('is not Ready with the server\'s reason when the key is wrong or the bucket is missing', async () => {
    await kube().create(store('wrong-key', 's3-wrong'));
    await kube().create(store('no-bucket', 's3', 'no-such-bucket'));
    await expect.poll(() => readyOf('wrong-key'), { timeout: 20_000 }).toMatch(/^False StoreUnreachable: cannot write and read s3:\/\/store-\w+\/grove\/\.grove\/access-check at http:\/\/127\.0\.0\.1:\d+: SignatureDoesNotMatch/);
    await expect.poll(() => readyOf('no-bucket'), { timeout: 20_000 }).toMatch(/^False StoreUnreachable: .*NoSuchBucket/);
  });
});
