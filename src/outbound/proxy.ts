/**
 * An HTTP proxy on loopback for the child processes the operator runs for a Project (restic):
 * they cannot be handed a dispatcher, but they honour HTTP(S)_PROXY, and through this proxy
 * every connection they make — CONNECT for https, absolute URLs for http — gets the same check
 * as the operator's own. Go sends requests for loopback hosts around any proxy, so callers
 * check the endpoint itself first (`checkUrl`), which covers those.
 *
 * @module
 */
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { messageOf } from '../errors/index.ts';

type Check = (host: string, port: number) => Promise<string>;

/** `host:port` of a CONNECT request (`[v6]:port` too). */
function target(authority: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(authority);
  return match ? { host: match[1] as string, port: Number(match[2]) } : undefined;
}

/** A reason fit for a status line: one line, printable. */
const statusText = (err: unknown): string => messageOf(err).replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);

export async function startProxy(check: Check): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return res.writeHead(400).end('Only absolute http:// URLs are proxied\n');
    }
    if (url.protocol !== 'http:') return res.writeHead(400).end('Only http:// URLs are proxied; https goes through CONNECT\n');
    const port = Number(url.port) || 80;
    check(url.hostname, port).then(
      (address) => {
        const upstream = request({ host: address, port, method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', (err) => res.headersSent ? res.destroy(err) : res.writeHead(502, statusText(err)).end());
        req.pipe(upstream);
      },
      (err: unknown) => res.writeHead(403, statusText(err)).end(`${messageOf(err)}\n`),
    );
  });
  server.on('connect', (req: { url?: string }, client: Socket, head: Buffer) => {
    client.on('error', () => undefined);
    const to = target(req.url ?? '');
    if (!to) return void client.end('HTTP/1.1 400 CONNECT needs host:port\r\n\r\n');
    check(to.host, to.port).then(
      (address) => {
        const upstream = connect(to.port, address, () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head);
          upstream.pipe(client).pipe(upstream);
        });
        upstream.on('error', (err) => client.end(`HTTP/1.1 502 ${statusText(err)}\r\n\r\n`));
      },
      (err: unknown) => client.end(`HTTP/1.1 403 ${statusText(err)}\r\n\r\n`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The operator's lifetime is the proxy's: it never keeps the process alive by itself.
  server.unref();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
