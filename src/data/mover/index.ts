/**
 * The mover: what a backup or restore Job runs (`grove mover …`), one volume or database at a
 * time, into or out of the Project's restic repository.
 *
 * Databases are read with their own dump tools, streamed into `restic backup --stdin`, so a
 * backup is consistent without stopping anything and no dump ever touches a disk. A dump that
 * fails part-way would leave a snapshot of a partial dump: that snapshot is forgotten at once and
 * the backup fails, so a truncated dump is never mistaken for a backup.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VolumeBackup } from '../../api/index.ts';
import { GroveError } from '../../errors/index.ts';
import { type BackupSummary, type Restic, ResticError, type Tags } from '../restic/index.ts';

export type VolumeKind = VolumeBackup['kind'];

/** How to reach a database: the keys of the service's credentials Secret. */
export interface DatabaseAccess {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
}

export interface MoverTarget {
  /** The volume or service name. */
  name: string;
  kind: VolumeKind;
  /** The directory of a `files` volume (for `redis`, where `dump.rdb` is restored to). */
  path?: string;
  /** For `postgresql`, `mariadb` and `redis`. */
  database?: DatabaseAccess;
}

export interface BackupRequest extends MoverTarget {
  /** The Backup's name and the Environment's, recorded as tags on the snapshot. */
  backup: string;
  environment: string;
}

interface DumpTool {
  /** The file name the stream gets inside the snapshot. */
  filename: string;
  dump: (db: DatabaseAccess) => { command: string; args: string[]; env: Record<string, string> };
  restore?: (db: DatabaseAccess) => { command: string; args: string[]; env: Record<string, string> };
}

const DUMP_TOOLS: Record<Exclude<VolumeKind, 'files'>, DumpTool> = {
  postgresql: {
    filename: 'dump.sql',
    // Plain SQL (not the compressed custom format) so unchanged rows deduplicate across backups;
    // without owners and grants, because each environment has its own generated role.
    dump: (db) => ({ command: 'pg_dump', args: ['--no-owner', '--no-privileges', '--clean', '--if-exists'], env: libpq(db) }),
    restore: (db) => ({ command: 'psql', args: ['--quiet', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '--output=/dev/null'], env: libpq(db) }),
  },
  mariadb: {
    filename: 'dump.sql',
    dump: (db) => ({ command: 'mariadb-dump', args: [...mysqlArgs(db), '--single-transaction', '--routines', '--triggers', '--add-drop-table', db.database], env: { MYSQL_PWD: db.password } }),
    restore: (db) => ({ command: 'mariadb', args: [...mysqlArgs(db), db.database], env: { MYSQL_PWD: db.password } }),
  },
  redis: {
    filename: 'dump.rdb',
    // Redis loads its RDB file at start: a restore writes dump.rdb into the data volume instead.
    dump: (db) => ({ command: 'redis-cli', args: ['-h', db.host, '-p', String(db.port), '--no-auth-warning', '--rdb', '-'], env: redisAuth(db) }),
  },
};

function libpq(db: DatabaseAccess): Record<string, string> {
  return { PGHOST: db.host, PGPORT: String(db.port), PGUSER: db.username, PGPASSWORD: db.password, PGDATABASE: db.database };
}

function redisAuth(db: DatabaseAccess): Record<string, string> {
  return db.password ? { REDISCLI_AUTH: db.password } : {};
}

function mysqlArgs(db: DatabaseAccess): string[] {
  return ['--host', db.host, '--port', String(db.port), '--user', db.username];
}

/** Kinds whose schema a rehearsal compares, and how it is read: definitions only, no data, no owners, no grants. */
const SCHEMA_TOOLS: Partial<Record<VolumeKind, (db: DatabaseAccess) => { command: string; args: string[]; env: Record<string, string> }>> = {
  postgresql: (db) => ({ command: 'pg_dump', args: ['--schema-only', '--no-owner', '--no-privileges'], env: libpq(db) }),
  mariadb: (db) => ({ command: 'mariadb-dump', args: [...mysqlArgs(db), '--no-data', '--skip-comments', '--skip-dump-date', '--routines', '--triggers', db.database], env: { MYSQL_PWD: db.password } }),
};

