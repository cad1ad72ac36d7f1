/**
 * Tier D's real node: containerd, the kubelet, kube-proxy and kube-router, running pods from
 * locally built images. Its processes run in a network namespace of the cluster's own
 * (network.ts), joined by a veth pair to the host where the control plane listens; they share
 * the host's mount namespace, so the volumes the kubelet and the CSI driver mount are the ones
 * the container runtime sees.
 *
 * Everything the node leaves on the machine is named after its slot and removed by
 * `teardownNode`: the namespace (and with it the link, the bridge, the iptables rules), cgroups
 * under `/grove-node-<slot>`, mounts under the state directory, and containerd's shims.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink, rm, rmdir, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { KubeObject } from '../src/api/index.ts';
import { GroveError, messageOf } from '../src/errors/index.ts';
import type { Kube } from '../src/kube/index.ts';
import type { Progress } from './build.ts';
import { conflicts, nodeNetwork, NODE_SLOTS, type NodeNetwork } from './network.ts';
import type { ProcessRecord } from './processes.ts';
import { type HostTool, requirePackages } from './host-tools.ts';
import { fileExists, waitFor } from './readiness.ts';

const execFileAsync = promisify(execFile);

/** What `up` records of the node, as soon as each piece exists, so `down` can remove it. */
export interface NodeState {
  /** The Node's name, which its kubelet's client certificate carries. */
  name: string;
  network: NodeNetwork;
  /** containerd's socket; `ctr -a <socket> -n k8s.io` reaches the node's images and containers. */
  containerdSocket: string;
  /** The kubelet's root directory (pods, volumes, plugin registry). */
  kubeletDir: string;
}

/** Debian packages the node needs, with a command each proves it by. */
export const NODE_PACKAGES: readonly HostTool[] = [
  { pkg: 'containerd', command: 'containerd' },
  { pkg: 'runc', command: 'runc' },
  { pkg: 'containernetworking-plugins', command: '/usr/lib/cni/bridge' },
  { pkg: 'iptables', command: 'iptables' },
  { pkg: 'ipset', command: 'ipset' },
  { pkg: 'conntrack', command: 'conntrack' },
  { pkg: 'iproute2', command: 'ip' },
  { pkg: 'util-linux', command: 'nsenter' },
  { pkg: 'buildah', command: 'buildah' },
  { pkg: 'debootstrap', command: 'debootstrap' },
  { pkg: 'busybox-static', command: '/bin/busybox' },
];

/**
 * Refuses to start a node this machine cannot run, naming what is missing and how to get it,
 * before anything is started or built.
 */
export async function checkNodeHost(): Promise<void> {
  if (process.getuid?.() !== 0) throw new GroveError('InvalidInput', 'tier D runs a kubelet and containerd, which need root; run as root or choose --tier c');
  await requirePackages(NODE_PACKAGES, 'tier D');
  if (!(await fileExists('/proc/sys/net/bridge/bridge-nf-call-iptables'))) {
    throw new GroveError('InvalidInput', 'tier D needs the kernel\'s bridge netfilter (br_netfilter), for Services between pods on one bridge; /proc/sys/net/bridge is missing');
  }
}

async function run(command: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new GroveError('ProcessFailed', `${command} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** The command line that runs `command` in the node's network namespace (and nothing else). */
export function inNode(network: NodeNetwork, command: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=/run/netns/${network.netns}`, '--', command, ...args]];
}

/**
 * Takes the first free slot by creating its network namespace (creation is the lock: a second
 * `up` racing for the slot fails and moves on), then joins it to the host.
 */
