/**
 * Reads a Git remote the way Grove needs it: the list of branches (protocol v2 `ls-refs` with a
 * `refs/heads/` prefix, so the server never sends tags or other refs), and files at one commit,
 * fetched shallow for that one ref into an on-disk object cache and read without a checkout.
 *
 * One mutex per cached repository serialises fetches (isomorphic-git writes refs as loose files
 * and is not safe under concurrent writers). The cache is bounded: when it grows past its size
 * the least recently used repositories are removed; they are only a cache.
 *
 * Credentials are handed to isomorphic-git through `onAuth` and are never part of a URL, an
 * error message or a log line.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import git, { type AuthCallback } from 'isomorphic-git';
import { GroveError, messageOf } from '../../errors/index.ts';
import { DestinationRefused, type Outbound, refusedIn } from '../../outbound/index.ts';
import { createHttpClient, type TransferStats } from './http.ts';

export interface GitCredentials {
  /** A token; sent as the password of HTTP basic auth, as GitHub, GitLab and Gitea accept it. */
  token?: string;
  username?: string;
  password?: string;
}

export interface GitRemote {
  url: string;
  credentials?: GitCredentials;
}

export interface CommitInfo {
  oid: string;
  message: string;
  author: { name: string; email: string };
  /** Seconds since the epoch. */
  committedAt: number;
}

export interface GitSourceOptions {
  cacheDir: string;
  /** Size bound of the object cache in bytes. */
  maxCacheBytes?: number;
  /** Deadline of each HTTP request. */
  timeoutMs?: number;
  /** Counts requests and bytes, for benchmarks. */
  stats?: TransferStats;
  /** Where connections may go (the operator's DestinationPolicy); anywhere when absent. */
  outbound?: Outbound;
}

const MAX_FILE_BYTES = 1024 * 1024;
/** Files read at a commit never change, so they are kept in memory up to this many bytes. */
const FILE_MEMO_BYTES = 16 * 1024 * 1024;

export class GitSource {
  readonly #opts: Required<Omit<GitSourceOptions, 'stats' | 'outbound'>>;
  readonly #http;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Repositories fetched into since the cache size was last checked. */
  readonly #fetched = new Set<string>();
  /** `url\0commit\0path` → contents (undefined: no such file), least recently used first. */
  readonly #files = new Map<string, string | undefined>();
  #filesBytes = 0;

  constructor(opts: GitSourceOptions) {
    this.#opts = { maxCacheBytes: 512 * 1024 * 1024, timeoutMs: 30_000, ...opts };
    this.#http = createHttpClient(this.#opts.timeoutMs, opts.stats, opts.outbound?.dispatcher);
  }

