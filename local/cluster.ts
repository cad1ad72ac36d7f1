/**
 * The local cluster: real upstream Kubernetes binaries as host processes on 127.0.0.1, in tiers
 * (DESIGN §6). `up` starts them and records each PID in `state.json` as soon as it starts, so
 * `down` stops exactly what `up` started, even after `up` itself crashed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { admissionPolicies, type KubeObject } from '../src/api/index.ts';
import { GroveError, messageOf } from '../src/errors/index.ts';
import { type Kube, kubeFromFile } from '../src/kube/index.ts';
import { formatDuration } from '../src/util/index.ts';
import { type Progress, ensureBinaries } from './build.ts';
import { generatePki, type Pki } from './certs.ts';
import { asRoot, type GiteaState, giteaInvocation, prepareGitea, seedExample } from './gitea.ts';
import { component, componentsForTier, KUBERNETES_VERSION, type Tier, tierIncludes } from './components.ts';
import { ensureImages, importImages } from './images.ts';
import { installManifests, manifestsIn, yamlObjects } from './manifests.ts';
import { type NodeNetwork, SIMULATED } from './network.ts';
import {
  checkNodeHost,
  claimNodeNetwork,
  containerdAnswers,
  containerdRoot,
  dnsObjects,
  drainContainers,
  firewallReady,
  inNode,
  kubeletConfigPath,
  makeCgroupRoot,
  mountsUnder,
  nodeDirs,
  type NodeState,
  teardownNode,
  waitForNode,
  writeKubeletConfig,
  writeNodeConfig,
  cgroupRoot,
} from './node.ts';
import { freePorts, isRunning, localMain, type ProcessRecord, startProcess, stopProcess } from './processes.ts';
import { fileExists, httpOk, nodeReady, waitFor, waitReady } from './readiness.ts';

export interface ClusterOptions {
  /** State directory: certificates, data, logs, kubeconfig and state.json. */
  dir: string;
  tier: Tier;
  cacheDir: string;
  progress: Progress;
  /**
   * Simulated kwok nodes (tier B and up; default 2, and none at tier D, where they are tainted
   * so that only pods made to tolerate them, for scale tests, land there).
   */
  nodes?: number;
  /** Directory of bare Git repositories served by the Git server (tier C). Defaults to `<dir>/git`. */
  gitRoot?: string;
}

/** What `up` seeds the Git host with. */
const EXAMPLE_SOURCE = fileURLToPath(new URL('../examples/shop', import.meta.url));

export interface ClusterState {
  version: 1;
  tier: Tier;
  dir: string;
  startedAt: string;
  kubernetesVersion: string;
  kubeconfig: string;
  /** A kubectl of the server's version. */
  kubectl: string;
  apiserver: { url: string; caFile: string };
  processes: ProcessRecord[];
  minio?: { url: string; accessKey: string; secretKey: string };
  git?: { url: string; root: string; accessLog: string };
  /** The Git host (tier C): a real Gitea and its administrator's credentials. */
  gitea?: GiteaState;
  /**
   * The CSI driver of tier C and the classes that use it. A volume's files are on the host in
   * `<stateDir>/<volumeHandle>` (see `csiVolumePath`), where the handle is its PV's
   * `spec.csi.volumeHandle`; a snapshot's copy is in `<stateDir>/<snapshotHandle>.snap`.
   */
  csi?: { driver: string; storageClass: string; snapshotClass: string; stateDir: string };
  /** Tier D's real node, recorded piece by piece as `up` makes it, so `down` removes all of it. */
  node?: NodeState;
  /** Images built locally and loaded into the node (tier D), by name: `grove`, `postgres`, … */
  images?: Record<string, string>;
  /**
   * Processes started on top of the running cluster (the demo's operator, database and mover
   * runner): not part of its readiness, stopped by `down` before the cluster's own.
   */
  addons?: ProcessRecord[];
  /** Set once every component is ready. */
  ready: boolean;
}

const STATE_FILE = 'state.json';
const CSI_DRIVER = 'hostpath.csi.k8s.io';
const CSI_CLASS = 'csi-hostpath';

