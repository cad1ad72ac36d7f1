import { describe, expect, it } from 'vitest';
import type { Environment, Project, ProjectSpec } from '../api/index.ts';
import { parseManifest, resolveManifest, type ResolvedManifest } from '../manifest/index.ts';
import {
  actorKey,
  describeLockdown,
  heldByLockdown,
  lockdownOf,
  operatorLockdown,
  agentMayNotMakeProduction,
  actorLimitReached,
  branchNotAllowed,
  deletionNotConfirmed,
  overwriteNotConfirmed,
  describeDenial,
  environmentLimitReached,
  manifestDenial,
  manifestRequests,
  quotaFor,
  resourceCeilingExceeded,
  serviceTypeNotAllowed,
} from './index.ts';

const project = (spec: Partial<ProjectSpec> = {}): Project => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'http://git/shop.git' }, ...spec } });

function manifest(text: string): ResolvedManifest {
  const parsed = parseManifest(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return resolveManifest(parsed.manifest, { type: 'development', commit: 'a'.repeat(40), branch: 'b', environment: 'e' });
}

const env = (annotations: Record<string, string> = {}, spec: Partial<Environment['spec']> = {}): Environment => ({
  apiVersion: 'grove.dev/v1alpha1',
  kind: 'Environment',
  metadata: { name: 'shop-x', namespace: 'team', annotations },
  spec: { project: 'shop', branch: 'x', ...spec },
});

describe('environmentLimitReached', () => {
  it.each([
    [undefined, 100, undefined],
    [3, 2, undefined],
    [3, 3, 'environmentLimitReached: project shop allows 3 environments and has 3'],
  ])('max %s with %i admitted', (max, admitted, expected) => {
    const d = environmentLimitReached(project(max === undefined ? {} : { limits: { maxEnvironments: max } }), admitted);
    expect(d && describeDenial(d)).toBe(expected);
  });
});

describe('actorLimitReached', () => {
  const p = project({ limits: { maxEnvironmentsPerActor: 2 } });
  it.each([
    ['under the limit', 'coder-7', 1, false],
    ['at the limit', 'coder-7', 2, true],
    ['an unknown actor is never limited', undefined, 50, false],
  ])('%s', (_t, actor, count, denied) => expect(actorLimitReached(p, actor, count) !== undefined).toBe(denied));

  it('counts whom the Git host or the API server vouched for before any claimed agent', () => {
    const git = (annotations: Record<string, string>) => ({ ...env(annotations), metadata: { ...env(annotations).metadata, labels: { 'grove.dev/source': 'git' } } });
    expect(actorKey(git({ 'grove.dev/pushed-by': 'alice', 'grove.dev/agent': 'coder-7' }))).toBe('pusher alice');
    // The operator creates Git-driven Environments: the name admission recorded is its own.
    expect(actorKey(git({ 'grove.dev/agent': 'coder-7', 'grove.dev/requested-by': 'system:serviceaccount:grove:grove' }))).toBe('agent coder-7 (claimed)');
    expect(actorKey(env({ 'grove.dev/agent': 'coder-7', 'grove.dev/requested-by': 'ada' }))).toBe('user ada');
    expect(actorKey(env({ 'grove.dev/agent': 'coder-7' }))).toBe('agent coder-7 (claimed)');
    expect(actorKey(env())).toBeUndefined();
  });
});

describe('branchNotAllowed', () => {
  const p = project({ policy: { agentBranches: ['agent/**'], humanBranches: ['feature/*', 'fix/*'] } });
  it.each([
    ['agent/coder-7/login', 'agent', false],
    ['feature/login', 'agent', true],
    ['feature/login', 'human', false],
    ['agent/coder-7/login', 'human', true],
  ] as const)('%s by an %s', (branch, kind, denied) => expect(branchNotAllowed(p, branch, kind) !== undefined).toBe(denied));

  it('names the field and the patterns', () => {
    expect(branchNotAllowed(p, 'main2', 'agent')?.message).toBe('branch main2 matches none of policy.agentBranches (agent/**) for agents');
    expect(branchNotAllowed(project(), 'anything', 'agent')).toBeUndefined();
  });
});

const SHOP = `version: 1
applications:
  web: { image: web, port: 8080, replicas: 2, resources: { cpu: 500m, memory: 512Mi }, mounts: { uploads: { path: /u, size: 5Gi } } }
  worker: { image: worker }
services:
  db: { type: postgresql:16, size: 10Gi, resources: { cpu: "1", memory: 1Gi } }
  cache: { type: redis:7 }
`;

describe('serviceTypeNotAllowed', () => {
  it('allows every type when the Project lists none, and only the listed ones otherwise', () => {
    expect(serviceTypeNotAllowed(project(), manifest(SHOP))).toBeUndefined();
    expect(serviceTypeNotAllowed(project({ policy: { serviceTypes: ['postgresql', 'redis'] } }), manifest(SHOP))).toBeUndefined();
    expect(serviceTypeNotAllowed(project({ policy: { serviceTypes: ['postgresql'] } }), manifest(SHOP))?.message).toBe('services.cache is redis; project shop allows postgresql');
  });
});

describe('resource ceilings', () => {
  it('adds up every replica, service and volume, with the defaults for what is unset', () => {
    const r = manifestRequests(manifest(SHOP));
    // web 2 × 500m + worker 100m + db 1 + cache 100m
    expect(r.cpu).toBeCloseTo(2.2);
    expect(r.memory).toBe(2 * 512 * 2 ** 20 + 128 * 2 ** 20 + 2 ** 30 + 128 * 2 ** 20);
    expect(r.storage).toBe((5 + 10 + 1) * 2 ** 30);
    expect(r.pods).toBe(5);
    // A service's defaults are its server's, as the planner gives it.
    const maria = manifestRequests(manifest('version: 1\napplications:\n  web: { image: web }\nservices:\n  db: { type: "mariadb:10.11" }\n'));
    expect(maria.memory).toBe(128 * 2 ** 20 + 384 * 2 ** 20);
  });

  it.each([
    ['the built-in development quota holds it', {}, 'development', undefined],
    ['a smaller Project quota does not', { limits: { quota: { cpu: '2', storage: '10Gi' } } }, 'development', 'resourceCeilingExceeded: the manifest requests cpu 2.2 > 2, storage 16Gi > 10Gi, beyond the development quota of project shop'],
    ['a per-type quota wins over the general one', { limits: { quota: { cpu: '1' }, quotaByType: { staging: { cpu: '3' } } } }, 'staging', undefined],
    ['production has no ceiling unless one is set', {}, 'production', undefined],
    ['a pod ceiling counts replicas', { limits: { quotaByType: { production: { pods: 4 } } } }, 'production', 'resourceCeilingExceeded: the manifest requests pods 5 > 4, beyond the production quota of project shop'],
  ])('%s', (_t, spec, type, expected) => {
    const d = resourceCeilingExceeded(project(spec), type, manifest(SHOP));
    expect(d && describeDenial(d)).toBe(expected);
  });

  it('checks service types before sizes', () => {
    const p = project({ policy: { serviceTypes: ['postgresql'] }, limits: { quota: { cpu: '1' } } });
    expect(manifestDenial(p, 'development', manifest(SHOP))?.rule).toBe('serviceTypeNotAllowed');
    expect(quotaFor(project(), 'staging')).toMatchObject({ cpu: '8' });
  });
});

describe('deletionNotConfirmed', () => {
  it.each([
    ['a development Environment', {}, {}, false],
    ['production without confirmation', {}, { type: 'production' as const }, true],
    ['protected with a confirmation for another name', { 'grove.dev/confirm-delete': 'shop-y' }, { protected: true }, true],
    ['protected with its own name', { 'grove.dev/confirm-delete': 'shop-x' }, { protected: true }, false],
  ])('%s', (_t, annotations, spec, denied) => expect(deletionNotConfirmed(env(annotations, spec)) !== undefined).toBe(denied));
});

describe('overwriteNotConfirmed', () => {
  it.each([
    ['a development Environment, without the right', {}, false, undefined],
    ['production, with the right', { type: 'production' as const }, true, undefined],
    ['production, without it', { type: 'production' as const }, false, 'overwriteNotConfirmed: Restoring over the data (overwriteExisting) of production Environment shop-x needs the confirm right on it (verb confirm on environments.grove.dev in namespace team), which the admins of the Project hold and its agents do not'],
    ['protected, without it', { protected: true }, false, 'overwriteNotConfirmed: Restoring over the data (overwriteExisting) of protected Environment shop-x needs'],
  ])('%s', (_t, spec, mayConfirm, denied) => {
    const d = overwriteNotConfirmed(env({}, spec), mayConfirm);
    if (denied === undefined) expect(d).toBeUndefined();
    else expect(describeDenial(d!)).toContain(denied);
  });
});

describe('agentMayNotMakeProduction', () => {
  const p = project({ policy: { agentsGroup: 'grove:agents' } });
  it.each([
    [['grove:agents'], 'production', true],
    [['grove:agents'], 'development', false],
    [['developers'], 'production', false],
  ])('groups %j asking for %s', (groups, type, denied) => expect(agentMayNotMakeProduction(p, groups, type) !== undefined).toBe(denied));
  it('holds nobody back when the Project names no agents group', () => expect(agentMayNotMakeProduction(project(), ['grove:agents'], 'production')).toBeUndefined());
});

describe('the kill switch', () => {
  const shop = (lockdown?: boolean, reason?: string): Project => ({
    apiVersion: 'grove.dev/v1alpha1',
    kind: 'Project',
    metadata: { name: 'shop', namespace: 'team', ...(reason ? { annotations: { 'grove.dev/lockdown-reason': reason } } : {}) },
    spec: { repo: { url: 'https://git.example.com/shop.git' }, ...(lockdown !== undefined ? { lockdown } : {}) },
  });
  const configMap = (data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'grove-lockdown', namespace: 'grove-system' }, data });

  it('is engaged by the Project or by the operator\'s ConfigMap saying exactly "true"', () => {
    expect(operatorLockdown(configMap({ engaged: 'true', reason: ' drill ' }))).toEqual({ by: 'ConfigMap grove-system/grove-lockdown', reason: 'drill' });
    for (const engaged of ['false', 'yes', 'TRUE', '']) expect(operatorLockdown(configMap({ engaged })), engaged).toBeUndefined();
    expect(operatorLockdown(undefined)).toBeUndefined();
    expect(lockdownOf(shop(true, 'incident 42'), undefined)).toEqual({ by: 'Project shop (spec.lockdown)', reason: 'incident 42' });
    expect(lockdownOf(shop(false), operatorLockdown(configMap({ engaged: 'true' })))).toEqual({ by: 'ConfigMap grove-system/grove-lockdown' });
    expect(lockdownOf(shop(false), undefined)).toBeUndefined();
  });

  it('holds every type but production', () => {
    const on = { by: 'Project shop (spec.lockdown)' };
    expect(['development', 'staging', undefined].map((t) => heldByLockdown(on, t))).toEqual([true, true, true]);
    expect(heldByLockdown(on, 'production')).toBe(false);
    expect(heldByLockdown(undefined, 'development')).toBe(false);
    expect(describeLockdown(on)).toBe('Locked down by Project shop (spec.lockdown): Environments other than production have no egress beyond their namespace, and none is created, changed or deleted until it is lifted');
  });
});
