// The request shapes of each Git host, against the payloads their API documentation gives:
// GitHub REST (repos/statuses, pulls, issues/comments), GitLab v4 (commits/statuses,
// merge_requests, notes) and Gitea v1 (repos/statuses, pulls, issues/comments).
import { describe, expect, it } from 'vitest';
import { HOST_APIS, hostRepo } from './requests.ts';

const status = { state: 'success' as const, context: 'grove/shop-main', description: 'Ready at https://shop-main.example.dev', targetUrl: 'https://shop-main.example.dev' };
const sha = '5f1c0a9e2b7d5f1c0a9e2b7d5f1c0a9e2b7d5f1c';

describe('hostRepo', () => {
  it('finds the API from the clone URL, or takes the one given', () => {
    expect(hostRepo('github', 'https://github.com/acme/shop.git')).toEqual({ type: 'github', api: 'https://api.github.com', path: 'acme/shop' });
    expect(hostRepo('github', 'https://ghe.acme.dev/acme/shop')).toMatchObject({ api: 'https://ghe.acme.dev/api/v3' });
    expect(hostRepo('gitlab', 'https://gitlab.com/acme/shops/web.git')).toEqual({ type: 'gitlab', api: 'https://gitlab.com/api/v4', path: 'acme/shops/web' });
    expect(hostRepo('gitea', 'http://127.0.0.1:3000/grove/shop.git')).toEqual({ type: 'gitea', api: 'http://127.0.0.1:3000/api/v1', path: 'grove/shop' });
    expect(hostRepo('gitea', 'https://git.acme.dev/gitea/grove/shop.git', 'https://git.acme.dev/gitea/api/v1/')).toMatchObject({ api: 'https://git.acme.dev/gitea/api/v1', path: 'gitea/grove/shop' });
    expect(() => hostRepo('gitea', 'https://git.acme.dev/shop.git')).toThrow('names no repository (expected https://git.acme.dev/OWNER/NAME)');
  });
});

