/**
 * `npm run demo`: the local cluster with Grove running on it, end to end. Starts or reuses the
 * cluster and the operator (scoped to the demo's namespace); puts `examples/shop` on the local
 * Gitea, whose webhooks tell Grove of each push and to which Grove reports each revision; waits
 * for production, gives it some data, pushes a branch and follows its Environment until it is
 * Ready with production's data, restored from a real backup in MinIO, and Gitea shows its
 * status. Every step reuses what an earlier run left running.
 *
 * At tier D (where the machine can run it) everything runs for real on the node: the example's
 * application from its local image, its databases, the mover pods of Grove's image, the sanitize
 * hook; the branch's page is served through a port-forward. At tier C kwok simulates the pods, a
 * host PostgreSQL stands in for the databases and a host runner plays the kubelet for the mover
 * pods, and the demo says so.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ANNOTATIONS, type Backup, CONDITIONS, type Environment, environmentName, findCondition, type KubeObject, type Project } from '../src/api/index.ts';
import { Restic } from '../src/data/restic/index.ts';
import { projectStoreAccess, repositoryOf } from '../src/data/store/index.ts';
import { GroveError, messageOf } from '../src/errors/index.ts';
import { type Kube, kubeFromFile } from '../src/kube/index.ts';
import { formatDuration } from '../src/util/index.ts';
import type { Progress } from './build.ts';
import { claimVolumePath, type ClusterState, readState, recordAddon, runningAddon, stopAddons, up } from './cluster.ts';
import type { Tier } from './components.ts';
import { branchFiles, DEMO_BRANCH, DEMO_BUCKET, DEMO_NAMESPACE, DEMO_PROJECT, demoManifest, type DemoManifest, demoObjects } from './demo-plan.ts';
import { withImages } from './example.ts';
import { type GiteaState, seedExample } from './gitea.ts';
import { SERVICE_IMAGES } from './images.ts';
import { requirePackages } from './host-tools.ts';
import { checkNodeHost } from './node.ts';
import { ensureDatabase, HOST_KINDS, hostDatabaseName } from './mover-runner.ts';
import { serverCanReach, startPostgres } from './postgres.ts';
import { sendPushWebhook } from './git-server.ts';
import { freePorts, groveMain, localMain, type ProcessRecord, startProcess } from './processes.ts';
import { internalNetworkArgs, outboundAllowArgs } from './network.ts';

const run = promisify(execFile);
const FIELD_MANAGER = 'grove-demo';
const API = 'grove.dev/v1alpha1';
const EXAMPLE = fileURLToPath(new URL('../examples/shop/platform.yaml', import.meta.url));
const EXAMPLE_DIR = fileURLToPath(new URL('../examples/shop', import.meta.url));
const ADDONS = { postgres: 'demo-postgres', operator: 'demo-operator', runner: 'demo-mover-runner', portForward: 'demo-port-forward' } as const;

export interface DemoOptions {
  dir: string;
  cacheDir: string;
  nodes?: number;
  /** CI: the same steps with little data and no repository check. */
  short: boolean;
  progress: Progress;
  /** Tier D where this machine can run it, else C; or as given. */
  tier?: Extract<Tier, 'c' | 'd'>;
  /** Where the host's tools are looked for (`$PATH`). */
  path?: string;
}

/** The branch's application as the demo opened it: its address on this host and what it showed. */
export interface DemoPage {
  url: string;
  customers: number;
  products: number;
  uploads: number;
  /** The first customers' addresses, sanitised in the branch. */
  emails: string[];
}

export interface DemoResult {
  state: ClusterState;
  tier: Extract<Tier, 'c' | 'd'>;
  /** Tier D: the branch's page, served through a port-forward. */
  page?: DemoPage;
  namespace: string;
  repoUrl: string;
  /** The commit status Grove posted to Gitea for the branch's revision. */
  reported?: { state: string; description: string; targetUrl: string };
  environments: Environment[];
  branch: Environment;
  backup: Backup;
  /** restic's own word on the repository, unless skipped. */
  checked: boolean;
  leftOut: Array<{ service: string; reason: string }>;
  elapsedMs: number;
}