export const SCHEMA_KINDS = Object.keys(SCHEMA_TOOLS) as VolumeKind[];

/** Writes the database's schema to `out`: what a rehearsal reads before and after the deploy hook. */
export async function dumpSchema(kind: VolumeKind, db: DatabaseAccess, out: NodeJS.WritableStream): Promise<void> {
  const tool = SCHEMA_TOOLS[kind];
  if (!tool) throw new GroveError('InvalidInput', `the schema of a ${kind} volume cannot be read (only ${SCHEMA_KINDS.join(', ')})`);
  await waitForServer(db);
  const { command, args, env } = tool(db);
  const dump = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitOf(dump, command);
  dump.stdout.pipe(out, { end: false });
  await exited;
}

/** Backs up one volume or database; returns its entry for the Backup's status. */
export async function backupVolume(restic: Restic, req: BackupRequest): Promise<VolumeBackup> {
  const tags: Tags = { backup: req.backup, environment: req.environment, volume: req.name, kind: req.kind };
  // One series per environment and volume: restic finds the parent snapshot by it.
  const host = `${req.environment}.${req.name}`;
  const once = async (): Promise<BackupSummary> => {
    if (req.kind === 'files') {
      const path = required(req.path, `volume ${req.name} needs a path`);
      // restic refuses a snapshot of nothing; an empty volume is recorded as one marker file, which restores drop again.
      if (await isEmptyVolume(path)) {
        // restic reads stdin from a file descriptor, so the marker's content comes from a child's pipe.
        const marker = spawn(process.execPath, ['-e', "process.stdout.write('empty volume\\n')"], { stdio: ['ignore', 'pipe', 'ignore'] });
        return restic.backupStream(marker.stdout, EMPTY_VOLUME_MARKER, tags, host);
      }
      return restic.backupDirectory(path, tags, host);
    }
    return backupDump(restic, DUMP_TOOLS[req.kind], required(req.database, `${req.kind} service ${req.name} needs its connection settings`), tags, host);
  };
  let summary: BackupSummary;
  try {
    summary = await once();
  } catch (err) {
    // The Project's first backup: make the repository, then back up. (Asking first would cost
    // every backup an extra opening of the repository.)
    if (!(err instanceof ResticError) || err.kind !== 'NoRepository') throw err;
    await restic.ensureRepository();
    summary = await once();
  }
  return { name: req.name, kind: req.kind, snapshotId: summary.snapshotId, bytesAdded: summary.bytesAdded, bytesTotal: summary.bytesTotal, files: summary.files, durationSeconds: summary.durationSeconds };
}

/**
 * Waits until the database accepts a TCP connection. A mover's pod may start before the server
 * answers (a service that is restarting) or before the cluster's network policy has learnt the
 * new pod's address and admits it; a dump tool would fail at once on either.
 */
export async function waitForServer(db: Pick<DatabaseAccess, 'host' | 'port'>, opts: WaitOptions = {}): Promise<void> {
  const patienceMs = opts.patienceMs ?? 60_000;
  const connect = opts.connect ?? tcpConnect;
  const pause = opts.pause ?? (() => sleep(1000));
  const deadline = performance.now() + patienceMs;
  for (;;) {
    try {
      await connect(db.host, db.port);
      return;
    } catch (err) {
      if (performance.now() >= deadline) throw new GroveError('Backup', `the database at ${db.host}:${db.port} did not accept a connection within ${Math.round(patienceMs / 1000)}s: ${(err as Error).message}`);
      await pause();
    }
  }
}

