/**
 * What Grove asks of a Git host, as the host's own REST API says it: a commit status, the open
 * pull requests of a branch, and one comment per pull request, found again by a marker and edited
 * in place. GitHub, GitLab and Gitea differ in paths, words and payloads, not in what they can do,
 * so each is a table of request builders and response readers behind one interface. Pure: the
 * client (`client.ts`) sends what these build.
 *
 * @module
 */

export type HostType = 'github' | 'gitlab' | 'gitea';

/** Grove's words for a revision's state; each host has its own. */
export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  state: StatusState;
  /** Which check this is, e.g. `grove/shop-main`: one status per context and commit. */
  context: string;
  /** One line; hosts cut it at 140 characters (GitHub) or 255 (GitLab). */
  description: string;
  targetUrl?: string;
}

export interface PullRequest {
  number: number;
  title: string;
  author: string;
  /** The branch it proposes to merge, and the commit at its head. */
  head: { branch: string; sha: string };
  base: string;
  labels: string[];
  /** Opened from another repository: its head is not a branch of this one. */
  fromFork: boolean;
}

export interface Comment {
  id: number;
  body: string;
}

/** Where a repository's API is, and the repository in the host's terms. */
export interface HostRepo {
  type: HostType;
  /** The API's base URL, e.g. `https://api.github.com` or `https://git.example/api/v1`. */
  api: string;
  /** `owner/name` (GitLab: the project's full path, groups included). */
  path: string;
}

export interface HostRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  url: string;
  body?: Record<string, unknown>;
}

/** A status as the host shows it, in the host's own words for its state. */
export interface PostedStatus {
  id: number;
  context: string;
  state: string;
  description: string;
  targetUrl: string;
}

export interface HostApi {
  setStatus(repo: HostRepo, sha: string, status: CommitStatus): HostRequest;
  /** The statuses a commit has (every one posted, not only the latest of each context). */
  statuses(repo: HostRepo, sha: string, context: string): HostRequest;
  readStatuses(json: unknown): PostedStatus[];
  /** The open pull requests (GitLab: merge requests) whose source is `branch`, or all open ones without. */
  pullRequests(repo: HostRepo, branch?: string): HostRequest;
  readPullRequests(json: unknown): PullRequest[];
  comments(repo: HostRepo, number: number): HostRequest;
  readComments(json: unknown): Comment[];
  createComment(repo: HostRepo, number: number, body: string): HostRequest;
  editComment(repo: HostRepo, number: number, id: number, body: string): HostRequest;
  /** The Authorization header (or the host's own) for a token. */
  authorization(token: string): Record<string, string>;
  /** Headers every request carries. */
  headers: Record<string, string>;
}

/**
 * The host and API of a repository from its clone URL, unless `apiUrl` says where the API is (a
 * GitHub Enterprise or a Gitea served under a path). Throws on a URL that names no repository.
 */
export function hostRepo(type: HostType, repoUrl: string, apiUrl?: string): HostRepo {
  const url = new URL(repoUrl);
  const path = url.pathname.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (!path.includes('/')) throw new Error(`${repoUrl} names no repository (expected ${url.origin}/OWNER/NAME)`);
  const defaults: Record<HostType, string> = {
    github: url.hostname === 'github.com' ? 'https://api.github.com' : `${url.origin}/api/v3`,
    gitlab: `${url.origin}/api/v4`,
    gitea: `${url.origin}/api/v1`,
  };
  return { type, api: (apiUrl ?? defaults[type]).replace(/\/+$/, ''), path };
}

/** `/repos/owner/name`, each segment encoded. */
const repos = (repo: HostRepo): string => `${repo.api}/repos/${repo.path.split('/').map(encodeURIComponent).join('/')}`;

