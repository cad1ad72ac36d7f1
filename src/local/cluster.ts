/**
 * The local cluster: real upstream Kubernetes binaries as host processes on 127.0.0.1, in tiers
 * (DESIGN §6). `up` starts them and records each PID in `state.json` as soon as it starts, so
 * `down` stops exactly what `up` started, even after `up` itself crashed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { admissionPolicies } from '../api/admission.ts';
import type { KubeObject } from '../api/meta.ts';
import { GroveError, messageOf } from '../errors/index.ts';
import { type Kube, kubeFromFile } from '../kube/index.ts';
import { formatDuration } from '../util/index.ts';
import { type Progress, ensureBinaries } from './build.ts';
import { generatePki, type Pki } from './certs.ts';
import { component, componentsForTier, KUBERNETES_VERSION, type Tier, tierIncludes } from './components.ts';
import { freePorts, isRunning, logTail, type ProcessRecord, startProcess, stopProcess } from './processes.ts';

export interface ClusterOptions {
  /** State directory: certificates, data, logs, kubeconfig and state.json. */
  dir: string;
  tier: Tier;
  cacheDir: string;
  progress: Progress;
  /** Simulated kwok nodes (tier B and up). */
  nodes?: number;
  /** Directory of bare Git repositories served by the Git server (tier C). Defaults to `<dir>/git`. */
  gitRoot?: string;
}

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
  /**
   * The CSI driver of tier C and the classes that use it. A volume's files are on the host in
   * `<stateDir>/<volumeHandle>` (see `csiVolumePath`), where the handle is its PV's
   * `spec.csi.volumeHandle`; a snapshot's copy is in `<stateDir>/<snapshotHandle>.snap`.
   */
  csi?: { driver: string; storageClass: string; snapshotClass: string; stateDir: string };
  /**
   * Processes started on top of the running cluster (the demo's operator, database and mover
   * runner): not part of its readiness, stopped by `down` before the cluster's own.
   */
  addons?: ProcessRecord[];
  /** Set once every component is ready. */
  ready: boolean;
}

const STATE_FILE = 'state.json';
const FIELD_MANAGER = 'grove-local';
const CSI_DRIVER = 'hostpath.csi.k8s.io';
const CSI_CLASS = 'csi-hostpath';

/** The CRD manifests shipped with Grove. */
export const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
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

  const binaries = await ensureBinaries(componentsForTier(opts.tier), { cacheDir: opts.cacheDir, progress: opts.progress });
  const bin = (name: string): string => {
    const path = binaries.get(name);
    if (!path) throw new GroveError('NotFound', `no binary for ${name}`);
    return path;
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
    const pki = await generatePki(join(opts.dir, 'pki'));
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
    state.apiserver.url = `https://127.0.0.1:${apiPort}`;
    const apiserver = await start('kube-apiserver', bin('kube-apiserver'), apiserverArgs(pki, apiPort as number, etcdClient as number));
    await waitReady(apiserver, () => httpOk(`${state.apiserver.url}/readyz`, { ca: pki.caCert }), opts.progress, 120_000);
    await writeKubeconfig(state.kubeconfig, state.apiserver.url, pki);
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
        '--node-ip=10.244.0.1',
        '--cidr=10.244.0.0/16',
        '--node-lease-duration-seconds=40',
        ...stages.map((s) => `--config=${join(kwokDir, `${s}.yaml`)}`),
        `--config=${podComplete}`,
      ]);
      await waitReady(kcm, () => httpOk(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true }), opts.progress);
      await waitReady(scheduler, () => httpOk(`https://127.0.0.1:${schedPort}/healthz`, { insecure: true }), opts.progress);
      await waitReady(kwok, () => httpOk(`http://127.0.0.1:${kwokPort}/healthz`), opts.progress);
      await installManifests(kube, [...(await yamlObjects(join(kwokDir, 'storage-class.yaml'))), ...kwokNodes(opts.nodes ?? 2)]);
      await waitFor('the kwok nodes to become Ready', 60_000, async () => {
        const nodes = (await kube.list<KubeObject>('v1', 'Node')).items;
        return nodes.length >= (opts.nodes ?? 2) && nodes.every(nodeReady);
      });
      await waitFor('the default ServiceAccount', 60_000, async () => (await kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'default', name: 'default' })) !== undefined);
    }

    if (tierIncludes(opts.tier, 'c')) {
      const [minioPort, consolePort, gitPort] = await freePorts(3);
      const accessKey = 'grove-admin';
      const secretKey = randomBytes(18).toString('base64url');
      const minio = await start(
        'minio',
        bin('minio'),
        ['server', '--address', `127.0.0.1:${minioPort}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet', join(opts.dir, 'minio')],
        { MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_CALLHOME_ENABLE: 'off', CI: 'true' },
      );
      state.minio = { url: `http://127.0.0.1:${minioPort}`, accessKey, secretKey };
      const gitRoot = opts.gitRoot ?? join(opts.dir, 'git');
      await mkdir(gitRoot, { recursive: true });
      const accessLog = join(opts.dir, 'logs', 'git-access.log');
      const git = await start('git-server', process.execPath, [groveMain(), 'local', 'git-server', '--root', gitRoot, '--port', String(gitPort), '--access-log', accessLog]);
      state.git = { url: `http://127.0.0.1:${gitPort}`, root: gitRoot, accessLog };
      await writeState(state);
      await waitReady(minio, () => httpOk(`${state.minio?.url}/minio/health/ready`), opts.progress);
      await waitReady(git, () => httpOk(`${state.git?.url}/healthz`), opts.progress);
      state.csi = await startCsi({ kube, kubeconfig: state.kubeconfig, dir: join(opts.dir, 'csi'), bin, start, progress: opts.progress });
      await writeState(state);
    }

    state.ready = true;
    await writeState(state);
    opts.progress(`Local cluster (tier ${opts.tier.toUpperCase()}) ready in ${formatDuration(performance.now() - started)}`);
    return state;
  } catch (err) {
    opts.progress(`Start failed; stopping what was started: ${messageOf(err)}`);
    await stopAll(state.processes);
    await writeState({ ...state, processes: [] });
    throw err;
  }
}

