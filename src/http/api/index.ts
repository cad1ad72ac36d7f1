/**
 * Grove's HTTP API, `/api/v1`, for agents and people: Environments (list, get, create, wait,
 * renew, sleep, wake, delete), Backups (list, create), Restores (create, get), the audit trail,
 * and the plan of a branch (what a push would make, without making it).
 *
 * Every request carries a Bearer token; the API server says whose it is (TokenReview) and
 * whether RBAC allows the operation (SubjectAccessReview, `routes.ts` names the verb and
 * resource), so a token may do through Grove exactly what it may do with kubectl. This module
 * checks the input's shape before anything reads the cluster; the operations themselves — with
 * Grove's policy checks and the audit trail — are `service/`'s, which the CLI calls too. Errors
 * are RFC 9457 problem documents.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONDITIONS, type Environment, findCondition } from '../../api/index.ts';
import { AUDIT_ACTIONS, type AuditAction, type AuditSink } from '../../audit/index.ts';
import { GroveError, messageOf } from '../../errors/index.ts';
import { type Kube, KubeError } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import type { Outbound } from '../../outbound/index.ts';
import type { Lockdown } from '../../policy/index.ts';
import type { Clock } from '../../runtime/index.ts';
import { type Operations, operations } from '../../service/index.ts';
import type { GitSource } from '../../source/git/index.ts';
import type { Authorizer, Caller } from './auth.ts';
import { openApiDocument } from './openapi.ts';
import { planBranch } from './plan.ts';
import { ApiProblem } from './problem.ts';
import { accessOf, DNS_LABEL, type Match, matchRoute, type OperationId } from './routes.ts';

export { ApiProblem } from './problem.ts';
export { type Caller, kubernetesAuthorizer } from './auth.ts';
export { argumentsOf, inputSchemaOf, llmsText } from './openapi.ts';
export { type OperationId, OPERATIONS, rbacResource } from './routes.ts';

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
  /** Where the operator may connect for a Project (reading audit trails from BackupStores). */
  outbound?: Outbound;
  /** The operator's namespace and its kill switch as last seen. */
  operator?: { home: string; lockdown: () => Lockdown | undefined };
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
    const body = req.method === 'POST' || req.method === 'PUT' ? await readJson(req) : {};
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
  const ops = operations({ kube: deps.kube, now: () => deps.clock.now(), audit: deps.audit, requester: () => Promise.resolve(caller), source: 'api', fieldManager: API_MANAGER, ...(deps.outbound ? { outbound: deps.outbound } : {}), ...(deps.operator ? { operator: deps.operator } : {}),
    mayConfirm: async (namespace, environment) => (await deps.authorizer.authorize(caller, { verb: 'confirm', resource: 'environments', namespace, name: environment })).allowed,
  });
  return HANDLERS[match.operation.id]({ deps, ops, ...invocation });
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

type Request = Invocation & { deps: ApiDeps; ops: Operations };

const optional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));

function lockdownAsk(body: Record<string, unknown>): [boolean, string | undefined] {
  const unknown = Object.keys(body).filter((k) => k !== 'engaged' && k !== 'reason');
  if (unknown.length) throw new ApiProblem(400, 'Bad Request', `unknown fields ${unknown.join(', ')}; a kill switch takes engaged and reason`);
  const reason = field(body, 'reason', 'string', false) as string | undefined;
  if (reason !== undefined && reason.length > 500) throw new ApiProblem(400, 'Bad Request', 'reason must be at most 500 characters');
  return [field(body, 'engaged', 'boolean', true) as boolean, reason];
}

