/**
 * Grove's HTTP API, `/api/v1`, for agents and people: Environments (list, get, create, wait,
 * renew, sleep, wake, delete), Backups (list, create), Restores (create, get), the audit trail,
 * and the plan of a branch (what a push would make, without making it).
 *
 * Every request carries a Bearer token; the API server says whose it is (TokenReview) and
 * whether RBAC allows the operation (SubjectAccessReview, `routes.ts` names the verb and
 * resource), so a token may do through Grove exactly what it may do with kubectl. Grove then acts
 * with its own identity, checking for its callers what admission would check for them
 * (agents and production), and records the caller in the audit trail. Errors are RFC 9457
 * problem documents.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANNOTATIONS, CONDITIONS, LABELS } from '../../api/constants.ts';
import { findCondition } from '../../api/conditions.ts';
import { API_VERSION } from '../../api/crds.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { Backup, Environment, Project, Restore } from '../../api/types.gen.ts';
import { AUDIT_ACTIONS, type AuditAction, auditEvent, type AuditSink, environmentEvent } from '../../audit/index.ts';
import { readProjectTrail } from '../../audit/sinks.ts';
import { restoreFor } from '../../data/restore.ts';
import { backupFor, manualBackupName } from '../../data/schedule.ts';
import { GroveError, messageOf } from '../../errors/index.ts';
import { type Kube, KubeError } from '../../kube/index.ts';
import { lifecyclePatch } from '../../lifecycle/index.ts';
import type { Logger } from '../../log/index.ts';
import { agentMayNotMakeProduction, describeDenial } from '../../policy/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { GitSource } from '../../source/git/index.ts';
import type { Authorizer, Caller } from './auth.ts';
import { openApiDocument } from './openapi.ts';
import { planBranch } from './plan.ts';
import { ApiProblem } from './problem.ts';
import { accessOf, DNS_LABEL, type Match, matchRoute, type OperationId } from './routes.ts';

export { ApiProblem } from './problem.ts';

export interface ApiDeps {
  kube: Kube;
  clock: Clock;
  log: Logger;
  authorizer: Authorizer;
  audit: AuditSink;
  /** The operator's Git source, through which `planBranch` reads manifests; without it that operation answers 503. */
  git?: GitSource;
  /** The longest a wait may last (seconds). */
  maxWaitSeconds?: number;
}

const MAX_BODY_BYTES = 64 * 1024;
/** The field manager of what callers change through the API. */
const API_MANAGER = 'grove-api';

/** Serves `/openapi.json` and `/api/v1/…`; false when the path is neither. */
export async function serveApi(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  if (url.pathname === '/openapi.json') {
    sendJson(res, 200, openApiDocument());
    return true;
  }
  if (!url.pathname.startsWith('/api/')) return false;
  try {
    const matched = matchRoute(req.method ?? 'GET', url.pathname);
    if (!matched) throw new ApiProblem(404, 'Not Found', `no API operation at ${url.pathname}; see /openapi.json`);
    if ('methods' in matched) throw new ApiProblem(405, 'Method Not Allowed', `${url.pathname} allows ${matched.methods.join(', ')}`, { allow: matched.methods.join(', ') });
    const caller = await authenticateRequest(deps, req);
    const body = req.method === 'POST' ? await readJson(req) : {};
    let gone = false;
    req.once('close', () => (gone = true));
    const { status, value, headers } = await perform(deps, { caller, match: matched, body, query: url.searchParams, gone: () => gone });
    sendJson(res, status, value, headers);
  } catch (err) {
    const problem = asProblem(err);
    if (problem.status >= 500) deps.log.error({ path: url.pathname, err: messageOf(err) }, 'API request failed');
    res.writeHead(problem.status, { 'content-type': 'application/problem+json', ...problem.headers });
    res.end(`${JSON.stringify({ type: 'about:blank', title: problem.title, status: problem.status, detail: problem.message, instance: url.pathname, ...problem.members })}\n`);
  }
  return true;
}

export interface Invocation {
  caller: Caller;
  match: Match;
  body: Record<string, unknown>;
  query: URLSearchParams;
  /** True once the client has gone (a long poll stops then). */
  gone?: () => boolean;
}
export type Reply = { status: number; value: unknown; headers?: Record<string, string> };