/** The CRD manifests shipped with Grove. */
export const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));
/**
 * Who the local cluster's admin kubeconfig authenticates as (the certificate's CN, certs.ts). The
 * local operator runs with it, so the admission policies know it as the operator.
 */
const ADMIN_USER = 'grove-admin';

/**
 * Starts the cluster at `opts.tier`, or returns the running one if it is already up at that
 * tier or higher. A stale state (some process gone, or a lower tier) is torn down first.
 */
export async function up(opts: ClusterOptions): Promise<ClusterState> {
  const existing = await readState(opts.dir);
  if (existing) {
    const alive = existing.ready && existing.processes.every(isRunning);
    if (alive && tierIncludes(existing.tier, opts.tier)) {
      opts.progress(`The local cluster (tier ${existing.tier.toUpperCase()}) is already running`);
      return existing;
    }
    opts.progress('Stopping the previous local cluster first');
    await down(opts.dir, opts.progress);
  }

  const nodeTier = tierIncludes(opts.tier, 'd');
  if (nodeTier) await checkNodeHost();
  const binaries = await ensureBinaries(componentsForTier(opts.tier), { cacheDir: opts.cacheDir, progress: opts.progress });
  const bin = (name: string): string => {
    const path = binaries.get(name);
    if (!path) throw new GroveError('NotFound', `no binary for ${name}`);
    return path;
  };
  // Before anything starts: an image build fails for reasons of its own (a mirror, the disk).
  const images = nodeTier ? await ensureImages({ cacheDir: opts.cacheDir, progress: opts.progress, coredns: bin('coredns') }) : [];
  const imageRef = (name: string): string => {
    const found = images.find((i) => i.name === name);
    if (!found) throw new GroveError('NotFound', `no image ${name} was built`);
    return found.ref;
  };

  const started = performance.now();
  await clearStateDir(opts.dir);
  await mkdir(join(opts.dir, 'logs'), { recursive: true });
  const state: ClusterState = {
    version: 1,
    tier: opts.tier,
    dir: opts.dir,
    startedAt: new Date().toISOString(),
    kubernetesVersion: KUBERNETES_VERSION,
    kubeconfig: join(opts.dir, 'admin.kubeconfig'),
    kubectl: bin('kubectl'),
    apiserver: { url: '', caFile: '' },
    processes: [],
    ready: false,
  };
  const start = async (name: string, command: string, args: string[], env?: Record<string, string>): Promise<ProcessRecord> => {
    const rec = startProcess({ name, command, args, log: join(opts.dir, 'logs', `${name}.log`), ...(env ? { env } : {}) });
    state.processes.push(rec);
    await writeState(state);
    return rec;
  };

  try {
    // The node's link comes first at tier D: the control plane listens on the host's end of it.
    const network = nodeTier
      ? await claimNodeNetwork(async (n) => {
          const dirs = nodeDirs(opts.dir);
          state.node = { name: n.netns, network: n, containerdSocket: join(dirs.containerd, 'containerd.sock'), kubeletDir: dirs.kubelet };
          await writeState(state);
        })
      : undefined;
    const host = network?.hostIP ?? '127.0.0.1';
    const pki = await generatePki(join(opts.dir, 'pki'), network ? { serverIPs: [network.hostIP, network.apiServiceIP], nodeName: network.netns } : {});
    state.apiserver.caFile = pki.caCert;

    // etcd
    const [etcdClient, etcdPeer] = await freePorts(2);
    const etcd = await start('etcd', bin('etcd'), [
      '--name=grove',
      `--data-dir=${join(opts.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=grove=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=8589934592',
      '--log-level=warn',
    ]);
    await waitReady(etcd, () => httpOk(`http://127.0.0.1:${etcdClient}/health`), opts.progress);

    // kube-apiserver
    const [apiPort] = await freePorts(1);
    state.apiserver.url = `https://${host}:${apiPort}`;
    const apiserver = await start('kube-apiserver', bin('kube-apiserver'), apiserverArgs(pki, apiPort as number, etcdClient as number, network));
    await waitReady(apiserver, () => httpOk(`${state.apiserver.url}/readyz`, { ca: pki.caCert }), opts.progress, 120_000);
    await writeKubeconfig(state.kubeconfig, state.apiserver.url, pki.caCert, { name: ADMIN_USER, cert: pki.adminCert, key: pki.adminKey });
    const kube = kubeFromFile(state.kubeconfig);
    const crds = await crdObjects();
    await installManifests(kube, crds);
    await waitForCrds(kube, crds);
    // The admission policies name the Project kind, so they go in after the CRDs.
    await installManifests(kube, admissionPolicies({ operator: ADMIN_USER }));

    if (tierIncludes(opts.tier, 'b')) {
      const [kcmPort, schedPort, kwokPort] = await freePorts(3);
      const kcm = await start('kube-controller-manager', bin('kube-controller-manager'), [
        `--kubeconfig=${state.kubeconfig}`,
        `--authentication-kubeconfig=${state.kubeconfig}`,
        `--authorization-kubeconfig=${state.kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(opts.dir, 'kcm-certs')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=false',
        '--kube-api-qps=200',
        '--kube-api-burst=400',
        '--concurrent-namespace-syncs=20',
        '--concurrent-gc-syncs=40',
        `--service-cluster-ip-range=${network?.serviceCIDR ?? SIMULATED.serviceCIDR}`,
        // The node's pod range is its spec.podCIDR, which kube-router reads.
        ...(network ? ['--allocate-node-cidrs', `--cluster-cidr=${network.clusterCIDR}`, '--node-cidr-mask-size=24'] : []),
      ]);
      const scheduler = await start('kube-scheduler', bin('kube-scheduler'), [
        `--kubeconfig=${state.kubeconfig}`,
        `--authentication-kubeconfig=${state.kubeconfig}`,
        `--authorization-kubeconfig=${state.kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        `--cert-dir=${join(opts.dir, 'scheduler-certs')}`,
        '--leader-elect=false',
        '--kube-api-qps=200',
        '--kube-api-burst=400',
      ]);
      const kwokDir = dirname(bin('kwok'));
      const stages = ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-delete', 'pvc-provision', 'pv-bind', 'pv-delete', 'pvc-delete'];
      const podComplete = await moverPodsLeftRunning(join(kwokDir, 'pod-complete.yaml'), join(opts.dir, 'kwok-pod-complete.yaml'));
      const kwok = await start('kwok', bin('kwok'), [
        `--kubeconfig=${state.kubeconfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--server-address=127.0.0.1:${kwokPort}`,
        `--node-ip=${SIMULATED.kwokNodeIP}`,
        `--cidr=${SIMULATED.kwokPodCIDR}`,
        '--node-lease-duration-seconds=40',
        ...stages.map((s) => `--config=${join(kwokDir, `${s}.yaml`)}`),
        `--config=${podComplete}`,
      ]);
      await waitReady(kcm, () => httpOk(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true }), opts.progress);
      await waitReady(scheduler, () => httpOk(`https://127.0.0.1:${schedPort}/healthz`, { insecure: true }), opts.progress);
      await waitReady(kwok, () => httpOk(`http://127.0.0.1:${kwokPort}/healthz`), opts.progress);
      const kwokCount = opts.nodes ?? (nodeTier ? 0 : 2);
      const kwokClass = await yamlObjects(join(kwokDir, 'storage-class.yaml'));
      // At tier D, claims go to the CSI driver, whose volumes the kubelet can mount.
      await installManifests(kube, [...(nodeTier ? kwokClass.map(notDefaultClass) : kwokClass), ...kwokNodes(kwokCount, nodeTier)]);
      await waitFor('the kwok nodes to become Ready', 60_000, async () => {
        const nodes = (await kube.list<KubeObject>('v1', 'Node')).items.filter((n) => n.metadata.name?.startsWith('kwok-node-'));
        return nodes.length >= kwokCount && nodes.every(nodeReady);
      });
      await waitFor('the default ServiceAccount', 60_000, async () => (await kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'default', name: 'default' })) !== undefined);
    }

    if (tierIncludes(opts.tier, 'c')) {
      const [minioPort, consolePort, gitPort, giteaPort] = await freePorts(4);
      const accessKey = 'grove-admin';
      const secretKey = randomBytes(18).toString('base64url');
      // At tier D on the node's link, so that mover pods and an operator in a pod reach them.
      const minio = await start(
        'minio',
        bin('minio'),
        ['server', '--address', `${host}:${minioPort}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet', join(opts.dir, 'minio')],
        { MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_CALLHOME_ENABLE: 'off', CI: 'true' },
      );
      state.minio = { url: `http://${host}:${minioPort}`, accessKey, secretKey };
      const gitRoot = opts.gitRoot ?? join(opts.dir, 'git');
      await mkdir(gitRoot, { recursive: true });
      const accessLog = join(opts.dir, 'logs', 'git-access.log');
      const git = await start('git-server', process.execPath, [localMain(), 'git-server', '--root', gitRoot, '--host', host, '--port', String(gitPort), '--access-log', accessLog]);
      state.git = { url: `http://${host}:${gitPort}`, root: gitRoot, accessLog };
      const giteaPlan = { dir: join(opts.dir, 'gitea'), host, port: giteaPort as number, binary: bin('gitea') };
      const giteaAdmin = await prepareGitea(giteaPlan);
      const giteaRun = giteaInvocation(giteaPlan);
      const gitea = await start('gitea', giteaPlan.binary, ['--config', giteaRun.config, '--work-path', giteaPlan.dir, 'web'], { ...giteaRun.env, ...asRoot() });
      state.gitea = { url: `http://${host}:${giteaPort}`, ...giteaAdmin };
      await writeState(state);
      await waitReady(minio, () => httpOk(`${state.minio?.url}/minio/health/ready`), opts.progress);
      await waitReady(git, () => httpOk(`${state.git?.url}/healthz`), opts.progress);
      await waitReady(gitea, () => httpOk(`${state.gitea?.url}/api/healthz`), opts.progress);
      opts.progress(`Seeded ${await seedExample(state.gitea, EXAMPLE_SOURCE)} from examples/shop`);
      state.csi = await startCsi({ kube, kubeconfig: state.kubeconfig, dir: join(opts.dir, 'csi'), bin, start, progress: opts.progress, ...(state.node ? { node: state.node } : {}) });
      await writeState(state);
    }

    if (state.node && network) {
      state.images = Object.fromEntries(images.map((i) => [i.name, i.ref]));
      await startNode({ state, node: state.node, pki, kube, bin, start, progress: opts.progress, cacheDir: opts.cacheDir, images, dnsImage: imageRef('coredns'), sandboxImage: imageRef('pause') });
    }

    state.ready = true;
    await writeState(state);
    opts.progress(`Local cluster (tier ${opts.tier.toUpperCase()}) ready in ${formatDuration(performance.now() - started)}`);
    return state;
  } catch (err) {
    opts.progress(`Start failed; stopping what was started: ${messageOf(err)}`);
    await stopCluster(state, opts.progress);
    throw err;
  }
}

interface NodeContext {
  state: ClusterState;
  node: NodeState;
  pki: Pki;
  kube: Kube;
  bin: (name: string) => string;
  start: (name: string, command: string, args: string[]) => Promise<ProcessRecord>;
  progress: Progress;
  cacheDir: string;
  images: Awaited<ReturnType<typeof ensureImages>>;
  dnsImage: string;
  sandboxImage: string;
}

/**
 * Tier D: containerd with the local images, the kubelet, kube-proxy and kube-router in the
 * node's namespace, and CoreDNS on the node. Ready once the Node is Ready, kube-router's chains
 * exist and the DNS pod answers its readiness probe.
 */
async function startNode(ctx: NodeContext): Promise<void> {
  const { node, state, pki } = ctx;
  const { network } = node;
  const dirs = nodeDirs(state.dir);
  const startIn = (name: string, command: string, args: string[]) => {
    const [cmd, full] = inNode(network, command, args);
    return ctx.start(name, cmd, full);
  };

  const containerdConfig = await writeNodeConfig(dirs, network, ctx.sandboxImage, containerdRoot(ctx.cacheDir, network));
  const containerd = await startIn('containerd', 'containerd', ['--config', containerdConfig]);
  await waitReady(containerd, () => containerdAnswers(node.containerdSocket), ctx.progress);
  await importImages(node.containerdSocket, ctx.images, ctx.progress);

  if (!pki.node) throw new GroveError('NotFound', 'the cluster PKI holds no certificate for the node');
  const kubeletKubeconfig = join(state.dir, 'node', 'kubelet.kubeconfig');
  await writeKubeconfig(kubeletKubeconfig, state.apiserver.url, pki.caCert, { name: `system:node:${node.name}`, cert: pki.node.cert, key: pki.node.key });
  await makeCgroupRoot(network);
  const kubeletConfig = await writeKubeletConfig(kubeletConfigPath(state.dir), {
    network,
    caFile: pki.caCert,
    containerdSocket: node.containerdSocket,
    cgroupRoot: cgroupRoot(network),
    podLogsDir: dirs.podLogs,
  });
  const kubelet = await startIn('kubelet', ctx.bin('kubelet'), [
    `--config=${kubeletConfig}`,
    `--kubeconfig=${kubeletKubeconfig}`,
    `--hostname-override=${node.name}`,
    `--node-ip=${network.nodeIP}`,
    `--root-dir=${dirs.kubelet}`,
    `--cert-dir=${dirs.kubeletPki}`,
    '--v=1',
  ]);
  await waitForNode(ctx.kube, node.name, nodeReady, kubelet, isRunning);
  ctx.progress(`kubelet ready: node ${node.name} (${network.nodeIP}, pods ${network.podCIDR})`);

  const proxy = await startIn('kube-proxy', ctx.bin('kube-proxy'), [
    `--kubeconfig=${state.kubeconfig}`,
    `--hostname-override=${node.name}`,
    '--proxy-mode=iptables',
    `--cluster-cidr=${network.clusterCIDR}`,
    `--metrics-bind-address=${network.nodeIP}:10249`,
    `--healthz-bind-address=${network.nodeIP}:10256`,
    `--nodeport-addresses=${network.nodeIP}/32`,
    // Leave the machine-wide conntrack table size alone.
    '--conntrack-max-per-core=0',
  ]);
  await waitReady(proxy, () => httpOk(`http://${network.nodeIP}:10256/healthz`), ctx.progress);
  const router = await startIn('kube-router', ctx.bin('kube-router'), [
    `--kubeconfig=${state.kubeconfig}`,
    `--hostname-override=${node.name}`,
    '--run-router=false',
    '--run-firewall=true',
    '--run-service-proxy=false',
    '--enable-cni=false',
    '--health-port=0',
    `--service-cluster-ip-range=${network.serviceCIDR}`,
  ]);
  await waitReady(router, () => firewallReady(network), ctx.progress);

  await installManifests(ctx.kube, dnsObjects(network, ctx.dnsImage));
  await waitFor('CoreDNS to become Ready', 120_000, async () => {
    type Deployment = KubeObject & { status?: { readyReplicas?: number } };
    const dns = await ctx.kube.get<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'kube-system', name: 'coredns' });
    return (dns?.status?.readyReplicas ?? 0) >= 1;
  });
  ctx.progress(`CoreDNS ready at ${network.dnsServiceIP}`);
}

