/**
 * A PostgreSQL server from the Debian package, run as a host process in a directory of its own:
 * the real database the mover's tests and benchmarks dump and restore. PostgreSQL refuses to run
 * as root, so as root the server runs as the package's `postgres` user.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { GroveError } from '../src/errors/index.ts';
import { freePorts, logTail, type ProcessRecord, startProcess, stopProcess } from './processes.ts';

const run = promisify(execFile);

export interface PostgresServer {
  host: string;
  port: number;
  /** A superuser and its password. */
  username: string;
  password: string;
  /** The server's process: detached, so it outlives its starter until stopped. */
  process: ProcessRecord;
  /** `psql` against this server as the superuser; returns stdout. */
  sql(database: string, statement: string): Promise<string>;
  stop(): Promise<void>;
}

/** Whether the server's user can reach `dir` (as root the server runs as `postgres`, which cannot enter /root). */
export async function serverCanReach(dir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return true;
  return run('runuser', ['-u', 'postgres', '--', 'test', '-x', dir]).then(
    () => true,
    () => false,
  );
}

/** The newest server binaries the Debian packages installed. */
export async function postgresBinaries(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new GroveError('NotFound', 'PostgreSQL is not installed (apt-get install postgresql)');
  return join(root, versions[0], 'bin');
}

/**
 * Starts a server in a new directory under `opts.parent` (default: the system's temporary
 * directory); `stop` removes it.
 */
export async function startPostgres(opts: { password?: string; parent?: string } = {}): Promise<PostgresServer> {
  const bin = await postgresBinaries();
  // Its own directory, under /tmp by default: as root, the `postgres` user must be able to reach it.
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'grove-postgres-'));
  const username = 'grove';
  const password = opts.password ?? 'grove-test-password';
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  await mkdir(data, { recursive: true, mode: 0o700 });
  await mkdir(sockets, { recursive: true });
  await writeFile(join(dir, 'pwfile'), `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  const runAs = async (command: string, args: string[]): Promise<void> => {
    await (asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args));
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const p of [dir, data, sockets, join(dir, 'pwfile')]) await chown(p, Number(stdout.trim()), Number(gid.trim()));
  }
  await runAs(join(bin, 'initdb'), ['--pgdata', data, '--username', username, '--pwfile', join(dir, 'pwfile'), '--auth', 'scram-sha-256', '--encoding', 'UTF8', '--no-sync']);
  const [port] = (await freePorts(1)) as [number];
  const args = ['-D', data, '-p', String(port), '-k', sockets, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off'];
  const log = join(dir, 'postgres.log');
  const record: ProcessRecord = asRoot
    ? startProcess({ name: 'postgres', command: 'runuser', args: ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], log })
    : startProcess({ name: 'postgres', command: join(bin, 'postgres'), args, log });
  const env = { ...process.env, PGPASSWORD: password };
  for (let i = 0; ; i++) {
    try {
      await run(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', username, '-d', 'postgres'], { env });
      break;
    } catch {
      if (i > 100) throw new GroveError('ProcessFailed', `PostgreSQL did not accept connections within 20 s:\n${await logTail(log)}`);
      await sleep(200);
    }
  }
  return {
    host: '127.0.0.1',
    port,
    username,
    password,
    process: record,
    async sql(database, statement) {
      const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', username, '-d', database, '-v', 'ON_ERROR_STOP=1', '-XAtq', '-c', statement], { env, maxBuffer: 64 * 1024 * 1024 });
      return stdout.trim();
    },
    async stop() {
      await stopProcess(record);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
