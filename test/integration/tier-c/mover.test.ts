// The mover against the real pieces: restic (Debian package), MinIO from the local cluster, real
// directories and a real PostgreSQL server. Each test goes through `grove mover`, as a Job would.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeBackup } from '../../../src/api/index.ts';
import { runCli } from '../../../src/cli/index.ts';
import { Restic } from '../../../src/data/restic/index.ts';
import { checkAccess, repositoryOf, s3ClientOf, type StoreAccess } from '../../../src/data/store/index.ts';
import { type PostgresServer, startPostgres } from '../../../local/postgres.ts';
import { cluster } from '../helpers.ts';

let work: string;
let store: StoreAccess;
let env: Record<string, string>;
let pg: PostgresServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'grove-mover-'));
  const minio = cluster().minio!;
  store = {
    endpoint: minio.url,
    bucket: `mover-${randomBytes(3).toString('hex')}`,
    prefix: 'grove',
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: minio.accessKey,
    secretAccessKey: minio.secretKey,
    resticPassword: 'correct horse battery staple',
  };
  const s3 = s3ClientOf(store);
  await s3.send(new CreateBucketCommand({ Bucket: store.bucket }));
  s3.destroy();
  const repo = repositoryOf(store, 'team-a', 'shop');
  env = { ...repo.env, RESTIC_REPOSITORY: repo.location, RESTIC_PASSWORD: repo.password, RESTIC_CACHE_DIR: join(work, 'cache') };
  pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  await rm(work, { recursive: true, force: true });
});

async function mover(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk: Buffer, _enc, done) => (append(chunk.toString()), done()) });
  const code = await runCli(['mover', ...args], { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: { PATH: process.env.PATH, HOME: work, ...env, ...extraEnv } });
  return { code, stdout, stderr };
}

function resultOf(out: { code: number; stdout: string; stderr: string }): VolumeBackup {
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout) as VolumeBackup;
}

/** path → sha256 of every file under dir. */
async function checksums(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else result[relative(dir, p)] = createHash('sha256').update(await readFile(p)).digest('hex');
    }
  };
  await walk(dir);
  return result;
}

describe('files', () => {
  it('backs up a directory, restores it elsewhere byte for byte, and uploads almost nothing when nothing changed', async () => {
    const src = join(work, 'uploads');
    await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
    const sizes = [0, 1, 4096, 100_000, 3_000_000];
    for (const [i, size] of sizes.entries()) await writeFile(join(src, i % 2 ? 'nested' : 'nested/deeper', `file-${i}.bin`), randomBytes(size));
    await writeFile(join(src, 'readme.txt'), 'hello\n');
    const original = await checksums(src);

    const first = resultOf(await mover(['backup', '--name', 'uploads', '--kind', 'files', '--path', src, '--backup', 'b1', '--environment', 'shop-main']));
    expect(first).toMatchObject({ name: 'uploads', kind: 'files', files: sizes.length + 1 });
    expect(first.snapshotId).toMatch(/^[0-9a-f]{8,64}$/);
    expect(first.bytesTotal).toBe(sizes.reduce((a, b) => a + b, 0) + 6);
    expect(first.bytesAdded).toBeGreaterThan(3_000_000);

    const again = resultOf(await mover(['backup', '--name', 'uploads', '--kind', 'files', '--path', src, '--backup', 'b2', '--environment', 'shop-main']));
    expect(again.snapshotId).not.toBe(first.snapshotId);
    // Only a new snapshot's tree metadata: no file data at all.
    expect(again.bytesAdded).toBeLessThan(first.bytesAdded! / 100);

    // The agent's mistake: data changed and deleted after the backup.
    await writeFile(join(src, 'readme.txt'), 'overwritten\n');
    await unlink(join(src, 'nested', 'file-1.bin'));

    const target = join(work, 'restored-uploads');
    const restored = await mover(['restore', '--name', 'uploads', '--kind', 'files', '--path', target, '--snapshot', first.snapshotId!]);
    expect(restored.stderr).toContain('Restored files uploads');
    expect(restored.code).toBe(0);
    expect(await checksums(target)).toEqual(original);
  });

  it('backs up an empty volume (restic takes no empty snapshot) and restores it empty', async () => {
    const src = join(work, 'empty-volume');
    await mkdir(src, { recursive: true });
    const backup = resultOf(await mover(['backup', '--name', 'empty', '--kind', 'files', '--path', src, '--backup', 'b-empty', '--environment', 'shop-main']));
    expect(backup.snapshotId).toMatch(/^[0-9a-f]{8,64}$/);

    const target = join(work, 'restored-empty');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'stale.txt'), 'from before');
    const restored = await mover(['restore', '--name', 'empty', '--kind', 'files', '--path', target, '--snapshot', backup.snapshotId!, '--replace']);
    expect(restored.code).toBe(0);
    expect(await readdir(target)).toEqual([]);
  });
});

