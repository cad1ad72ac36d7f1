/**
 * A Git host's API, as Grove uses it: commit statuses posted only when the host does not already
 * show them, pull requests of a branch, and one comment per pull request kept up to date. What
 * the host shows is the record of what was delivered, so a restart (or a second replica) never
 * posts the same status or comment twice. Every connection goes where the operator's outbound
 * policy allows, with a deadline.
 *
 * @module
 */
import { type Dispatcher, fetch } from 'undici';
import { GroveError } from '../errors/index.ts';
import { type CommitStatus, type HostApi, type HostRepo, type HostRequest, HOST_APIS, type PullRequest } from './requests.ts';

export interface GitHost {
  /** Posts `status` for `sha` unless the host's latest status of that context says the same; true when it posted. */
  report(sha: string, status: CommitStatus): Promise<boolean>;
  /** The open pull requests whose head is `branch` in this repository. */
  pullRequests(branch: string): Promise<PullRequest[]>;
  /** Every open pull request (the first hundred: GitHub's and GitLab's page; Gitea's fifty). */
  openPullRequests(): Promise<PullRequest[]>;
  /** Keeps one comment holding `marker` on pull request `number` saying `body`. */
  comment(number: number, marker: string, body: string): Promise<'created' | 'edited' | 'unchanged'>;
}

export interface GitHostOptions {
  repo: HostRepo;
  token: string;
  /** Where connections may go (the operator's outbound policy). */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  /** The clock, for rate limits that say when they reset. */
  now?: () => number;
}

/** A failed request to the host: its status and what it said, never the token. */
export class GitHostError extends GroveError {
  readonly status: number;
  /** Seconds the host asks to wait (Retry-After, or a rate limit's reset). */
  readonly retryAfterSeconds?: number;
  constructor(status: number, message: string, retryAfterSeconds?: number) {
    super('GitHost', message);
    this.name = 'GitHostError';
    this.status = status;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function gitHost(opts: GitHostOptions): GitHost {
  const api: HostApi = HOST_APIS[opts.repo.type];
  const { repo } = opts;
  async function send(req: HostRequest): Promise<unknown> {
    const res = await fetch(req.url, {
      method: req.method,
      headers: { ...api.headers, ...api.authorization(opts.token), ...(req.body ? { 'content-type': 'application/json' } : {}), 'user-agent': 'grove' },
      ...(req.body ? { body: JSON.stringify(req.body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
    const body = await res.text();
    if (!res.ok) {
      const where = `${req.method} ${new URL(req.url).pathname}`;
      throw new GitHostError(res.status, `${repo.type} answered ${res.status} to ${where}: ${body.slice(0, 300).trim()}`, retryAfter(res.headers, (opts.now ?? Date.now)()));
    }
    return body ? JSON.parse(body) : undefined;
  }
  return {
    async report(sha, status) {
      const wanted = api.setStatus(repo, sha, status);
      const posted = api.readStatuses(await send(api.statuses(repo, sha, status.context))).filter((s) => s.context === status.context);
      const latest = posted.sort((a, b) => b.id - a.id)[0];
      const body = wanted.body as { state: string; description: string; target_url?: string };
      if (latest && latest.state === body.state && latest.description === body.description && latest.targetUrl === (body.target_url ?? '')) return false;
      await send(wanted);
      return true;
    },
    async pullRequests(branch) {
      return api.readPullRequests(await send(api.pullRequests(repo, branch))).filter((pr) => pr.head.branch === branch && !pr.fromFork);
    },
    async openPullRequests() {
      return api.readPullRequests(await send(api.pullRequests(repo)));
    },
    async comment(number, marker, body) {
      const text = `${body}\n\n${marker}`;
      const mine = api.readComments(await send(api.comments(repo, number))).find((c) => c.body.includes(marker));
      if (!mine) {
        await send(api.createComment(repo, number, text));
        return 'created';
      }
      if (mine.body.trim() === text.trim()) return 'unchanged';
      await send(api.editComment(repo, number, mine.id, text));
      return 'edited';
    },
  };
}

/** Retry-After in seconds, or the wait until GitHub's or GitLab's rate limit resets. */
function retryAfter(headers: Headers, now: number): number | undefined {
  const after = headers.get('retry-after');
  if (after && /^\d+$/.test(after)) return Number(after);
  const reset = headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset');
  if (reset && /^\d+$/.test(reset) && headers.get('x-ratelimit-remaining') === '0') return Math.max(1, Number(reset) - Math.floor(now / 1000));
  return undefined;
}
