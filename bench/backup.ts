// Backup and restore throughput: Grove's mover (`grove mover`, as a Job runs it) against plain
// `restic` on the same data in the same run, and against the disk's own read speed. Two data
// sets of GROVE_BENCH_DATA_MIB (default 1024): a directory of mixed file sizes, and a PostgreSQL
// database. Each backup goes to a fresh repository in MinIO; then an incremental backup of the
// unchanged data, and a restore. On 2 cores one run of the same restic command varies by ±10-20%,
// so full backups are repeated (GROVE_BENCH_REPEAT, default 3), the two sides taking turns to go
// first, and the medians are compared.
import { exec as execCb, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { repositoryOf, s3ClientOf, type StoreAccess } from '../src/data/store/index.ts';
import { startPostgres } from '../local/postgres.ts';
import { benchCluster, table } from './harness.ts';

const run = promisify(execFile);
const sh = promisify(execCb);
const MIB = 1024 * 1024;
const DATA_MIB = Number(process.env.GROVE_BENCH_DATA_MIB ?? 1024);
/** Full backups are timed this many times each, plain and mover alternating who goes first. */
const REPEAT = Number(process.env.GROVE_BENCH_REPEAT ?? 3);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export async function backupBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  const work = await mkdtemp(join(tmpdir(), 'grove-bench-backup-'));
  const pg = await startPostgres();
  try {
    const minio = cluster.state.minio!;
    const store: StoreAccess = { endpoint: minio.url, bucket: 'bench', prefix: '', region: 'us-east-1', forcePathStyle: true, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, resticPassword: 'bench-password' };
    const s3 = s3ClientOf(store);
    await s3.send(new CreateBucketCommand({ Bucket: store.bucket }));
    s3.destroy();
    let repos = 0;
    /** Environment for a fresh repository (restic's own variables, as the mover Job gets them). */
    const freshRepo = async (): Promise<Record<string, string>> => {
      const repo = repositoryOf(store, 'bench', `repo-${++repos}`);
      const env = { PATH: process.env.PATH ?? '', HOME: work, ...repo.env, RESTIC_REPOSITORY: repo.location, RESTIC_PASSWORD: repo.password, RESTIC_CACHE_DIR: join(work, `cache-${repos}`) };
      await run('restic', ['init', '--quiet'], { env });
      return env;
    };
    const timed = async (what: () => Promise<unknown>): Promise<number> => {
      const started = performance.now();
      await what();
      return (performance.now() - started) / 1000;
    };

    // 1. A directory of mixed file sizes: half in 1 MiB files, 3/8 in 64 KiB, 1/8 in 4 KiB.
    const dir = join(work, 'files');
    console.error(`[bench] writing ${DATA_MIB} MiB of files`);
    await writeMixedFiles(dir, DATA_MIB * MIB);
    // The disk's (here: the page cache's) read speed for these files, read the way restic reads them: every file, whole.
    const diskRead = await timed(() => sh(`tar -cf - . | cat > /dev/null`, { cwd: dir }));

    const mover = (args: string[], env: Record<string, string>) => run(process.execPath, [main, 'mover', ...args], { env, maxBuffer: 16 * MIB });
    let plainEnv: Record<string, string> = {};
    let moverEnv: Record<string, string> = {};
    const [plainFull, moverFull] = await pairedMedians(
      async () => {
        plainEnv = await freshRepo();
        return timed(() => run('restic', ['backup', '--quiet', '--host', 'grove', '.'], { cwd: dir, env: plainEnv }));
      },
      async () => {
        moverEnv = await freshRepo();
        return timed(() => mover(['backup', '--name', 'files', '--kind', 'files', '--path', dir, '--backup', 'b1', '--environment', 'bench'], moverEnv));
      },
    );
    const plainIncr = await timed(() => run('restic', ['backup', '--quiet', '--host', 'grove', '.'], { cwd: dir, env: plainEnv }));
    let snapshotId = '';
    const moverIncr = await timed(async () => {
      const { stdout } = await mover(['backup', '--name', 'files', '--kind', 'files', '--path', dir, '--backup', 'b2', '--environment', 'bench'], moverEnv);
      snapshotId = (JSON.parse(stdout) as { snapshotId: string }).snapshotId;
    });
    const plainRestore = await timed(() => run('restic', ['restore', 'latest', '--target', join(work, 'restore-plain')], { env: plainEnv }));
    const moverRestore = await timed(() => mover(['restore', '--name', 'files', '--kind', 'files', '--path', join(work, 'restore-mover'), '--snapshot', snapshotId], moverEnv));
    await rm(join(work, 'restore-plain'), { recursive: true, force: true });
    await rm(join(work, 'restore-mover'), { recursive: true, force: true });

    // 2. A PostgreSQL database of about the same size.
    console.error(`[bench] loading about ${DATA_MIB} MiB into PostgreSQL`);
    await pg.sql('postgres', 'create database bench');
    // ~170 bytes per row in the dump; md5 text keeps it realistic (not all zeros, not all random).
    const rows = Math.round((DATA_MIB * MIB) / 170);
    await pg.sql('bench', `create table events as select g as id, md5(g::text) as a, md5((g * 7)::text) as b, md5((g * 13)::text) as c, now() - (g || ' seconds')::interval as at from generate_series(1, ${rows}) g`);
    const dbEnv = { DB_HOST: pg.host, DB_PORT: String(pg.port), DB_USER: pg.username, DB_PASSWORD: pg.password, DB_NAME: 'bench' };
    const dumpBytes = Number((await sh(`pg_dump --no-owner --no-privileges --clean --if-exists | wc -c`, { env: { ...process.env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.username, PGPASSWORD: pg.password, PGDATABASE: 'bench' } })).stdout.trim());
    const dumpOnly = await timed(() => sh('pg_dump --no-owner --no-privileges --clean --if-exists > /dev/null', { env: { ...process.env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.username, PGPASSWORD: pg.password, PGDATABASE: 'bench' } }));
    const pipe = (env: Record<string, string>) =>
      sh('pg_dump --no-owner --no-privileges --clean --if-exists | restic backup --quiet --host grove --stdin --stdin-filename dump.sql', {
        env: { ...env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.username, PGPASSWORD: pg.password, PGDATABASE: 'bench' },
      });
    let pgPlainEnv: Record<string, string> = {};
    let pgMoverEnv: Record<string, string> = {};
    let pgSnapshot = '';
    const [pgPlain, pgMover] = await pairedMedians(
      async () => {
        pgPlainEnv = await freshRepo();
        return timed(() => pipe(pgPlainEnv));
      },
      async () => {
        pgMoverEnv = await freshRepo();
        return timed(async () => {
          const { stdout } = await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'b1', '--environment', 'bench'], { ...pgMoverEnv, ...dbEnv });
          pgSnapshot = (JSON.parse(stdout) as { snapshotId: string }).snapshotId;
        });
      },
    );
    const pgPlainIncr = await timed(() => pipe(pgPlainEnv));
    let pgIncrAdded = 0;
    const pgMoverIncr = await timed(async () => {
      const { stdout } = await mover(['backup', '--name', 'db', '--kind', 'postgresql', '--backup', 'b2', '--environment', 'bench'], { ...pgMoverEnv, ...dbEnv });
      pgIncrAdded = (JSON.parse(stdout) as { bytesAdded: number }).bytesAdded;
    });
    await pg.sql('postgres', 'create database restored');
    const pgRestore = await timed(() => mover(['restore', '--name', 'db', '--kind', 'postgresql', '--snapshot', pgSnapshot], { ...pgMoverEnv, ...dbEnv, DB_NAME: 'restored' }));
    const restoredRows = await pg.sql('restored', 'select count(*) from events');
    if (Number(restoredRows) !== rows) throw new Error(`restored ${restoredRows} rows, expected ${rows}`);

    const mibs = (seconds: number, bytes = DATA_MIB * MIB) => bytes / MIB / seconds;
    table(`Backup and restore of ${DATA_MIB} MiB (restic ${(await run('restic', ['version'])).stdout.split(' ')[1]}, MinIO on this host)`, ['figure', 'seconds', 'MiB/s'], [
      ['files: read every file (tar, page cache warm)', diskRead, mibs(diskRead)],
      [`files: plain restic backup (median of ${REPEAT})`, plainFull, mibs(plainFull)],
      [`files: grove mover backup (median of ${REPEAT})`, moverFull, mibs(moverFull)],
      ['files: mover overhead over restic (%)', ((moverFull - plainFull) / plainFull) * 100, ''],
      ['files: plain restic, unchanged', plainIncr, ''],
      ['files: grove mover, unchanged', moverIncr, ''],
      ['files: unchanged / full, plain restic (%)', (plainIncr / plainFull) * 100, ''],
      ['files: unchanged / full, mover (%)', (moverIncr / moverFull) * 100, ''],
      ['files: plain restic restore', plainRestore, mibs(plainRestore)],
      ['files: grove mover restore', moverRestore, mibs(moverRestore)],
      [`postgresql: pg_dump alone (${(dumpBytes / MIB).toFixed(0)} MiB dump)`, dumpOnly, mibs(dumpOnly, dumpBytes)],
      [`postgresql: pg_dump | restic --stdin (median of ${REPEAT})`, pgPlain, mibs(pgPlain, dumpBytes)],
      [`postgresql: grove mover backup (median of ${REPEAT})`, pgMover, mibs(pgMover, dumpBytes)],
      ['postgresql: mover overhead over the pipe (%)', ((pgMover - pgPlain) / pgPlain) * 100, ''],
      ['postgresql: pg_dump | restic --stdin, unchanged', pgPlainIncr, ''],
      ['postgresql: grove mover, unchanged', pgMoverIncr, ''],
      ['postgresql: unchanged / full (%)', (pgMoverIncr / pgMover) * 100, ''],
      ['postgresql: unchanged, MiB uploaded', pgIncrAdded / MIB, ''],
      ['postgresql: grove mover restore into a fresh database', pgRestore, mibs(pgRestore, dumpBytes)],
    ]);
    console.log('Targets: mover overhead ≤ 10% over plain restic; an unchanged incremental ≤ 5% of the full backup\'s time.');
  } finally {
    await pg.stop();
    await rm(work, { recursive: true, force: true });
    await cluster.stop();
  }
}

/**
 * Times `a` and `b` REPEAT times each, taking turns to go first (so neither always meets a cold
 * or a warm machine), and returns both medians. The last run of each leaves its repository for
 * the incremental and restore figures.
 */
async function pairedMedians(a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < REPEAT; i++) {
    if (i % 2 === 0) {
      times[0].push(await a());
      times[1].push(await b());
    } else {
      times[1].push(await b());
      times[0].push(await a());
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  console.error(`[bench] runs: ${times[0].map((t) => t.toFixed(1)).join(' ')} | ${times[1].map((t) => t.toFixed(1)).join(' ')}`);
  return [median(times[0]), median(times[1])];
}

async function writeMixedFiles(dir: string, total: number): Promise<void> {
  const plan: Array<[size: number, share: number]> = [
    [MIB, 0.5],
    [64 * 1024, 0.375],
    [4 * 1024, 0.125],
  ];
  for (const [size, share] of plan) {
    const count = Math.round((total * share) / size);
    for (let i = 0; i < count; i++) {
      const sub = join(dir, `s${size}`, String(i % 64));
      if (i < 64) await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `f${i}.bin`), randomBytes(size));
    }
  }
}
