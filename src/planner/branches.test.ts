import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, type Environment, environmentName, LABELS, type Project, type ProjectSpec } from '../api/index.ts';
import type { Steering } from '../source/git/index.ts';
import { alreadyApplied, desiredEnvironments, lockdownChanges, type OpenPullRequest } from './branches.ts';

const sha = (n: number) => n.toString(16).padStart(40, '0');

function project(spec: Partial<ProjectSpec> = {}): Project {
  return { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'http://git/shop.git' }, ...spec } };
}

function existing(
  branch: string,
  opts: { source?: 'git' | 'kubectl'; type?: 'production' | 'development'; protected?: boolean; confirm?: boolean; revision?: string; goneSince?: string; agent?: string } = {},
): Environment {
  const name = environmentName('shop', branch);
  return {
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Environment',
    metadata: {
      name,
      namespace: 'team',
      uid: `uid-${name}`,
      labels: opts.source === 'kubectl' ? { [LABELS.project]: 'shop' } : { [LABELS.project]: 'shop', [LABELS.source]: 'git' },
      annotations: {
        ...(opts.confirm ? { [ANNOTATIONS.confirmDelete]: name } : {}),
        ...(opts.goneSince ? { [ANNOTATIONS.branchGoneSince]: opts.goneSince } : {}),
        ...(opts.agent ? { [ANNOTATIONS.agent]: opts.agent } : {}),
      },
    },
    spec: { project: 'shop', branch, revision: opts.revision ?? sha(1), type: opts.type ?? 'development', ...(opts.protected ? { protected: true } : {}) },
  };
}

const NOW = Date.parse('2026-06-01T12:00:00Z');

function run(p: Project, branches: Record<string, string>, envs: Environment[] = [], steering: Record<string, Steering> = {}, now = NOW) {
  const result = desiredEnvironments({ project: p, branches: new Map(Object.entries(branches)), existing: envs, steering: new Map(Object.entries(steering)), now });
  return {
    ...result,
    applied: Object.fromEntries(result.apply.map((e) => [e.spec.branch, e])),
    deleted: result.delete.map((d) => d.name),
    skippedReasons: Object.fromEntries(result.skipped.map((s) => [s.branch, s.reason])),
  };
}

