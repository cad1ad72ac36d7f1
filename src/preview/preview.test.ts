import { describe, expect, it } from 'vitest';
import { type Environment, environmentName, type Project, type ProjectSpec } from '../api/index.ts';
import { parseManifest } from '../manifest/index.ts';
import { PLACEHOLDER_PASSWORD, previewBranch, type PreviewInput } from './index.ts';

const sha = (n: number) => n.toString(16).padStart(40, '0');
const parsed = parseManifest('version: 1\napplications:\n  web: { image: shop/web:1, port: 8080, relationships: { database: db } }\nservices:\n  db: { type: "postgresql:16" }\nroutes:\n  web: { upstream: web }\n');
if (!parsed.ok) throw new Error('the fixture manifest is invalid');
const manifest = parsed.manifest;

const project = (spec: Partial<ProjectSpec> = {}): Project => ({ apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'shop', namespace: 'team' }, spec: { repo: { url: 'http://git/shop.git' }, ...spec } });
const production: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name: 'shop-main', namespace: 'team', labels: { 'grove.dev/project': 'shop', 'grove.dev/source': 'git' } }, spec: { project: 'shop', branch: 'main', revision: sha(1), type: 'production' } };
const input = (over: Partial<PreviewInput> = {}): PreviewInput => ({ project: project(), branch: 'fix/login', revision: sha(2), manifest, branches: new Map([['main', sha(1)]]), existing: [production], now: 0, ...over });

describe('previewBranch', () => {
  it('plans a new branch as the Project controller would make it: development, cloned from production, with placeholder credentials', () => {
    const plan = previewBranch(input());
    const name = environmentName('shop', 'fix/login');
    expect(plan).toMatchObject({ project: 'shop', branch: 'fix/login', revision: sha(2), admitted: true, denials: [] });
    expect(plan.environment).toMatchObject({ name, namespace: 'team', type: 'development', parent: 'shop-main', targetNamespace: name });
    expect(plan.environment.object.spec).toMatchObject({ project: 'shop', branch: 'fix/login', revision: sha(2), type: 'development' });
    expect(plan.objects[0]).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', name });
    expect(plan.objects.every((o) => o.kind === 'Namespace' || o.namespace === name)).toBe(true);
    expect(plan.urls.map((u) => u.name)).toEqual(['web']);
    const secret = plan.objects.find((o) => o.kind === 'Secret')?.object as { stringData?: Record<string, string>; data?: Record<string, string> };
    expect(JSON.stringify(secret)).toContain(PLACEHOLDER_PASSWORD);
  });

  it('plans the production branch as production, with no parent', () => {
    const plan = previewBranch(input({ branch: 'main', revision: sha(3) }));
    expect(plan.environment.type).toBe('production');
    expect(plan.environment.parent).toBeUndefined();
    expect(plan.admitted).toBe(true);
  });

  it('lists what policy would refuse: the branch patterns of agents, and what the manifest declares', () => {
    const plan = previewBranch(input({ project: project({ policy: { agentBranches: ['agent/*'], serviceTypes: ['redis'] } }), steering: { agent: 'coder', problems: [] } }));
    expect(plan.admitted).toBe(false);
    expect(plan.reason).toBe('PolicyDenied');
    expect(plan.denials.map((d) => d.rule)).toEqual(['branchNotAllowed', 'serviceTypeNotAllowed']);
    expect(plan.denials[0]?.message).toMatch(/^branch fix\/login matches none of policy.agentBranches/);
    expect(plan.objects.length).toBeGreaterThan(0);
  });

  it('counts the other branches\' Environments against the limit', () => {
    const plan = previewBranch(input({ project: project({ limits: { maxEnvironments: 1 } }) }));
    expect(plan.denials).toEqual([{ rule: 'environmentLimitReached', message: 'project shop allows 1 environment and has 1' }]);
  });

  it('says when a push would make nothing because the branch is not selected', () => {
    const plan = previewBranch(input({ project: project({ branches: { include: ['release/*'] } }) }));
    expect(plan).toMatchObject({ admitted: false, reason: 'NotSelected', denials: [] });
    expect(plan.message).toContain('branch fix/login matches none of branches.include');
  });

  it('plans as the type asked for, offline', () => {
    expect(previewBranch(input({ type: 'staging' })).environment.object.spec.type).toBe('staging');
  });
});