export async function claimNodeNetwork(onClaimed: (network: NodeNetwork) => Promise<void>): Promise<NodeNetwork> {
  const taken = new Set((await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]));
  type Address = { addr_info?: Array<{ family: string; local: string; prefixlen: number }> };
  const addresses = (JSON.parse(await run('ip', ['-j', 'addr'])) as Address[]).flatMap((i) => (i.addr_info ?? []).filter((a) => a.family === 'inet'));
  const routes = JSON.parse(await run('ip', ['-j', 'route', 'show', 'table', 'all'])) as Array<{ dst: string; gateway?: string }>;
  const refused: string[] = [];
  for (let slot = 0; slot < NODE_SLOTS; slot++) {
    const network = nodeNetwork(slot);
    if (taken.has(network.netns)) continue;
    // Another tier D cluster's ranges show up here too, so a slot is never shared.
    const overlapping = conflicts(network, addresses, routes);
    if (overlapping.length > 0) {
      refused.push(`slot ${slot}: ${overlapping.join(', ')}`);
      continue;
    }
    try {
      await run('ip', ['netns', 'add', network.netns]);
    } catch {
      continue;
    }
    await onClaimed(network);
    await joinHost(network);
    return network;
  }
  throw new GroveError(
    'ProcessFailed',
    `no free node slot: the ${NODE_SLOTS} slots are taken (ip netns list) or their addresses are the host's own${refused.length ? ` (${refused.join('; ')})` : ''}; stop a tier D cluster first`,
  );
}

async function joinHost(n: NodeNetwork): Promise<void> {
  const ns = (...args: string[]) => run('ip', ['-n', n.netns, ...args]);
  // The slot was free, so a host end of that name is a stale one: the kernel removes a veth pair
  // only some time after its namespace goes.
  await run('ip', ['link', 'del', n.hostInterface]).catch(() => undefined);
  await run('ip', ['link', 'add', n.hostInterface, 'type', 'veth', 'peer', 'name', n.nodeInterface]);
  await run('ip', ['link', 'set', n.nodeInterface, 'netns', n.netns]);
  await run('ip', ['addr', 'add', `${n.hostIP}/${n.linkPrefix}`, 'dev', n.hostInterface]);
  await run('ip', ['link', 'set', n.hostInterface, 'up']);
  await ns('link', 'set', n.nodeInterface, 'name', 'eth0');
  await ns('addr', 'add', `${n.nodeIP}/${n.linkPrefix}`, 'dev', 'eth0');
  await ns('link', 'set', 'eth0', 'up');
  await ns('link', 'set', 'lo', 'up');
  // Everything the node does not hold itself is the host's to answer (or to drop: the host does
  // not forward, so nothing leaves the machine).
  await ns('route', 'add', 'default', 'via', n.hostIP);
  // The host reaches pods and Services through the node, as a machine on a node's network would.
  await run('ip', ['route', 'add', n.clusterCIDR, 'via', n.nodeIP, 'dev', n.hostInterface]);
  await run('ip', ['route', 'add', n.serviceCIDR, 'via', n.nodeIP, 'dev', n.hostInterface]);
  const [sysctl, sysctlArgs] = inNode(n, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']);
  await run(sysctl, sysctlArgs);
}

export interface ContainerdDirs {
  /** Sockets and the runtime's state: the cluster's own, under its state directory. */
  state: string;
  /**
   * Images, their unpacked layers and the metadata: kept across clusters of the slot (in the
   * cache), so a new cluster finds the images already there instead of importing them again.
   */
  root: string;
  cni: string;
}

/** containerd's configuration: its runtime state with the cluster's, pods on the CNI bridge. */
export function containerdConfig(dirs: ContainerdDirs, network: NodeNetwork, sandboxImage: string): string {
  const q = JSON.stringify;
  const dir = dirs.state;
  return `version = 2
root = ${q(dirs.root)}
state = ${q(join(dir, 'state'))}

[grpc]
  address = ${q(join(dir, 'containerd.sock'))}

[ttrpc]
  address = ${q(join(dir, 'containerd.sock.ttrpc'))}

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(sandboxImage)}
  disable_apparmor = true
  # The CRI asks runc for an oom_score_adj of -998 for sandboxes, which needs CAP_SYS_RESOURCE;
  # machines without it fail every sandbox with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = ${q(network.nodeIP)}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(dirs.cni)}
`;
}

/** The pod network: one bridge in the node's namespace, addresses from the node's pod range. */
export function cniConfig(network: NodeNetwork, ipamDir: string): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: network.cniNetwork,
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: network.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
    ],
  };
}

