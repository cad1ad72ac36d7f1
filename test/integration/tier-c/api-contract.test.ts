// The HTTP API as a contract, tried by an OpenAPI-driven fuzzer against the real operator: every
// operation of /openapi.json gets well-formed and malformed path names, query values and bodies
// (each field absent, of the wrong type, empty, too long, with '%'; unknown fields; bodies that are
// not objects or not JSON), plus a seeded random mix. Whatever comes in, the answer is never 5xx,
// its status is one the document declares for that operation, its body matches the declared
// schema, and a request the document's own schema refuses is never accepted.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../../src/api/index.ts';
import { createRepo } from '../git-fixtures.ts';
import { cluster, conditionStatus, kube, testNamespace } from '../helpers.ts';
import { createBackupStore } from '../movers.ts';
import { type OperatorProcess, startOperator } from '../operator.ts';

const api = 'grove.dev/v1alpha1';
const kubectl = async (...args: string[]): Promise<string> => (await promisify(execFile)(cluster().kubectl, ['--kubeconfig', cluster().kubeconfig, ...args])).stdout.trim();

interface Schema {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
}
interface OpenApiOperation {
  operationId: string;
  parameters: Array<{ name: string; in: 'path' | 'query'; schema: Schema }>;
  requestBody?: { content: { 'application/json': { schema: Schema } } };
  responses: Record<string, { content: Record<string, { schema: unknown }> }>;
}
interface Probe {
  op: OpenApiOperation;
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
  raw?: string;
  /** What the document's own schemas say of this request. */
  valid: boolean;
  why: string;
}

let ns: string;
let project: string;
let op: OperatorProcess;
let token: string;
let doc: { paths: Record<string, Record<string, OpenApiOperation>>; components: Record<string, unknown> };
const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });

/** A JSON Schema of the document, its `#/components` references resolved against the document. */
type Validate = ((value: unknown) => boolean) & { errors?: Parameters<typeof ajv.errorsText>[0] };
const compiled = new Map<unknown, Validate>();
function validator(schema: unknown): Validate {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as object) as Validate;
    compiled.set(schema, v);
  }
  return v;
}

/** Values of every shape, for any field. */
const JUNK: readonly unknown[] = [null, '', '%', '%25zz', 'A', 'a_b', '-a', 'a'.repeat(64), 'x'.repeat(5000), 0, -1, 1.5, 1e15, true, false, {}, [], ['a'], { $ne: 1 }];
const PATH_JUNK = ['', 'A', '%25', '-a', 'a_b', '..', 'a'.repeat(64), 'ünï'];
const QUERY_JUNK = ['', '-1', '1.5', 'abc', '%', '601', 'x'.repeat(300), '2026-13-45T99:00:00Z'];

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A body the schema accepts, naming objects that exist where a name is asked for. */
function validBody(schema: Schema, names: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key of schema.required ?? []) {
    const field = schema.properties?.[key] ?? {};
    body[key] = names[key] ?? (field.enum ? field.enum[0] : field.type === 'integer' ? 60 : field.type === 'boolean' ? false : `fuzz-${randomBytes(2).toString('hex')}`);
  }
  return body;
}

function probes(names: Record<string, string>): Probe[] {
  const out: Probe[] = [];
  const rand = random(20261202);
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      // Deleting what the other probes name would change their answers; it is probed by name only.
      const existing = Object.fromEntries(operation.parameters.filter((p) => p.in === 'path').map((p) => [p.name, p.name === 'name' ? (operation.operationId === 'deleteEnvironment' ? 'no-such-env' : names[operation.operationId.endsWith('Restore') ? 'restore' : 'environment']!) : names[p.name]!]));
      const base = { op: operation, method: method.toUpperCase(), path, params: existing, query: {} as Record<string, string> };
      const bodySchema = operation.requestBody?.content['application/json'].schema;
      const body = bodySchema ? validBody(bodySchema, names) : undefined;
      const checkBody = (b: unknown): boolean => !bodySchema || validator(bodySchema)(b);
      out.push({ ...base, ...(body ? { body } : {}), valid: true, why: 'well-formed' });
      for (const param of operation.parameters) {
        if (param.in === 'path') {
          for (const value of PATH_JUNK) out.push({ ...base, params: { ...existing, [param.name]: value }, ...(body ? { body } : {}), valid: false, why: `path ${param.name}=${JSON.stringify(value)}` });
          out.push({ ...base, params: { ...existing, [param.name]: 'no-such-thing' }, ...(body ? { body } : {}), valid: true, why: `path ${param.name} names nothing` });
        } else {
          for (const value of QUERY_JUNK) out.push({ ...base, query: { [param.name]: value }, ...(body ? { body } : {}), valid: validator(param.schema)(param.schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value), why: `query ${param.name}=${JSON.stringify(value.slice(0, 20))}` });
        }
      }
      if (!bodySchema || !body) continue;
      for (const key of Object.keys(bodySchema.properties ?? {})) {
        const without = { ...body };
        delete without[key];
        out.push({ ...base, body: without, valid: checkBody(without), why: `body without ${key}` });
        for (const value of JUNK) {
          const mutated = { ...body, [key]: value };
          out.push({ ...base, body: mutated, valid: checkBody(mutated), why: `body ${key}=${JSON.stringify(value)?.slice(0, 20)}` });
        }
      }
      out.push({ ...base, body: { ...body, unexpected: 1 }, valid: false, why: 'an unknown field' });
      for (const raw of ['[]', '"text"', '42', 'null', '{"name":', 'not json', `{"pad":"${'x'.repeat(70_000)}"}`]) out.push({ ...base, raw, valid: false, why: `body ${raw.slice(0, 12)}` });
      // Random mixes of valid and junk values over all the fields.
      const keys = Object.keys(bodySchema.properties ?? {});
      for (let i = 0; i < 12; i++) {
        const mixed: Record<string, unknown> = {};
        for (const key of keys) {
          const r = rand();
          if (r < 0.3) continue;
          mixed[key] = r < 0.65 && key in body ? body[key] : JUNK[Math.floor(rand() * JUNK.length)];
        }
        out.push({ ...base, body: mixed, valid: checkBody(mixed), why: `random ${JSON.stringify(mixed).slice(0, 60)}` });
      }
    }
  }
  return out;
}

