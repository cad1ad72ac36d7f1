/**
 * Addresses of the local cluster, decided without I/O. Nothing here is routed beyond this
 * machine: the node's link is a veth pair in TEST-NET-3 (203.0.113.0/24, RFC 5737) and pods and
 * Services take the benchmarking range 198.18.0.0/15 (RFC 2544), so no address can be mistaken
 * for a real network. Documentation ranges do get used for real ones, though (a VM's own network
 * may well be TEST-NET-1), so `up` also refuses a slot whose ranges overlap any address or route
 * the host already has (`conflicts`).
 *
 * Tier D runs its node in a network namespace of its own, so its iptables rules, bridge and pod
 * interfaces never touch the host's. Each tier D cluster on the machine takes a free *slot*,
 * which gives it its own namespace, link and ranges, so two can run at once (the tests and the
 * demo, say).
 *
 * @module
 */

/** How many tier D clusters may run on one machine at once. */
export const NODE_SLOTS = 8;

export interface NodeNetwork {
  slot: number;
  /** The network namespace the node's processes run in (`ip netns` name). */
  netns: string;
  /** The host's end of the veth pair, and its address: where the control plane listens. */
  hostInterface: string;
  hostIP: string;
  /** The node's end, inside the namespace, and its address: the Node's InternalIP. */
  nodeInterface: string;
  nodeIP: string;
  /** Prefix length of the link's subnet, and the subnet. */
  linkPrefix: number;
  linkCIDR: string;
  /** Pod addresses of the cluster, and the node's share of them. */
  clusterCIDR: string;
  podCIDR: string;
  serviceCIDR: string;
  /** The `kubernetes` Service's ClusterIP (the first of the range) and the cluster DNS's. */
  apiServiceIP: string;
  dnsServiceIP: string;
  /** The bridge the CNI plugin attaches pods to, inside the namespace. */
  bridge: string;
  /** The CNI network's name, which names its IPAM state too. */
  cniNetwork: string;
}

export function nodeNetwork(slot: number): NodeNetwork {
  if (!Number.isInteger(slot) || slot < 0 || slot >= NODE_SLOTS) throw new Error(`a node slot is a whole number from 0 to ${NODE_SLOTS - 1} (got ${slot})`);
  const link = slot * 4;
  const block = slot * 16;
  return {
    slot,
    netns: `grove-node-${slot}`,
    hostInterface: `grove${slot}`,
    hostIP: `203.0.113.${link + 1}`,
    // Renamed to eth0 once it is in the namespace, as a node's interface usually is.
    nodeInterface: `grove${slot}n`,
    nodeIP: `203.0.113.${link + 2}`,
    linkPrefix: 30,
    linkCIDR: `203.0.113.${link}/30`,
    clusterCIDR: `198.18.${block}.0/20`,
    podCIDR: `198.18.${block}.0/24`,
    serviceCIDR: `198.19.${block}.0/20`,
    apiServiceIP: `198.19.${block}.1`,
    dnsServiceIP: `198.19.${block}.10`,
    bridge: 'grove0',
    cniNetwork: `grove-node-${slot}`,
  };
}

/**
 * Where tiers A to C put what needs an address but carries no traffic: ClusterIPs nothing
 * routes, and the pod addresses kwok makes up. Apart from every slot's ranges.
 */
export const SIMULATED = {
  serviceCIDR: '198.19.128.0/17',
  kwokPodCIDR: '198.18.128.0/17',
  kwokNodeIP: '198.18.128.1',
} as const;

/** `a.b.c.d/n` → its first and last address as numbers; undefined for anything but IPv4. */
function ipv4Range(cidr: string): [number, number] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!match) return undefined;
  const address = match.slice(1, 5).reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(match[5] ?? 32));
  const first = address - (address % size);
  return [first, first + size - 1];
}

/**
 * The operator's `--internal-network` flags for a node: its pods, Services and link are inside
 * the cluster, so an Environment's internet egress must not reach them.
 */
export function internalNetworkArgs(network: NodeNetwork): string[] {
  return [network.clusterCIDR, network.serviceCIDR, network.linkCIDR].map((cidr) => `--internal-network=${cidr}`);
}

/**
 * The host's addresses and routes that overlap the node's link, pod or Service range, as
 * `ip -j addr` and `ip -j route` print them. The default route (0.0.0.0/0) overlaps everything
 * and says nothing; only its gateway counts.
 */
export function conflicts(network: NodeNetwork, addresses: ReadonlyArray<{ local: string; prefixlen: number }>, routes: ReadonlyArray<{ dst: string; gateway?: string }>): string[] {
  const ours = [network.linkCIDR, network.clusterCIDR, network.serviceCIDR].map((c) => [c, ipv4Range(c)] as const);
  const theirs = [
    ...addresses.map((a) => `${a.local}/${a.prefixlen}`),
    ...routes.filter((r) => r.dst !== 'default' && r.dst !== '0.0.0.0/0').map((r) => r.dst),
    ...routes.flatMap((r) => (r.gateway ? [r.gateway] : [])),
  ];
  const found: string[] = [];
  for (const cidr of theirs) {
    const range = ipv4Range(cidr);
    if (!range) continue;
    for (const [name, mine] of ours) if (mine && range[0] <= mine[1] && mine[0] <= range[1]) found.push(`${cidr} overlaps ${name}`);
  }
  return found;
}

/**
 * The operator's `--outbound-allow` flags for the local cluster's own servers: its Git server,
 * Gitea and MinIO listen on loopback (tier C) or on the node's link (tier D), where the operator refuses
 * to connect for a Project unless told; each is allowed on its own port, and nothing else there.
 */
export function outboundAllowArgs(servers: { git?: { url: string }; minio?: { url: string }; gitea?: { url: string } }): string[] {
  return [servers.git?.url, servers.minio?.url, servers.gitea?.url].flatMap((url) => {
    if (!url) return [];
    const { hostname, port } = new URL(url);
    return [`--outbound-allow=${hostname}:${port}`];
  });
}