describe('postgresql', () => {
  const countAndDigest = (db: string) => pg.sql(db, "select count(*) || ' ' || md5(string_agg(id || ':' || sku || ':' || price, ',' order by id)) from orders");

  it('dumps a live database into the repository and restores it into a fresh database of another role', async () => {
    await pg.sql('postgres', 'create database shop');
    await pg.sql('shop', "create table orders (id serial primary key, sku text not null, price numeric(10,2) not null, created timestamptz default now())");
    // Big enough that the two chunks holding the changed lines — restic cuts chunks of up to 8 MiB —
    // stay under a third of the dump, however the repository's chunker falls.
    await pg.sql('shop', "insert into orders (sku, price) select 'sku-' || g, (g % 997) / 7.0 from generate_series(1, 1000000) g");
    const before = await countAndDigest('shop');
    expect(before).toMatch(/^1000000 [0-9a-f]{32}$/);

    const dbEnv = { DB_HOST: pg.host, DB_PORT: String(pg.port), DB_USER: pg.username, DB_PASSWORD: pg.password, DB_NAME: 'shop' };
    const backup = resultOf(await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'b1', '--environment', 'shop-main'], dbEnv));
    expect(backup).toMatchObject({ name: 'db', kind: 'postgresql', files: 1 });
    expect(backup.bytesTotal).toBeGreaterThan(10_000_000);

    // Unchanged rows dump to the same bytes, which restic stores once. Only the chunks holding
    // pg_dump's random \restrict key (first and last line) are new.
    const second = resultOf(await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'b2', '--environment', 'shop-main'], dbEnv));
    expect(second.bytesAdded).toBeLessThan(backup.bytesAdded! / 3);

    await pg.sql('shop', 'delete from orders where id % 3 = 0');
    expect(await countAndDigest('shop')).not.toBe(before);

    // A fresh environment: its own role and empty database.
    await pg.sql('postgres', "create role fresh login password 'fresh-pw'");
    await pg.sql('postgres', 'create database fresh owner fresh');
    const restored = await mover(['restore', '--name', 'db', '--kind', 'postgresql', '--snapshot', backup.snapshotId!], { ...dbEnv, DB_USER: 'fresh', DB_PASSWORD: 'fresh-pw', DB_NAME: 'fresh' });
    expect(restored.stderr).toContain('Restored postgresql db');
    expect(restored.code).toBe(0);
    expect(await countAndDigest('fresh')).toBe(before);
    expect(await pg.sql('fresh', "select tableowner from pg_tables where tablename = 'orders'")).toBe('fresh');
  }, 60_000);

  it('fails, and leaves no snapshot behind, when the dump fails', async () => {
    const out = await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'bad-dump', '--environment', 'shop-main'], {
      DB_HOST: pg.host, DB_PORT: String(pg.port), DB_USER: pg.username, DB_PASSWORD: 'not-the-password', DB_NAME: 'shop',
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/pg_dump exited with 1: .*password authentication failed/);
    expect(out.stdout).toBe('');
    const repo = repositoryOf(store, 'team-a', 'shop');
    expect(await new Restic(repo, { cacheDir: join(work, 'cache') }).snapshots({ backup: 'bad-dump' })).toEqual([]);
  });
});

describe('failures', () => {
  it('says the password is wrong, and records nothing, when the restic password is wrong', async () => {
    const src = join(work, 'small');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'a.txt'), 'a');
    const out = await mover(['backup', '--name', 'small', '--kind', 'files', '--path', src, '--backup', 'wrong-pw', '--environment', 'shop-main'], { RESTIC_PASSWORD: 'guess' });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`the password does not open the restic repository at ${env.RESTIC_REPOSITORY}`);
    expect(await new Restic(repositoryOf(store, 'team-a', 'shop'), { cacheDir: join(work, 'cache') }).snapshots({ backup: 'wrong-pw' })).toEqual([]);
  });

  it('names the store it cannot reach', async () => {
    const src = join(work, 'small2');
    await mkdir(src, { recursive: true });
    const location = 's3:http://127.0.0.1:1/nowhere/grove';
    const out = await mover(['backup', '--name', 'small', '--kind', 'files', '--path', src, '--backup', 'b', '--environment', 'e'], { RESTIC_REPOSITORY: location });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`cannot use the restic repository at ${location.replace(/[.]/g, '\\.')}: .*connection refused`));
  });

  it('rejects a request it cannot carry out before touching the store', async () => {
    const out = await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'b', '--environment', 'e']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('a postgresql backup needs DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME in the environment');
    expect((await mover(['backup', '--name', 'x', '--kind', 'tape', '--backup', 'b', '--environment', 'e'])).stderr).toContain('--kind must be one of files, postgresql, mariadb, redis (got "tape")');
  });
});

describe('BackupStore access', () => {
  it('proves access by writing and reading back an object, and says why when it cannot', async () => {
    await checkAccess(store, new Date('2026-11-22T00:00:00Z'));
    await expect(checkAccess({ ...store, secretAccessKey: 'wrong' }, new Date())).rejects.toThrow(
      new RegExp(`cannot write and read s3://${store.bucket}/grove/\\.grove/access-check at ${store.endpoint}: SignatureDoesNotMatch`),
    );
  });
});