function notDefaultClass(obj: KubeObject): KubeObject {
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  delete annotations['storageclass.kubernetes.io/is-default-class'];
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}

interface CsiContext {
  kube: Kube;
  kubeconfig: string;
  /** Holds the driver's socket and its state directory. */
  dir: string;
  bin: (name: string) => string;
  start: (name: string, command: string, args: string[]) => Promise<ProcessRecord>;
  progress: Progress;
  /** Tier D: the driver's node service mounts volumes for this node's kubelet. */
  node?: NodeState;
}

/**
 * The CSI driver, external-provisioner and the snapshotter as host processes, with the snapshot
 * CRDs and the classes that use them. Creating, snapshotting and restoring volumes are controller
 * operations, and those copy real files; at tier D the driver's node service also registers with
 * the kubelet and mounts volumes into pods.
 */
async function startCsi(ctx: CsiContext): Promise<NonNullable<ClusterState['csi']>> {
  const crdDir = dirname(ctx.bin('snapshot-controller'));
  const crds = (await Promise.all((component('snapshot-controller').files ?? []).map((f) => yamlObjects(join(crdDir, basename(f)))))).flat();
  await installManifests(ctx.kube, crds);
  await waitForCrds(ctx.kube, crds, 'the snapshot CRDs');

  const socket = join(ctx.dir, 'csi.sock');
  // sockaddr_un holds 108 bytes; past that the driver could only fail to listen.
  if (Buffer.byteLength(socket) > 107) throw new GroveError('InvalidInput', `the state directory's path is too long for the CSI socket ${socket}; choose a shorter one`);
  const stateDir = join(ctx.dir, 'state');
  const driver = await ctx.start('csi-hostpath', ctx.bin('csi-hostpath'), [
    `--endpoint=unix://${socket}`,
    `--statedir=${stateDir}`,
    `--drivername=${CSI_DRIVER}`,
    ...(ctx.node ? [`--node-id=${ctx.node.name}`, `--kubelet-registry-dir=${join(ctx.node.kubeletDir, 'plugins_registry')}`] : []),
  ]);
  await waitReady(driver, () => fileExists(socket), ctx.progress);

  const [provisionerPort, controllerPort, snapshotterPort] = await freePorts(3);
  // The sidecars serve metrics only once they have connected to the driver, the snapshot
  // controller once it has found its CRDs: a metrics answer is their readiness.
  const sidecars = [
    await ctx.start('csi-provisioner', ctx.bin('csi-provisioner'), [
      `--csi-address=${socket}`,
      `--kubeconfig=${ctx.kubeconfig}`,
      `--http-endpoint=127.0.0.1:${provisionerPort}`,
      '--v=2',
    ]),
    await ctx.start('snapshot-controller', ctx.bin('snapshot-controller'), [`--kubeconfig=${ctx.kubeconfig}`, `--http-endpoint=127.0.0.1:${controllerPort}`, '--v=2']),
    await ctx.start('csi-snapshotter', ctx.bin('csi-snapshotter'), [
      `--csi-address=${socket}`,
      `--kubeconfig=${ctx.kubeconfig}`,
      `--http-endpoint=127.0.0.1:${snapshotterPort}`,
      '--v=2',
    ]),
  ];
  const ports = [provisionerPort, controllerPort, snapshotterPort];
  for (const [i, rec] of sidecars.entries()) await waitReady(rec, () => httpOk(`http://127.0.0.1:${ports[i]}/metrics`), ctx.progress);

  const objects: Array<KubeObject & Record<string, unknown>> = [
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: { name: CSI_DRIVER },
      // File: the kubelet gives a volume to the pod's fsGroup, so non-root services can write it.
      spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Persistent'], fsGroupPolicy: 'File' },
    },
    {
      // The default class at tier D only: below it kwok's simulated volumes stay the default,
      // since most tests there need a bound PVC and no data.
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: CSI_CLASS, ...(ctx.node ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
      provisioner: CSI_DRIVER,
      volumeBindingMode: 'Immediate',
      reclaimPolicy: 'Delete',
      allowVolumeExpansion: true,
    },
    {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name: CSI_CLASS },
      driver: CSI_DRIVER,
      deletionPolicy: 'Delete',
    },
  ];
  await installManifests(ctx.kube, objects);
  return { driver: CSI_DRIVER, storageClass: CSI_CLASS, snapshotClass: CSI_CLASS, stateDir };
}