/** What the demo remembers between runs, next to the cluster's state. */
interface DemoState {
  postgres?: { port: number; password: string };
  operator?: { url: string };
  hookSecret?: string;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const { progress } = opts;
  const tier = opts.tier ?? (await tierHere(progress));
  // restic reads the repository back at the end; at tier C it also runs every backup and restore,
  // and PostgreSQL holds the databases.
  await requirePackages([{ pkg: 'restic', command: 'restic' }, { pkg: 'git', command: 'git' }, ...(tier === 'c' ? [{ pkg: 'postgresql', command: '/usr/lib/postgresql' }] : [])], 'the demo', opts.path);
  const state = await up({ dir: opts.dir, tier, cacheDir: opts.cacheDir, progress, ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}) });
  if (!state.git || !state.minio || !state.csi) throw new GroveError('InvalidInput', `the local cluster at tier ${tier.toUpperCase()} has no Git server, MinIO or CSI driver`);
  const demoDir = join(opts.dir, 'demo');
  await mkdir(demoDir, { recursive: true });
  const remembered = await readDemoState(demoDir);
  const kube = kubeFromFile(state.kubeconfig);
  const namespace = DEMO_NAMESPACE;
  remembered.hookSecret ??= randomBytes(18).toString('base64url');
  await writeDemoState(demoDir, remembered);
  const way = tier === 'd' ? onNode(state, progress) : await onHost(opts.dir, remembered, progress);
  await writeDemoState(demoDir, remembered);

  const manifest = way.manifest(await readFile(EXAMPLE, 'utf8'));
  for (const l of manifest.leftOut) progress(`Leaving ${l.service} out of the example: ${l.reason}`);
  // The repository lives on the local Gitea, whose webhooks bring Grove the pushes and to which Grove reports.
  const host = demoHost(state);
  const repo = await seedRepository(host, join(demoDir, 'shop'), manifest.text, progress);
  const repoUrl = host.cloneUrl;

  await applyProjectNamespace(kube, state, namespace, repoUrl, remembered.hookSecret, way.serviceImages, progress);
  const operatorUrl = await ensureOperator(opts.dir, state, namespace, remembered, way.operatorArgs, progress);
  await writeDemoState(demoDir, remembered);
  if (state.gitea) await ensureGiteaWebhook(state.gitea, `${operatorUrl}/hooks/${namespace}/${DEMO_PROJECT}`, remembered.hookSecret, progress);
  await way.start(namespace);

  // Production: the main branch's Environment, made by the Project controller.
  const production = environmentName(DEMO_PROJECT, 'main');
  await followEnvironment(kube, namespace, production, progress, 240_000);
  await way.seed(kube, production, opts.short);

  const revision = await repo.pushBranch(DEMO_BRANCH, branchFiles(new Date()));
  if (!state.gitea) await announcePush(operatorUrl, namespace, remembered.hookSecret);
  const branch = await followEnvironment(kube, namespace, environmentName(DEMO_PROJECT, DEMO_BRANCH), progress, 300_000, revision);
  const page = tier === 'd' ? await openPage(opts.dir, state, branch, progress) : undefined;
  const reported = state.gitea ? await reportedStatus(state.gitea, revision, `grove/${branch.metadata.name ?? ''}`, progress) : undefined;

  const backupName = branch.status?.lineage?.find((l) => l.backup)?.backup;
  if (!backupName) throw new GroveError('NotFound', `Environment ${branch.metadata.name} was not cloned from a backup (lineage: ${JSON.stringify(branch.status?.lineage ?? [])})`);
  const backup = await kube.get<Backup>({ apiVersion: API, kind: 'Backup', namespace, name: backupName });
  if (!backup) throw new GroveError('NotFound', `Backup ${backupName} is gone`);
  let checked = false;
  if (!opts.short) {
    progress('Checking the backup repository in MinIO with restic');
    await projectRestic(kube, namespace, demoDir).then((r) => r.check());
    checked = true;
  }
  const environments = (await kube.list<Environment>(API, 'Environment', { namespace })).items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const elapsedMs = performance.now() - started;
  progress(`Demo done in ${formatDuration(elapsedMs)}`);
  return { state, tier, ...(page ? { page } : {}), ...(reported ? { reported } : {}), namespace, repoUrl, environments, branch, backup, checked, leftOut: manifest.leftOut, elapsedMs };
}

/** Tier D if this machine can run a node (root, the Debian packages), else C, saying why. */
async function tierHere(progress: Progress): Promise<'c' | 'd'> {
  try {
    await checkNodeHost();
    return 'd';
  } catch (err) {
    progress(`Tier D cannot run here (${messageOf(err).split('\n')[0]}): running on tier C, where kwok simulates the pods, a host PostgreSQL stands in for the databases and a host runner for the mover pods`);
    return 'c';
  }
}

