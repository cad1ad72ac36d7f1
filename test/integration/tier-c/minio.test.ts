// Tier C: MinIO is a real S3 server; what is written reads back byte for byte.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { cluster } from '../helpers.ts';

describe('the local S3 server', () => {
  it('stores an object and reads it back', async () => {
    const minio = cluster().minio;
    if (!minio) throw new Error('tier C runs MinIO, but the cluster state has none');
    const s3 = new S3Client({
      endpoint: minio.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    });
    const bucket = `grove-test-${randomBytes(4).toString('hex')}`;
    const body = randomBytes(256 * 1024);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'audit/2026/11/22/events.jsonl', Body: body }));

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'audit/' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([['audit/2026/11/22/events.jsonl', body.length]]);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'audit/2026/11/22/events.jsonl' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('refuses a wrong secret key', async () => {
    const minio = cluster().minio!;
    const s3 = new S3Client({ endpoint: minio.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKey, secretAccessKey: 'wrong-secret-key' } });
    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'anything' }))).rejects.toThrow(/signature we calculated does not match|SignatureDoesNotMatch/i);
  });
});