describe('GitHub', () => {
  const api = HOST_APIS.github;
  const repo = hostRepo('github', 'https://github.com/acme/shop.git');
  it('creates a commit status (POST /repos/{owner}/{repo}/statuses/{sha})', () => {
    expect(api.setStatus(repo, sha, status)).toEqual({
      method: 'POST',
      url: `https://api.github.com/repos/acme/shop/statuses/${sha}`,
      body: { state: 'success', context: 'grove/shop-main', description: 'Ready at https://shop-main.example.dev', target_url: 'https://shop-main.example.dev' },
    });
    expect((api.setStatus(repo, sha, { ...status, description: 'x'.repeat(300) }).body?.description as string).length).toBe(140);
    expect(api.headers).toEqual({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
    expect(api.authorization('t0ken')).toEqual({ authorization: 'Bearer t0ken' });
  });
  it('lists the open pull requests of a branch (head=owner:branch) and reads them', () => {
    expect(api.pullRequests(repo, 'agent/login').url).toBe('https://api.github.com/repos/acme/shop/pulls?state=open&per_page=100&head=acme%3Aagent%2Flogin');
    const repoOf = (fullName: string) => ({ full_name: fullName });
    const documented = [
      { number: 1347, state: 'open', title: 'Amazing new feature', user: { login: 'octocat' }, labels: [{ id: 208045946, name: 'bug' }], head: { ref: 'new-topic', sha: '6dcb09b5b57875f334f61aebed695e2e4193db5e', repo: repoOf('octocat/Hello-World') }, base: { ref: 'master', repo: repoOf('octocat/Hello-World') } },
      { number: 1348, state: 'open', title: 'From a fork', user: { login: 'hubot' }, labels: [], head: { ref: 'new-topic', sha: '1'.repeat(40), repo: repoOf('hubot/Hello-World') }, base: { ref: 'master', repo: repoOf('octocat/Hello-World') } },
    ];
    expect(api.readPullRequests(documented)).toEqual([
      { number: 1347, title: 'Amazing new feature', author: 'octocat', head: { branch: 'new-topic', sha: '6dcb09b5b57875f334f61aebed695e2e4193db5e' }, base: 'master', labels: ['bug'], fromFork: false },
      { number: 1348, title: 'From a fork', author: 'hubot', head: { branch: 'new-topic', sha: '1'.repeat(40) }, base: 'master', labels: [], fromFork: true },
    ]);
  });
  it('lists, creates and edits issue comments', () => {
    expect(api.comments(repo, 7)).toEqual({ method: 'GET', url: 'https://api.github.com/repos/acme/shop/issues/7/comments?per_page=100' });
    expect(api.readComments([{ id: 1, node_id: 'MDEy', body: 'Me too', user: { login: 'octocat' } }])).toEqual([{ id: 1, body: 'Me too' }]);
    expect(api.createComment(repo, 7, 'hi')).toEqual({ method: 'POST', url: 'https://api.github.com/repos/acme/shop/issues/7/comments', body: { body: 'hi' } });
    expect(api.editComment(repo, 7, 42, 'hi again')).toEqual({ method: 'PATCH', url: 'https://api.github.com/repos/acme/shop/issues/comments/42', body: { body: 'hi again' } });
  });
});

describe('GitLab', () => {
  const api = HOST_APIS.gitlab;
  const repo = hostRepo('gitlab', 'https://gitlab.com/acme/shops/web.git');
  it('sets a commit status (POST /projects/:id/statuses/:sha) in its own words', () => {
    expect(api.setStatus(repo, sha, status)).toEqual({
      method: 'POST',
      url: `https://gitlab.com/api/v4/projects/acme%2Fshops%2Fweb/statuses/${sha}`,
      body: { state: 'success', name: 'grove/shop-main', description: 'Ready at https://shop-main.example.dev', target_url: 'https://shop-main.example.dev' },
    });
    expect(api.setStatus(repo, sha, { ...status, state: 'pending' }).body?.state).toBe('running');
    expect(api.setStatus(repo, sha, { ...status, state: 'failure' }).body?.state).toBe('failed');
    expect(api.setStatus(repo, sha, { ...status, state: 'error' }).body?.state).toBe('failed');
    expect(api.authorization('glpat-x')).toEqual({ 'private-token': 'glpat-x' });
  });
  it('lists open merge requests by source branch and reads them', () => {
    expect(api.pullRequests(repo, 'agent/login').url).toBe('https://gitlab.com/api/v4/projects/acme%2Fshops%2Fweb/merge_requests?state=opened&per_page=100&source_branch=agent%2Flogin');
    const documented = [
      { id: 1, iid: 1, project_id: 3, title: 'test1', state: 'opened', target_branch: 'main', source_branch: 'test1', source_project_id: 3, target_project_id: 3, author: { id: 1, username: 'admin' }, labels: ['Community contribution', 'Manage'], sha: '8888888888888888888888888888888888888888' },
      { id: 2, iid: 2, project_id: 3, title: 'forked', state: 'opened', target_branch: 'main', source_branch: 'test1', source_project_id: 9, target_project_id: 3, author: { id: 2, username: 'guest' }, labels: [], sha: '9'.repeat(40) },
    ];
    expect(api.readPullRequests(documented)).toEqual([
      { number: 1, title: 'test1', author: 'admin', head: { branch: 'test1', sha: '8888888888888888888888888888888888888888' }, base: 'main', labels: ['Community contribution', 'Manage'], fromFork: false },
      { number: 2, title: 'forked', author: 'guest', head: { branch: 'test1', sha: '9'.repeat(40) }, base: 'main', labels: [], fromFork: true },
    ]);
  });
  it('lists, creates and edits merge request notes', () => {
    expect(api.comments(repo, 3).url).toBe('https://gitlab.com/api/v4/projects/acme%2Fshops%2Fweb/merge_requests/3/notes?per_page=100');
    expect(api.readComments([{ id: 302, body: 'closed', author: { username: 'pipin' }, system: true }])).toEqual([{ id: 302, body: 'closed' }]);
    expect(api.createComment(repo, 3, 'hi')).toEqual({ method: 'POST', url: 'https://gitlab.com/api/v4/projects/acme%2Fshops%2Fweb/merge_requests/3/notes', body: { body: 'hi' } });
    expect(api.editComment(repo, 3, 302, 'hi again')).toEqual({ method: 'PUT', url: 'https://gitlab.com/api/v4/projects/acme%2Fshops%2Fweb/merge_requests/3/notes/302', body: { body: 'hi again' } });
  });
});

describe('Gitea', () => {
  const api = HOST_APIS.gitea;
  const repo = hostRepo('gitea', 'http://127.0.0.1:3000/grove/shop.git');
  it('creates a commit status and authorizes with its token scheme', () => {
    expect(api.setStatus(repo, sha, { ...status, state: 'pending' })).toEqual({
      method: 'POST',
      url: `http://127.0.0.1:3000/api/v1/repos/grove/shop/statuses/${sha}`,
      body: { state: 'pending', context: 'grove/shop-main', description: 'Ready at https://shop-main.example.dev', target_url: 'https://shop-main.example.dev' },
    });
    expect(api.authorization('abc')).toEqual({ authorization: 'token abc' });
  });
  it('lists open pull requests and comments as GitHub does', () => {
    expect(api.pullRequests(repo, 'agent/login').url).toBe('http://127.0.0.1:3000/api/v1/repos/grove/shop/pulls?state=open&limit=50');
    expect(api.readPullRequests([{ number: 2, title: 'Login', user: { login: 'coder' }, head: { ref: 'agent/login', sha }, base: { ref: 'main' }, labels: [] }])[0]).toMatchObject({ number: 2, head: { branch: 'agent/login' } });
    expect(api.editComment(repo, 2, 9, 'b')).toEqual({ method: 'PATCH', url: 'http://127.0.0.1:3000/api/v1/repos/grove/shop/issues/comments/9', body: { body: 'b' } });
  });
});