/** What differs between a demo whose pods run for real (tier D) and one whose pods kwok simulates. */
interface DemoWay {
  manifest(text: string): DemoManifest;
  serviceImages?: Record<string, string>;
  operatorArgs: string[];
  /** Starts what stands in for the node, if anything. */
  start(namespace: string): Promise<void>;
  /** Gives production data, once. */
  seed(kube: Kube, production: string, short: boolean): Promise<void>;
}

function onNode(state: ClusterState, progress: Progress): DemoWay {
  const images = state.images ?? {};
  const network = state.node?.network;
  if (!images.grove || !images['shop-web'] || !images.toolbox || !network) throw new GroveError('NotFound', 'the local cluster at tier D has no node or no images');
  return {
    manifest: (text) => ({ text: withImages(text, { web: images['shop-web'] as string }), leftOut: [] }),
    serviceImages: { ...SERVICE_IMAGES },
    operatorArgs: ['--mover-image', images.grove, ...internalNetworkArgs(network)],
    start: () => Promise.resolve(),
    seed: (kube, production, short) => seedOnNode(kube, production, images, short, progress),
  };
}

async function onHost(dir: string, remembered: DemoState, progress: Progress): Promise<DemoWay> {
  const before = remembered.postgres?.port;
  const postgres = await ensurePostgres(dir, remembered, progress);
  // A runner still pointed at a server that is gone would fail every database Job.
  if (before !== postgres.port) await stopAddons(dir, progress, [ADDONS.runner]);
  return {
    manifest: (text) => demoManifest(text, (kind) => (HOST_KINDS as readonly string[]).includes(kind)),
    operatorArgs: [],
    start: (namespace) => ensureRunner(dir, namespace, postgres, progress),
    seed: async (kube, production, short) => {
      const state = await readState(dir);
      if (!state) throw new GroveError('NotFound', `No local cluster recorded in ${dir}`);
      await seedProduction(kube, state, production, postgres, short, progress);
    },
  };
}

async function readDemoState(dir: string): Promise<DemoState> {
  const text = await readFile(join(dir, 'demo.json'), 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as DemoState) : {};
}