const HANDLERS: Record<OperationId, (r: Request) => Promise<Reply>> = {
  async listEnvironments({ ops, match, query }) {
    return { status: 200, value: { items: await ops.listEnvironments(ns(match), query.get('project') ?? undefined) } };
  },
  async getEnvironment({ ops, match }) {
    return { status: 200, value: await ops.getEnvironment(ns(match), name(match)) };
  },
  async createEnvironment({ ops, match, body }) {
    const spec = environmentSpec(body);
    const envName = field(body, 'name', 'name', true) as string;
    const created = await ops.createEnvironment(ns(match), envName, spec);
    return { status: 201, value: created, headers: { location: `/api/v1/namespaces/${ns(match)}/environments/${envName}` } };
  },
  async deleteEnvironment({ ops, match }) {
    const env = await ops.deleteEnvironment(ns(match), name(match));
    return { status: 202, value: { deleting: env.metadata.name, detail: 'the namespace goes after the final backup, when the type is backed up' } };
  },
  async waitEnvironment({ deps, ops, match, query, gone }) {
    const max = deps.maxWaitSeconds ?? 600;
    const raw = query.get('timeoutSeconds');
    const seconds = raw === null ? 60 : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > max) throw new ApiProblem(400, 'Bad Request', `timeoutSeconds must be a whole number from 0 to ${max}`);
    const deadline = deps.clock.now() + seconds * 1000;
    for (;;) {
      const env = await ops.getEnvironment(ns(match), name(match));
      const ready = findCondition(env.status?.conditions, CONDITIONS.ready);
      const stalled = findCondition(env.status?.conditions, CONDITIONS.stalled);
      const current = env.status?.observedGeneration === env.metadata.generation;
      if (current && ready?.status === 'True') return { status: 200, value: { ready: true, environment: env } };
      if (current && stalled?.status === 'True') return { status: 200, value: { ready: false, stalled: true, reason: stalled.reason, message: stalled.message, environment: env } };
      if (deps.clock.now() >= deadline || gone?.()) return { status: 200, value: { ready: false, reason: ready?.reason ?? 'Pending', message: ready?.message ?? 'not reconciled yet', environment: env } };
      await new Promise<void>((resolve) => deps.clock.after(Math.min(1000, Math.max(0, deadline - deps.clock.now())), resolve));
    }
  },
  renewEnvironment: async ({ ops, match }) => ({ status: 200, value: await ops.lifecycle(ns(match), name(match), 'renew') }),
  sleepEnvironment: async ({ ops, match }) => ({ status: 200, value: await ops.lifecycle(ns(match), name(match), 'sleep') }),
  wakeEnvironment: async ({ ops, match }) => ({ status: 200, value: await ops.lifecycle(ns(match), name(match), 'wake') }),
  async listBackups({ ops, match, query }) {
    return { status: 200, value: { items: await ops.listBackups(ns(match), query.get('environment') ?? undefined) } };
  },
  async createBackup({ ops, match, body }) {
    const environment = field(body, 'environment', 'name', true) as string;
    const retain = field(body, 'retainSeconds', 'number', false) as number | undefined;
    if (retain !== undefined && (!Number.isInteger(retain) || retain < 60)) throw new ApiProblem(400, 'Bad Request', 'retainSeconds must be a whole number of seconds, at least 60');
    const backupName = field(body, 'name', 'name', false) as string | undefined;
    return { status: 201, value: await ops.createBackup(ns(match), environment, backupName, retain) };
  },
  async createRestore({ ops, match, body }) {
    const backup = field(body, 'backup', 'name', true) as string;
    const targetEnvironment = field(body, 'targetEnvironment', 'name', false) as string | undefined;
    const overwrite = field(body, 'overwriteExisting', 'boolean', false) as boolean | undefined;
    const restoreName = field(body, 'name', 'name', false) as string | undefined;
    const created = await ops.createRestore(ns(match), { backup, ...(restoreName ? { name: restoreName } : {}), ...(targetEnvironment ? { targetEnvironment } : {}), ...(overwrite ? { overwriteExisting: true } : {}) });
    return { status: 201, value: created };
  },
  async planBranch({ deps, match, body }) {
    const unknown = Object.keys(body).filter((k) => k !== 'branch' && k !== 'revision');
    if (unknown.length) throw new ApiProblem(400, 'Bad Request', `unknown fields ${unknown.join(', ')}; a plan takes branch and revision`);
    const ask = { branch: field(body, 'branch', 'string', true) as string, revision: field(body, 'revision', 'string', false) as string | undefined };
    return planBranch({ ...deps, now: deps.clock.now() }, ns(match), match.params.project as string, ask);
  },
  lockdownProject: async ({ ops, match, body }) => ({ status: 200, value: await ops.setLockdown(ns(match), match.params.project, ...lockdownAsk(body)) }),
  lockdownOperator: async ({ ops, match, body }) => ({ status: 200, value: await ops.setLockdown(ns(match), undefined, ...lockdownAsk(body)) }),
  async getRestore({ ops, match }) {
    return { status: 200, value: await ops.getRestore(ns(match), name(match)) };
  },
  async listRehearsals({ ops, match, query }) {
    return { status: 200, value: { items: await ops.listRehearsals(ns(match), query.get('project') ?? undefined) } };
  },
  async createRehearsal({ ops, match, body }) {
    const revision = field(body, 'revision', 'string', false) as string | undefined;
    if (revision !== undefined && !/^[0-9a-f]{40}$/.test(revision)) throw new ApiProblem(400, 'Bad Request', 'revision must be a full commit SHA (40 lowercase hex characters)');
    const pullRequest = field(body, 'pullRequest', 'number', false) as number | undefined;
    if (pullRequest !== undefined && (!Number.isInteger(pullRequest) || pullRequest < 1)) throw new ApiProblem(400, 'Bad Request', 'pullRequest must be a pull request number (a whole number from 1)');
    const ask = {
      project: field(body, 'project', 'name', true) as string,
      branch: field(body, 'branch', 'string', true) as string,
      ...(revision ? { revision } : {}),
      ...optional('parent', field(body, 'parent', 'name', false) as string | undefined),
      ...(pullRequest ? { pullRequest } : {}),
      ...optional('name', field(body, 'name', 'name', false) as string | undefined),
    };
    return { status: 201, value: await ops.createRehearsal(ns(match), ask) };
  },
  async getRehearsal({ ops, match }) {
    return { status: 200, value: await ops.getRehearsal(ns(match), name(match)) };
  },
  async readAudit({ ops, match, query }) {
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
    return { status: 200, value: { items: await ops.readAudit(ns(match), match.params.project as string, filter) } };
  },
};

const ns = (match: Match): string => match.params.namespace as string;
const name = (match: Match): string => match.params.name as string;

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
  if (value === undefined) {
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
export function asProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err instanceof KubeError && err.status >= 400 && err.status < 500) {
    const titles: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Content' };
    return new ApiProblem(err.status, titles[err.status] ?? 'Bad Request', err.message);
  }
  if (err instanceof GroveError && err.code === 'NotFound') return new ApiProblem(404, 'Not Found', err.message);
  if (err instanceof GroveError && err.code === 'Forbidden') return new ApiProblem(403, 'Forbidden', err.message);
  return new ApiProblem(500, 'Internal Server Error', 'the request failed inside Grove; the operator log says why');
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(value)}\n`);
}
