/**
 * `restic`, the field's standard for backups (deduplicated, encrypted, verifiable), run as a child
 * process against one repository in a BackupStore. Grove never reimplements its format; it asks
 * restic for JSON and turns the answers into typed results and precise errors.
 *
 * The password and the S3 credentials travel in the child's environment, never on its command
 * line (where `ps` would show them) and never into a log.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { GroveError } from '../../errors/index.ts';

/** One restic repository and how to open it. */
export interface ResticRepository {
  /** restic's repository location, e.g. `s3:http://127.0.0.1:9000/backups/grove/shop`. */
  location: string;
  password: string;
  /** Extra environment for restic's backend: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`. */
  env: Record<string, string>;
}

/** What one backup produced, from restic's own summary. */
export interface BackupSummary {
  /** As restic prints it (the short form in restic 0.14); restic accepts it everywhere. */
  snapshotId: string;
  /** New data written to the repository after deduplication and compression. */
  bytesAdded: number;
  /** Bytes read from the source. */
  bytesTotal: number;
  files: number;
  durationSeconds: number;
}

export interface Snapshot {
  id: string;
  time: string;
  paths: string[];
  tags: string[];
}

/** Tags are `key=value`: restic filters on them, and a comma would split one tag into two. */
export type Tags = Record<string, string>;

export interface ResticOptions {
  binary?: string;
  /** restic's cache; a Job with a read-only root filesystem points it at a scratch volume. */
  cacheDir?: string;
  /** An HTTP proxy every connection of restic's goes through (the operator's checked one). */
  proxy?: string;
}

export class Restic {
  readonly #repo: ResticRepository;
  readonly #opts: ResticOptions;

  constructor(repo: ResticRepository, opts: ResticOptions = {}) {
    this.#repo = repo;
    this.#opts = opts;
  }

  /** Opens the repository, creating it when there is none yet at the location. */
  async ensureRepository(): Promise<'opened' | 'created'> {
    try {
      await this.#run(['cat', 'config']);
      return 'opened';
    } catch (err) {
      if (!(err instanceof ResticError) || err.kind !== 'NoRepository') throw err;
    }
    await this.#run(['init']);
    return 'created';
  }

  /**
   * Backs up the contents of a directory. `host` names the series (environment and volume):
   * restic takes the series' last snapshot as the parent, so unchanged files are not read again.
   */
  async backupDirectory(dir: string, tags: Tags, host: string): Promise<BackupSummary> {
    const { stdout } = await this.#run(['backup', '--json', '--host', host, ...tagArgs(tags), '.'], { cwd: dir });
    return summaryOf(stdout);
  }

  /**
   * Backs up a stream (a database dump) as one file named `filename`. A child process's stdout
   * becomes restic's stdin directly, so the data never passes through this process.
   */
  async backupStream(source: Readable, filename: string, tags: Tags, host: string): Promise<BackupSummary> {
    const { stdout } = await this.#run(['backup', '--json', '--host', host, ...tagArgs(tags), '--stdin', '--stdin-filename', filename], { stdin: source });
    return summaryOf(stdout);
  }

  /**
   * Restores a directory snapshot into `target`. Backups are taken of `.` inside the directory,
   * so a snapshot holds the directory's contents, not its path, and restores anywhere.
   */
  async restoreDirectory(snapshotId: string, target: string): Promise<void> {
    await this.#run(['restore', snapshotId, '--target', target]);
  }

  /** Writes the content of a stream snapshot into `destination` (a database client's stdin). */
  async dump(snapshotId: string, filename: string, destination: Writable): Promise<void> {
    await this.#run(['dump', snapshotId, `/${filename}`], { stdout: destination });
  }

  /** Snapshots carrying every one of `tags` (and among `ids`, when given), oldest first. */
  async snapshots(tags: Tags = {}, ids: string[] = []): Promise<Snapshot[]> {
    const { stdout } = await this.#run(['snapshots', '--json', ...tagArgs(tags), ...ids]);
    const list = JSON.parse(stdout || '[]') as Array<{ id: string; time: string; paths: string[]; tags?: string[] }>;
    return list.map((s) => ({ id: s.id, time: s.time, paths: s.paths, tags: s.tags ?? [] }));
  }

  /** Forgets snapshots and deletes the data only they referenced. */
  async forget(snapshotIds: string[], opts: { prune: boolean }): Promise<void> {
    if (snapshotIds.length === 0) return;
    await this.#run(['forget', ...(opts.prune ? ['--prune'] : []), ...snapshotIds]);
  }

  /** Reads the repository's structure (and, with `readData`, every pack) for damage. */
  async check(opts: { readData?: boolean } = {}): Promise<void> {
    await this.#run(['check', ...(opts.readData ? ['--read-data'] : [])]);
  }