async function writeDemoState(dir: string, state: DemoState): Promise<void> {
  await writeFile(join(dir, 'demo.json'), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

interface HostPostgres {
  host: string;
  port: number;
  username: string;
  password: string;
}

/** The host's PostgreSQL server: the real database behind every Environment's `db`. */
async function ensurePostgres(dir: string, remembered: DemoState, progress: Progress): Promise<HostPostgres> {
  if (remembered.postgres && (await runningAddon(dir, ADDONS.postgres))) {
    progress(`PostgreSQL is already running (port ${remembered.postgres.port})`);
    return { host: '127.0.0.1', username: 'grove', ...remembered.postgres };
  }
  progress('Starting PostgreSQL for the Environments\' databases');
  // In the state directory when the server's user can reach it, so a new cluster starts afresh.
  const parent = join(dir, 'demo');
  const pg = await startPostgres({ password: randomBytes(18).toString('base64url'), ...((await serverCanReach(parent)) ? { parent } : {}) });
  await recordAddon(dir, { ...pg.process, name: ADDONS.postgres });
  remembered.postgres = { port: pg.port, password: pg.password };
  return { host: pg.host, port: pg.port, username: pg.username, password: pg.password };
}

interface DemoRepo {
  /** Commits the files on the branch (made from main) and pushes it; returns the commit. */
  pushBranch(branch: string, files: Record<string, string>): Promise<string>;
}

/** Where the demo's repository is: the clone URL a Project names, and where the demo pushes. */
interface DemoHost {
  cloneUrl: string;
  /** A bare repository's path, or a URL with the credentials to push. */
  pushTo: string;
  /** Makes the repository, if it is not there yet. */
  ensure(): Promise<void>;
}

/** The local Gitea's `<user>/shop` (which `up` seeded) when there is one, else the plain Git server's bare repository. */
function demoHost(state: ClusterState): DemoHost {
  if (state.gitea) {
    const gitea = state.gitea;
    const cloneUrl = `${gitea.url}/${gitea.username}/${DEMO_PROJECT}.git`;
    const pushTo = new URL(cloneUrl);
    pushTo.username = gitea.username;
    pushTo.password = gitea.token;
    return { cloneUrl, pushTo: pushTo.toString(), ensure: async () => void (await seedExample(gitea, EXAMPLE_DIR)) };
  }
  const bare = join(state.git!.root, `${DEMO_PROJECT}.git`);
  return {
    cloneUrl: `${state.git!.url}/${DEMO_PROJECT}.git`,
    pushTo: bare,
    ensure: async () => {
      if (!(await exists(bare))) await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    },
  };
}

/** The example app on the repository's `main`, committed again only when it changed. */
async function seedRepository(host: DemoHost, work: string, manifest: string, progress: Progress): Promise<DemoRepo> {
  const bare = host.pushTo;
  const g = (...args: string[]) => run('git', ['-c', 'user.name=Grove demo', '-c', 'user.email=demo@grove.invalid', ...args], { cwd: work });
  await host.ensure();
  if (!(await exists(join(work, '.git')))) {
    await mkdir(work, { recursive: true });
    await g('init', '--quiet', '-b', 'main');
  }
  await g('checkout', '--quiet', '-B', 'main');
  await writeFile(join(work, 'platform.yaml'), manifest);
  await writeFile(join(work, 'README.md'), '# shop\n\nA web application with a PostgreSQL database. Every branch pushed here becomes its own Grove Environment.\n');
  await g('add', '--all');
  const changed = (await g('status', '--porcelain')).stdout.trim() !== '';
  const hasCommit = await g('rev-parse', '--verify', '--quiet', 'HEAD').then(() => true, () => false);
  if (changed || !hasCommit) await g('commit', '--quiet', '-m', 'The shop: a web app with a database');
  await g('push', '--quiet', '--force', bare, 'main');
  progress(`${changed || !hasCommit ? 'Seeded' : 'Reused'} ${host.cloneUrl} from examples/shop`);
  return {
    async pushBranch(branch, files) {
      await g('checkout', '--quiet', '-B', branch, 'main');
      for (const [path, text] of Object.entries(files)) await writeFile(join(work, path), text);
      await g('add', '--all');
      await g('commit', '--quiet', '-m', `Say welcome on ${branch}`);
      const sha = (await g('rev-parse', 'HEAD')).stdout.trim();
      await g('push', '--quiet', '--force', bare, branch);
      await g('checkout', '--quiet', 'main');
      progress(`Pushed branch ${branch} (${sha.slice(0, 12)})`);
      return sha;
    },
  };
}

/** The namespace, its Secrets (made once: the restic password must never change), the BackupStore and the Project. */
async function applyProjectNamespace(kube: Kube, state: ClusterState, namespace: string, repoUrl: string, hookSecret: string, serviceImages: Record<string, string> | undefined, progress: Progress): Promise<void> {
  const minio = state.minio!;
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, { fieldManager: FIELD_MANAGER, force: true });
  const s3 = new S3Client({ endpoint: minio.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey } });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: DEMO_BUCKET })).catch(() => s3.send(new CreateBucketCommand({ Bucket: DEMO_BUCKET })));
  } finally {
    s3.destroy();
  }
  const store = 'BackupStore/store';
  const secrets: Record<string, { stringData: Record<string, string>; usableBy: string }> = {
    s3: { stringData: { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }, usableBy: store },
    restic: { stringData: { password: randomBytes(24).toString('base64url') }, usableBy: store },
    hook: { stringData: { secret: hookSecret }, usableBy: `Project/${DEMO_PROJECT}` },
    ...(state.gitea ? { gitea: { stringData: { token: state.gitea.token }, usableBy: `Project/${DEMO_PROJECT}` } } : {}),
  };
  for (const [name, { stringData, usableBy }] of Object.entries(secrets)) {
    const ref = { apiVersion: 'v1', kind: 'Secret', namespace, name };
    const annotations = { [ANNOTATIONS.usableBy]: usableBy };
    // MinIO's keys change with each new cluster; the restic password must stay what it was (an
    // apply without it would remove it), so an existing one only gains the annotation.
    if (name === 'restic' && (await kube.getMetadata(ref))) {
      await kube.mergePatch(ref, { metadata: { annotations } }, { fieldManager: FIELD_MANAGER });
      continue;
    }
    await kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, annotations }, stringData } as KubeObject, { fieldManager: FIELD_MANAGER, force: true });
  }
  for (const obj of demoObjects({ namespace, repoUrl, storageClass: state.csi!.storageClass, minio, ...(serviceImages ? { serviceImages } : {}), ...(state.gitea ? { gitea: true } : {}) })) {
    await kube.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
  }
  progress(`Project ${DEMO_PROJECT} and its BackupStore (MinIO bucket ${DEMO_BUCKET}) are in namespace ${namespace}`);
}