  /** Branch name → commit SHA of every branch on the remote. */
  async listBranches(remote: GitRemote): Promise<Map<string, string>> {
    const refs = await this.#wrap(remote, 'list the branches of', () =>
      git.listServerRefs({ http: this.#http, url: remote.url, prefix: 'refs/heads/', protocolVersion: 2, onAuth: auth(remote), onAuthFailure: cancel }),
    );
    return new Map(refs.filter((r) => r.ref.startsWith('refs/heads/')).map((r) => [r.ref.slice('refs/heads/'.length), r.oid]));
  }

  /**
   * The text of `path` at `commit`, or undefined when the commit has no such file. The commit
   * is fetched (shallow, only `branch`) when the cache does not have it yet.
   */
  async readFile(remote: GitRemote, ref: { branch: string; commit: string }, path: string): Promise<string | undefined> {
    const key = `${remote.url}\0${ref.commit}\0${path}`;
    if (this.#files.has(key)) {
      const text = this.#files.get(key);
      this.#files.delete(key);
      this.#files.set(key, text);
      return text;
    }
    const text = await this.#readFileFromRepo(remote, ref, path);
    this.#files.set(key, text);
    this.#filesBytes += text?.length ?? 0;
    for (const [k, v] of this.#files) {
      if (this.#filesBytes <= FILE_MEMO_BYTES) break;
      this.#files.delete(k);
      this.#filesBytes -= v?.length ?? 0;
    }
    return text;
  }

  async #readFileFromRepo(remote: GitRemote, ref: { branch: string; commit: string }, path: string): Promise<string | undefined> {
    return this.#withRepo(remote, async (gitdir) => {
      await this.#ensureCommit(remote, gitdir, ref);
      let blob: Uint8Array;
      try {
        blob = (await git.readBlob({ fs, gitdir, oid: ref.commit, filepath: path })).blob;
      } catch (err) {
        if ((err as { code?: string }).code === 'NotFoundError') return undefined;
        throw new GroveError('GitSource', `cannot read ${path} at ${ref.commit.slice(0, 12)}: ${messageOf(err)}`, { cause: err });
      }
      if (blob.length > MAX_FILE_BYTES) throw new GroveError('GitSource', `${path} at ${ref.commit.slice(0, 12)} is ${blob.length} bytes; the limit is ${MAX_FILE_BYTES}`);
      return Buffer.from(blob).toString('utf8');
    });
  }

  /** The commit's message and author, fetching it when needed. */
  async readCommit(remote: GitRemote, ref: { branch: string; commit: string }): Promise<CommitInfo> {
    return this.#withRepo(remote, async (gitdir) => {
      await this.#ensureCommit(remote, gitdir, ref);
      const { commit } = await git.readCommit({ fs, gitdir, oid: ref.commit });
      return { oid: ref.commit, message: commit.message, author: { name: commit.author.name, email: commit.author.email }, committedAt: commit.committer.timestamp };
    });
  }

  async #ensureCommit(remote: GitRemote, gitdir: string, ref: { branch: string; commit: string }): Promise<void> {
    if (await hasCommit(gitdir, ref.commit)) return;
    this.#fetched.add(gitdir);
    await this.#wrap(remote, `fetch ${ref.branch} from`, () =>
      git.fetch({ fs, http: this.#http, gitdir, url: remote.url, remote: 'origin', ref: ref.branch, singleBranch: true, depth: 1, tags: false, onAuth: auth(remote), onAuthFailure: cancel }),
    );
    if (await hasCommit(gitdir, ref.commit)) return;
    // The branch has moved on (or the revision was pinned by hand): ask for the commit itself,
    // which servers allow for reachable commits (uploadpack.allowReachableSHA1InWant).
    await this.#wrap(remote, `fetch commit ${ref.commit.slice(0, 12)} from`, () =>
      git.fetch({ fs, http: this.#http, gitdir, url: remote.url, remote: 'origin', ref: ref.commit, singleBranch: true, depth: 1, tags: false, onAuth: auth(remote), onAuthFailure: cancel }),
    ).catch((err: unknown) => {
      throw new GroveError('NotFound', `commit ${ref.commit} is not on branch ${ref.branch} of ${redact(remote.url)}: ${messageOf(err)}`, { cause: err });
    });
    if (!(await hasCommit(gitdir, ref.commit))) throw new GroveError('NotFound', `commit ${ref.commit} is not on branch ${ref.branch} of ${redact(remote.url)}`);
  }

  /** Runs `fn` holding the repository's lock, with its cache directory ready. */
  async #withRepo<T>(remote: GitRemote, fn: (gitdir: string) => Promise<T>): Promise<T> {
    const gitdir = join(this.#opts.cacheDir, `${createHash('sha256').update(remote.url).digest('hex').slice(0, 24)}.git`);
    const previous = this.#locks.get(gitdir) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      if (!fs.existsSync(join(gitdir, 'HEAD'))) {
        await mkdir(gitdir, { recursive: true });
        await git.init({ fs, gitdir, bare: true });
        await git.addRemote({ fs, gitdir, remote: 'origin', url: remote.url, force: true });
      }
      const now = new Date();
      await writeFile(join(gitdir, 'grove-last-used'), now.toISOString());
      await utimes(gitdir, now, now);
      try {
        return await fn(gitdir);
      } finally {
        // Only a fetch grows the cache: reads of cached commits skip the size check.
        if (this.#fetched.delete(gitdir)) await this.#enforceBound(gitdir);
      }
    });
    this.#locks.set(gitdir, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(gitdir) === run) this.#locks.delete(gitdir);
    }
  }

  /** Removes least recently used repositories (never the one in use) while over the bound. */
  async #enforceBound(inUse: string): Promise<void> {
    const entries = await readdir(this.#opts.cacheDir).catch(() => [] as string[]);
    const repos = await Promise.all(
      entries.filter((e) => e.endsWith('.git')).map(async (e) => {
        const dir = join(this.#opts.cacheDir, e);
        return { dir, bytes: await du(dir), used: (await stat(dir)).mtimeMs };
      }),
    );
    let total = repos.reduce((sum, r) => sum + r.bytes, 0);
    for (const repo of repos.sort((a, b) => a.used - b.used)) {
      if (total <= this.#opts.maxCacheBytes) break;
      if (repo.dir === inUse || this.#locks.has(repo.dir)) continue;
      await rm(repo.dir, { recursive: true, force: true });
      total -= repo.bytes;
    }
  }

  async #wrap<T>(remote: GitRemote, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const refused = refusedIn(err);
      if (refused) throw new DestinationRefused(`cannot ${what} ${redact(remote.url)}: ${refused.message}`);
      const code = (err as { code?: string; data?: { statusCode?: number } }).code;
      const status = (err as { data?: { statusCode?: number } }).data?.statusCode;
      // With credentials, a refusal surfaces as the cancelled retry of onAuthFailure.
      const denied = status === 401 || status === 403 || code === 'UserCanceledError';
      const why = denied ? `access denied (HTTP ${status ?? 401}); check the repository credentials` : messageOf(err);
      throw new GroveError(code === 'NotFoundError' ? 'NotFound' : 'GitSource', `cannot ${what} ${redact(remote.url)}: ${redact(why)}`, { cause: err });
    }
  }
}

function auth(remote: GitRemote): AuthCallback | undefined {
  const c = remote.credentials;
  if (!c) return undefined;
  if (c.token) return () => ({ username: c.username ?? 'x-access-token', password: c.token });
  if (c.username !== undefined || c.password !== undefined) return () => ({ username: c.username ?? '', password: c.password ?? '' });
  return undefined;
}

/** Without this, isomorphic-git asks again forever when credentials are wrong. */
const cancel = (): { cancel: true } => ({ cancel: true });

/** Strips any userinfo from a URL before it is shown. */
function redact(text: string): string {
  return text.replace(/(https?:\/\/)[^/@\s]+@/g, '$1');
}

async function hasCommit(gitdir: string, oid: string): Promise<boolean> {
  try {
    await git.readCommit({ fs, gitdir, oid });
    return true;
  } catch {
    return false;
  }
}

async function du(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