  /**
   * Runs restic. `stdin` and `stdout` may be another child's pipes: restic then gets their file
   * descriptors itself, with no copying through this process.
   */
  async #run(args: string[], opts: { cwd?: string; stdin?: Readable; stdout?: Writable } = {}): Promise<{ stdout: string }> {
    const cache = this.#opts.cacheDir ? ['--cache-dir', this.#opts.cacheDir] : [];
    const child = spawn(this.#opts.binary ?? 'restic', [...cache, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      // TMPDIR: where restic writes packs before uploading them, which a read-only root forbids at /tmp.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), ...this.#repo.env, ...(this.#opts.proxy ? { HTTP_PROXY: this.#opts.proxy, HTTPS_PROXY: this.#opts.proxy } : {}), RESTIC_REPOSITORY: this.#repo.location, RESTIC_PASSWORD: this.#repo.password },
      stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'pipe', 'pipe'],
    });
    // The child has its own copies of handed-over pipes; this process's copies would keep a
    // reader from seeing the end of its input, and the writer's 'close' from ever coming.
    opts.stdin?.destroy();
    opts.stdout?.destroy();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    await new Promise<void>((resolve, reject) => {
      child.once('error', (cause) => reject(new GroveError('Backup', `cannot run restic: ${cause.message}`, { cause })));
      child.once('close', (code) => {
        if (code === 0) return resolve();
        reject(ResticError.from(args[0] ?? 'restic', code, Buffer.concat(err).toString('utf8'), this.#repo.location));
      });
    });
    return { stdout: Buffer.concat(out).toString('utf8') };
  }
}

export type ResticFailure = 'WrongPassword' | 'NoRepository' | 'NoSnapshot' | 'Unreachable' | 'Incomplete' | 'Failed';

/** A restic command that failed, with what went wrong in one word and restic's own words. */
export class ResticError extends GroveError {
  readonly kind: ResticFailure;
  constructor(kind: ResticFailure, message: string) {
    super('Backup', message);
    this.name = 'ResticError';
    this.kind = kind;
  }

  static from(command: string, code: number | null, stderr: string, location: string): ResticError {
    const text = stderr.trim();
    const lines = text.split('\n').filter((l) => l.trim());
    const last = lines.find((l) => l.startsWith('Fatal: '))?.slice('Fatal: '.length) ?? lines.slice(-3).join('; ');
    const where = `the restic repository at ${redactLocation(location)}`;
    if (/wrong password|no key found/i.test(text)) return new ResticError('WrongPassword', `restic ${command}: the password does not open ${where}`);
    if (/connection refused|no such host|i\/o timeout|dial tcp|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch/i.test(text)) {
      return new ResticError('Unreachable', `restic ${command}: cannot use ${where}: ${last}`);
    }
    if (/Is there a repository at the following location|unable to open config file.*(does not exist|NoSuchKey|no such file)/is.test(text)) {
      return new ResticError('NoRepository', `restic ${command}: there is no repository at ${redactLocation(location)}`);
    }
    const id = /no matching ID found for prefix "?([0-9a-f]+)"?|invalid id "?([^"\s]+)"?/i.exec(text);
    if (id) return new ResticError('NoSnapshot', `restic ${command}: snapshot ${id[1] ?? id[2]} is not in ${where}`);
    if (code === 3) return new ResticError('Incomplete', `restic ${command}: some source files could not be read: ${last}`);
    return new ResticError('Failed', `restic ${command} exited with ${String(code)}: ${last || 'no output'}`);
  }
}

/** A location without any credentials someone may have put in its URL. */
function redactLocation(location: string): string {
  return location.replace(/\/\/[^/@]*@/, '//');
}

function tagList(tags: Tags): string {
  return Object.entries(tags)
    .map(([k, v]) => {
      if (/[,\s]/.test(k + v)) throw new GroveError('InvalidInput', `restic tag ${k}=${v} contains a comma or space`);
      return `${k}=${v}`;
    })
    .join(',');
}

function tagArgs(tags: Tags): string[] {
  return Object.keys(tags).length ? ['--tag', tagList(tags)] : [];
}

/** The `summary` message of `restic backup --json`. */
export function summaryOf(stdout: string): BackupSummary {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line) as { message_type?: string; snapshot_id?: string; data_added?: number; total_bytes_processed?: number; total_files_processed?: number; total_duration?: number };
    if (m.message_type !== 'summary') continue;
    if (!m.snapshot_id) throw new GroveError('Backup', 'restic finished without a snapshot id');
    return { snapshotId: m.snapshot_id, bytesAdded: m.data_added ?? 0, bytesTotal: m.total_bytes_processed ?? 0, files: m.total_files_processed ?? 0, durationSeconds: m.total_duration ?? 0 };
  }
  throw new GroveError('Backup', 'restic printed no summary; the backup did not complete');
}