/**
 * The host directory that holds the files of a volume of the local cluster's CSI driver, from
 * its PV's `spec.csi.volumeHandle`.
 */
export function csiVolumePath(state: ClusterState, volumeHandle: string): string {
  if (!state.csi) throw new GroveError('NotFound', `the local cluster runs no CSI driver at tier ${state.tier.toUpperCase()}`);
  if (volumeHandle === '' || basename(volumeHandle) !== volumeHandle || volumeHandle.startsWith('.')) {
    throw new GroveError('InvalidInput', `not a volume handle of ${state.csi.driver}: "${volumeHandle}"`);
  }
  return join(state.csi.stateDir, volumeHandle);
}

/**
 * The host directory of a claim's volume: known once the claim is bound to a volume of the local
 * cluster's CSI driver; undefined before that, and for kwok's simulated volumes.
 */
export async function claimVolumePath(kube: Kube, state: ClusterState, namespace: string, claim: string): Promise<string | undefined> {
  type Claim = KubeObject & { spec: { volumeName?: string } };
  type Volume = KubeObject & { spec: { csi?: { driver: string; volumeHandle: string } } };
  const pvc = await kube.get<Claim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claim });
  const pv = pvc?.spec.volumeName ? await kube.get<Volume>({ apiVersion: 'v1', kind: 'PersistentVolume', name: pvc.spec.volumeName }) : undefined;
  return pv?.spec.csi && pv.spec.csi.driver === state.csi?.driver ? csiVolumePath(state, pv.spec.csi.volumeHandle) : undefined;
}

