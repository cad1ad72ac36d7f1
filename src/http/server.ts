/**
 * The operator's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, and the webhook receiver
 * `POST /hooks/{namespace}/{project}`.
 *
 * The webhook receiver is no oracle and no amplifier: a Project that does not exist, one without
 * a webhook, and a missing or wrong signature all get the same 401, and change nothing; the
 * Project and its Secret come from a short-lived cache with a bounded number of reads at a time
 * (`webhook-secrets.ts`), and refusals are counted (`grove_webhook_requests_total`) rather than
 * logged one by one. 413 past 1 MiB; 503 when the API server cannot be read; 202 once a sync is
 * requested. Headers must arrive within 10 s and a whole request within 30 s, and connections
 * are capped, so slow or many clients cannot hold the server that answers the health probes.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { messageOf } from '../errors/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Clock } from '../runtime/index.ts';
import { type ApiDeps, llmsText, serveApi } from './api/index.ts';
import { MCP_PATH, serveMcp } from './mcp.ts';
import type { Push } from '../source/git/index.ts';
import { WebhookSecrets } from './webhook-secrets.ts';
import { pushOf, verifyWebhook } from './webhooks.ts';

export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** Connections served at once; past it, new ones are dropped until some close. */
const MAX_CONNECTIONS = 1024;

export interface HttpDeps {
  kube: Kube;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** True when the operator can do its work (caches synced, or a standby replica). */
  ready: () => boolean;
  /** Asks for the Project to be synced now; `push` says who pushed what, when the payload says. */
  requestSync: (namespace: string, project: string, push?: Push) => Promise<void>;
  /** `/api/v1`, `/openapi.json`; absent, those paths are not served. */
  api?: ApiDeps;
}

export function createHttpServer(deps: HttpDeps): Server {
  const secrets = new WebhookSecrets({ kube: deps.kube, clock: deps.clock, log: deps.log });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(deps, secrets, req, res).catch((err: unknown) => {
      deps.log.error({ err: messageOf(err), path: req.url }, 'HTTP handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}

async function handle(deps: HttpDeps, secrets: WebhookSecrets, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
  if (hook) return webhook(deps, secrets, req, res, hook[1] as string, hook[2] as string);
  return json(res, 404, { error: 'not found' });
}

async function webhook(deps: HttpDeps, secrets: WebhookSecrets, req: IncomingMessage, res: ServerResponse, namespace: string, name: string): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return json(res, 405, { error: 'method not allowed' });
  }
  const count = (result: 'accepted' | 'refused' | 'too_large' | 'unavailable') => deps.metrics.webhookRequests.inc({ result });
  const declared = Number(req.headers['content-length'] ?? 0);
  const body = declared > MAX_WEBHOOK_BYTES ? undefined : await readCapped(req, MAX_WEBHOOK_BYTES);
  if (!body) {
    count('too_large');
    return json(res, 413, { error: `body larger than ${MAX_WEBHOOK_BYTES} bytes` });
  }
  let secret: string | undefined;
  try {
    secret = await secrets.secretOf(namespace, name);
  } catch (err) {
    count('unavailable');
    deps.log.warn({ namespace, name, kind: 'Project', err: messageOf(err) }, 'Could not read the webhook Secret; the sender is asked to retry');
    return json(res, 503, { error: 'try again later' });
  }
  const verdict = secret === undefined ? undefined : verifyWebhook(req.headers, body, secret);
  if (!verdict?.ok) {
    count('refused');
    return json(res, 401, { error: 'unauthorized' });
  }
  const push = pushOf(verdict.provider, body);
  await deps.requestSync(namespace, name, push);
  count('accepted');
  deps.log.info({ namespace, name, kind: 'Project', provider: verdict.provider, ...(push ? { branch: push.branch, pusher: push.pusher } : {}) }, 'Accepted a webhook; syncing the project');
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
