// The HTTP API on the local cluster: real ServiceAccount tokens (TokenRequest), checked by the
// API server (TokenReview) and RBAC (SubjectAccessReview); allowed, forbidden, unauthenticated
// and malformed calls; the audit trail read back from MinIO; plans of branches read from the
// real Git server; the CLI through the API with a token.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Environment, environmentName, type Project, type Rehearsal } from '../../../src/api/index.ts';
import { runCli } from '../../../src/cli/index.ts';
import { Writable } from 'node:stream';
import { createRepo } from '../git-fixtures.ts';
import { cluster, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const api = 'grove.dev/v1alpha1';
let ns: string;
let project: string;
let op: OperatorProcess;
const tokens: Record<string, string> = {};

const kubectl = async (...args: string[]): Promise<string> => (await promisify(execFile)(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...args])).stdout.trim();

async function call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}): Promise<{ status: number; type: string; json: Record<string, any>; headers: Headers }> {
  const res = await fetch(`${op.url}${path}`, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined || opts.raw ? { 'content-type': 'application/json' } : {}) },
    ...(opts.raw !== undefined ? { body: opts.raw } : opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', json: text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : { text }, headers: res.headers };
}
const envs = () => `/api/v1/namespaces/${ns}/environments`;

beforeAll(async () => {
  ns = await testNamespace('api');
  project = `shop${randomBytes(2).toString('hex')}`;
  const bucket = `api-${randomBytes(3).toString('hex')}`;
  await createBackupStore(ns, bucket, 'api restic password');
  const repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': 'version: 1\napplications:\n  web: { image: shop/web:1, port: 8080 }\n' });
  await repo.commit('fix/login', { 'app.txt': 'fix' });
  // A typo on line 3: `imgae` for `image`, so no image either.
  await repo.commit('broken', { 'platform.yaml': 'version: 1\napplications:\n  web: { imgae: shop/web:1, port: 8080 }\n' });
  await repo.push();
  await kube().create<Project>({
    apiVersion: api,
    kind: 'Project',
    metadata: { name: project, namespace: ns },
    // Agents are this namespace's ServiceAccounts; only the production branch follows Git here.
    spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, defaults: { clone: 'empty' }, branches: { include: ['none'] }, policy: { agentsGroup: `system:serviceaccounts:${ns}` } },
  });
  for (const sa of ['agent', 'reader']) await kubectl('-n', ns, 'create', 'serviceaccount', sa);
  await kubectl('-n', ns, 'create', 'role', 'agent', '--verb=get,list,create,patch,delete', '--resource=environments.grove.dev,backups.grove.dev,restores.grove.dev,rehearsals.grove.dev,projects.grove.dev');
  await kubectl('-n', ns, 'create', 'rolebinding', 'agent', '--role=agent', `--serviceaccount=${ns}:agent`);
  await kubectl('-n', ns, 'create', 'role', 'reader', '--verb=get,list', '--resource=environments.grove.dev');
  await kubectl('-n', ns, 'create', 'rolebinding', 'reader', '--role=reader', `--serviceaccount=${ns}:reader`);
  for (const sa of ['agent', 'reader']) tokens[sa] = await kubectl('-n', ns, 'create', 'token', sa);
  op = await startOperator(ns, ['--audit-flush-seconds', '1']);
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
});

