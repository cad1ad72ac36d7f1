/**
 * Connections that obey a DestinationPolicy. Every connection resolves its host itself, checks
 * every address the name has, and connects to the address it checked — so a name that answers
 * a public address to a first lookup and a private one to the next (DNS rebinding) gains
 * nothing, and a redirect, being a new connection, is checked like the first request.
 *
 * Two doors, one check: an undici dispatcher (the Git client's fetch) and Node http(s) Agents
 * (the S3 client's request handler).
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { type ClientRequestArgs, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { GroveError } from '../errors/index.ts';
import { type DestinationPolicy, refusalOf } from './destinations.ts';
import { startProxy } from './proxy.ts';

/** A connection the policy refused; its message says where and why, and holds no secret. */
export class DestinationRefused extends GroveError {
  constructor(message: string) {
    super('Forbidden', message);
    this.name = 'DestinationRefused';
  }
}

/** The DestinationRefused anywhere in `err`'s chain of causes (fetch wraps what it is given). */
export function refusedIn(err: unknown): DestinationRefused | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof DestinationRefused) return e;
  return undefined;
}

/** Resolves a name to all its addresses (dns.lookup's answer: what the system would connect to). */
export type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface Outbound {
  /** The address to connect to for `host:port`, every address of the name having been checked. */
  check: (host: string, port: number) => Promise<string>;
  /** For undici's fetch: `fetch(url, { dispatcher })`. */
  dispatcher: Dispatcher;
  /** For Node's http and https clients (the S3 client's `requestHandler`). */
  agents: { httpAgent: HttpAgent; httpsAgent: HttpsAgent };
  /** Checks an endpoint URL's own host and port: for clients that may go around the proxy. */
  checkUrl: (url: string) => Promise<void>;
  /** An HTTP proxy for child processes (HTTP(S)_PROXY), started on first use, checking every connection. */
  proxy: () => Promise<string>;
}

export interface OutboundOptions {
  /** Name resolution (the system's, by default). */
  resolve?: Resolve;
  /** Told of every refusal: a child process behind the proxy reports it in its own words, if at all. */
  onRefused?: (refusal: DestinationRefused) => void;
}

export function outbound(policy: DestinationPolicy, opts: OutboundOptions = {}): Outbound {
  const resolve = opts.resolve ?? ((host: string) => dnsLookup(host, { all: true, verbatim: true }));
  async function check(host: string, port: number): Promise<string> {
    try {
      return await checkOnce(host, port);
    } catch (err) {
      if (err instanceof DestinationRefused) opts.onRefused?.(err);
      throw err;
    }
  }
  async function checkOnce(host: string, port: number): Promise<string> {
    const bare = host.replace(/^\[|\]$/g, '');
    const addresses = isIP(bare) ? [bare] : (await resolve(bare)).map((a) => a.address);
    if (addresses.length === 0) throw new GroveError('NotFound', `${bare} has no address`);
    for (const address of addresses) {
      const why = refusalOf(policy, { address, port });
      if (why) throw new DestinationRefused(bare === address ? why : `${bare} resolves to an address Grove may not reach: ${why}`);
    }
    return addresses[0] as string;
  }

  const connector = buildConnector({});
  const dispatcher = new Agent({
    connect: (opts, callback) => {
      const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
      const name = opts.hostname.replace(/^\[|\]$/g, '');
      check(name, port).then(
        (address) => connector({ ...opts, hostname: address, ...(isIP(name) ? {} : { servername: opts.servername ?? name }) }, callback),
        (err: Error) => callback(err, null),
      );
    },
  });

  let proxy: Promise<string> | undefined;
  const checkUrl = async (url: string): Promise<void> => {
    const parsed = new URL(url);
    await check(parsed.hostname, Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80));
  };
  return { check, checkUrl, proxy: () => (proxy ??= startProxy(check).then((p) => p.url)), dispatcher, agents: { httpAgent: new (checked(HttpAgent, check, 80))(), httpsAgent: new (checked(HttpsAgent, check, 443))() as HttpsAgent } };
}

type Created = (err: Error | null, stream: Duplex) => void;

/** An http(s) Agent whose every socket goes to a checked address; Node lets createConnection answer later. */
function checked(Base: typeof HttpAgent, check: Outbound['check'], defaultPort: number): typeof HttpAgent {
  const connect = (Base.prototype as unknown as { createConnection: (options: ClientRequestArgs) => Duplex }).createConnection;
  class Checked extends Base {
    override createConnection(options: ClientRequestArgs & { servername?: string }, created?: Created): undefined {
      const name = (options.host ?? 'localhost').replace(/^\[|\]$/g, '');
      check(name, Number(options.port) || defaultPort).then(
        (address) => created?.(null, connect.call(this, { ...options, host: address, ...(isIP(name) ? {} : { servername: options.servername ?? name }) })),
        (err: Error) => created?.(err, undefined as unknown as Duplex),
      );
      return undefined;
    }
  }
  return Checked;
}