/** One operation for an authenticated caller: RBAC first, then the operation. The HTTP API and the MCP tools both come here. */
export async function perform(deps: ApiDeps, invocation: Invocation): Promise<Reply> {
  const { caller, match } = invocation;
  const access = accessOf(match);
  const verdict = await deps.authorizer.authorize(caller, access);
  if (!verdict.allowed) {
    const what = `${access.verb} ${access.resource}${access.name ? ` ${access.name}` : ''} in namespace ${access.namespace}`;
    throw new ApiProblem(403, 'Forbidden', `${caller.username} may not ${what}${verdict.reason ? `: ${verdict.reason}` : ''}`);
  }
  return HANDLERS[match.operation.id]({ deps, ...invocation });
}

/** The caller of a request from its Bearer token; 401 without one the API server accepts. */
export async function authenticateRequest(deps: ApiDeps, req: IncomingMessage): Promise<Caller> {
  const challenge = { 'www-authenticate': 'Bearer realm="grove"' };
  const header = req.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!token) throw new ApiProblem(401, 'Unauthorized', 'send a Kubernetes token as "Authorization: Bearer <token>" (for a ServiceAccount: kubectl create token NAME)', challenge);
  const caller = await deps.authorizer.authenticate(token);
  if (!caller) throw new ApiProblem(401, 'Unauthorized', 'the Kubernetes API server does not accept this token', challenge);
  return caller;
}

type Request = Invocation & { deps: ApiDeps };