export interface KubeletConfigInput {
  network: NodeNetwork;
  caFile: string;
  containerdSocket: string;
  cgroupRoot: string;
  podLogsDir: string;
}

export function kubeletConfig(input: KubeletConfigInput): Record<string, unknown> {
  const { network } = input;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: network.nodeIP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: network.nodeIP,
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: input.caFile } },
    authorization: { mode: 'Webhook' },
    // No systemd here (nor any init), so cgroups are the kubelet's to make, under a root of the
    // node's own; the machines run cgroup v1, which 1.36 still supports when told to.
    cgroupDriver: 'cgroupfs',
    cgroupRoot: input.cgroupRoot,
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${input.containerdSocket}`,
    clusterDNS: [network.dnsServiceIP],
    clusterDomain: 'cluster.local',
    // There is no resolver beyond the cluster's own for pods to use.
    resolvConf: '',
    podLogsDir: input.podLogsDir,
    // No registry to pull from again: imported images must never be collected, and a full disk
    // should fail loudly in the tests rather than evict their pods.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: '10s',
  };
}

/**
 * CoreDNS as the cluster's DNS: a pod in kube-system labelled `k8s-app: kube-dns`, which is what
 * every Environment's allow-dns policy admits, behind the `kube-dns` Service at the address the
 * kubelet gives pods. It answers for the cluster's names only; there is no upstream to forward to.
 */
export function dnsObjects(network: NodeNetwork, image: string): Array<KubeObject & Record<string, unknown>> {
  const meta = (name: string) => ({ name, namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } });
  const corefile = `.:53 {
    errors
    health 127.0.0.1:8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loop
    loadbalance
}
`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('coredns') },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns', labels: { 'k8s-app': 'kube-dns' } },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns', labels: { 'k8s-app': 'kube-dns' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('coredns'), data: { Corefile: corefile } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('coredns'),
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-dns' } },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            priorityClassName: 'system-cluster-critical',
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
              // Port 53 without a capability: a namespaced, "safe" sysctl.
              sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '53' }],
            },
            containers: [
              {
                name: 'coredns',
                image,
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '170Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('kube-dns'),
      spec: {
        clusterIP: network.dnsServiceIP,
        selector: { 'k8s-app': 'kube-dns' },
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
}

export interface NodeDirs {
  containerd: string;
  cni: string;
  kubelet: string;
  kubeletPki: string;
  podLogs: string;
}

export function nodeDirs(dir: string): NodeDirs {
  const node = join(dir, 'node');
  return { containerd: join(node, 'containerd'), cni: join(node, 'cni'), kubelet: join(node, 'kubelet'), kubeletPki: join(node, 'kubelet-pki'), podLogs: join(node, 'pod-logs') };
}

/** Writes containerd's and the CNI's configuration; returns containerd's config file. */
/** Where a slot's containerd keeps its images between clusters. */
export function containerdRoot(cacheDir: string, network: NodeNetwork): string {
  return join(cacheDir, 'node', `slot-${network.slot}`, 'containerd');
}

export async function writeNodeConfig(dirs: NodeDirs, network: NodeNetwork, sandboxImage: string, root: string): Promise<string> {
  for (const d of [dirs.containerd, dirs.cni, dirs.kubelet, dirs.kubeletPki, dirs.podLogs]) await mkdir(d, { recursive: true });
  const config = join(dirs.containerd, 'config.toml');
  await mkdir(root, { recursive: true });
  await writeFile(config, containerdConfig({ state: dirs.containerd, root, cni: dirs.cni }, network, sandboxImage));
  await writeFile(join(dirs.cni, '10-grove.conflist'), `${JSON.stringify(cniConfig(network, join(dirs.cni, 'ipam')), null, 2)}\n`);
  return config;
}

/** The cgroup the kubelet puts every pod under, per controller hierarchy of cgroup v1. */
export function cgroupRoot(network: NodeNetwork): string {
  return `/${network.netns}`;
}

/** The kubelet fails at once when its cgroup root is missing in any hierarchy it uses. */
export async function makeCgroupRoot(network: NodeNetwork): Promise<void> {
  for (const hierarchy of await cgroupHierarchies()) await mkdir(join(hierarchy, cgroupRoot(network)), { recursive: true });
}

async function cgroupHierarchies(): Promise<string[]> {
  const entries = await readdir('/sys/fs/cgroup', { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => join('/sys/fs/cgroup', e.name));
}

export function kubeletConfigPath(dir: string): string {
  return join(dir, 'node', 'kubelet.yaml');
}

export async function writeKubeletConfig(path: string, input: KubeletConfigInput): Promise<string> {
  await writeFile(path, stringify(kubeletConfig(input)));
  return path;
}

/** True when containerd answers on its socket. */
export async function containerdAnswers(socket: string): Promise<boolean> {
  return execFileAsync('ctr', ['-a', socket, 'version'], { timeout: 5000 }).then(
    () => true,
    () => false,
  );
}

/** True once kube-router has made its firewall chains in the node's namespace. */
export async function firewallReady(network: NodeNetwork): Promise<boolean> {
  const [cmd, args] = inNode(network, 'iptables', ['-w', '5', '-S', 'KUBE-ROUTER-FORWARD']);
  return execFileAsync(cmd, args, { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

/** Waits until the Node has registered and reports Ready. */
export async function waitForNode(kube: Kube, name: string, isReady: (node: KubeObject) => boolean, kubelet: ProcessRecord, alive: (rec: ProcessRecord) => boolean): Promise<void> {
  await waitFor(`node ${name} to become Ready`, 120_000, async () => {
    if (!alive(kubelet)) throw new GroveError('ProcessFailed', `the kubelet exited; see ${kubelet.log}`);
    const node = await kube.get<KubeObject>({ apiVersion: 'v1', kind: 'Node', name });
    return node !== undefined && isReady(node);
  });
}

/**
 * Removes what the node's containers left after the kubelet has stopped, while containerd still
 * runs: every task killed and deleted, every container removed, so no shim outlives the cluster.
 */
export async function drainContainers(socket: string, progress: Progress): Promise<void> {
  if (!(await containerdAnswers(socket))) return;
  const ctr = (...args: string[]) => run('ctr', ['-a', socket, '-n', 'k8s.io', ...args]);
  const tasks = (await ctr('tasks', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
  for (const id of tasks) await ctr('tasks', 'kill', '-s', 'SIGKILL', id).catch(() => '');
  for (const id of tasks) {
    for (let i = 0; i < 50; i++) {
      if (await ctr('tasks', 'delete', id).then(() => true, () => false)) break;
      await sleep(100);
    }
  }
  const containers = (await ctr('containers', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
  for (const id of containers) await ctr('containers', 'rm', id).catch(() => '');
  if (tasks.length > 0 || containers.length > 0) progress(`Removed ${tasks.length} running containers and ${containers.length} container records of the node`);
}

/**
 * After every process of the node has stopped: shims still bound to its containerd, mounts
 * under the state directory, its cgroups, its namespace, and the kubelet's log links.
 */
export async function teardownNode(dir: string, node: NodeState, progress: Progress): Promise<void> {
  // Containers whose containerd is gone (a crash, a killed run) still run in the node's cgroups.
  const killed = await killCgroupProcesses(cgroupRoot(node.network));
  if (killed > 0) progress(`Stopped ${killed} container processes left in the node's cgroups`);
  await killShims(node.containerdSocket);
  const mounts = await mountsUnder(dir);
  for (const target of mounts) await run('umount', ['-l', target]).catch((err: unknown) => progress(`Could not unmount ${target}: ${messageOf(err)}`));
  if (mounts.length > 0) progress(`Unmounted ${mounts.length} volumes and filesystems of the node`);
  for (const hierarchy of await cgroupHierarchies()) await removeCgroupTree(join(hierarchy, cgroupRoot(node.network)));
  const sandboxes = await removePodNetworks(node.network);
  if (sandboxes > 0) progress(`Removed the network namespaces of ${sandboxes} pods`);
  await run('ip', ['netns', 'del', node.network.netns]).then(
    () => progress(`Removed the node's network namespace ${node.network.netns}`),
    () => undefined,
  );
  // A veth pair goes with its namespace; this is for a host end whose peer never got there.
  await run('ip', ['link', 'del', node.network.hostInterface]).catch(() => undefined);
  await removeLogLinks(dir);
}

