import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, LABELS } from '../../api/constants.ts';
import { environmentName } from '../../api/names.ts';
import type { Environment, Project, ProjectSpec } from '../../api/types.gen.ts';
import type { Steering } from '../../source/git/index.ts';
import { desiredEnvironments } from './desired.ts';

const sha = (n: number) => n.toString(16).padStart(40, '0');

function project(spec: Partial<ProjectSpec> = {}): Project {
  return { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'http://git/shop.git' }, ...spec } };
}

function existing(branch: string, opts: { source?: 'git' | 'kubectl'; type?: 'production' | 'development'; protected?: boolean; confirm?: boolean; revision?: string } = {}): Environment {
  const name = environmentName('shop', branch);
  return {
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Environment',
    metadata: {
      name,
      namespace: 'team',
      uid: `uid-${name}`,
      labels: opts.source === 'kubectl' ? { [LABELS.project]: 'shop' } : { [LABELS.project]: 'shop', [LABELS.source]: 'git' },
      ...(opts.confirm ? { annotations: { [ANNOTATIONS.confirmDelete]: name } } : {}),
    },
    spec: { project: 'shop', branch, revision: opts.revision ?? sha(1), type: opts.type ?? 'development', ...(opts.protected ? { protected: true } : {}) },
  };
}

function run(p: Project, branches: Record<string, string>, envs: Environment[] = [], steering: Record<string, Steering> = {}) {
  const result = desiredEnvironments({ project: p, branches: new Map(Object.entries(branches)), existing: envs, steering: new Map(Object.entries(steering)) });
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

  it('deletes Environments whose branch is gone, with the uid as precondition', () => {
    const r = run(project(), { main: sha(1) }, [existing('main', { type: 'production' }), existing('feature/gone')]);
    expect(r.delete).toEqual([{ name: environmentName('shop', 'feature/gone'), uid: `uid-${environmentName('shop', 'feature/gone')}` }]);
  });

  it('keeps production and protected Environments without confirmation, and says why', () => {
    const envs = [existing('main', { type: 'production' }), existing('feature/keep', { protected: true })];
    const r = run(project({ productionBranch: 'trunk' }), { trunk: sha(1) }, envs);
    expect(r.deleted).toEqual([]);
    expect(r.skippedReasons).toEqual({ main: 'DeletionNeedsConfirmation', 'feature/keep': 'DeletionNeedsConfirmation' });
    expect(r.skipped[0]!.message).toContain(`annotate it grove.dev/confirm-delete=${environmentName('shop', 'main')}`);
  });

  it('deletes a protected Environment once the deletion is confirmed', () => {
    const r = run(project(), {}, [existing('feature/keep', { protected: true, confirm: true })]);
    expect(r.deleted).toEqual([environmentName('shop', 'feature/keep')]);
  });

  it('never touches Environments made by hand', () => {
    const r = run(project(), { 'feature/a': sha(5) }, [existing('feature/a', { source: 'kubectl' }), existing('manual', { source: 'kubectl' })]);
    expect(r.apply).toEqual([]);
    expect(r.deleted).toEqual([]);
  });

  it('admits existing Environments before new branches when the limit is reached', () => {
    const r = run(project({ limits: { maxEnvironments: 3 } }), { main: sha(1), a: sha(2), b: sha(3), c: sha(4), zz: sha(5) }, [existing('zz')]);
    expect(Object.keys(r.applied).sort()).toEqual(['a', 'main', 'zz']);
    expect(r.skippedReasons).toEqual({ b: 'EnvironmentLimitReached', c: 'EnvironmentLimitReached' });
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

  it('never gives production a parent, whatever the trailers say', () => {
    const r = run(project(), { main: sha(1) }, [], { main: { parent: 'other', problems: [] } });
    expect(r.applied.main!.spec.parent).toBeUndefined();
  });
});

describe('alreadyApplied', () => {
  it('skips an Environment that has every field the controller sets, and not one that drifted', async () => {
    const { alreadyApplied } = await import('./index.ts');
    const desired = run(project(), { 'feature/a': sha(2) }).applied['feature/a']!;
    const live: Environment = { ...desired, metadata: { ...desired.metadata, uid: 'u', labels: { ...desired.metadata.labels, extra: 'x' } }, spec: { ...desired.spec, protected: true } };
    expect(alreadyApplied(live, desired)).toBe(true);
    expect(alreadyApplied({ ...live, spec: { ...live.spec, revision: sha(3) } }, desired)).toBe(false);
    const { [LABELS.source]: _dropped, ...withoutSource } = live.metadata.labels!;
    expect(alreadyApplied({ ...live, metadata: { ...live.metadata, labels: withoutSource } }, desired)).toBe(false);
  });
});