const HANDLERS: Record<OperationId, (r: Request) => Promise<Reply>> = {
  async listEnvironments({ deps, match, query }) {
    const project = query.get('project');
    const items = (await deps.kube.list<Environment>(API_VERSION, 'Environment', { namespace: ns(match) })).items.filter((e) => !project || e.spec.project === project);
    return { status: 200, value: { items } };
  },
  async getEnvironment({ deps, match }) {
    return { status: 200, value: await environment(deps, match) };
  },
  async createEnvironment({ deps, caller, match, body }) {
    const spec = environmentSpec(body);
    const name = field(body, 'name', 'name', true) as string;
    const project = await deps.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace: ns(match), name: spec.project });
    if (!project) throw new ApiProblem(404, 'Not Found', `Project ${spec.project} does not exist in namespace ${ns(match)}`);
    const denial = agentMayNotMakeProduction(project, caller.groups, spec.type);
    if (denial) throw new ApiProblem(403, 'Forbidden', describeDenial(denial));
    // One action, one audit event: the controller records the creation, from the source label
    // and the requester the admission policy keeps.
    const created = await deps.kube.create<Environment>(requestedBy(caller, { apiVersion: API_VERSION, kind: 'Environment', metadata: { name, namespace: ns(match), labels: { [LABELS.project]: spec.project, [LABELS.source]: 'api' } }, spec }));
    return { status: 201, value: created, headers: { location: `/api/v1/namespaces/${ns(match)}/environments/${name}` } };
  },
  async deleteEnvironment({ deps, caller, match }) {
    const env = await environment(deps, match);
    await deps.kube.delete({ apiVersion: API_VERSION, kind: 'Environment', namespace: ns(match), name: env.metadata.name as string }, env.metadata.uid ? { uid: env.metadata.uid } : {});
    await deps.audit.record(environmentEvent({ env, action: 'delete', now: deps.clock.now(), source: 'api', discriminator: `api ${env.metadata.uid ?? ''}`, actor: { kubernetesUser: caller.username } }));
    return { status: 202, value: { deleting: env.metadata.name, detail: 'the namespace goes after the final backup, when the type is backed up' } };
  },
  async waitEnvironment({ deps, match, query, gone }) {
    const max = deps.maxWaitSeconds ?? 600;
    const seconds = Number(query.get('timeoutSeconds') ?? 60);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > max) throw new ApiProblem(400, 'Bad Request', `timeoutSeconds must be a whole number from 0 to ${max}`);
    const deadline = deps.clock.now() + seconds * 1000;
    for (;;) {
      const env = await environment(deps, match);
      const ready = findCondition(env.status?.conditions, CONDITIONS.ready);
      const stalled = findCondition(env.status?.conditions, CONDITIONS.stalled);
      const current = env.status?.observedGeneration === env.metadata.generation;
      if (current && ready?.status === 'True') return { status: 200, value: { ready: true, environment: env } };
      if (current && stalled?.status === 'True') return { status: 200, value: { ready: false, stalled: true, reason: stalled.reason, message: stalled.message, environment: env } };
      if (deps.clock.now() >= deadline || gone?.()) return { status: 200, value: { ready: false, reason: ready?.reason ?? 'Pending', message: ready?.message ?? 'not reconciled yet', environment: env } };
      await new Promise<void>((resolve) => deps.clock.after(Math.min(1000, Math.max(0, deadline - deps.clock.now())), resolve));
    }
  },
  renewEnvironment: (r) => lifecycleVerb(r, 'renew'),
  sleepEnvironment: (r) => lifecycleVerb(r, 'sleep'),
  wakeEnvironment: (r) => lifecycleVerb(r, 'wake'),
  async listBackups({ deps, match, query }) {
    const env = query.get('environment');
    const items = (await deps.kube.list<Backup>(API_VERSION, 'Backup', { namespace: ns(match) })).items.filter((b) => !env || b.spec.environment === env);
    return { status: 200, value: { items } };
  },
  async createBackup({ deps, caller, match, body }) {
    const name = field(body, 'environment', 'name', true) as string;
    const retain = field(body, 'retainSeconds', 'number', false) as number | undefined;
    if (retain !== undefined && (!Number.isInteger(retain) || retain < 60)) throw new ApiProblem(400, 'Bad Request', 'retainSeconds must be a whole number of seconds, at least 60');
    const env = await environment(deps, { ...match, params: { ...match.params, name } });
    const backupName = (field(body, 'name', 'name', false) as string | undefined) ?? manualBackupName(name, deps.clock.now());
    const created = await deps.kube.create(requestedBy(caller, backupFor(env, backupName, 'manual', retain)));
    await deps.audit.record(environmentEvent({ env, action: 'backup', now: deps.clock.now(), source: 'api', result: 'started', message: `Backup ${backupName} requested`, discriminator: backupName, actor: { kubernetesUser: caller.username } }));
    return { status: 201, value: created };
  },
  async createRestore({ deps, caller, match, body }) {
    const backupName = field(body, 'backup', 'name', true) as string;
    const target = field(body, 'targetEnvironment', 'name', false) as string | undefined;
    const overwrite = field(body, 'overwriteExisting', 'boolean', false) as boolean | undefined;
    const name = field(body, 'name', 'name', false) as string | undefined;
    const backup = await deps.kube.get<Backup>({ apiVersion: API_VERSION, kind: 'Backup', namespace: ns(match), name: backupName });
    if (!backup) throw new ApiProblem(404, 'Not Found', `Backup ${backupName} does not exist in namespace ${ns(match)}`);
    const created = await deps.kube.create(requestedBy(caller, restoreFor(backup, { ...(name ? { name } : {}), ...(target ? { targetEnvironment: target } : {}), ...(overwrite ? { overwriteExisting: true } : {}), now: new Date(deps.clock.now()) })));
    await deps.audit.record(
      auditEvent({
        object: { kind: 'Restore', namespace: ns(match), name: created.metadata.name as string },
        project: backup.spec.project,
        environment: target ?? backup.spec.environment,
        action: 'restore',
        now: deps.clock.now(),
        actor: { kubernetesUser: caller.username },
        source: 'api',
        result: 'started',
        message: `Restore of Backup ${backupName} requested`,
      }),
    );
    return { status: 201, value: created };
  },
  async planBranch({ deps, match, body }) {
    const unknown = Object.keys(body).filter((k) => k !== 'branch' && k !== 'revision');
    if (unknown.length) throw new ApiProblem(400, 'Bad Request', `unknown fields ${unknown.join(', ')}; a plan takes branch and revision`);
    const ask = { branch: field(body, 'branch', 'string', true) as string, revision: field(body, 'revision', 'string', false) as string | undefined };
    return planBranch({ ...deps, now: deps.clock.now() }, ns(match), match.params.project as string, ask);
  },
  async getRestore({ deps, match }) {
    const restore = await deps.kube.get<Restore>({ apiVersion: API_VERSION, kind: 'Restore', namespace: ns(match), name: match.params.name as string });
    if (!restore) throw new ApiProblem(404, 'Not Found', `Restore ${match.params.name} does not exist in namespace ${ns(match)}`);
    return { status: 200, value: restore };
  },
  async readAudit({ deps, match, query }) {
    const time = (key: string): number | undefined => {
      const v = query.get(key);
      if (v === null) return undefined;
      const t = Date.parse(v);
      if (!Number.isFinite(t)) throw new ApiProblem(400, 'Bad Request', `${key} must be an RFC 3339 time`);
      return t;
    };
    const action = query.get('action') as AuditAction | null;
    if (action !== null && !AUDIT_ACTIONS.includes(action)) throw new ApiProblem(400, 'Bad Request', `action must be one of ${AUDIT_ACTIONS.join(', ')}`);
    const since = time('since');
    const until = time('until');
    const filter = {
      ...(query.get('environment') ? { environment: query.get('environment') as string } : {}),
      ...(query.get('actor') ? { actor: query.get('actor') as string } : {}),
      ...(action !== null ? { action } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    };
    return { status: 200, value: { items: await readProjectTrail(deps.kube, ns(match), match.params.project as string, filter, deps.clock.now()) } };
  },
};

