/**
 * Where the operator may connect on a Project's behalf. A Project's repository URL and a
 * BackupStore's endpoint are written by its users, and the operator sends credentials there
 * from inside the cluster, so by default it refuses what only the cluster can reach: loopback,
 * link-local (cloud metadata services), the unspecified address, the cluster's own pod, Service
 * and node networks, and the Kubernetes API server. A platform team lists what it allows
 * (`--outbound-allow`); the API server is never allowed. Pure: the caller resolves names and
 * asks about every address it would connect to.
 *
 * @module
 */
import { GroveError } from '../errors/index.ts';
import { type Address, type AddressRange, inRange, parseAddress, parseRange } from '../util/index.ts';

export interface Destination {
  address: string;
  port: number;
}

interface Allowed {
  text: string;
  range: AddressRange;
  /** Any port when absent. */
  port?: number;
}

export interface DestinationPolicy {
  refused: Array<{ range: AddressRange; why: string }>;
  allowed: Allowed[];
  apiServers: Array<{ address: Address; port: number }>;
}

/** Refused whatever the cluster: these reach the operator's own host, pod or cloud. */
const ALWAYS: Array<[string, string]> = [
  ['127.0.0.0/8', 'loopback'],
  ['::1/128', 'loopback'],
  ['169.254.0.0/16', 'link-local, where cloud metadata services answer'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'a cloud metadata service'],
  ['0.0.0.0/8', 'the unspecified address, which reaches the local host'],
  ['::/128', 'the unspecified address, which reaches the local host'],
];

export interface DestinationPolicyInput {
  /** The cluster's pod, Service and node networks (the operator's `--internal-network`). */
  internalNetworks?: readonly string[];
  /** The API server's addresses and ports. */
  apiServers?: readonly Destination[];
  /** What a platform team allows: `CIDR`, `address:port`, `CIDR:port`, `[v6]:port`. */
  allow?: readonly string[];
}

export function destinationPolicy(input: DestinationPolicyInput): DestinationPolicy {
  const range = (text: string): AddressRange => {
    const parsed = parseRange(text);
    if (!parsed) throw new GroveError('InvalidInput', `${text} is not an address range such as 198.18.0.0/15`);
    return parsed;
  };
  return {
    refused: [
      ...ALWAYS.map(([text, why]) => ({ range: range(text), why })),
      ...(input.internalNetworks ?? []).map((text) => ({ range: range(text), why: "the cluster's own network" })),
    ],
    allowed: (input.allow ?? []).map(parseAllowed),
    apiServers: (input.apiServers ?? []).flatMap(({ address, port }) => {
      const parsed = parseAddress(address);
      return parsed ? [{ address: parsed, port }] : [];
    }),
  };
}

/** Why the operator may not connect to `destination` for a Project, or undefined when it may. */
export function refusalOf(policy: DestinationPolicy, destination: Destination): string | undefined {
  const address = parseAddress(destination.address);
  const where = `${destination.address.includes(':') ? `[${destination.address}]` : destination.address}:${destination.port}`;
  if (!address) return `${destination.address} is not an IP address`;
  if (policy.apiServers.some((s) => s.port === destination.port && s.address.v6 === address.v6 && s.address.value === address.value)) {
    return `${where} is the Kubernetes API server, which Grove never connects to on a Project's behalf`;
  }
  if (policy.allowed.some((a) => inRange(a.range, address) && (a.port === undefined || a.port === destination.port))) return undefined;
  const refused = policy.refused.find((r) => inRange(r.range, address));
  return refused && `${where} is ${refused.why} (${refused.range.text}); Grove connects there on a Project's behalf only if the operator's --outbound-allow lists it`;
}

/** One `--outbound-allow` entry: `CIDR`, `address:port`, `CIDR:port` or `[v6 CIDR]:port`. */
export function parseAllowed(text: string): Allowed {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4 = /^([\d./]+)(?::(\d{1,5}))?$/.exec(text);
  const [rangeText, portText] = bracketed ? [bracketed[1], bracketed[2]] : v4 ? [v4[1], v4[2]] : [text, undefined];
  const range = rangeText ? parseRange(rangeText) : undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (!range || (port !== undefined && (port < 1 || port > 65535))) {
    throw new GroveError('InvalidInput', `--outbound-allow must be an address range, optionally with a port (198.18.0.0/15, 127.0.0.1:9000, [::1]:9000); got "${text}"`);
  }
  return { text, range, ...(port !== undefined ? { port } : {}) };
}
