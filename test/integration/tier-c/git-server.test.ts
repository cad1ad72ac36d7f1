// Tier C: the Git smart-HTTP server is Git's own http-backend. isomorphic-git lists its branches
// over protocol v2 with a ref prefix, and reads one file at a given commit without a checkout.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cluster } from '../helpers.ts';

const run = promisify(execFile);
const author = ['-c', 'user.name=Test', '-c', 'user.email=test@example.com'];

let url: string;
let first: string;
let second: string;

beforeAll(async () => {
  const server = cluster().git;
  if (!server) throw new Error('tier C runs the Git server, but the cluster state has none');
  const name = `shop-${Date.now().toString(36)}`;
  url = `${server.url}/${name}.git`;
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', join(server.root, `${name}.git`)]);

  // Push with the real git client, through the server under test.
  const work = await mkdtemp(join(tmpdir(), 'grove-git-'));
  const g = (...args: string[]) => run('git', [...author, ...args], { cwd: work });
  await g('init', '--quiet', '-b', 'main');
  await writeFile(join(work, 'platform.yaml'), 'version: 1\napplications: {}\n');
  await g('add', '.');
  await g('commit', '--quiet', '-m', 'first');
  first = (await g('rev-parse', 'HEAD')).stdout.trim();
  await writeFile(join(work, 'platform.yaml'), 'version: 1\napplications:\n  web: { image: web:1 }\n');
  await g('commit', '--quiet', '-am', 'second');
  second = (await g('rev-parse', 'HEAD')).stdout.trim();
  await g('branch', 'feature/login', first);
  await g('tag', 'v1.0.0', first);
  await g('push', '--quiet', url, 'main', 'feature/login', 'v1.0.0');
});

async function accessLog(): Promise<Array<{ method: string; path: string; gitProtocol?: string; service?: string }>> {
  const text = await readFile(cluster().git!.accessLog, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { method: string; path: string; gitProtocol?: string; service?: string });
}

describe('the local Git server', () => {
  it('lists branches over protocol v2 with a refs/heads/ prefix', async () => {
    const before = (await accessLog()).length;
    const refs = await git.listServerRefs({ http, url, prefix: 'refs/heads/', protocolVersion: 2 });
    expect(refs.map((r) => [r.ref, r.oid])).toEqual([
      ['refs/heads/feature/login', first],
      ['refs/heads/main', second],
    ]);
    // The tag exists on the server; only a server-side prefix filter leaves it out.
    expect(refs.some((r) => r.ref.startsWith('refs/tags/'))).toBe(false);
    // The server logs a request when its git process exits, which can be just after the client has the answer.
    const ours = async () => (await accessLog()).slice(before).filter((r) => r.path.startsWith(new URL(url).pathname));
    await expect.poll(async () => (await ours()).some((r) => r.method === 'POST' && r.service === 'git-upload-pack'), { timeout: 5000 }).toBe(true);
    for (const r of await ours()) expect(r.gitProtocol).toBe('version=2');
  });

  it('reads platform.yaml at a given commit without a checkout', async () => {
    const gitdir = await mkdtemp(join(tmpdir(), 'grove-gitdir-'));
    await git.init({ fs, gitdir, bare: true });
    await git.addRemote({ fs, gitdir, remote: 'origin', url });
    await git.fetch({ fs, http, gitdir, remote: 'origin', ref: 'main', singleBranch: true, depth: 2, tags: false });

    const at = async (oid: string) => Buffer.from((await git.readBlob({ fs, gitdir, oid, filepath: 'platform.yaml' })).blob).toString('utf8');
    expect(await at(second)).toBe('version: 1\napplications:\n  web: { image: web:1 }\n');
    expect(await at(first)).toBe('version: 1\napplications: {}\n');
    // Nothing was checked out: the bare gitdir holds objects only.
    expect(fs.existsSync(join(gitdir, 'platform.yaml'))).toBe(false);
  });
});