describe('the HTTP API', () => {
  it('creates an Environment for a ServiceAccount that may, waits until it is Ready, renews and deletes it', async () => {
    const name = `${project}-fix-login`;
    const created = await call('POST', envs(), { token: tokens.agent, body: { name, project, branch: 'fix/login', clone: 'empty' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${envs()}/${name}`);
    expect(created.json.spec).toMatchObject({ project, branch: 'fix/login' });
    // The caller asked for it, not the operator that wrote it (the admission policy keeps what the operator relays).
    expect(created.json.metadata.annotations['grove.dev/requested-by']).toBe(`system:serviceaccount:${ns}:agent`);

    const waited = await call('GET', `${envs()}/${name}/wait?timeoutSeconds=60`, { token: tokens.agent });
    expect(waited.status).toBe(200);
    expect(waited.json.ready).toBe(true);
    expect((waited.json.environment as Environment).status?.namespace).toBe(name);
    expect((waited.json.environment as Environment).status?.actor).toMatchObject({ kubernetesUser: `system:serviceaccount:${ns}:agent`, source: 'api' });

    const listed = await call('GET', `${envs()}?project=${project}`, { token: tokens.reader });
    expect((listed.json.items as Environment[]).map((e) => e.metadata.name)).toContain(name);

    const renewed = await call('POST', `${envs()}/${name}/renew`, { token: tokens.agent });
    expect(renewed.status).toBe(200);
    expect(Date.parse((renewed.json as Environment).metadata.annotations?.['grove.dev/renew'] ?? '')).toBeGreaterThan(Date.now() - 60_000);

    expect((await call('DELETE', `${envs()}/${name}`, { token: tokens.agent })).status).toBe(202);
    await expect.poll(async () => kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name }), { timeout: 30_000 }).toBeUndefined();
  });

  it('lets nobody but the operator name another requester', async () => {
    const forged = { apiVersion: api, kind: 'Environment', metadata: { name: 'forged', namespace: ns, annotations: { 'grove.dev/requested-by': `system:serviceaccount:${ns}:agent` } }, spec: { project, branch: 'fix/login', clone: 'empty' } };
    const file = `${process.env.TMPDIR ?? '/tmp'}/forged-${randomBytes(3).toString('hex')}.json`;
    await writeFile(file, JSON.stringify(forged));
    await kubectl('--as', 'mallory@example.com', '--as-group', 'system:masters', 'create', '-f', file);
    const stored = await kube().get<Environment>({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'forged' });
    expect(stored?.metadata.annotations?.['grove.dev/requested-by']).toBe('mallory@example.com');
    await kube().delete({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'forged' });
  });

  it('answers what RBAC and policy forbid with 403 problem documents', async () => {
    const forbidden = await call('POST', envs(), { token: tokens.reader, body: { name: 'nope', project, branch: 'main' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.type).toBe('application/problem+json');
    expect(forbidden.json).toMatchObject({ title: 'Forbidden', status: 403, instance: envs() });
    expect(forbidden.json.detail).toContain(`system:serviceaccount:${ns}:reader may not create environments in namespace ${ns}`);

    const production = await call('POST', envs(), { token: tokens.agent, body: { name: 'sneaky-prod', project, branch: 'main', type: 'production' } });
    expect(production.status).toBe(403);
    expect(production.json.detail).toBe(`agentMayNotMakeProduction: members of system:serviceaccounts:${ns} cannot create or promote a production Environment (policy.agentsGroup of project ${project})`);

    const main = `${project}-main`;
    await expect.poll(async () => (await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: main }))?.metadata.name, { timeout: 30_000 }).toBe(main);
    const guarded = await call('DELETE', `${envs()}/${main}`, { token: tokens.agent });
    expect(guarded.status).toBe(403);
    expect(guarded.json.detail).toContain(`is production: it is deleted only after someone with the confirm right on it (verb confirm on environments.grove.dev, which the admins of the Project hold) confirms by setting grove.dev/confirm-delete=${main}`);
    // The API writes Restores as the operator, so Grove asks whether its caller may confirm.
    const overwrite = await call('POST', `/api/v1/namespaces/${ns}/restores`, { token: tokens.agent, body: { backup: 'any', targetEnvironment: main, overwriteExisting: true, name: 'over-main' } });
    expect(overwrite.status).toBe(403);
    expect(overwrite.json.detail).toBe(`overwriteNotConfirmed: Restoring over the data (overwriteExisting) of production Environment ${main} needs the confirm right on it (verb confirm on environments.grove.dev in namespace ${ns}), which the admins of the Project hold and its agents do not`);
    expect(await kube().get({ apiVersion: api, kind: 'Restore', namespace: ns, name: 'over-main' })).toBeUndefined();
  });

  it('refuses missing, invalid and malformed requests without changing anything', async () => {
    const anonymous = await call('GET', envs());
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect((await call('GET', envs(), { token: 'not-a-token' })).status).toBe(401);

    const notJson = await call('POST', envs(), { token: tokens.agent, raw: '{"name": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.detail).toMatch(/^the body is not JSON/);
    expect((await call('POST', envs(), { token: tokens.agent, body: { name: 'x', project } })).json.detail).toBe('branch is required');
    expect((await call('POST', envs(), { token: tokens.agent, body: { name: 'x', project, branch: 'main', colour: 'blue' } })).json.detail).toMatch(/^unknown fields colour;/);
    expect((await call('POST', envs(), { token: tokens.agent, body: { name: 'x', project, branch: 'main', ttlSeconds: '1h' } })).json.detail).toBe('ttlSeconds must be a number');
    expect((await call('PUT', envs(), { token: tokens.agent })).status).toBe(405);
    expect((await call('GET', `/api/v1/namespaces/${ns}/widgets`, { token: tokens.agent })).status).toBe(404);
    const invalid = await call('POST', envs(), { token: tokens.agent, body: { name: 'Not_A_Name', project, branch: 'main' } });
    expect(invalid.status).toBe(422);
    // Names are checked before anything is read: never a 5xx, never the API server's own words.
    const named = [
      [envs(), { name: '', project, branch: 'main' }, 'name'],
      [envs(), { name: 'x', project: '', branch: 'main' }, 'project'],
      [envs(), { name: 'x%41', project, branch: 'main' }, 'name'],
      [envs(), { name: 'x', project, branch: 'main', parent: 'a/b' }, 'parent'],
      [`/api/v1/namespaces/${ns}/backups`, { environment: '' }, 'environment'],
    ] as const;
    for (const [path, body, field] of named) {
      const refused = await call('POST', path, { token: tokens.agent, body });
      expect(refused.status, JSON.stringify(body)).toBe(422);
      expect(refused.json.detail).toMatch(new RegExp(`^${field} must be a DNS label`));
    }
    const emptyBranch = await call('POST', envs(), { token: tokens.agent, body: { name: 'x', project, branch: '' } });
    expect([emptyBranch.status, emptyBranch.json.detail]).toEqual([400, 'branch must not be empty']);
    expect(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: 'x' })).toBeUndefined();
  });

  it('reads the audit trail with the caller recorded, and describes itself', async () => {
    await expect
      .poll(async () => ((await call('GET', `/api/v1/namespaces/${ns}/projects/${project}/audit`, { token: tokens.agent })).json.items as Array<Record<string, any>> | undefined)?.find((e) => e.source === 'api' && e.action === 'create'), { timeout: 15_000 })
      .toMatchObject({ environment: `${project}-fix-login`, actor: { kubernetesUser: `system:serviceaccount:${ns}:agent` } });
    // One creation, one event, and it says where it came from.
    const trail = (await call('GET', `/api/v1/namespaces/${ns}/projects/${project}/audit`, { token: tokens.agent })).json.items as Array<Record<string, any>>;
    expect(trail.filter((e) => e.action === 'create' && e.environment === `${project}-fix-login`).map((e) => String(e.source))).toEqual(['api']);

    const doc = (await call('GET', '/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) => Object.values(p).map((o) => o.operationId)).sort()).toEqual(
      ['createBackup', 'createEnvironment', 'createRehearsal', 'createRestore', 'deleteEnvironment', 'getEnvironment', 'getRehearsal', 'getRestore', 'listBackups', 'listEnvironments', 'listRehearsals', 'lockdownOperator', 'lockdownProject', 'planBranch', 'readAudit', 'renewEnvironment', 'sleepEnvironment', 'waitEnvironment', 'wakeEnvironment'],
    );
    const llms = await (await fetch(`${op.url}/llms.txt`)).text();
    expect(llms).toContain('Authorization: Bearer');
    expect(llms).toContain(`POST /api/v1/namespaces/{namespace}/environments/{name}/renew`);
    expect(llms).toContain(`POST /api/v1/namespaces/{namespace}/projects/{project}/plan`);
  });
});

describe('planning a branch', () => {
  const plan = () => `/api/v1/namespaces/${ns}/projects/${project}/plan`;

  it('shows what a push of the branch would make, from the repository, and makes none of it', async () => {
    const planned = await call('POST', plan(), { token: tokens.agent, body: { branch: 'fix/login' } });
    expect(planned.status, JSON.stringify(planned.json)).toBe(200);
    const name = environmentName(project, 'fix/login');
    expect(planned.json.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(planned.json.environment).toMatchObject({ name, namespace: ns, type: 'development', parent: `${project}-main`, targetNamespace: name });
    // Only the production branch follows Git in this Project (branches.include: none).
    expect(planned.json).toMatchObject({ admitted: false, reason: 'NotSelected', denials: [] });
    const objects = planned.json.objects as Array<{ kind: string; name: string; namespace?: string; object: { metadata: { name: string } } }>;
    expect(objects.map((o) => `${o.kind}/${o.name}`)).toEqual(expect.arrayContaining([`Namespace/${name}`, 'Deployment/web', 'Service/web', 'NetworkPolicy/default-deny']));
    expect(objects.find((o) => o.kind === 'Deployment')).toMatchObject({ namespace: name, object: { metadata: { name: 'web' } } });
    expect(await kube().get({ apiVersion: 'v1', kind: 'Namespace', name })).toBeUndefined();
    expect(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name })).toBeUndefined();

    const production = await call('POST', plan(), { token: tokens.agent, body: { branch: 'main' } });
    expect(production.json).toMatchObject({ admitted: true, environment: { name: `${project}-main`, type: 'production' } });
    expect(production.json.environment.parent).toBeUndefined();
  });

  it('needs get on the Project', async () => {
    const forbidden = await call('POST', plan(), { token: tokens.reader, body: { branch: 'fix/login' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.detail).toContain(`system:serviceaccount:${ns}:reader may not get projects ${project} in namespace ${ns}`);
  });

  it('answers a broken manifest with 422 and each error at its position', async () => {
    const broken = await call('POST', plan(), { token: tokens.agent, body: { branch: 'broken' } });
    expect(broken.status).toBe(422);
    expect(broken.type).toBe('application/problem+json');
    expect(broken.json.errors).toEqual([
      { file: 'platform.yaml', line: 3, column: 3, field: 'applications.web.image', message: 'is required' },
      { file: 'platform.yaml', line: 3, column: 10, field: 'applications.web.imgae', message: 'unknown field; did you mean "image"?' },
    ]);
    expect(broken.json.detail).toMatch(/^platform\.yaml at [0-9a-f]{12} has 2 errors:\nplatform\.yaml:3:3: applications\.web\.image: is required\nplatform\.yaml:3:10: applications\.web\.imgae: unknown field/);
    expect((await call('POST', plan(), { token: tokens.agent, body: { branch: 'gone' } })).json.detail).toBe(`branch gone does not exist in the repository of project ${project}`);
    expect((await call('POST', plan(), { token: tokens.agent, body: { branch: 'main', revision: 'abc' } })).status).toBe(400);
  });
});

describe('the MCP endpoint', () => {
  async function connect(token: string | undefined): Promise<Client> {
    const client = new Client({ name: 'grove-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${op.url}/mcp`), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}));
    return client;
  }

  it('offers the API operations as tools and runs them with the caller\'s RBAC', async () => {
    const agent = await connect(tokens.agent);
    const tools = (await agent.listTools()).tools;
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['createEnvironment', 'waitEnvironment', 'renewEnvironment', 'readAudit']));
    expect(tools.find((t) => t.name === 'createEnvironment')?.inputSchema.required).toEqual(['namespace', 'name', 'project', 'branch']);

    const name = `${project}-mcp`;
    const created = await agent.callTool({ name: 'createEnvironment', arguments: { namespace: ns, name, project, branch: 'fix/login', clone: 'empty' } });
    expect(created.isError).toBeFalsy();
    expect((created.structuredContent as Environment).metadata.name).toBe(name);
    const waited = await agent.callTool({ name: 'waitEnvironment', arguments: { namespace: ns, name, timeoutSeconds: 60 } });
    expect((waited.structuredContent as { ready: boolean }).ready).toBe(true);
    await agent.close();

    const reader = await connect(tokens.reader);
    const denied = await reader.callTool({ name: 'deleteEnvironment', arguments: { namespace: ns, name } });
    expect(denied.isError).toBe(true);
    expect((denied.content as Array<{ text: string }>)[0]?.text).toContain(`403 Forbidden: system:serviceaccount:${ns}:reader may not delete environments ${name} in namespace ${ns}`);
    const got = await reader.callTool({ name: 'getEnvironment', arguments: { namespace: ns, name } });
    expect((got.structuredContent as Environment).spec.branch).toBe('fix/login');
    await reader.close();
  });

  it('asks for a rehearsal as a tool, in the caller\'s name, and refuses a caller RBAC does not let', async () => {
    const agent = await connect(tokens.agent);
    const asked = await agent.callTool({ name: 'createRehearsal', arguments: { namespace: ns, project, branch: 'fix/login' } });
    expect(asked.isError, JSON.stringify(asked.content)).toBeFalsy();
    const name = (asked.structuredContent as Rehearsal).metadata.name as string;
    expect(name).toMatch(new RegExp(`^${project}-rehearse-[a-z0-9]{5}$`));
    expect((await kube().get<Rehearsal>({ apiVersion: api, kind: 'Rehearsal', namespace: ns, name }))?.metadata.annotations?.['grove.dev/requested-by']).toBe(`system:serviceaccount:${ns}:agent`);
    // This branch's manifest has no deploy hook: the copy is made, found to have nothing to run, and removed.
    await expect.poll(async () => (await agent.callTool({ name: 'getRehearsal', arguments: { namespace: ns, name } })).structuredContent as Rehearsal, { timeout: 120_000, interval: 1000 }).toMatchObject({
      status: { completionTime: expect.any(String), result: { succeeded: true, message: 'The manifest declares no deploy hook: nothing to rehearse' } },
    });
    expect(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name })).toBeUndefined();
    await agent.close();

    const refused = await call('POST', `/api/v1/namespaces/${ns}/rehearsals`, { token: tokens.reader, body: { project, branch: 'fix/login' } });
    expect(refused.status).toBe(403);
    expect(refused.json.detail).toContain(`may not create rehearsals in namespace ${ns}`);
  });

  it('plans a branch as a tool, and lists each manifest error when it cannot', async () => {
    const agent = await connect(tokens.agent);
    expect((await agent.listTools()).tools.find((t) => t.name === 'planBranch')).toMatchObject({ annotations: { readOnlyHint: true }, inputSchema: { required: ['namespace', 'project', 'branch'] } });
    const planned = await agent.callTool({ name: 'planBranch', arguments: { namespace: ns, project, branch: 'fix/login' } });
    expect(planned.isError).toBeFalsy();
    expect((planned.structuredContent as { environment: { name: string }; objects: unknown[] }).environment.name).toBe(environmentName(project, 'fix/login'));
    const broken = await agent.callTool({ name: 'planBranch', arguments: { namespace: ns, project, branch: 'broken' } });
    expect(broken.isError).toBe(true);
    expect((broken.content as Array<{ text: string }>)[0]?.text).toMatch(/^422 Unprocessable Content: platform\.yaml at [0-9a-f]{12} has 2 errors:\nplatform\.yaml:3:3: applications\.web\.image: is required\n/);
    await agent.close();
  });

  it('refuses a client without a token', async () => {
    await expect(connect(undefined)).rejects.toThrow(/401|Kubernetes token/);
  });
});

