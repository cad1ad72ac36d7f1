import { describe, expect, it } from 'vitest';
import type { Environment, Project } from '../api/index.ts';
import { commentMarker, denialReports, environmentComment, revisionReport } from './report.ts';

const REV = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
type Cond = { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; observedGeneration?: number };

function env(conditions: Cond[], status: Partial<NonNullable<Environment['status']>> = {}, generation = 3): Environment {
  return {
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Environment',
    metadata: { name: 'shop-agent-login', namespace: 'team', generation },
    spec: { project: 'shop', branch: 'agent/login', revision: REV },
    status: { conditions: conditions.map((c) => ({ lastTransitionTime: '2026-12-04T10:00:00Z', reason: 'R', message: '', observedGeneration: generation, ...c })), ...status },
  };
}

describe('revisionReport', () => {
  it('is pending while the Environment is being prepared, with one line that does not move', () => {
    const a = revisionReport(env([{ type: 'Ready', status: 'False', message: 'Cloning db' }]));
    const b = revisionReport(env([{ type: 'Ready', status: 'False', message: 'Waiting for web' }]));
    expect(a).toEqual({ revision: REV, status: { state: 'pending', context: 'grove/shop-agent-login', description: 'Grove is preparing Environment shop-agent-login' } });
    expect(b).toEqual(a);
  });

  it('is pending while the status speaks of an older generation, even if it said Ready', () => {
    expect(revisionReport(env([{ type: 'Ready', status: 'True', observedGeneration: 2 }], { observedRevision: REV }))?.status.state).toBe('pending');
    // Ready, but at the revision before this push.
    expect(revisionReport(env([{ type: 'Ready', status: 'True' }], { observedRevision: OLD }))?.status.state).toBe('pending');
  });

  it('succeeds with the URL once Ready at the revision', () => {
    expect(revisionReport(env([{ type: 'Ready', status: 'True' }], { observedRevision: REV, urls: [{ name: 'web', url: 'http://shop-agent-login.example.dev' }] }))?.status).toEqual({
      state: 'success',
      context: 'grove/shop-agent-login',
      description: 'Environment shop-agent-login is ready at http://shop-agent-login.example.dev',
      targetUrl: 'http://shop-agent-login.example.dev',
    });
  });

  it('fails with the first manifest error and its position', () => {
    const message = '2 errors at aaaaaaaaaaaa:\nplatform.yaml:3:3: applications.web.image: is required\nplatform.yaml:3:10: applications.web.imgae: unknown field; did you mean "image"?';
    expect(revisionReport(env([{ type: 'ManifestValid', status: 'False', reason: 'ManifestInvalid', message }, { type: 'Ready', status: 'True' }], { observedRevision: OLD }))?.status).toEqual({
      state: 'failure',
      context: 'grove/shop-agent-login',
      description: 'platform.yaml:3:3: applications.web.image: is required (and 1 more)',
    });
    expect(revisionReport(env([{ type: 'ManifestValid', status: 'False', message: 'platform.yaml does not exist at aaaa' }]))?.status.description).toBe('platform.yaml does not exist at aaaa');
  });

  it('fails when stalled, saying why', () => {
    expect(revisionReport(env([{ type: 'Ready', status: 'False' }, { type: 'Stalled', status: 'True', reason: 'PolicyDenied', message: 'resourceCeilingExceeded: asks for 4 CPUs\nmore' }]))?.status).toMatchObject({
      state: 'failure',
      description: 'PolicyDenied: resourceCeilingExceeded: asks for 4 CPUs',
    });
  });

  it('says nothing of an Environment without a revision or being deleted', () => {
    const pinned = env([]);
    expect(revisionReport({ ...pinned, spec: { ...pinned.spec, revision: undefined } })).toBeUndefined();
    expect(revisionReport({ ...pinned, metadata: { ...pinned.metadata, deletionTimestamp: '2026-12-04T10:00:00Z' } })).toBeUndefined();
  });
});

describe('environmentComment', () => {
  it('sums up URL, state, data lineage and expiry in a table', () => {
    const ready = env([{ type: 'Ready', status: 'True' }], {
      observedRevision: REV,
      urls: [{ name: 'web', url: 'http://shop-agent-login.example.dev' }],
      lineage: [{ volume: 'db', source: 'snapshot', parent: 'shop-main', time: '2026-12-04T09:59:00Z' }],
      expiresAt: '2026-12-07T10:00:00Z',
    });
    const body = environmentComment(ready, revisionReport(ready)!);
    expect(body).toBe(
      [
        '### Grove: Environment `shop-agent-login` — Ready',
        '',
        '| | |',
        '|---|---|',
        '| Revision | `aaaaaaaaaaaa` |',
        '| State | Ready |',
        '| URL (web) | http://shop-agent-login.example.dev |',
        '| Data: db | snapshot of shop-main at 2026-12-04T09:59:00Z |',
        '| Expires | 2026-12-07T10:00:00Z |',
      ].join('\n'),
    );
    expect(commentMarker(ready)).toBe('<!-- grove:environment team/shop-agent-login -->');
  });

  it('says Preparing without the progress, which would edit the comment at every step', () => {
    const preparing = env([{ type: 'Ready', status: 'False', message: 'Cloning db' }]);
    expect(environmentComment(preparing, revisionReport(preparing)!)).toContain('| State | Preparing |');
  });

  it('names the failure, on one line', () => {
    const broken = env([{ type: 'ManifestValid', status: 'False', message: '1 error at aaaa:\nplatform.yaml:2:1: version: must be 1' }]);
    expect(environmentComment(broken, revisionReport(broken)!)).toContain('| State | Failed: platform.yaml:2:1: version: must be 1 |');
  });
});

describe('denialReports', () => {
  it('fails the refused head of each denied branch, in the context its Environment would have had', () => {
    const project = {
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'shop', namespace: 'team' },
      spec: { repo: { url: 'http://git/shop.git' } },
      status: {
        denied: [
          { branch: 'other/x', revision: REV, rule: 'branchNotAllowed', message: 'branchNotAllowed: branch other/x matches none of policy.humanBranches (feature/*) for pushes without an agent' },
          { branch: 'no-head', message: 'environmentLimitReached: …' },
        ],
      },
    } as Project;
    expect(denialReports(project)).toEqual([
      { revision: REV, status: { state: 'failure', context: 'grove/shop-other-x-0c39f05a', description: 'Not admitted: branchNotAllowed: branch other/x matches none of policy.humanBranches (feature/*) for pushes without an agent' } },
    ]);
  });
});