/**
 * kwok's stage that completes every Job's pods, except backup and restore pods: kwok runs no
 * containers, and a restore "completed" without running would let an Environment start on empty
 * volumes. Whoever runs a mover pod's command reports its end, as a kubelet does (the tests run it
 * on the host).
 */
async function moverPodsLeftRunning(stage: string, out: string): Promise<string> {
  const doc = parseAllDocuments(await readFile(stage, 'utf8'))[0]?.toJS() as { spec: { selector: { matchExpressions: unknown[] } } } | undefined;
  if (!doc) throw new GroveError('NotFound', `${stage} holds no stage`);
  doc.spec.selector.matchExpressions.push({ key: '.metadata.labels["app.kubernetes.io/component"]', operator: 'NotIn', values: ['mover'] });
  await writeFile(out, stringify(doc));
  return out;
}

/**
 * Empties the state directory for a new cluster. Refuses a non-empty directory that is not a
 * cluster's state directory: `--dir` pointed at the wrong place must not delete anything.
 */
async function clearStateDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.length > 0 && !entries.includes(STATE_FILE)) {
    throw new GroveError('InvalidInput', `${dir} is not empty and holds no local cluster (${STATE_FILE}); choose an empty or new directory`);
  }
  // A recursive delete would go through a volume still mounted there and empty it.
  const mounted = await mountsUnder(dir);
  if (mounted.length > 0) throw new GroveError('InvalidInput', `${dir} still has filesystems mounted (${mounted.slice(0, 3).join(', ')}); run down first, nothing was deleted`);
  await rm(dir, { recursive: true, force: true });
}

