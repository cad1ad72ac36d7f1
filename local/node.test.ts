import { describe, expect, it } from 'vitest';
import { conflicts, NODE_SLOTS, nodeNetwork, SIMULATED } from './network.ts';
import { cniConfig, containerdConfig, dnsObjects, inNode, kubeletConfig, parseMountTargets } from './node.ts';

/** `a.b.c.d/n` → [first, last] as 32-bit numbers. */
function range(cidr: string): [number, number] {
  const [ip = '', bits = '32'] = cidr.split('/');
  const address = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const base = address - (address % size);
  return [base, base + size - 1];
}
const inside = (cidr: string, within: string) => range(cidr)[0] >= range(within)[0] && range(cidr)[1] <= range(within)[1];
const overlap = (a: string, b: string) => range(a)[0] <= range(b)[1] && range(b)[0] <= range(a)[1];

describe('node networks', () => {
  const all = Array.from({ length: NODE_SLOTS }, (_, slot) => nodeNetwork(slot));

  it('use only TEST-NET-3 for the link and the benchmarking range for pods and Services', () => {
    for (const n of all) {
      expect(inside(`${n.hostIP}/32`, n.linkCIDR) && inside(`${n.nodeIP}/32`, n.linkCIDR) && inside(n.linkCIDR, '203.0.113.0/24'), n.netns).toBe(true);
      for (const cidr of [n.clusterCIDR, n.podCIDR, n.serviceCIDR, `${n.apiServiceIP}/32`, `${n.dnsServiceIP}/32`]) expect(inside(cidr, '198.18.0.0/15'), `${n.netns} ${cidr}`).toBe(true);
      expect(inside(n.podCIDR, n.clusterCIDR)).toBe(true);
      expect(inside(`${n.apiServiceIP}/32`, n.serviceCIDR) && inside(`${n.dnsServiceIP}/32`, n.serviceCIDR)).toBe(true);
      // Both ends of the link share its /30, and neither is its network or broadcast address.
      const [first, last] = range(`${n.hostIP}/30`);
      expect(range(`${n.nodeIP}/30`)).toEqual([first, last]);
      for (const ip of [n.hostIP, n.nodeIP]) expect(range(`${ip}/32`)[0] > first && range(`${ip}/32`)[0] < last, ip).toBe(true);
    }
  });

  it('never overlap between slots, nor with what tiers A to C simulate', () => {
    const ranges = all.flatMap((n) => [n.clusterCIDR, n.serviceCIDR, `${n.hostIP}/30`]);
    for (const [i, a] of ranges.entries()) for (const b of ranges.slice(i + 1)) expect(overlap(a, b), `${a} and ${b}`).toBe(false);
    for (const a of ranges) for (const b of [SIMULATED.serviceCIDR, SIMULATED.kwokPodCIDR]) expect(overlap(a, b), `${a} and ${b}`).toBe(false);
  });

  it('find the host\'s own addresses and routes in a slot\'s ranges, but not the default route', () => {
    const n = nodeNetwork(0);
    // A VM whose own network is TEST-NET-3, and another cluster's routes on the host.
    expect(conflicts(n, [{ local: '203.0.113.2', prefixlen: 24 }], [{ dst: 'default', gateway: '203.0.113.1' }])).toEqual([
      '203.0.113.2/24 overlaps 203.0.113.0/30',
      '203.0.113.1 overlaps 203.0.113.0/30',
    ]);
    expect(conflicts(n, [], [{ dst: '198.18.0.0/20', gateway: '203.0.113.6' }])).toEqual(['198.18.0.0/20 overlaps 198.18.0.0/20']);
    // This machine's own: TEST-NET-1 on eth0, a default route through it, IPv6 ignored.
    expect(conflicts(n, [{ local: '192.0.2.2', prefixlen: 24 }, { local: '127.0.0.1', prefixlen: 8 }], [{ dst: 'default', gateway: '192.0.2.1' }, { dst: 'fd00::/64' }])).toEqual([]);
  });

  it('name interfaces within the kernel\'s 15 characters, and refuse a slot out of range', () => {
    for (const n of all) for (const name of [n.hostInterface, n.nodeInterface, n.bridge]) expect(name.length).toBeLessThanOrEqual(15);
    expect(() => nodeNetwork(NODE_SLOTS)).toThrow(`a node slot is a whole number from 0 to ${NODE_SLOTS - 1} (got ${NODE_SLOTS})`);
  });
});

describe('the node\'s configuration', () => {
  const n = nodeNetwork(1);

  it('runs a command in the node\'s network namespace only, keeping the host\'s mounts', () => {
    expect(inNode(n, 'kubelet', ['--v=1'])).toEqual(['nsenter', ['--net=/run/netns/grove-node-1', '--', 'kubelet', '--v=1']]);
  });

  it('keeps containerd\'s state in the state directory, its images in the cache, and gives pods the node\'s range', () => {
    const toml = containerdConfig({ state: '/s/node/containerd', root: '/c/node/slot-1/containerd', cni: '/s/node/cni' }, n, 'grove.local/pause:3.10');
    expect(toml).toContain('root = "/c/node/slot-1/containerd"');
    expect(toml).toContain('state = "/s/node/containerd/state"');
    expect(toml).toContain('address = "/s/node/containerd/containerd.sock"');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('sandbox_image = "grove.local/pause:3.10"');
    expect(toml).toContain('conf_dir = "/s/node/cni"');
    const cni = cniConfig(n, '/s/node/cni/ipam') as { plugins: Array<{ type: string; ipam?: { ranges: unknown; dataDir: string } }> };
    expect(cni.plugins[0]?.ipam).toMatchObject({ ranges: [[{ subnet: n.podCIDR }]], dataDir: '/s/node/cni/ipam' });
  });

  it('serves the kubelet on the node\'s address only, with cgroups of its own and the cluster DNS', () => {
    const config = kubeletConfig({ network: n, caFile: '/s/pki/ca.crt', containerdSocket: '/s/c.sock', cgroupRoot: '/grove-node-1', podLogsDir: '/s/logs' });
    expect(config).toMatchObject({ address: n.nodeIP, healthzBindAddress: n.nodeIP, readOnlyPort: 0, cgroupRoot: '/grove-node-1', clusterDNS: [n.dnsServiceIP], authentication: { anonymous: { enabled: false } } });
  });

  it('runs CoreDNS where the Environments\' allow-dns policy lets pods reach it', () => {
    const objects = dnsObjects(n, 'grove.local/coredns:1.15.0');
    const service = objects.find((o) => o.kind === 'Service') as unknown as { metadata: { name: string; namespace: string }; spec: { clusterIP: string } };
    expect(service.metadata).toMatchObject({ name: 'kube-dns', namespace: 'kube-system' });
    expect(service.spec.clusterIP).toBe(n.dnsServiceIP);
    const pod = (objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> }; spec: { securityContext: { runAsNonRoot: boolean } } } } }).spec.template;
    expect(pod.metadata.labels['k8s-app']).toBe('kube-dns');
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe('parseMountTargets', () => {
  it('reads the mount point field and decodes the kernel\'s octal escapes', () => {
    const info = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '99 22 0:50 / /tmp/s/node/kubelet/pods/u/volumes/kubernetes.io~csi/pvc\\040one/mount rw - ext4 /dev/vda rw',
      '',
    ].join('\n');
    expect(parseMountTargets(info)).toEqual(['/', '/tmp/s/node/kubelet/pods/u/volumes/kubernetes.io~csi/pvc one/mount']);
  });
});
