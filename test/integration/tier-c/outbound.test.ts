// restic, run by the operator for a Project (listing and pruning backups), connects only where
// the operator may: through its checking proxy to real MinIO, and not at all to a refused address,
// even by a name that resolves there.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Restic } from '../../../src/data/restic/index.ts';
import { destinationPolicy, outbound } from '../../../src/outbound/index.ts';
import { cluster } from '../helpers.ts';

let internal: Server;
let reached = 0;
const bucket = `outbound-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  const minio = cluster().minio!;
  const s3 = new S3Client({ endpoint: minio.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  internal = createServer((_req, res) => (reached++, res.end()));
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
});
afterAll(() => internal?.close());

describe('restic for a Project', () => {
  const minio = () => new URL(cluster().minio!.url);
  // Names the proxy resolves, so restic itself never does: store.test is MinIO, internal.test a refused server.
  const refusals: string[] = [];
  const connections = () =>
    outbound(destinationPolicy({ allow: [`${minio().hostname}:${minio().port}`] }), { resolve: async () => [{ address: '127.0.0.1', family: 4 }], onRefused: (r) => refusals.push(r.message) });
  const restic = async (host: string, port: number | string) => {
    const out = connections();
    return new Restic(
      { location: `s3:http://${host}:${port}/${bucket}/restic`, password: 'correct horse', env: { AWS_ACCESS_KEY_ID: cluster().minio!.accessKey, AWS_SECRET_ACCESS_KEY: cluster().minio!.secretKey } },
      { proxy: await out.proxy() },
    );
  };

  it('reaches the BackupStore through the checking proxy', async () => {
    const r = await restic('store.test', minio().port);
    expect(await r.ensureRepository()).toBe('created');
    expect(await r.snapshots({})).toEqual([]);
  });

  it('never connects to a refused address, whatever name points there', async () => {
    const port = (internal.address() as AddressInfo).port;
    const r = await restic('internal.test', port);
    // restic reads the proxy's 403 as it reads any S3 refusal; the operator logs the reason.
    await expect(r.snapshots({})).rejects.toThrow();
    expect(reached).toBe(0);
    expect(refusals[0]).toBe(`internal.test resolves to an address Grove may not reach: 127.0.0.1:${port} is loopback (127.0.0.0/8); Grove connects there on a Project's behalf only if the operator's --outbound-allow lists it`);
  });
});