/** Stops every process recorded in the state directory, newest first, and marks it stopped. */
export async function down(dir: string, progress: Progress): Promise<void> {
  const state = await readState(dir);
  if (!state) {
    progress(`No local cluster recorded in ${dir}`);
    return;
  }
  await stopAll(state.addons ?? [], progress);
  await stopCluster(state, progress);
}

/**
 * Stops the cluster's processes, newest first. A node's containers outlive the kubelet, so once
 * it has stopped they are removed through containerd before containerd itself stops; then
 * whatever the node left on the machine goes.
 */
async function stopCluster(state: ClusterState, progress: Progress): Promise<void> {
  const kubelet = state.processes.findIndex((p) => p.name === 'kubelet');
  if (state.node && kubelet >= 0) {
    await stopAll(state.processes.slice(kubelet), progress);
    await drainContainers(state.node.containerdSocket, progress);
    await stopAll(state.processes.slice(0, kubelet), progress);
  } else {
    await stopAll(state.processes, progress);
  }
  if (state.node) await teardownNode(state.dir, state.node, progress);
  await writeState({ ...state, processes: [], addons: [], ready: false });
}

/**
 * Records a process started on top of the cluster, replacing an earlier record of the same name,
 * so `down` stops it too.
 */
export async function recordAddon(dir: string, rec: ProcessRecord): Promise<void> {
  const state = await readState(dir);
  if (!state) throw new GroveError('NotFound', `No local cluster recorded in ${dir}`);
  await writeState({ ...state, addons: [...(state.addons ?? []).filter((a) => a.name !== rec.name), rec] });
}