export interface WaitOptions {
  patienceMs?: number;
  connect?: (host: string, port: number) => Promise<void>;
  pause?: () => Promise<unknown>;
}

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, timeout: 3000 }, () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => socket.destroy(new Error('connection timed out')));
    socket.once('error', reject);
  });
}

async function backupDump(restic: Restic, tool: DumpTool, db: DatabaseAccess, tags: Tags, host: string): Promise<BackupSummary> {
  await waitForServer(db);
  const { command, args, env } = tool.dump(db);
  const dump = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitOf(dump, command);
  // Awaited below, after restic; until then a failed dump must not count as unhandled.
  exited.catch(() => undefined);
  let summary: BackupSummary;
  try {
    summary = await restic.backupStream(dump.stdout, tool.filename, tags, host);
  } catch (err) {
    // restic fails on an empty stream; when the dump failed first, its reason is the one to tell.
    const dumpFailure = await Promise.race([exited.then(() => undefined, (e: unknown) => e), sleep(2000).then(() => undefined)]);
    dump.kill();
    throw dumpFailure ?? err;
  }
  try {
    await exited;
  } catch (err) {
    await restic.forget([summary.snapshotId], { prune: false });
    throw err;
  }
  return summary;
}

export interface RestoreOptions {
  /**
   * Empty the directory first, so it ends up holding exactly the snapshot (restic only adds and
   * overwrites). Grove's restore Jobs ask for it: their volume is new, or its old data was backed
   * up before the Restore was allowed to replace it.
   */
  replace?: boolean;
}

/** Restores one snapshot into a volume directory or a database. */
export async function restoreVolume(restic: Restic, target: MoverTarget, snapshotId: string, opts: RestoreOptions = {}): Promise<void> {
  if (target.kind === 'files') {
    const path = required(target.path, `volume ${target.name} needs a path`);
    await prepareDirectory(path, opts.replace ?? false);
    await restic.restoreDirectory(snapshotId, path);
    await rm(join(path, EMPTY_VOLUME_MARKER), { force: true });
    return;
  }
  const tool = DUMP_TOOLS[target.kind];
  if (!tool.restore) {
    // Redis: the RDB file goes into the data directory, which the server reads when it starts.
    const path = required(target.path, `${target.kind} service ${target.name} needs the path of its data directory`);
    // Its append-only files would win over the restored RDB file at start: they go too.
    await prepareDirectory(path, opts.replace ?? false);
    await restic.restoreDirectory(snapshotId, path);
    return;
  }
  const db = required(target.database, `${target.kind} service ${target.name} needs its connection settings`);
  await waitForServer(db);
  const { command, args, env } = tool.restore(db);
  const client = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
  const exited = exitOf(client, command);
  exited.catch(() => undefined);
  // restic writes into the client's stdin itself; the client sees the end when restic exits.
  await restic.dump(snapshotId, tool.filename, client.stdin);
  await exited;
}

/** The one file of the snapshot of an empty volume. */
export const EMPTY_VOLUME_MARKER = '.grove-empty-volume';

async function isEmptyVolume(path: string): Promise<boolean> {
  return (await readdir(path)).every((entry) => entry === 'lost+found');
}

async function prepareDirectory(path: string, replace: boolean): Promise<void> {
  await mkdir(path, { recursive: true });
  if (!replace) return;
  // lost+found belongs to the filesystem, not to the data.
  for (const entry of await readdir(path)) if (entry !== 'lost+found') await rm(join(path, entry), { recursive: true, force: true });
}

function exitOf(child: ReturnType<typeof spawn>, command: string): Promise<void> {
  const err: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.once('error', (cause) => reject(new GroveError('Backup', `cannot run ${command}: ${cause.message}`, { cause })));
    child.once('close', (code) => {
      if (code === 0) return resolve();
      const text = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join('; ');
      reject(new GroveError('Backup', `${command} exited with ${String(code)}: ${text || 'no output'}`));
    });
  });
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new GroveError('InvalidInput', message);
  return value;
}