async function send(p: Probe): Promise<{ status: number; type: string; json: unknown }> {
  const path = p.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(p.params[name] ?? ''));
  const query = new URLSearchParams(p.query).toString();
  const payload = p.raw ?? (p.body !== undefined ? JSON.stringify(p.body) : undefined);
  const res = await fetch(`${op.url}${path}${query ? `?${query}` : ''}`, {
    method: p.method,
    headers: { authorization: `Bearer ${token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // left as text: a schema check below says what was expected
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json };
}

beforeAll(async () => {
  ns = await testNamespace('contract');
  project = `fz${randomBytes(2).toString('hex')}`;
  await createBackupStore(ns, `contract-${randomBytes(3).toString('hex')}`, 'contract');
  const repo = await createRepo(cluster().git!.root, project);
  await repo.commit('main', { 'platform.yaml': 'version: 1\napplications:\n  web: { image: shop/web:1, port: 8080 }\n' });
  await repo.push();
  await kube().create<Project>({ apiVersion: api, kind: 'Project', metadata: { name: project, namespace: ns }, spec: { repo: { url: `${cluster().git!.url}/${project}.git` }, pollIntervalSeconds: 3600, backupStoreRef: { name: 'store' }, defaults: { clone: 'empty' } } });
  await kubectl('-n', ns, 'create', 'serviceaccount', 'fuzzer');
  await kubectl('-n', ns, 'create', 'role', 'fuzzer', '--verb=get,list,create,patch,delete', '--resource=environments.grove.dev,backups.grove.dev,restores.grove.dev,projects.grove.dev');
  await kubectl('-n', ns, 'create', 'rolebinding', 'fuzzer', '--role=fuzzer', `--serviceaccount=${ns}:fuzzer`);
  token = await kubectl('-n', ns, 'create', 'token', 'fuzzer');
  op = await startOperator(ns);
  doc = (await (await fetch(`${op.url}/openapi.json`)).json()) as typeof doc;
  ajv.addSchema({ $id: 'openapi', components: doc.components });
}, 120_000);

afterAll(async () => {
  await op?.kill('SIGKILL');
});

describe('the API against its own OpenAPI document', () => {
  it('never answers 5xx, answers only what it declares, and accepts nothing its schema refuses', async () => {
    const production = `${project}-main`;
    await expect.poll(async () => conditionStatus(await kube().get({ apiVersion: api, kind: 'Environment', namespace: ns, name: production }), 'Ready'), { timeout: 60_000, interval: 500 }).toBe('True');
    const names = { namespace: ns, project, environment: production, backup: 'no-such-backup', restore: 'no-such-restore', branch: 'main' };
    const all = probes(names);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const p of all) {
      const { status, type, json } = await send(p);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const what = `${p.method} ${p.op.operationId} (${p.why}) → ${status}`;
      if (status >= 500) failures.push(`${what}: ${JSON.stringify(json).slice(0, 200)}`);
      if (!p.valid && status < 400) failures.push(`${what}: accepted a request the schema refuses`);
      const declared = p.op.responses[String(status)];
      // A path that no longer matches the route (an invalid name) is no operation's: 404 from the router.
      if (!declared) {
        if (!(status === 404 && !p.valid)) failures.push(`${what}: status not declared`);
        continue;
      }
      const [mediaType, media] = Object.entries(declared.content)[0]!;
      if (!type.startsWith(mediaType)) failures.push(`${what}: content-type ${type}, declared ${mediaType}`);
      const check = validator(media.schema);
      if (!check(json)) failures.push(`${what}: body does not match its schema: ${ajv.errorsText(check.errors)}`);
    }
    console.log(`API contract: ${all.length} requests over ${Object.values(doc.paths).reduce((n, m) => n + Object.keys(m).length, 0)} operations; statuses ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    expect(failures).toEqual([]);
    expect(all.length).toBeGreaterThan(300);
  }, 600_000);
});