describe('desiredEnvironments', () => {
  it('gives every branch an Environment and the production branch type production', () => {
    const r = run(project(), { main: sha(1), 'feature/login': sha(2) });
    expect(Object.keys(r.applied).sort()).toEqual(['feature/login', 'main']);
    expect(r.applied.main!.spec).toEqual({ project: 'shop', branch: 'main', revision: sha(1), type: 'production' });
    expect(r.applied['feature/login']!.spec).toMatchObject({ branch: 'feature/login', revision: sha(2), type: 'development' });
    expect(r.applied['feature/login']!.metadata).toMatchObject({
      name: environmentName('shop', 'feature/login'),
      namespace: 'team',
      labels: { [LABELS.project]: 'shop', [LABELS.source]: 'git', [LABELS.type]: 'development' },
      annotations: { [ANNOTATIONS.branch]: 'feature/login' },
    });
  });

  it('honours include and exclude globs, but always keeps production', () => {
    const r = run(project({ productionBranch: 'trunk', branches: { include: ['feature/*', 'agent/**'], exclude: ['feature/wip-*'] } }), {
      trunk: sha(1),
      'feature/a': sha(2),
      'feature/wip-b': sha(3),
      'agent/x/y': sha(4),
      'dependabot/npm': sha(5),
    });
    expect(Object.keys(r.applied).sort()).toEqual(['agent/x/y', 'feature/a', 'trunk']);
    expect(r.selected).toBe(3);
  });

  it('moves the revision of an Environment whose branch moved', () => {
    const r = run(project(), { 'feature/a': sha(9) }, [existing('feature/a', { revision: sha(1) })]);
    expect(r.applied['feature/a']!.spec.revision).toBe(sha(9));
  });

  const noGrace = { lifecycle: { branchGoneGraceSeconds: 0 } };

  it('deletes Environments whose branch is gone, with the uid as precondition', () => {
    const r = run(project(noGrace), { main: sha(1) }, [existing('main', { type: 'production' }), existing('feature/gone')]);
    expect(r.delete).toEqual([{ name: environmentName('shop', 'feature/gone'), uid: `uid-${environmentName('shop', 'feature/gone')}` }]);
  });

  it('keeps production and protected Environments without confirmation, and says why', () => {
    const envs = [existing('main', { type: 'production' }), existing('feature/keep', { protected: true })];
    const r = run(project({ ...noGrace, productionBranch: 'trunk' }), { trunk: sha(1) }, envs);
    expect(r.deleted).toEqual([]);
    expect(r.skippedReasons).toEqual({ main: 'PolicyDenied', 'feature/keep': 'PolicyDenied' });
    expect(r.skipped[0]).toMatchObject({ rule: 'deletionNotConfirmed' });
    expect(r.skipped[0]!.message).toContain(`it is deleted only after someone with the confirm right on it (verb confirm on environments.grove.dev, which the admins of the Project hold) confirms by setting grove.dev/confirm-delete=${environmentName('shop', 'main')}`);
  });

  it('deletes a protected Environment once the deletion is confirmed', () => {
    const r = run(project(noGrace), {}, [existing('feature/keep', { protected: true, confirm: true })]);
    expect(r.deleted).toEqual([environmentName('shop', 'feature/keep')]);
  });

  describe('grace period after a branch disappears', () => {
    const grace = project({ lifecycle: { branchGoneGraceSeconds: 600 } });
    const name = environmentName('shop', 'feature/gone');

    it.each([
      ['just gone: marked, kept, looked at again when the grace ends', undefined, { markGone: [{ name, since: new Date(NOW).toISOString() }], deleted: [], nextAt: NOW + 600_000 }],
      ['gone for 599 s: kept', new Date(NOW - 599_000).toISOString(), { markGone: [], deleted: [], nextAt: NOW + 1000 }],
      ['gone for 600 s: deleted', new Date(NOW - 600_000).toISOString(), { markGone: [], deleted: [name] }],
      ['a mark from a clock ahead counts from now, never earlier', new Date(NOW + 3_600_000).toISOString(), { markGone: [], deleted: [], nextAt: NOW + 600_000 }],
    ])('%s', (_title, goneSince, expected) => {
      const r = run(grace, { main: sha(1) }, [existing('feature/gone', goneSince ? { goneSince } : {})]);
      expect({ markGone: r.markGone, deleted: r.deleted, ...(r.nextAt !== undefined ? { nextAt: r.nextAt } : {}) }).toEqual(expected);
      if (!expected.deleted.length) expect(r.skippedReasons['feature/gone']).toBe('BranchGone');
    });

    it('clears the mark when the branch comes back', () => {
      const r = run(grace, { 'feature/gone': sha(1) }, [existing('feature/gone', { goneSince: new Date(NOW - 60_000).toISOString() })]);
      expect(r.clearGone).toEqual([name]);
      expect(r.deleted).toEqual([]);
    });
  });

  describe('expired Environments', () => {
    const name = environmentName('shop', 'feature/a');
    const marked = (revision: string) => {
      const p = project();
      p.metadata.annotations = { [`expired.grove.dev/${name}`]: revision };
      return p;
    };

    it('are not made again while the branch is at the revision that expired', () => {
      const r = run(marked(sha(2)), { main: sha(1), 'feature/a': sha(2) });
      expect(r.applied['feature/a']).toBeUndefined();
      expect(r.skippedReasons['feature/a']).toBe('Expired');
      expect(r.clearExpired).toEqual([]);
    });

    it('come back with a push, and the mark goes', () => {
      const r = run(marked(sha(2)), { main: sha(1), 'feature/a': sha(3) });
      expect(r.applied['feature/a']!.spec.revision).toBe(sha(3));
      expect(r.clearExpired).toEqual([name]);
    });

    it('lose the mark when the branch is gone', () => {
      expect(run(marked(sha(2)), { main: sha(1) }).clearExpired).toEqual([name]);
    });
  });

  describe('policy', () => {
    const agent: Steering = { agent: 'coder-7', problems: [] };

    it.each([
      ['an agent outside agentBranches', { agentBranches: ['agent/**'] }, 'feature/x', agent, 'branchNotAllowed'],
      ['an agent inside agentBranches', { agentBranches: ['agent/**'] }, 'agent/coder-7/x', agent, undefined],
      ['a person outside humanBranches', { humanBranches: ['feature/*'] }, 'agent/x', undefined, 'branchNotAllowed'],
      ['a person when only agents are restricted', { agentBranches: ['agent/**'] }, 'feature/x', undefined, undefined],
    ])('%s', (_title, policy, branch, steering, rule) => {
      const r = run(project({ policy }), { main: sha(1), [branch]: sha(2) }, [], steering ? { [branch]: steering } : {});
      expect(r.skipped.find((s) => s.branch === branch)?.rule).toBe(rule);
      expect(r.applied[branch] !== undefined).toBe(rule === undefined);
    });

    it('limits Environments per actor, counting the ones the actor has', () => {
      const p = project({ limits: { maxEnvironmentsPerActor: 2 } });
      const r = run(p, { main: sha(1), a: sha(2), b: sha(3), c: sha(4) }, [existing('a', { agent: 'coder-7' })], { b: agent, c: agent });
      expect(Object.keys(r.applied).sort()).toEqual(['a', 'b', 'main']);
      expect(r.skipped).toEqual([expect.objectContaining({ branch: 'c', reason: 'PolicyDenied', rule: 'actorLimitReached' })]);
      expect(r.skipped[0]!.message).toBe('actorLimitReached: agent coder-7 (claimed) has 2 environments in project shop, which allows 2 per actor');
    });

    it('limits by the pusher the Git host authenticated, whatever agents its commits claim to be', () => {
      const p = project({ limits: { maxEnvironmentsPerActor: 2 } });
      const claims = (agent: string): Steering => ({ agent, problems: [] });
      const r = desiredEnvironments({
        project: p,
        branches: new Map([['main', sha(1)], ['a', sha(2)], ['b', sha(3)], ['c', sha(4)]]),
        existing: [],
        steering: new Map([['a', claims('agent-1')], ['b', claims('agent-2')], ['c', claims('agent-3')]]),
        pushers: new Map([['main', 'ops'], ['a', 'mallory'], ['b', 'mallory'], ['c', 'mallory']]),
        now: NOW,
      });
      expect(r.apply.map((e) => e.spec.branch).sort()).toEqual(['a', 'b', 'main']);
      expect(r.skipped.map((s) => s.message)).toEqual(['actorLimitReached: pusher mallory has 2 environments in project shop, which allows 2 per actor']);
    });

    it('asks for the trailers of branches that are new or moved, and only those', () => {
      const r = run(project(), { main: sha(1), a: sha(2), b: sha(9) }, [existing('main', { type: 'production', revision: sha(1) }), existing('b', { revision: sha(3) })]);
      expect(r.needsSteering.sort()).toEqual(['a', 'b']);
    });
  });

  it('never touches Environments made by hand', () => {
    const r = run(project(), { 'feature/a': sha(5) }, [existing('feature/a', { source: 'kubectl' }), existing('manual', { source: 'kubectl' })]);
    expect(r.apply).toEqual([]);
    expect(r.deleted).toEqual([]);
  });

  it('admits existing Environments before new branches when the limit is reached', () => {
    const r = run(project({ limits: { maxEnvironments: 3 } }), { main: sha(1), a: sha(2), b: sha(3), c: sha(4), zz: sha(5) }, [existing('zz')]);
    expect(Object.keys(r.applied).sort()).toEqual(['a', 'main', 'zz']);
    expect(r.skippedReasons).toEqual({ b: 'PolicyDenied', c: 'PolicyDenied' });
    expect(r.skipped.map((s) => s.rule)).toEqual(['environmentLimitReached', 'environmentLimitReached']);
    expect(r.skipped[0]!.message).toBe('environmentLimitReached: project shop allows 3 environments and has 3');
  });

  it('refuses a branch whose name maps onto another branch\'s Environment', () => {
    const other = existing('feature/a');
    const clash = { ...other, spec: { ...other.spec, branch: 'someone/else' } };
    const r = run(project(), { 'feature/a': sha(2), 'someone/else': sha(3) }, [clash]);
    expect(r.skippedReasons['feature/a']).toBe('NameCollision');
  });

  it('applies trailers: attribution always, TTL and parent only when creating', () => {
    const steering: Steering = { agent: 'coder-7', onBehalfOf: 'ada@example.com', task: 'SHOP-1', ttlSeconds: 3600, parent: 'staging', problems: [] };
    const created = run(project(), { 'feature/a': sha(2) }, [], { 'feature/a': steering }).applied['feature/a']!;
    expect(created.spec).toMatchObject({ ttlSeconds: 3600, parent: 'staging' });
    expect(created.metadata.annotations).toMatchObject({ [ANNOTATIONS.agent]: 'coder-7', [ANNOTATIONS.onBehalfOf]: 'ada@example.com', [ANNOTATIONS.task]: 'SHOP-1' });

    const updated = run(project(), { 'feature/a': sha(3) }, [existing('feature/a')], { 'feature/a': steering }).applied['feature/a']!;
    expect(updated.spec.ttlSeconds).toBeUndefined();
    expect(updated.spec.parent).toBeUndefined();
    expect(updated.metadata.annotations?.[ANNOTATIONS.agent]).toBe('coder-7');
  });

  it('records who pushed the head, when a webhook said so', () => {
    const r = desiredEnvironments({ project: project(), branches: new Map([['feature/a', sha(2)]]), existing: [], steering: new Map(), pushers: new Map([['feature/a', 'ada']]), now: NOW });
    expect(r.apply.find((e) => e.spec.branch === 'feature/a')?.metadata.annotations?.[ANNOTATIONS.pushedBy]).toBe('ada');
  });

  it('never gives production a parent, whatever the trailers say', () => {
    const r = run(project(), { main: sha(1) }, [], { main: { parent: 'other', problems: [] } });
    expect(r.applied.main!.spec.parent).toBeUndefined();
  });
});

