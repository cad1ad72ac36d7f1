/**
 * The operator's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, and the webhook receiver
 * `POST /hooks/{namespace}/{project}`.
 *
 * The webhook receiver answers 404 with one fixed body for a project that does not exist or has
 * no webhook configured, so it does not tell which projects exist; 401 for a missing or wrong
 * signature (and changes nothing); 413 past 1 MiB; 202 once a sync is requested.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { API_VERSION, type KubeObject, type Project } from '../api/index.ts';
import { messageOf } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { type ApiDeps, llmsText, serveApi } from './api/index.ts';
import { MCP_PATH, serveMcp } from './mcp.ts';
import type { Push } from '../source/git/index.ts';
import { pushOf, verifyWebhook } from './webhooks.ts';

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export interface HttpDeps {
  kube: Kube;
  metrics: Metrics;
  log: Logger;
  /** True when the operator can do its work (caches synced, or a standby replica). */
  ready: () => boolean;
  /** Asks for the Project to be synced now; `push` says who pushed what, when the payload says. */
  requestSync: (namespace: string, project: string, push?: Push) => Promise<void>;
  /** `/api/v1`, `/openapi.json`; absent, those paths are not served. */
  api?: ApiDeps;
}

export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err: messageOf(err), path: req.url }, 'HTTP handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://grove');
  if (url.pathname === '/healthz') return text(res, 200, 'ok');
  if (url.pathname === '/readyz') return deps.ready() ? text(res, 200, 'ok') : text(res, 503, 'not ready');
  if (url.pathname === '/metrics') {
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(await deps.metrics.registry.metrics());
    return;
  }
  if (url.pathname === '/llms.txt') return text(res, 200, llmsText());
  if (deps.api && url.pathname === MCP_PATH) return serveMcp(deps.api, req, res);
  if (deps.api && (await serveApi(deps.api, req, res, url))) return;
  const hook = /^\/hooks\/([a-z0-9][-a-z0-9]{0,62})\/([a-z0-9][-a-z0-9]{0,62})$/.exec(url.pathname);
  if (hook) return webhook(deps, req, res, hook[1] as string, hook[2] as string);
  return json(res, 404, { error: 'not found' });
}

async function webhook(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, namespace: string, name: string): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return json(res, 405, { error: 'method not allowed' });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_WEBHOOK_BYTES) return json(res, 413, { error: `body larger than ${MAX_WEBHOOK_BYTES} bytes` });
  const body = await readCapped(req, MAX_WEBHOOK_BYTES);
  if (!body) return json(res, 413, { error: `body larger than ${MAX_WEBHOOK_BYTES} bytes` });

  const log = deps.log.child({ namespace, name, kind: 'Project' });
  const project = await deps.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name });
  const ref = project?.spec.webhook?.secretRef;
  if (!project || !ref) return json(res, 404, { error: 'not found' });
  const secret = await deps.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace, name: ref.name });
  const encoded = secret?.data?.[ref.key ?? 'secret'];
  if (!encoded) {
    log.warn({ secret: ref.name }, 'Refused a webhook: the webhook Secret or its key is missing');
    return json(res, 404, { error: 'not found' });
  }
  const verdict = verifyWebhook(req.headers, body, Buffer.from(encoded, 'base64').toString('utf8'));
  if (!verdict.ok) {
    log.warn({ reason: verdict.reason }, 'Refused a webhook with a bad signature');
    return json(res, 401, { error: 'invalid signature' });
  }
  const push = pushOf(verdict.provider, body);
  await deps.requestSync(namespace, name, push);
  log.info({ provider: verdict.provider, ...(push ? { branch: push.branch, pusher: push.pusher } : {}) }, 'Accepted a webhook; syncing the project');
  return json(res, 202, { accepted: true });
}

/** The body, or undefined once it grows past `limit` (the rest is not read). */
function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
}
