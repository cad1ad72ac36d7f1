import { describe, expect, it } from 'vitest';
import type { Environment, Project, Rehearsal } from '../api/index.ts';
import { commentMarker, denialReports, environmentComment, rehearsalReport, revisionReport } from './report.ts';

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

describe('rehearsalReport and the comment', () => {
  const rehearsal = (result?: NonNullable<Rehearsal['status']>['result']): Rehearsal => ({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Rehearsal',
    metadata: { name: 'shop-rehearse-aaaaaaaaaaaa', namespace: 'team' },
    spec: { project: 'shop', branch: 'agent/login' },
    status: { revision: REV, parent: 'shop-main', ...(result ? { result } : {}) },
  });
  const diff = '@@\n CREATE TABLE public.customers (\n-    email text NOT NULL\n+    email text NOT NULL,\n+    loyalty_points integer DEFAULT 0 NOT NULL';

  it('is pending while it runs, then says how the migration went in its own context', () => {
    expect(rehearsalReport(rehearsal())?.status).toEqual({ state: 'pending', context: 'grove/rehearsal', description: "Rehearsing the migration on a copy of shop-main's data" });
    expect(rehearsalReport(rehearsal({ succeeded: true, durationSeconds: 2.34, schema: [{ service: 'db', changed: true, added: 2, removed: 1, diff }] }))?.status).toEqual({
      state: 'success',
      context: 'grove/rehearsal',
      description: 'Migration passed in 2.3s; schema: db +2 −1',
    });
    expect(rehearsalReport(rehearsal({ succeeded: false, durationSeconds: 1, message: 'The deploy hook failed: shop migrate: column "email" already exists', output: 'exit code 1: …' }))?.status).toEqual({
      state: 'failure',
      context: 'grove/rehearsal',
      description: 'Migration failed in 1.0s: The deploy hook failed: shop migrate: column "email" already exists',
    });
    expect(rehearsalReport({ ...rehearsal(), status: {} })).toBeUndefined();
  });

  it("adds the rehearsal of the Environment's revision to its comment, the diff fenced and a failure's output shown", () => {
    const ready = env([{ type: 'Ready', status: 'True' }], { observedRevision: REV });
    const report = revisionReport(ready)!;
    const passed = environmentComment(ready, report, rehearsal({ succeeded: true, durationSeconds: 2, schema: [{ service: 'db', changed: true, added: 2, removed: 1, diff }] }));
    expect(passed).toContain('#### Migration rehearsal of `aaaaaaaaaaaa` on a copy of `shop-main`: passed');
    expect(passed).toContain(`<summary>Schema of db: +2 −1 lines</summary>\n\n\`\`\`diff\n${diff}\n\`\`\``);
    const failed = environmentComment(ready, report, rehearsal({ succeeded: false, message: 'The deploy hook failed: boom', output: 'Running statement 1\n```\nboom' }));
    // The output holds a fence of its own: the block's is longer, so it cannot be closed early.
    expect(failed).toContain('Output of the deploy hook:\n\n````text\nRunning statement 1\n```\nboom\n````');
    // A rehearsal of another revision is not this comment's.
    expect(environmentComment(ready, report, { ...rehearsal({ succeeded: true }), status: { revision: OLD, result: { succeeded: true } } })).not.toContain('rehearsal');
  });

  it('reports nothing for the rehearsal\'s own Environment', () => {
    const copy = env([{ type: 'Ready', status: 'True' }], { observedRevision: REV });
    copy.metadata.labels = { 'grove.dev/rehearsal': 'shop-rehearse-aaaaaaaaaaaa' };
    expect(revisionReport(copy)).toBeUndefined();
  });
});
