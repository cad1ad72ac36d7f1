/**
 * A Git smart-HTTP server: Git's own `git http-backend` CGI behind a small Node HTTP bridge,
 * serving the bare repositories under one directory. Protocol v2 works because the bridge hands
 * the client's `Git-Protocol` header to the CGI as `HTTP_GIT_PROTOCOL`.
 *
 * Each request is logged as one JSON line (method, path, service, protocol, status, bytes), which
 * is how tests prove what a client really asked for.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface GitServerOptions {
  /** Directory holding bare repositories (`<name>.git`). */
  root: string;
  /** Require HTTP basic auth with these credentials. */
  auth?: { username: string; password: string };
  /** Called once per finished request. */
  onRequest?: (entry: GitRequestLog) => void;
}

export interface GitRequestLog {
  method: string;
  path: string;
  service: string | undefined;
  gitProtocol: string | undefined;
  status: number;
  requestBytes: number;
  responseBytes: number;
}

/** Git configuration for every served repository, passed through the environment. */
const GIT_CONFIG: Record<string, string> = {
  'http.receivepack': 'true',
  'http.uploadpack': 'true',
  'uploadpack.allowReachableSHA1InWant': 'true',
  'uploadpack.allowAnySHA1InWant': 'true',
  'uploadpack.allowFilter': 'true',
  'protocol.version': '2',
  'receive.denyCurrentBranch': 'ignore',
};

function gitConfigEnv(): Record<string, string> {
  const entries = Object.entries(GIT_CONFIG);
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

export function createGitServer(opts: GitServerOptions): Server {
  return createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (opts.auth && !authorized(req, opts.auth)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="grove"', 'content-type': 'text/plain' }).end('authentication required\n');
      log(req, 401, 0, 0);
      return;
    }
    serveCgi(req, res, opts.root, (status, requestBytes, responseBytes) => log(req, status, requestBytes, responseBytes));
  });

  function log(req: IncomingMessage, status: number, requestBytes: number, responseBytes: number): void {
    const url = new URL(req.url ?? '/', 'http://git');
    opts.onRequest?.({
      method: req.method ?? 'GET',
      path: url.pathname,
      service: url.searchParams.get('service') ?? (/\/(git-[a-z-]+)$/.exec(url.pathname)?.[1] || undefined),
      gitProtocol: header(req, 'git-protocol'),
      status,
      requestBytes,
      responseBytes,
    });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function authorized(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const value = header(req, 'authorization') ?? '';
  if (!value.startsWith('Basic ')) return false;
  const given = Buffer.from(value.slice(6), 'base64');
  const expected = Buffer.from(`${auth.username}:${auth.password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function serveCgi(req: IncomingMessage, res: ServerResponse, root: string, done: (status: number, inBytes: number, outBytes: number) => void): void {
  const url = new URL(req.url ?? '/', 'http://git');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: 'grove',
    ...gitConfigEnv(),
  };
  const optional: Array<[string, string | undefined]> = [
    ['CONTENT_TYPE', header(req, 'content-type')],
    ['CONTENT_LENGTH', header(req, 'content-length')],
    ['HTTP_CONTENT_ENCODING', header(req, 'content-encoding')],
    ['HTTP_GIT_PROTOCOL', header(req, 'git-protocol')],
  ];
  for (const [key, value] of optional) if (value !== undefined) env[key] = value;

  const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let requestBytes = 0;
  let responseBytes = 0;
  let status = 200;
  let headersDone = false;
  let head = Buffer.alloc(0);
  let stderr = '';

  req.on('data', (chunk: Buffer) => (requestBytes += chunk.length));
  req.pipe(cgi.stdin);
  cgi.stdin.on('error', () => {
    /* the CGI may exit before reading the whole body; its exit status says what happened */
  });
  cgi.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      responseBytes += chunk.length;
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (!end) return;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end.index).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const key = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (key.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
      else headers[key] = value;
    }
    res.writeHead(status, headers);
    headersDone = true;
    const body = head.subarray(end.index + end.length);
    responseBytes += body.length;
    if (body.length) res.write(body);
  });
  cgi.on('close', (code) => {
    if (!headersDone) {
      status = 500;
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`git http-backend failed (exit ${code}): ${stderr}\n`);
    } else res.end();
    done(status, requestBytes, responseBytes);
  });
}

function findHeaderEnd(buf: Buffer): { index: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf >= 0) return { index: lf, length: 2 };
  return undefined;
}

/**
 * What a Git host sends after a push, signed the way GitHub signs it: the local Git server has no
 * hooks of its own, so the demo and the tests tell the operator themselves.
 */
export async function sendPushWebhook(operatorUrl: string, namespace: string, project: string, secret: string, body = '{"ref":"refs/heads/main"}'): Promise<Response> {
  const request = pushWebhook(namespace, project, secret, body);
  return fetch(`${operatorUrl}${request.path}`, { method: 'POST', headers: request.headers, body });
}

/** The path, headers and body of that request, for a client that sends it some other way. */
export function pushWebhook(namespace: string, project: string, secret: string, body: string): { path: string; headers: Record<string, string>; body: string } {
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return { path: `/hooks/${namespace}/${project}`, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature }, body };
}