/** `grove operator --namespace <ns>` as a detached process, recorded so `down` stops it. */
async function ensureOperator(dir: string, state: ClusterState, namespace: string, remembered: DemoState, extra: readonly string[], progress: Progress): Promise<string> {
  if (remembered.operator && (await runningAddon(dir, ADDONS.operator))) {
    progress(`The operator is already running (${remembered.operator.url})`);
    return remembered.operator.url;
  }
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const args = [groveMain(), 'operator', '--kubeconfig', state.kubeconfig, '--namespace', namespace, '--listen', `127.0.0.1:${port}`, '--git-cache-dir', join(dir, 'demo', 'git-cache'), ...outboundAllowArgs(state), ...extra];
  const rec = startProcess({ name: ADDONS.operator, command: process.execPath, args, log: join(dir, 'logs', `${ADDONS.operator}.log`) });
  await recordAddon(dir, rec);
  await waitHttp(`${url}/readyz`, rec, 60_000);
  progress(`Started the operator for namespace ${namespace} (pid ${rec.pid}, ${url})`);
  remembered.operator = { url };
  return url;
}

/** The local kubelet for mover pods: runs backups and restores on this host. */
async function ensureRunner(dir: string, namespace: string, pg: HostPostgres, progress: Progress): Promise<void> {
  const running = await runningAddon(dir, ADDONS.runner);
  if (running) {
    progress(`The mover runner is already running (pid ${running.pid})`);
    return;
  }
  const args = [localMain(), 'mover-runner', '--dir', dir, '--namespace', namespace, '--postgres', `${pg.host}:${pg.port}`, '--postgres-user', pg.username];
  const rec = startProcess({ name: ADDONS.runner, command: process.execPath, args, log: join(dir, 'logs', `${ADDONS.runner}.log`), env: { GROVE_POSTGRES_PASSWORD: pg.password } });
  await recordAddon(dir, rec);
  progress(`Started the mover runner: backups and restores run on this host with restic (pid ${rec.pid})`);
}

/** Waits for the Environment to be Ready (at `revision`, if given), saying each new state of its Ready condition. */
async function followEnvironment(kube: Kube, namespace: string, name: string, progress: Progress, timeoutMs: number, revision?: string): Promise<Environment> {
  const started = performance.now();
  let said = '';
  progress(`Waiting for Environment ${name}`);
  while (performance.now() - started < timeoutMs) {
    const env = await kube.get<Environment>({ apiVersion: API, kind: 'Environment', namespace, name });
    const ready = findCondition(env?.status?.conditions, CONDITIONS.ready);
    const line = env ? `${ready?.reason ?? 'Pending'}: ${ready?.message ?? 'not reconciled yet'}` : 'not created yet';
    if (line !== said) {
      progress(`  ${name}  ${line.split('\n')[0]} (${formatDuration(performance.now() - started)})`);
      said = line;
    }
    if (env && ready?.status === 'True' && (!revision || env.status?.observedRevision === revision)) return env;
    await sleep(500);
  }
  throw new GroveError('Timeout', `Environment ${name} was not Ready after ${formatDuration(timeoutMs)}; last: ${said}. See the operator's log in the cluster's logs directory.`);
}

/** Production's data, once: files in its uploads volume and rows in its database. */
async function seedProduction(kube: Kube, state: ClusterState, production: string, pg: HostPostgres, short: boolean, progress: Progress): Promise<void> {
  const env = { ...process.env, PGPASSWORD: pg.password };
  const database = hostDatabaseName(production, 'db');
  const psql = async (db: string, sql: string) => (await run('psql', ['-h', pg.host, '-p', String(pg.port), '-U', pg.username, '-d', db, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env })).stdout.trim();
  await ensureDatabase({ ...pg, name: database });
  const rows = short ? 200 : 20_000;
  if ((await psql(database, "select to_regclass('public.products') is not null")) === 't') {
    progress(`Production's data is already there (database ${database})`);
    return;
  }
  const uploads = await claimDir(kube, state, production, 'web-uploads');
  await mkdir(join(uploads, 'products'), { recursive: true });
  const images = short ? 3 : 40;
  for (let i = 1; i <= images; i++) await writeFile(join(uploads, 'products', `${i}.jpg`), randomBytes(short ? 20_000 : 250_000));
  await psql(database, `create table products as select g as id, 'Product ' || g as name, round((random() * 100)::numeric, 2) as price from generate_series(1, ${rows}) g`);
  progress(`Gave production ${rows} products and ${images} images (database ${database}, volume ${uploads})`);
}

