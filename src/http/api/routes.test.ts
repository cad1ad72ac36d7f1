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
    ['POST', '/api/v1/namespaces/team/rehearsals', 'createRehearsal', { verb: 'create', resource: 'rehearsals', namespace: 'team' }],
    ['GET', '/api/v1/namespaces/team/rehearsals', 'listRehearsals', { verb: 'list', resource: 'rehearsals', namespace: 'team' }],
    ['GET', '/api/v1/namespaces/team/rehearsals/shop-rehearse-abc', 'getRehearsal', { verb: 'get', resource: 'rehearsals', namespace: 'team', name: 'shop-rehearse-abc' }],
    // Planning reads the Project: it needs what reading the Project needs, and writes nothing.
    ['POST', '/api/v1/namespaces/team/projects/shop/plan', 'planBranch', { verb: 'get', resource: 'projects', namespace: 'team', name: 'shop' }],
    // The kill switches need what changing them with kubectl needs: the Project, or the operator's ConfigMap.
    ['PUT', '/api/v1/namespaces/team/projects/shop/lockdown', 'lockdownProject', { verb: 'patch', resource: 'projects', namespace: 'team', name: 'shop' }],
    ['PUT', '/api/v1/namespaces/grove-system/lockdown', 'lockdownOperator', { verb: 'patch', resource: 'configmaps', namespace: 'grove-system', name: 'grove-lockdown' }],
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

describe('the API described to its clients', () => {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, unknown> } };

  it('describes every success with a schema a client can generate types from, and every $ref resolves', () => {
    const refs = (value: unknown): string[] =>
      value && typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refs(v))) : [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const op of Object.values(methods)) {
        const [code, success] = Object.entries(op.responses).find(([c]) => c.startsWith('2'))!;
        const schema = success.content?.['application/json']?.schema;
        expect(schema, `${op.operationId} ${code}`).not.toEqual({ type: 'object' });
        expect(refs(schema).length + Object.keys((schema as { properties?: object }).properties ?? {}).length, `${op.operationId} at ${path}`).toBeGreaterThan(0);
      }
    }
    for (const target of refs(doc)) expect(doc.components.schemas, target).toHaveProperty(target.replace('#/components/schemas/', ''));
    expect(doc.paths['/api/v1/namespaces/{namespace}/environments/{name}']?.get?.responses['200']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Environment' });
  });

  it('tells an agent in /llms.txt where MCP is, what each request takes, and how to find its namespace and project', () => {
    const text = llmsText();
    expect(text).toContain('`/mcp`');
    expect(text).toContain('- createEnvironment\n  - name (required): The Environment (and its namespace suffix).\n  - project (required): The Project the Environment belongs to.\n  - branch (required)\n');
    expect(text).toContain('- createBackup\n  - environment (required): The Environment to back up.');
    expect(text).toContain('spec.project');
    expect(text).toContain('<project>-<branch slug>');
  });
});
