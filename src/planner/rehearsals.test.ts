import { describe, expect, it } from 'vitest';
import type { Project } from '../api/index.ts';
import type { OpenPullRequest } from './branches.ts';
import { requestedRehearsals } from './rehearsals.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const project = (label?: string): Project => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'shop', namespace: 'team', uid: 'p-1' },
  spec: { repo: { url: 'https://git.example.com/shop.git' }, ...(label ? { gitHost: { type: 'gitea', secretRef: { name: 'host' } }, rehearsals: { label } } : {}) },
});
const pr = (number: number, over: Partial<OpenPullRequest> = {}): OpenPullRequest => ({ number, title: 't', author: 'ada', head: { branch: 'agent/loyalty', sha: B }, base: 'main', labels: ['grove/rehearse'], fromFork: false, ...over });
const branches = new Map([['main', A], ['agent/loyalty', B]]);

describe('requestedRehearsals', () => {
  it('rehearses a head whose commit asks for it, attributed as the commit says, owned by the Project', () => {
    const [r, ...rest] = requestedRehearsals({ project: project(), branches, steering: new Map([['agent/loyalty', { rehearse: true, agent: 'coder-7', problems: [] }], ['main', { problems: [] }]]) });
    expect(rest).toEqual([]);
    expect(r).toMatchObject({
      metadata: { name: `shop-rehearse-${B.slice(0, 12)}`, namespace: 'team', annotations: { 'grove.dev/agent': 'coder-7' }, ownerReferences: [{ kind: 'Project', name: 'shop', uid: 'p-1' }] },
      spec: { project: 'shop', branch: 'agent/loyalty', revision: B },
    });
  });

  it('rehearses the head of each labelled pull request from the repository, once per revision', () => {
    const listed = [pr(7), pr(8, { labels: ['other'] }), pr(9, { fromFork: true }), pr(10, { head: { branch: 'agent/loyalty', sha: B } })];
    const wanted = requestedRehearsals({ project: project('grove/rehearse'), branches, steering: new Map([['agent/loyalty', { rehearse: true, problems: [] }]]), pullRequests: listed });
    // The trailer and two pull requests ask for the same revision: one Rehearsal.
    expect(wanted.map((r) => [r.metadata.name, r.spec.pullRequest])).toEqual([[`shop-rehearse-${B.slice(0, 12)}`, undefined]]);
    expect(requestedRehearsals({ project: project('grove/rehearse'), branches, steering: new Map(), pullRequests: listed }).map((r) => r.spec.pullRequest)).toEqual([7]);
  });

  it('asks for nothing without a label or a trailer', () => {
    expect(requestedRehearsals({ project: project(), branches, steering: new Map(), pullRequests: [pr(7)] })).toEqual([]);
  });
});