/**
 * Production's data on the node, once: the example's own `shop seed` against its database and
 * image files written into its uploads volume, each by a Job in production's namespace, as a
 * developer with access to it would.
 */
async function seedOnNode(kube: Kube, production: string, images: Record<string, string>, short: boolean, progress: Progress): Promise<void> {
  const namespace = production;
  const customers = short ? 120 : 5000;
  const products = short ? 12 : 400;
  const files = short ? 3 : 40;
  const restricted = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 };
  const job = (name: string, container: Record<string, unknown>, volumes: unknown[] = []): KubeObject & Record<string, unknown> => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'grove-demo' } },
    spec: {
      backoffLimit: 2,
      template: {
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } }, securityContext: restricted, ...container }],
          ...(volumes.length ? { volumes } : {}),
        },
      },
    },
  });
  const seed = job('demo-seed', {
    name: 'seed',
    image: images['shop-web'],
    command: ['/shop', 'seed', '--customers', String(customers), '--products', String(products)],
    env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } }],
  });
  const uploads = job(
    'demo-uploads',
    {
      name: 'uploads',
      image: images.toolbox,
      command: ['sh', '-c', `mkdir -p /data/products && i=1; while [ $i -le ${files} ]; do dd if=/dev/urandom of=/data/products/$i.jpg bs=1024 count=${short ? 20 : 250} 2>/dev/null; i=$((i+1)); done`],
      volumeMounts: [{ name: 'uploads', mountPath: '/data' }],
    },
    [{ name: 'uploads', persistentVolumeClaim: { claimName: 'web-uploads' } }],
  );
  let made = false;
  for (const j of [seed, uploads]) {
    if (await kube.get({ apiVersion: 'batch/v1', kind: 'Job', namespace, name: j.metadata.name as string })) continue;
    await kube.create(j);
    made = true;
  }
  for (const j of [seed, uploads]) await jobDone(kube, namespace, j.metadata.name as string);
  progress(made ? `Gave production ${customers} customers, ${products} products and ${files} images (Jobs demo-seed and demo-uploads in ${namespace})` : `Production's data is already there (Jobs demo-seed and demo-uploads in ${namespace})`);
}

async function jobDone(kube: Kube, namespace: string, name: string): Promise<void> {
  type Job = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; message?: string }> } };
  for (let i = 0; i < 600; i++) {
    const job = await kube.get<Job>({ apiVersion: 'batch/v1', kind: 'Job', namespace, name });
    const done = (type: string) => job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
    if (done('Complete')) return;
    const failed = done('Failed');
    if (failed) throw new GroveError('ProcessFailed', `Job ${name} in ${namespace} failed: ${failed.message ?? 'no message'}; see kubectl logs -n ${namespace} job/${name}`);
    await sleep(500);
  }
  throw new GroveError('Timeout', `Job ${name} in ${namespace} did not finish within 5 minutes`);
}

/**
 * The branch's application on this host: a `kubectl port-forward` to its Service, recorded so
 * `down` stops it, and the page it answers there.
 */
async function openPage(dir: string, state: ClusterState, branch: Environment, progress: Progress): Promise<DemoPage> {
  const namespace = branch.status?.namespace;
  if (!namespace) throw new GroveError('NotFound', `Environment ${branch.metadata.name ?? ''} reports no namespace`);
  await stopAddons(dir, () => undefined, [ADDONS.portForward]);
  const [port] = (await freePorts(1)) as [number];
  const rec = startProcess({
    name: ADDONS.portForward,
    command: state.kubectl,
    args: ['--kubeconfig', state.kubeconfig, 'port-forward', '--address', '127.0.0.1', '-n', namespace, 'service/web', `${port}:80`],
    log: join(dir, 'logs', `${ADDONS.portForward}.log`),
  });
  await recordAddon(dir, rec);
  const url = `http://127.0.0.1:${port}/`;
  await waitHttp(`${url}healthz`, rec, 60_000);
  type Page = { customerCount: number; productCount: number; customers: Array<{ email: string }>; uploads: unknown[] };
  const page = (await (await fetch(`${url}?format=json`)).json()) as Page;
  progress(`The branch's page answers at ${url} (kubectl port-forward to service/web in ${namespace})`);
  return { url, customers: page.customerCount, products: page.productCount, uploads: page.uploads.length, emails: page.customers.slice(0, 3).map((c) => c.email) };
}