/** SIGKILLs every process under the cgroup root, in every hierarchy, until none is left. */
async function killCgroupProcesses(root: string): Promise<number> {
  // Never the machine's own: only a node's cgroup root is ever walked for processes to kill.
  if (!/^\/grove-node-\d+$/.test(root)) throw new GroveError('InvalidInput', `not a node's cgroup root: "${root}"`);
  const killed = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const pids = new Set<number>();
    for (const hierarchy of await cgroupHierarchies()) for (const pid of await cgroupPids(join(hierarchy, root))) pids.add(pid);
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
  return killed.size;
}

async function cgroupPids(path: string): Promise<number[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [];
  const own = (await readFile(join(path, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => cgroupPids(join(path, e.name))));
  return [...own, ...nested.flat()];
}

async function killShims(socket: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (!args[0]?.includes('containerd-shim')) continue;
    const address = args.indexOf('-address');
    if (address >= 0 && args[address + 1] === socket) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return parseMountTargets(text).filter((t) => t === dir || t.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

export function parseMountTargets(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))));
}

async function removeCgroupTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(path, e.name));
  // A cgroup directory is removed with rmdir, never recursively: its files are the kernel's.
  await rmdir(path).catch(() => undefined);
}

const CNI_CACHE = '/var/lib/cni/results';