/** The running add-on of that name, if any. */
export async function runningAddon(dir: string, name: string): Promise<ProcessRecord | undefined> {
  const rec = (await readState(dir))?.addons?.find((a) => a.name === name);
  return rec && isRunning(rec) ? rec : undefined;
}

/** Stops the add-ons (those whose names `only` holds, when given) and forgets them. */
export async function stopAddons(dir: string, progress: Progress, only?: readonly string[]): Promise<void> {
  const state = await readState(dir);
  if (!state) return;
  const stopping = (state.addons ?? []).filter((a) => !only || only.includes(a.name));
  await stopAll(stopping, progress);
  const latest = (await readState(dir)) ?? state;
  await writeState({ ...latest, addons: (latest.addons ?? []).filter((a) => !stopping.some((s) => s.pid === a.pid && s.name === a.name)) });
}

async function stopAll(processes: readonly ProcessRecord[], progress?: Progress): Promise<void> {
  for (const rec of [...processes].reverse()) {
    const result = await stopProcess(rec);
    progress?.(result === 'stopped' ? `Stopped ${rec.name} (pid ${rec.pid})` : `${rec.name} (pid ${rec.pid}) was not running`);
  }
}

export interface ComponentStatus {
  name: string;
  pid: number;
  running: boolean;
  log: string;
}