async function claimDir(kube: Kube, state: ClusterState, namespace: string, claim: string): Promise<string> {
  for (let i = 0; i < 120; i++) {
    const dir = await claimVolumePath(kube, state, namespace, claim);
    if (dir) return dir;
    await sleep(500);
  }
  throw new GroveError('Timeout', `claim ${claim} in ${namespace} has no CSI volume`);
}

/**
 * The repository's one webhook to this operator, for pushes and pull requests: one pointing
 * at an operator of an earlier run (another port) is replaced.
 */
async function ensureGiteaWebhook(gitea: GiteaState, target: string, secret: string, progress: Progress): Promise<void> {
  const repo = `/repos/${gitea.username}/${DEMO_PROJECT}`;
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${gitea.url}/api/v1${path}`, { method, headers: { authorization: `token ${gitea.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (!res.ok) throw new GroveError('ProcessFailed', `Gitea answered ${res.status} to ${method} ${path}: ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const hooks = (await api('GET', `${repo}/hooks`)) as Array<{ id: number; config?: { url?: string } }>;
  if (hooks.some((h) => h.config?.url === target)) return;
  for (const h of hooks.filter((h) => h.config?.url?.includes('/hooks/'))) await api('DELETE', `${repo}/hooks/${h.id}`);
  await api('POST', `${repo}/hooks`, { type: 'gitea', active: true, events: ['push', 'pull_request'], config: { url: target, content_type: 'json', secret } });
  progress(`Gitea sends ${gitea.username}/${DEMO_PROJECT}'s pushes and pull requests to ${target}`);
}

/** The status Grove posted for `revision` on Gitea, once it says success (a minute at most). */
async function reportedStatus(gitea: GiteaState, revision: string, context: string, progress: Progress): Promise<DemoResult['reported']> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const res = await fetch(`${gitea.url}/api/v1/repos/${gitea.username}/${DEMO_PROJECT}/commits/${revision}/statuses?limit=50`, { headers: { authorization: `token ${gitea.token}` } });
    const statuses = res.ok ? ((await res.json()) as Array<{ id: number; status: string; context: string; description: string; target_url: string }>) : [];
    const latest = statuses.filter((st) => st.context === context).sort((a, b) => b.id - a.id)[0];
    if (latest?.status === 'success' || performance.now() > deadline) {
      if (!latest) throw new GroveError('Timeout', `Grove reported no status ${context} for ${revision.slice(0, 12)} to Gitea within a minute`);
      progress(`Gitea shows ${context} ${latest.status} for ${revision.slice(0, 12)}: ${latest.description}`);
      return { state: latest.status, description: latest.description, targetUrl: latest.target_url };
    }
    await sleep(500);
  }
}

/** A push webhook, so the branch is found at once rather than at the next poll. */
async function announcePush(operatorUrl: string, namespace: string, secret: string): Promise<void> {
  const res = await sendPushWebhook(operatorUrl, namespace, DEMO_PROJECT, secret, JSON.stringify({ ref: `refs/heads/${DEMO_BRANCH}` }));
  if (!res.ok) throw new GroveError('ProcessFailed', `the operator answered the webhook with ${res.status}: ${await res.text()}`);
}

/** restic on the Project's repository, with the BackupStore's own credentials. */
async function projectRestic(kube: Kube, namespace: string, demoDir: string): Promise<Restic> {
  const project = await kube.get<Project>({ apiVersion: API, kind: 'Project', namespace, name: DEMO_PROJECT });
  const access = project && (await projectStoreAccess(kube, project));
  if (!access) throw new GroveError('NotFound', `Project ${DEMO_PROJECT} in namespace ${namespace} has no BackupStore`);
  return new Restic(repositoryOf(access, namespace, DEMO_PROJECT), { cacheDir: join(demoDir, 'restic-cache') });
}

async function waitHttp(url: string, rec: ProcessRecord, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(200);
  }
  throw new GroveError('Timeout', `${rec.name} did not answer ${url} within ${formatDuration(timeoutMs)}; see ${rec.log}`);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
