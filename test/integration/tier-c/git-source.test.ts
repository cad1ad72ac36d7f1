// Grove's Git source against the real git http-backend: branch listing, files at a commit
// fetched shallow, credentials, an unreachable server, and the bounded cache.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroveError } from '../../../src/errors/index.ts';
import { createGitServer } from '../../../local/git-server.ts';
import { GitSource } from '../../../src/source/git/index.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster } from '../helpers.ts';

const uniq = () => Math.random().toString(36).slice(2, 8);
let url: string;
const sha: Record<string, string> = {};

beforeAll(async () => {
  const server = cluster().git!;
  const name = `source-${uniq()}`;
  const repo = await createRepo(server.root, name);
  sha.first = await repo.commit('main', { 'platform.yaml': 'version: 1\n' }, 'First');
  sha.second = await repo.commit('main', { 'platform.yaml': 'version: 1\napplications: {}\n' }, 'Second');
  sha.feature = await repo.commit('feature/login', { 'README.md': 'login\n' }, 'Login page\n\nGrove-Agent: coder-7\nOn-Behalf-Of: ada@example.com');
  sha.other = await repo.commit('other', { 'x.txt': 'x' });
  await repo.push();
  url = `${server.url}/${name}.git`;
});

async function source(opts: { maxCacheBytes?: number; timeoutMs?: number } = {}) {
  const cacheDir = await mkdtemp(join(tmpdir(), 'grove-gitcache-'));
  return { cacheDir, git: new GitSource({ cacheDir, ...opts }) };
}

describe('GitSource', () => {
  it('lists every branch with its head commit', async () => {
    const { git } = await source();
    expect(Object.fromEntries(await git.listBranches({ url }))).toEqual({ main: sha.second, 'feature/login': sha.feature, other: sha.other });
  });

  it('reads a file at a branch head, fetching only that branch, shallow, without a checkout', async () => {
    const { git, cacheDir } = await source();
    expect(await git.readFile({ url }, { branch: 'feature/login', commit: sha.feature! }, 'platform.yaml')).toBe('version: 1\napplications: {}\n');
    const [gitdir] = await readdir(cacheDir);
    const refs = await readdir(join(cacheDir, gitdir!, 'refs', 'remotes', 'origin'), { recursive: true });
    expect(refs.filter((r) => !r.endsWith('feature'))).toEqual(['feature/login']);
    expect(await readFile(join(cacheDir, gitdir!, 'shallow'), 'utf8')).toContain(sha.feature);
    expect(existsSync(join(cacheDir, gitdir!, 'platform.yaml'))).toBe(false);
  });

  it('reads a file at an older, pinned commit of a branch', async () => {
    const { git } = await source();
    expect(await git.readFile({ url }, { branch: 'main', commit: sha.first! }, 'platform.yaml')).toBe('version: 1\n');
  });

  it('answers undefined for a file the commit does not have', async () => {
    const { git } = await source();
    expect(await git.readFile({ url }, { branch: 'main', commit: sha.second! }, 'missing.yaml')).toBeUndefined();
  });

  it('reads the commit message for trailers', async () => {
    const { git } = await source();
    const commit = await git.readCommit({ url }, { branch: 'feature/login', commit: sha.feature! });
    expect(commit.message).toContain('Grove-Agent: coder-7');
    expect(commit.author.email).toBe('test@example.com');
  });

  it('says clearly when a commit does not exist', async () => {
    const { git } = await source();
    const err = await git.readFile({ url }, { branch: 'main', commit: 'f'.repeat(40) }, 'platform.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroveError);
    expect((err as GroveError).code).toBe('NotFound');
    expect((err as Error).message).toContain(`commit ${'f'.repeat(40)} is not on branch main`);
  });

  it('reports an unreachable server as a GitSource error', async () => {
    const { git } = await source();
    const err = await git.listBranches({ url: 'http://127.0.0.1:9/nothing.git' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroveError);
    expect((err as GroveError).code).toBe('GitSource');
    expect((err as Error).message).toMatch(/^cannot list the branches of http:\/\/127\.0\.0\.1:9\/nothing\.git: /);
  });

  it('keeps the object cache under its size bound, dropping the least recently used repository', async () => {
    const server = cluster().git!;
    const name = `bound-${uniq()}`;
    const repo = await createRepo(server.root, name);
    const head = await repo.commit('main', { 'platform.yaml': 'version: 1\n' });
    await repo.push();
    const { git, cacheDir } = await source({ maxCacheBytes: 1 });
    await git.readFile({ url }, { branch: 'main', commit: sha.second! }, 'platform.yaml');
    expect(await readdir(cacheDir)).toHaveLength(1);
    await git.readFile({ url: `${server.url}/${name}.git` }, { branch: 'main', commit: head }, 'platform.yaml');
    expect(await readdir(cacheDir)).toHaveLength(1); // the first repository was evicted
    // An evicted repository is fetched again when needed.
    expect(await git.readFile({ url }, { branch: 'main', commit: sha.second! }, 'platform.yaml')).toContain('version: 1');
  });
});

describe('GitSource with credentials', () => {
  let authUrl: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const server = createGitServer({ root: cluster().git!.root, auth: { username: 'x-access-token', password: 's3cret-token' } });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    authUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${new URL(url).pathname.slice(1)}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(async () => close());

  it('lists branches with a token', async () => {
    const { git } = await source();
    expect((await git.listBranches({ url: authUrl, credentials: { token: 's3cret-token' } })).get('main')).toBe(sha.second);
  });

  it('refuses without credentials or with wrong ones, and never shows the secret', async () => {
    const { git } = await source();
    for (const credentials of [undefined, { token: 'wrong-token' }, { username: 'x-access-token', password: 'not-it' }]) {
      const err: unknown = await git.listBranches({ url: authUrl, ...(credentials ? { credentials } : {}) }).then(() => undefined, (e: unknown) => e);
      if (!(err instanceof GroveError)) throw new Error(`expected a GroveError, got ${String(err)}`);
      expect(err.message).toContain('access denied (HTTP 401); check the repository credentials');
      expect(err.message).not.toMatch(/wrong-token|not-it|s3cret/);
    }
  });
});