async function run(env: NodeJS.ProcessEnv, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, done) => void (append(String(chunk)), done()) });
  const code = await runCli(argv, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env });
  return { code, out, err };
}

// One journey, two ways in: the kubeconfig's own rights, or a token through the API with no
// kubeconfig at all. The output is the same.
describe.each([
  { way: 'the kubeconfig', suffix: 'cli', cli: (...argv: string[]) => run({ KUBECONFIG: cluster().kubeconfig }, argv) },
  { way: "the API and a token's rights", suffix: 'api-cli', cli: (...argv: string[]) => run({ GROVE_TOKEN: tokens.agent }, [...argv, '--server', op.url]) },
])('grove env with $way', ({ suffix, cli }) => {
  it('creates, waits for, lists, shows and deletes an Environment', async () => {
    const name = `${project}-${suffix}`;
    const created = await cli('env', 'create', name, '-n', ns, '--project', project, '--branch', 'fix/login', '--clone', 'empty', '--ttl', '3600');
    expect(created.err).toBe('');
    expect(created.out).toBe(`Created Environment ${name}; follow it with: grove env wait ${name} -n ${ns}\n`);
    const waited = await cli('env', 'wait', name, '-n', ns, '--timeout', '60');
    expect(waited.code, waited.err).toBe(0);
    expect(waited.out).toBe(`Environment ${name} is Ready\n`);
    const listed = await cli('env', 'ls', '-n', ns, '--project', project);
    expect(listed.out).toMatch(/^NAME\s+BRANCH\s+TYPE\s+READY\s+REASON\s+URL\s+EXPIRES\s+AGE\n/);
    expect(listed.out).toMatch(new RegExp(`${name}\\s+fix/login\\s+development\\s+True\\s+Ready\\s+-\\s+in (59|60)m`));
    const shown = await cli('env', 'get', name, '-n', ns);
    expect(shown.out).toContain(`Namespace:  ${name}`);
    expect(shown.out).toMatch(/Ready\s+True\s+Ready: Revision [0-9a-f]{12} is available/);
    expect(JSON.parse((await cli('env', 'get', name, '-n', ns, '-o', 'json')).out).spec.ttlSeconds).toBe(3600);
    expect((await cli('env', 'delete', name, '-n', ns)).code).toBe(0);
    await expect.poll(async () => kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name }), { timeout: 30_000 }).toBeUndefined();
    const missing = await cli('env', 'get', name, '-n', ns);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`grove env: Environment ${name} does not exist in namespace ${ns}\n`);
  });
});

