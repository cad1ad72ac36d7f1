import { createServer, get, type Server } from 'node:http';
import { type AddressInfo, createConnection } from 'node:net';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destinationPolicy, outbound, parseAllowed, refusalOf, refusedIn } from './index.ts';

describe('refusalOf', () => {
  const policy = destinationPolicy({ internalNetworks: ['198.18.0.0/15'], apiServers: [{ address: '127.0.0.1', port: 6443 }], allow: ['127.0.0.1:9000', '198.18.5.0/24'] });

  it('refuses loopback, link-local, unspecified, cluster and API server addresses, however written', () => {
    const refused: Array<[string, number, string]> = [
      ['169.254.169.254', 80, "169.254.169.254:80 is link-local, where cloud metadata services answer (169.254.0.0/16); Grove connects there on a Project's behalf only if the operator's --outbound-allow lists it"],
      ['127.0.0.1', 9001, '127.0.0.1:9001 is loopback (127.0.0.0/8)'],
      ['::ffff:127.0.0.2', 80, '[::ffff:127.0.0.2]:80 is loopback (127.0.0.0/8)'],
      ['::1', 443, '[::1]:443 is loopback (::1/128)'],
      ['0.0.0.0', 80, '0.0.0.0:80 is the unspecified address'],
      ['198.18.0.10', 443, "198.18.0.10:443 is the cluster's own network (198.18.0.0/15)"],
      ['fd00:ec2::254', 80, 'is a cloud metadata service'],
      ['127.0.0.1', 6443, "127.0.0.1:6443 is the Kubernetes API server, which Grove never connects to on a Project's behalf"],
    ];
    for (const [address, port, why] of refused) expect(refusalOf(policy, { address, port }), `${address}:${port}`).toContain(why);
  });

  it('allows the internet and what the platform team listed, on the ports it listed', () => {
    expect(refusalOf(policy, { address: '93.184.215.14', port: 443 })).toBeUndefined();
    expect(refusalOf(policy, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', port: 443 })).toBeUndefined();
    expect(refusalOf(policy, { address: '127.0.0.1', port: 9000 })).toBeUndefined();
    expect(refusalOf(policy, { address: '198.18.5.7', port: 1 })).toBeUndefined();
    // Listing the API server's address does not make the API server allowed.
    expect(refusalOf(destinationPolicy({ apiServers: [{ address: '127.0.0.1', port: 6443 }], allow: ['127.0.0.0/8'] }), { address: '127.0.0.1', port: 6443 })).toContain('API server');
  });

  it('says what an allow entry should look like', () => {
    expect(parseAllowed('[::1]:9000')).toMatchObject({ port: 9000 });
    expect(parseAllowed('10.0.0.0/8')).not.toHaveProperty('port');
    for (const bad of ['localhost:9000', '127.0.0.1:0', '127.0.0.1:70000', '[::1]:x']) {
      expect(() => parseAllowed(bad), bad).toThrow(`--outbound-allow must be an address range, optionally with a port (198.18.0.0/15, 127.0.0.1:9000, [::1]:9000); got "${bad}"`);
    }
  });
});

describe('outbound connections', () => {
  let allowed: Server;
  let other: Server;
  const port = (s: Server) => (s.address() as AddressInfo).port;

  beforeAll(async () => {
    // Every answer closes its connection, so each request is a new connection, checked anew.
    allowed = createServer((req, res) => {
      res.setHeader('connection', 'close');
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${port(other)}/` }).end();
      else res.end('allowed');
    });
    other = createServer((_req, res) => res.end('must not be reached'));
    for (const s of [allowed, other]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    for (const s of [allowed, other]) s.close();
  });

  const policy = () => destinationPolicy({ allow: [`127.0.0.1:${port(allowed)}`] });

  it('connects to allowed addresses and refuses a redirect to a refused one', async () => {
    const { dispatcher } = outbound(policy());
    expect(await (await fetch(`http://127.0.0.1:${port(allowed)}/`, { dispatcher })).text()).toBe('allowed');
    const err = await fetch(`http://127.0.0.1:${port(allowed)}/redirect`, { dispatcher }).catch((e: unknown) => e);
    expect(refusedIn(err)?.message).toBe(`127.0.0.1:${port(other)} is loopback (127.0.0.0/8); Grove connects there on a Project's behalf only if the operator's --outbound-allow lists it`);
  });

  it('checks the address each connection resolves, so a name that rebinds to a refused address is refused', async () => {
    const answers = ['127.0.0.1', '169.254.169.254'];
    const resolved: string[] = [];
    const { dispatcher } = outbound(policy(), { resolve: async (host) => {
      resolved.push(host);
      return [{ address: answers.shift() ?? '169.254.169.254', family: 4 }];
    } });
    const url = `http://rebind.test:${port(allowed)}/`;
    expect(await (await fetch(url, { dispatcher })).text()).toBe('allowed');
    const err = await fetch(url, { dispatcher }).catch((e: unknown) => e);
    expect(refusedIn(err)?.message).toBe(`rebind.test resolves to an address Grove may not reach: 169.254.169.254:${port(allowed)} is link-local, where cloud metadata services answer (169.254.0.0/16); Grove connects there on a Project's behalf only if the operator's --outbound-allow lists it`);
    expect(resolved).toEqual(['rebind.test', 'rebind.test']);
  });

  it('refuses a name any of whose addresses is refused', async () => {
    const { check } = outbound(policy(), {
      resolve: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    await expect(check('mixed.test', 443)).rejects.toThrow('mixed.test resolves to an address Grove may not reach: [::1]:443 is loopback');
  });

  it('holds for Node http clients (the S3 client) through the same check', async () => {
    const { agents } = outbound(policy());
    const request = (p: number) =>
      new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port: p, path: '/', agent: agents.httpAgent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    expect(await request(port(allowed))).toBe('allowed');
    await expect(request(port(other))).rejects.toThrow(`127.0.0.1:${port(other)} is loopback`);
  });

  it('proxies child processes\' connections through the same check: CONNECT and absolute URLs', async () => {
    const { proxy } = outbound(policy(), { resolve: async (host) => [{ address: host === 'store.test' ? '127.0.0.1' : '169.254.169.254', family: 4 }] });
    const proxyUrl = new URL(await proxy());
    const viaProxy = (url: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        get({ host: proxyUrl.hostname, port: proxyUrl.port, path: url }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        }).on('error', reject);
      });
    expect(await viaProxy(`http://store.test:${port(allowed)}/`)).toEqual({ status: 200, text: 'allowed' });
    const refused = await viaProxy(`http://store.test:${port(other)}/`);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain(`store.test resolves to an address Grove may not reach: 127.0.0.1:${port(other)} is loopback`);
    const connectTo = (authority: string) =>
      new Promise<string>((resolve) => {
        const socket = createConnection(Number(proxyUrl.port), proxyUrl.hostname, () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
        socket.once('data', (d: Buffer) => (resolve(d.toString().split('\r\n')[0] ?? ''), socket.destroy()));
      });
    expect(await connectTo(`store.test:${port(allowed)}`)).toBe('HTTP/1.1 200 Connection Established');
    expect(await connectTo('metadata.test:443')).toMatch(/^HTTP\/1\.1 403 metadata\.test resolves to an address Grove may not reach: 169\.254\.169\.254:443 is link-local/);
  });
});