describe('pull-request Environments', () => {
  const gitHost = { type: 'gitea' as const, secretRef: { name: 'token' } };
  const pr = (number: number, branch: string, more: Partial<OpenPullRequest> = {}): OpenPullRequest => ({ number, title: `PR ${number}`, author: 'ada', head: { branch, sha: sha(number + 100) }, base: 'main', labels: [], fromFork: false, ...more });
  const runPrs = (spec: Partial<ProjectSpec>, branches: Record<string, string>, pullRequests: OpenPullRequest[] | undefined, envs: Environment[] = []) =>
    desiredEnvironments({ project: project({ gitHost, ...spec }), branches: new Map(Object.entries(branches)), existing: envs, steering: new Map(), ...(pullRequests ? { pullRequests } : {}), now: NOW });
  const prEnv = (number: number, branch: string, goneSince?: string): Environment => {
    const e = existing(branch, goneSince ? { goneSince } : {});
    return { ...e, metadata: { ...e.metadata, name: `shop-pr-${number}`, uid: `uid-pr-${number}` }, spec: { ...e.spec, pullRequest: { number } } };
  };

  it('gives each open pull request from a branch here an Environment at its head, besides the branches', () => {
    const r = runPrs({ pullRequests: {} }, { main: sha(1), 'agent/cart': sha(2) }, [pr(7, 'agent/cart', { title: 'A cart', author: 'coder-7', labels: ['preview'] })]);
    expect(r.apply.map((e) => e.metadata.name).sort()).toEqual([environmentName('shop', 'agent/cart'), 'shop-main', 'shop-pr-7']);
    const env = r.apply.find((e) => e.metadata.name === 'shop-pr-7')!;
    expect(env.spec).toEqual({ project: 'shop', branch: 'agent/cart', revision: sha(107), type: 'development', pullRequest: { number: 7, title: 'A cart', author: 'coder-7', base: 'main' } });
    expect(env.metadata.labels).toMatchObject({ [LABELS.pullRequest]: '7', [LABELS.source]: 'git' });
    expect(r.selected).toBe(3);
  });

  it('filters by label and base branch, and leaves out forks and branches not in the repository', () => {
    const prs = [pr(1, 'a', { labels: ['preview'] }), pr(2, 'b'), pr(3, 'c', { labels: ['preview'], base: 'release/1' }), pr(4, 'a', { labels: ['preview'], fromFork: true }), pr(5, 'gone', { labels: ['preview'] })];
    const r = runPrs({ pullRequests: { labels: ['preview'], baseBranches: ['main'], branchEnvironments: false } }, { main: sha(1), a: sha(2), b: sha(3), c: sha(4) }, prs);
    // Without branchEnvironments only production keeps an Environment of its own.
    expect(r.apply.map((e) => e.metadata.name).sort()).toEqual(['shop-main', 'shop-pr-1']);
  });

  it('deletes the Environment of a closed pull request after the grace period, and keeps them all when the listing failed', () => {
    const grace = { lifecycle: { branchGoneGraceSeconds: 60 }, pullRequests: {} };
    const closed = runPrs(grace, { main: sha(1), 'agent/cart': sha(2) }, [], [prEnv(7, 'agent/cart', new Date(NOW - 61_000).toISOString())]);
    expect(closed.delete.map((d) => d.name)).toEqual(['shop-pr-7']);
    const marked = runPrs(grace, { main: sha(1), 'agent/cart': sha(2) }, [], [prEnv(7, 'agent/cart')]);
    expect(marked.markGone.map((m) => m.name)).toEqual(['shop-pr-7']);
    expect(marked.skipped.find((x) => x.reason === 'BranchGone')?.message).toMatch(/^pull request #7 is closed; Environment shop-pr-7 is deleted at /);
    const unknown = runPrs(grace, { main: sha(1), 'agent/cart': sha(2) }, undefined, [prEnv(7, 'agent/cart', new Date(NOW - 61_000).toISOString())]);
    expect(unknown.delete).toEqual([]);
    expect(unknown.markGone).toEqual([]);
  });

  it('never takes over the Environment of a branch that maps to the same name', () => {
    const r = runPrs({ pullRequests: {} }, { main: sha(1), 'pr-7': sha(2), 'agent/cart': sha(3) }, [pr(7, 'agent/cart')], [existing('pr-7')]);
    expect(r.skipped.find((x) => x.reason === 'NameCollision')?.message).toBe('pull request #7 maps to Environment shop-pr-7, which belongs to branch pr-7');
    expect(r.apply.find((e) => e.metadata.name === 'shop-pr-7')?.spec.pullRequest).toBeUndefined();
  });
});

describe('alreadyApplied', () => {
  it('skips an Environment that has every field the controller sets, and not one that drifted', () => {
    const desired = run(project(), { 'feature/a': sha(2) }).applied['feature/a']!;
    const live: Environment = { ...desired, metadata: { ...desired.metadata, uid: 'u', labels: { ...desired.metadata.labels, extra: 'x' } }, spec: { ...desired.spec, protected: true } };
    expect(alreadyApplied(live, desired)).toBe(true);
    expect(alreadyApplied({ ...live, spec: { ...live.spec, revision: sha(3) } }, desired)).toBe(false);
    const { [LABELS.source]: _dropped, ...withoutSource } = live.metadata.labels!;
    expect(alreadyApplied({ ...live, metadata: { ...live.metadata, labels: withoutSource } }, desired)).toBe(false);
  });
});

describe('lockdownChanges', () => {
  const held = (type: string | undefined) => type !== 'production';

  it('lets through only what changes production: nothing is created, moved, marked or deleted for the others', () => {
    const envs = [existing('main', { type: 'production' }), existing('feature/a'), existing('feature/gone'), existing('feature/back', { goneSince: new Date(NOW - 1000).toISOString() })];
    const wanted = desiredEnvironments({
      project: project({ lifecycle: { branchGoneGraceSeconds: 0 } }),
      branches: new Map([['main', sha(2)], ['feature/a', sha(3)], ['feature/new', sha(4)], ['feature/back', sha(5)]]),
      existing: envs,
      steering: new Map(),
      now: NOW,
    });
    // Without the switch: main and feature/a move, feature/new is made, feature/gone goes.
    expect(wanted.apply.map((e) => e.spec.branch).sort()).toEqual(['feature/a', 'feature/back', 'feature/new', 'main']);
    expect(wanted.delete.map((d) => d.name).length + wanted.markGone.length).toBeGreaterThan(0);
    const let_ = lockdownChanges(wanted, envs, held);
    expect(let_.apply.map((e) => e.spec.branch)).toEqual(['main']);
    expect(let_.apply[0]?.spec.revision).toBe(sha(2));
    expect(let_.delete).toEqual([]);
    expect(let_.markGone).toEqual([]);
    expect(let_.clearGone).toEqual([]);
  });
});
