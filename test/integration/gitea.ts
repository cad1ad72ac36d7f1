// The local cluster's Gitea, as tests use it: its REST API as the seeded administrator, and
// repositories created there and filled by the git command line over HTTP.
import { randomBytes } from 'node:crypto';
import { type RepoBuilder, repoBuilder } from './git-fixtures.ts';
import { cluster } from './helpers.ts';

/** Gitea's API as its administrator; throws on an answer that is not 2xx. */
export async function gitea<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const { url, token } = cluster().gitea!;
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `token ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Gitea answered ${res.status} to ${method} ${path}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface GiteaRepo extends RepoBuilder {
  /** `owner/name`. */
  path: string;
  /** The clone URL a Project names (no credentials: the repository is public). */
  cloneUrl: string;
}

/** A new public repository of the administrator, and a work tree that pushes to it. */
export async function createGiteaRepo(prefix: string): Promise<GiteaRepo> {
  const { url, username, token } = cluster().gitea!;
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await gitea('POST', '/user/repos', { name, private: false, default_branch: 'main', auto_init: false });
  const remote = new URL(`${url}/${username}/${name}.git`);
  remote.username = username;
  remote.password = token;
  return { ...(await repoBuilder(remote.toString())), path: `${username}/${name}`, cloneUrl: `${url}/${username}/${name}.git` };
}

/** A webhook of the repository to `target` for pushes and pull requests, signed with `secret`. */
export async function addWebhook(repo: string, target: string, secret: string): Promise<void> {
  await gitea('POST', `/repos/${repo}/hooks`, { type: 'gitea', active: true, events: ['push', 'pull_request'], config: { url: target, content_type: 'json', secret } });
}

/** Gitea records pushed branches from a queue: waits until its API knows `branch`, and returns its head. */
export async function branchHead(repo: string, branch: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    try {
      return (await gitea<{ commit: { id: string } }>('GET', `/repos/${repo}/branches/${encodeURIComponent(branch)}`)).commit.id;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`Gitea never listed branch ${branch} of ${repo}`);
}
