// The BackupStore controller against MinIO: Ready only when Grove can really write and read the
// bucket, and a precise reason when it cannot.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStore } from '../../../src/api/index.ts';
import { cluster, kube, testNamespace } from '../helpers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

let ns: string;
let op: OperatorProcess;
const bucket = `store-${randomBytes(3).toString('hex')}`;

const secret = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: data });
const store = (name: string, credentials: string, bucketName = bucket): BackupStore => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'BackupStore',
  metadata: { name, namespace: ns },
  spec: { s3: { endpoint: cluster().minio!.url, bucket: bucketName, prefix: 'grove' }, credentialsSecretRef: { name: credentials }, resticPasswordSecretRef: { name: 'restic' } },
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
  await kube().create(secret('s3', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }));
  await kube().create(secret('s3-wrong', { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: 'not-the-key' }));
  await kube().create(secret('restic', { password: 'correct horse battery staple' }));
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
    await kube().create(secret('s3-late', { AWS_ACCESS_KEY_ID: minio.accessKey }));
    await expect.poll(() => readyOf('late'), { timeout: 45_000 }).toBe('False CredentialsInvalid: BackupStore late: missing Secret keys s3-late.AWS_SECRET_ACCESS_KEY');
  }, 90_000);

  it('is not Ready with the server\'s reason when the key is wrong or the bucket is missing', async () => {
    await kube().create(store('wrong-key', 's3-wrong'));
    await kube().create(store('no-bucket', 's3', 'no-such-bucket'));
    await expect.poll(() => readyOf('wrong-key'), { timeout: 20_000 }).toMatch(/^False StoreUnreachable: cannot write and read s3:\/\/store-\w+\/grove\/\.grove\/access-check at http:\/\/127\.0\.0\.1:\d+: SignatureDoesNotMatch/);
    await expect.poll(() => readyOf('no-bucket'), { timeout: 20_000 }).toMatch(/^False StoreUnreachable: .*NoSuchBucket/);
  });
});