export async function status(dir: string): Promise<{ state: ClusterState; components: ComponentStatus[] } | undefined> {
  const state = await readState(dir);
  if (!state) return undefined;
  return { state, components: [...state.processes, ...(state.addons ?? [])].map((p) => ({ name: p.name, pid: p.pid, running: isRunning(p), log: p.log })) };
}

export async function readState(dir: string): Promise<ClusterState | undefined> {
  const text = await readFile(join(dir, STATE_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as ClusterState;
  } catch (cause) {
    throw new GroveError('InvalidInput', `${join(dir, STATE_FILE)} is not valid JSON; remove the directory to start afresh`, { cause });
  }
}

async function writeState(state: ClusterState): Promise<void> {
  const path = join(state.dir, STATE_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

function apiserverArgs(pki: Pki, port: number, etcdPort: number, network: NodeNetwork | undefined): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--bind-address=${network?.hostIP ?? '127.0.0.1'}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${network?.serviceCIDR ?? SIMULATED.serviceCIDR}`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    ...(network
      ? [
          // Pods reach the API through the `kubernetes` Service, whose endpoint is this address.
          `--advertise-address=${network.hostIP}`,
          // Logs, exec and port-forward: the API server calls the kubelet as a cluster admin.
          `--kubelet-client-certificate=${pki.adminCert}`,
          `--kubelet-client-key=${pki.adminKey}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
      : [
          // Nothing dials the `kubernetes` Service: clients use the kubeconfig. Without this the
          // apiserver would advertise the address of the default route, which it does not listen on.
          '--endpoint-reconciler-type=none',
        ]),
    '--profiling=false',
    '--max-requests-inflight=1600',
    '--max-mutating-requests-inflight=800',
  ];
}

async function writeKubeconfig(path: string, server: string, caFile: string, user: { name: string; cert: string; key: string }): Promise<void> {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'grove-local', cluster: { server, 'certificate-authority-data': b64(caFile) } }],
    users: [{ name: user.name, user: { 'client-certificate-data': b64(user.cert), 'client-key-data': b64(user.key) } }],
    contexts: [{ name: 'grove-local', context: { cluster: 'grove-local', user: user.name } }],
    'current-context': 'grove-local',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

export async function crdObjects(): Promise<KubeObject[]> {
  return manifestsIn(CRD_DIR);
}




async function waitForCrds(kube: Kube, crds: readonly KubeObject[], what = 'the Grove CRDs'): Promise<void> {
  const names = crds.map((c) => c.metadata.name as string);
  await waitFor(`${what} to be Established`, 30_000, async () => {
    for (const name of names) {
      const crd = await kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name,
      });
      if (!crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
    }
    return true;
  });
}

/** Simulated nodes; `tainted` where a real node runs, so that nothing lands on them unasked. */
function kwokNodes(count: number, tainted: boolean): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    spec: { providerID: `kwok://kwok-node-${i}`, ...(tainted ? { taints: [{ key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' }] } : {}) },
    status: {
      allocatable: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
      capacity: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
    },
  }));
}