type Json = Record<string, unknown>;
const records = (json: unknown): Json[] => (Array.isArray(json) ? json.filter((x): x is Json => !!x && typeof x === 'object') : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const field = (v: unknown, key: string): unknown => (v && typeof v === 'object' ? (v as Json)[key] : undefined);

/** GitHub and Gitea share the shape of pull requests and issue comments (Gitea follows GitHub's API). */
function readGithubPulls(json: unknown): PullRequest[] {
  return records(json).map((pr) => ({
    number: Number(pr.number),
    title: text(pr.title),
    author: text(field(pr.user, 'login')),
    head: { branch: text(field(pr.head, 'ref')), sha: text(field(pr.head, 'sha')) },
    base: text(field(pr.base, 'ref')),
    labels: records(pr.labels).map((l) => text(l.name)),
    fromFork: text(field(field(pr.head, 'repo'), 'full_name')) !== text(field(field(pr.base, 'repo'), 'full_name')),
  }));
}
const readGithubStatuses = (json: unknown): PostedStatus[] =>
  records(json).map((st) => ({ id: Number(st.id), context: text(st.context), state: text(st.state ?? st.status), description: text(st.description), targetUrl: text(st.target_url) }));
const readIdBody = (json: unknown): Comment[] => records(json).map((c) => ({ id: Number(c.id), body: text(c.body) }));

const github: HostApi = {
  setStatus: (repo, sha, s) => ({
    method: 'POST',
    url: `${repos(repo)}/statuses/${sha}`,
    body: { state: s.state, context: s.context, description: s.description.slice(0, 140), ...(s.targetUrl ? { target_url: s.targetUrl } : {}) },
  }),
  statuses: (repo, sha) => ({ method: 'GET', url: `${repos(repo)}/commits/${sha}/statuses?per_page=100` }),
  readStatuses: readGithubStatuses,
  pullRequests: (repo, branch) => ({ method: 'GET', url: `${repos(repo)}/pulls?state=open&per_page=100${branch ? `&head=${encodeURIComponent(`${repo.path.split('/')[0]}:${branch}`)}` : ''}` }),
  readPullRequests: readGithubPulls,
  comments: (repo, n) => ({ method: 'GET', url: `${repos(repo)}/issues/${n}/comments?per_page=100` }),
  readComments: readIdBody,
  createComment: (repo, n, body) => ({ method: 'POST', url: `${repos(repo)}/issues/${n}/comments`, body: { body } }),
  editComment: (repo, _n, id, body) => ({ method: 'PATCH', url: `${repos(repo)}/issues/comments/${id}`, body: { body } }),
  authorization: (token) => ({ authorization: `Bearer ${token}` }),
  headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
};

const gitea: HostApi = {
  setStatus: (repo, sha, s) => ({
    method: 'POST',
    url: `${repos(repo)}/statuses/${sha}`,
    body: { state: s.state, context: s.context, description: s.description.slice(0, 255), ...(s.targetUrl ? { target_url: s.targetUrl } : {}) },
  }),
  statuses: (repo, sha) => ({ method: 'GET', url: `${repos(repo)}/commits/${sha}/statuses?limit=50` }),
  // Gitea names the state `status` in what it returns, and `state` in what it is sent.
  readStatuses: readGithubStatuses,
  // Gitea's list has no filter by head branch; the client keeps those of the branch.
  pullRequests: (repo) => ({ method: 'GET', url: `${repos(repo)}/pulls?state=open&limit=50` }),
  readPullRequests: readGithubPulls,
  comments: (repo, n) => ({ method: 'GET', url: `${repos(repo)}/issues/${n}/comments` }),
  readComments: readIdBody,
  createComment: (repo, n, body) => ({ method: 'POST', url: `${repos(repo)}/issues/${n}/comments`, body: { body } }),
  editComment: (repo, _n, id, body) => ({ method: 'PATCH', url: `${repos(repo)}/issues/comments/${id}`, body: { body } }),
  authorization: (token) => ({ authorization: `token ${token}` }),
  headers: { accept: 'application/json' },
};

/** GitLab's states: `running` while the Environment is being prepared, `failed` for failure and error alike. */
const GITLAB_STATES: Record<StatusState, string> = { pending: 'running', success: 'success', failure: 'failed', error: 'failed' };
const project = (repo: HostRepo): string => `${repo.api}/projects/${encodeURIComponent(repo.path)}`;

const gitlab: HostApi = {
  setStatus: (repo, sha, s) => ({
    method: 'POST',
    url: `${project(repo)}/statuses/${sha}`,
    body: { state: GITLAB_STATES[s.state], name: s.context, description: s.description.slice(0, 255), ...(s.targetUrl ? { target_url: s.targetUrl } : {}) },
  }),
  statuses: (repo, sha, context) => ({ method: 'GET', url: `${project(repo)}/repository/commits/${sha}/statuses?all=true&per_page=100&name=${encodeURIComponent(context)}` }),
  readStatuses: (json) => records(json).map((st) => ({ id: Number(st.id), context: text(st.name), state: text(st.status), description: text(st.description), targetUrl: text(st.target_url) })),
  pullRequests: (repo, branch) => ({ method: 'GET', url: `${project(repo)}/merge_requests?state=opened&per_page=100${branch ? `&source_branch=${encodeURIComponent(branch)}` : ''}` }),
  readPullRequests: (json) =>
    records(json).map((mr) => ({
      number: Number(mr.iid),
      title: text(mr.title),
      author: text(field(mr.author, 'username')),
      head: { branch: text(mr.source_branch), sha: text(mr.sha) },
      base: text(mr.target_branch),
      labels: Array.isArray(mr.labels) ? mr.labels.map(text) : [],
      fromFork: mr.source_project_id !== mr.target_project_id,
    })),
  comments: (repo, n) => ({ method: 'GET', url: `${project(repo)}/merge_requests/${n}/notes?per_page=100` }),
  readComments: readIdBody,
  createComment: (repo, n, body) => ({ method: 'POST', url: `${project(repo)}/merge_requests/${n}/notes`, body: { body } }),
  editComment: (repo, n, id, body) => ({ method: 'PUT', url: `${project(repo)}/merge_requests/${n}/notes/${id}`, body: { body } }),
  authorization: (token) => ({ 'private-token': token }),
  headers: { accept: 'application/json' },
};

export const HOST_APIS: Record<HostType, HostApi> = { github, gitlab, gitea };
