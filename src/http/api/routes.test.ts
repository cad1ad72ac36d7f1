import { describe, expect, it } from 'vitest';
import { inputSchemaOf, llmsText, openApiDocument } from './openapi.ts';
import { accessOf, matchRoute, OPERATIONS } from './routes.ts';

describe('matchRoute', () => {
  it.each([
    ['GET', '/api/v1/namespaces/team/environments', 'listEnvironments', { verb: 'list', resource: 'environments', namespace: 'team' }],
    ['POST', '/api/v1/namespaces/team/environments', 'createEnvironment', { verb: 'create', resource: 'environments', namespace: 'team' }],
    ['GET', '/api/v1/namespaces/team/environments/shop-a', 'getEnvironment', { verb: 'get', resource: 'environments', namespace: 'team', name: 'shop-a' }],
    ['POST', '/api/v1/namespaces/team/environments/shop-a/sleep', 'sleepEnvironment', { verb: 'patch', resource: 'environments', namespace: 'team', name: 'shop-a' }],
    ['DELETE', '/api/v1/namespaces/team/environments/shop-a', 'deleteEnvironment', { verb: 'delete', resource: 'environments', namespace: 'team', name: 'shop-a' }],
    ['GET', '/api/v1/namespaces/team/projects/shop/audit', 'readAudit', { verb: 'get', resource: 'projects', namespace: 'team', name: 'shop' }],
    ['POST', '/api/v1/namespaces/team/restores', 'createRestore', { verb: 'create', resource: 'restores', namespace: 'team' }],
    ['GET', '/api/v1/namespaces/team/restores/r-1', 'getRestore', { verb: 'get', resource: 'restores', namespace: 'team', name: 'r-1' }],
    // Planning reads the Project: it needs what reading the Project needs, and writes nothing.
    ['POST', '/api/v1/namespaces/team/projects/shop/plan', 'planBranch', { verb: 'get', resource: 'projects', namespace: 'team', name: 'shop' }],
  ])('%s %s is %s, needing %j', (method, path, id, access) => {
    const m = matchRoute(method, path);
    expect(m && 'operation' in m && m.operation.id).toBe(id);
    expect(m && 'operation' in m && accessOf(m)).toEqual(access);
  });

  it('says which methods a path allows, and knows no other paths', () => {
    expect(matchRoute('PUT', '/api/v1/namespaces/team/environments/shop-a')).toEqual({ methods: ['GET', 'DELETE'] });
    expect(matchRoute('GET', '/api/v1/namespaces/Team/environments')).toBeUndefined();
    expect(matchRoute('GET', '/api/v1/namespaces/team/environments/a/b/c')).toBeUndefined();
    expect(matchRoute('GET', '/api/v1/namespaces/../environments')).toBeUndefined();
  });
});

describe('the API description', () => {
  it('documents every operation once, with its RBAC verb, and the Environment schema from the CRD', () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; description: string }>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p));
    expect(ops.map((o) => o.operationId).sort()).toEqual(OPERATIONS.map((o) => o.id).sort());
    expect(ops.find((o) => o.operationId === 'renewEnvironment')?.description).toContain('`patch` on `environments.grove.dev`');
    expect(Object.keys(doc.components.schemas.Environment?.properties ?? {})).toEqual(expect.arrayContaining(['spec', 'status']));
    for (const op of OPERATIONS) expect(llmsText()).toContain(`${op.method} ${op.path}`);
    expect(OPERATIONS.find((o) => o.id === 'planBranch')?.readOnly).toBe(true);
    expect(inputSchemaOf(OPERATIONS.find((o) => o.id === 'planBranch') as (typeof OPERATIONS)[number])).toMatchObject({ required: ['namespace', 'project', 'branch'], properties: { revision: { type: 'string' } } });
  });
});