describe('grove through the API (--server)', () => {
  const cli = (...argv: string[]) => run({ GROVE_TOKEN: tokens.agent }, [...argv, '--server', op.url]);

  it('says what RBAC refused, and what a token the API server does not accept means', async () => {
    const reader = await run({ GROVE_TOKEN: tokens.reader, GROVE_SERVER: op.url }, ['env', 'create', 'nope', '-n', ns, '--project', project, '--branch', 'main']);
    expect(reader.code).toBe(1);
    expect(reader.err).toBe(`grove env: 403 Forbidden: system:serviceaccount:${ns}:reader may not create environments in namespace ${ns}\n`);
    const anonymous = await run({}, ['env', 'ls', '-n', ns, '--server', op.url]);
    expect(anonymous.err).toContain('401 Unauthorized: send a Kubernetes token');
    expect(anonymous.err).toContain('pass --token or set GROVE_TOKEN');
  });

  it('plans a branch, and prints the manifest errors as offline', async () => {
    const planned = await cli('plan', '-n', ns, '--project', project, '--branch', 'fix/login');
    expect(planned.code, planned.err).toBe(0);
    const name = environmentName(project, 'fix/login');
    expect(planned.out).toMatch(new RegExp(`^# grove plan: branch fix/login of project ${project} \\(development\\) at [0-9a-f]{40}\n# Environment ${name} in namespace ${name}; \\d+ objects\n# data from: ${project}-main\n`));
    expect(planned.out).toContain('# not made by a push: NotSelected:');
    expect(planned.out).toContain('kind: Deployment');
    expect(JSON.parse((await cli('plan', '-n', ns, '--project', project, '--branch', 'main', '-o', 'json')).out)).toMatchObject({ admitted: true, environment: { type: 'production' } });
    const broken = await cli('plan', '-n', ns, '--project', project, '--branch', 'broken');
    expect(broken.code).toBe(1);
    expect(broken.out).toBe('platform.yaml:3:3: applications.web.image: is required\nplatform.yaml:3:10: applications.web.imgae: unknown field; did you mean "image"?\n');
    expect(await kube().get({ apiVersion: 'v1', kind: 'Namespace', name })).toBeUndefined();
  });
});