interface CsiContext {
  kube: Kube;
  kubeconfig: string;
  /** Holds the driver's socket and its state directory. */
  dir: string;
  bin: (name: string) => string;
  start: (name: string, command: string, args: string[]) => Promise<ProcessRecord>;
  progress: Progress;
}

/**
 * The CSI driver, external-provisioner and the snapshotter as host processes, with the snapshot
 * CRDs and the classes that use them. Nothing mounts a volume (there is no kubelet); creating,
 * snapshotting and restoring volumes are controller operations, and those copy real files.
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
  const driver = await ctx.start('csi-hostpath', ctx.bin('csi-hostpath'), [`--endpoint=unix://${socket}`, `--statedir=${stateDir}`, `--drivername=${CSI_DRIVER}`]);
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
      spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Persistent'] },
    },
    {
      // Not the default class: kwok's simulated volumes stay the default, since most tests need a
      // bound PVC and no data.
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: CSI_CLASS },
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
  await stopAll(state.processes, progress);
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

function apiserverArgs(pki: Pki, port: number, etcdPort: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    // Nothing dials the `kubernetes` Service: clients use the kubeconfig. Without this the
    // apiserver would advertise the address of the default route, which it does not listen on.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    '--max-requests-inflight=1600',
    '--max-mutating-requests-inflight=800',
  ];
}

async function writeKubeconfig(path: string, server: string, pki: Pki): Promise<void> {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'grove-local', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [{ name: 'grove-admin', user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) } }],
    contexts: [{ name: 'grove-local', context: { cluster: 'grove-local', user: 'grove-admin' } }],
    'current-context': 'grove-local',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

export async function crdObjects(): Promise<KubeObject[]> {
  return manifestsIn(CRD_DIR);
}

async function manifestsIn(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  return (await Promise.all(files.map((f) => yamlObjects(join(dir, f))))).flat();
}

async function yamlObjects(path: string): Promise<KubeObject[]> {
  return parseAllDocuments(await readFile(path, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

async function installManifests(kube: Kube, objects: KubeObject[]): Promise<void> {
  for (const obj of objects) await kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
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

function kwokNodes(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    spec: { providerID: `kwok://kwok-node-${i}` },
    status: {
      allocatable: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
      capacity: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
    },
  }));
}

function nodeReady(node: KubeObject): boolean {
  const conditions = (node as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The entry point of this very program, to start the Git server as a child process. */
function groveMain(): string {
  const self = fileURLToPath(import.meta.url);
  return join(dirname(self), '..', `main${extname(self)}`);
}

interface ProbeOptions {
  ca?: string;
  insecure?: boolean;
}

/** One GET; true on a 2xx answer. Loopback health endpoints only. */
function httpOk(url: string, opts: ProbeOptions = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    const req = (tls ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        timeout: 2000,
        ...(tls ? { ca: opts.ca ? readFileSync(opts.ca) : undefined, rejectUnauthorized: !opts.insecure } : {}),
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitReady(rec: ProcessRecord, probe: () => Promise<boolean>, progress: Progress, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await probe()) {
      progress(`${rec.name} ready (pid ${rec.pid}, ${formatDuration(performance.now() - started)})`);
      return;
    }
    if (!isRunning(rec)) {
      throw new GroveError('ProcessFailed', `${rec.name} exited while starting. Last lines of ${rec.log}:\n${await logTail(rec.log)}`);
    }
    await sleep(100);
  }
  throw new GroveError('Timeout', `${rec.name} was not ready after ${formatDuration(timeoutMs)}. Last lines of ${rec.log}:\n${await logTail(rec.log)}`);
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < timeoutMs) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new GroveError('Timeout', `timed out after ${formatDuration(timeoutMs)} waiting for ${what}${last ? `: ${messageOf(last)}` : ''}`);
}