async function lifecycleVerb({ deps, caller, match }: Request, verb: 'renew' | 'sleep' | 'wake'): Promise<Reply> {
  const env = await environment(deps, match);
  const patched = await deps.kube.mergePatch<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: ns(match), name: env.metadata.name as string }, lifecyclePatch(verb, new Date(deps.clock.now())), { fieldManager: API_MANAGER });
  await deps.audit.record(environmentEvent({ env, action: 'update', now: deps.clock.now(), source: 'api', message: `${verb} requested`, discriminator: `${verb} ${deps.clock.now()}`, actor: { kubernetesUser: caller.username } }));
  return { status: 200, value: patched };
}

const ns = (match: Match): string => match.params.namespace as string;

async function environment(deps: ApiDeps, match: Match): Promise<Environment> {
  const env = await deps.kube.get<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace: ns(match), name: match.params.name as string });
  if (!env) throw new ApiProblem(404, 'Not Found', `Environment ${match.params.name} does not exist in namespace ${ns(match)}`);
  return env;
}

const SPEC_FIELDS = { project: 'name', branch: 'string', revision: 'string', parent: 'name', type: 'string', ttlSeconds: 'number', sleepAfterSeconds: 'number', clone: 'string', protected: 'boolean' } as const;

/** The Environment spec of a create request: known fields of the right types; the API server validates the values. */
function environmentSpec(body: Record<string, unknown>): Environment['spec'] {
  const unknown = Object.keys(body).filter((k) => k !== 'name' && !(k in SPEC_FIELDS));
  if (unknown.length) throw new ApiProblem(400, 'Bad Request', `unknown fields ${unknown.join(', ')}; an Environment takes name, ${Object.keys(SPEC_FIELDS).join(', ')}`);
  const spec: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(SPEC_FIELDS)) {
    const value = field(body, key, type, key === 'project' || key === 'branch');
    if (value !== undefined) spec[key] = value;
  }
  return spec as unknown as Environment['spec'];
}

/**
 * One field of a request body, checked before anything reads the cluster: an empty or malformed
 * name must not reach the API server (an empty one would read the whole collection).
 * `name` is a string that names an object (a DNS-1123 label); a required string is never empty.
 */
function field(body: Record<string, unknown>, key: string, type: 'string' | 'name' | 'number' | 'boolean', required: boolean): unknown {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw new ApiProblem(400, 'Bad Request', `${key} is required`);
    return undefined;
  }
  const primitive = type === 'name' ? 'string' : type;
  if (typeof value !== primitive) throw new ApiProblem(400, 'Bad Request', `${key} must be a ${primitive}`);
  if (type === 'name' && !OBJECT_NAME.test(value as string)) {
    throw new ApiProblem(422, 'Unprocessable Content', `${key} must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (got ${JSON.stringify(value)})`);
  }
  if (type === 'string' && required && value === '') throw new ApiProblem(400, 'Bad Request', `${key} must not be empty`);
  return value;
}

const OBJECT_NAME = new RegExp(`^${DNS_LABEL}$`);

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiProblem(413, 'Content Too Large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiProblem(400, 'Bad Request', `the body is not JSON: ${messageOf(err)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiProblem(400, 'Bad Request', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** What the API server said, passed on with its status; anything else is a 500 without internals. */
/**
 * The caller, not the operator, asked for what the API creates. The API server sees only the
 * operator, so the operator names its caller; the record-requester admission policy keeps that
 * annotation on the operator's own requests and overwrites it on everyone else's.
 */
function requestedBy<T extends KubeObject>(caller: Caller, obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [ANNOTATIONS.requestedBy]: caller.username } } };
}

export function asProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err instanceof KubeError && err.status >= 400 && err.status < 500) {
    const titles: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Content' };
    return new ApiProblem(err.status, titles[err.status] ?? 'Bad Request', err.message);
  }
  if (err instanceof GroveError && err.code === 'NotFound') return new ApiProblem(404, 'Not Found', err.message);
  return new ApiProblem(500, 'Internal Server Error', 'the request failed inside Grove; the operator log says why');
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(value)}\n`);
}