/**
 * Pods' network namespaces that no CNI DEL removed (their containers were killed, not stopped
 * through the CRI), found through the CNI's result cache of the node's network, which names
 * each pod's namespace; the cache entries go too.
 */
async function removePodNetworks(network: NodeNetwork): Promise<number> {
  let removed = 0;
  for (const file of await readdir(CNI_CACHE).catch(() => [] as string[])) {
    if (!file.startsWith(`${network.cniNetwork}-`)) continue;
    type Cached = { containerId?: string; result?: { interfaces?: Array<{ sandbox?: string }> } };
    const cached = JSON.parse(await readFile(join(CNI_CACHE, file), 'utf8').catch(() => '{}')) as Cached;
    for (const { sandbox } of cached.result?.interfaces ?? []) {
      const name = sandbox?.match(/^\/(?:var\/)?run\/netns\/(cni-[0-9a-f-]+)$/)?.[1];
      if (name && (await run('ip', ['netns', 'del', name]).then(() => true, () => false))) removed++;
    }
    await unlink(join(CNI_CACHE, file)).catch(() => undefined);
    if (cached.containerId) await unlink(join(CNI_CACHE, `cni-loopback-${cached.containerId}-lo`)).catch(() => undefined);
  }
  return removed;
}

/** The kubelet links each container's log into /var/log/containers; only ours go. */
async function removeLogLinks(dir: string): Promise<void> {
  const links = await readdir('/var/log/containers').catch(() => [] as string[]);
  for (const name of links) {
    const path = join('/var/log/containers', name);
    const target = await readlink(path).catch(() => '');
    if (target.startsWith(`${dir}/`)) await unlink(path).catch(() => undefined);
  }
}

/** Deletes the node's directories once nothing is mounted there any more. */
export async function removeNodeDirs(dir: string): Promise<void> {
  const remaining = await mountsUnder(dir);
  if (remaining.length > 0) throw new GroveError('ProcessFailed', `still mounted under ${dir}: ${remaining.join(', ')}; unmount them first, nothing was deleted`);
  await rm(join(dir, 'node'), { recursive: true, force: true });
}
