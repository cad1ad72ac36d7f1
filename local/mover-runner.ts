/**
 * The local cluster's kubelet for Grove's mover pods. kwok runs no containers, and its stage that
 * completes pods leaves mover pods running (see `cluster.ts`), so a restore never "succeeds"
 * without data. This runner runs such a pod's very command on this host — same arguments, same
 * environment from the same Secrets — with `/data` mapped to the volume's directory and the
 * database settings pointed at a real PostgreSQL server, then reports the pod finished the way a
 * kubelet does (phase, exit code, termination message), and the Job controller completes the Job.
 *
 * The decisions (what to run, with which environment, which database stands for a service, what
 * a finished pod's status says) are pure; `runMoverPod`, `finishPod` and `startMoverRunner` carry
 * them out.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type KubeObject, LABELS } from '../src/api/index.ts';
import { MOVER_DATA_PATH } from '../src/data/index.ts';
import { GroveError, messageOf } from '../src/errors/index.ts';
import type { Kube } from '../src/kube/index.ts';
import { claimVolumePath, type ClusterState } from './cluster.ts';
import { groveMain } from './processes.ts';

const run = promisify(execFile);
const TERMINATION_LOG = '/dev/termination-log';
/** What the runner reports as the pod's writer: it stands in for the node's kubelet. */
const FIELD_MANAGER = 'grove-local-kubelet';
/** The kinds this host can serve: files in a directory, and dumps through the local PostgreSQL. */
export const HOST_KINDS = ['files', 'postgresql'] as const;

interface Container {
  name: string;
  image: string;
  args?: string[];
  envFrom?: Array<{ secretRef?: { name: string } }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
}
export type MoverPod = KubeObject & {
  spec: { containers: Container[]; volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> };
  status?: { phase?: string };
};

/** A database on the host's server, with a superuser's credentials. */
export interface HostDatabase {
  host: string;
  port: number;
  username: string;
  password: string;
  name: string;
}

/** What stands in, on this host, for what the pod would have had in the cluster. */
export interface MoverHost {
  /** Scratch space: restic's cache, HOME and the pods' termination messages. */
  work: string;
  /** The directory the pod's volume stands for. */
  dataDir?: string;
  /** The real database behind the pod's `DB_*` settings. */
  database?: HostDatabase;
}

/** The command of a mover pod as this host runs it. */
export interface Invocation {
  /** Arguments after the program (Grove's entry point). */
  args: string[];
  env: Record<string, string>;
  /** Where the command writes what the pod would write to its termination log. */
  resultFile?: string;
}

/** The Secrets the pod's container reads, by name. */
export function secretsOf(pod: MoverPod): string[] {
  const container = moverContainer(pod);
  const names = [...(container.envFrom ?? []).map((f) => f.secretRef?.name), ...(container.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name)];
  return [...new Set(names.filter((n): n is string => !!n))].sort();
}

/** The volume kind a mover pod works on (`--kind`). */
export function kindOf(pod: MoverPod): string | undefined {
  const args = moverContainer(pod).args ?? [];
  const at = args.indexOf('--kind');
  return at >= 0 ? args[at + 1] : undefined;
}

/** The Environment namespace whose data the pod moves: its own, or the one a mover in Grove's namespace is labelled for. */
export function servedNamespace(pod: MoverPod): string {
  return pod.metadata.labels?.[LABELS.targetNamespace] ?? (pod.metadata.namespace as string);
}

/** The claim mounted at `/data`, if the pod works on a volume's files. */
export function claimOf(pod: MoverPod): string | undefined {
  return pod.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName;
}

/**
 * The pod's command with its environment as the kubelet would build it (Secrets first, then the
 * container's own variables), then pointed at this host: restic's cache, HOME and TMPDIR in the
 * work directory, `/data` at `host.dataDir`, the termination log at a file, and the database at the
 * host's server.
 */
export function moverInvocation(pod: MoverPod, secrets: Readonly<Record<string, Record<string, string>>>, host: MoverHost, path = ''): Invocation {
  const container = moverContainer(pod);
  const secret = (name: string): Record<string, string> => {
    const data = secrets[name];
    if (!data) throw new GroveError('NotFound', `Secret ${name} of pod ${pod.metadata.name} was not given`);
    return data;
  };
  const env: Record<string, string> = { PATH: path };
  for (const from of container.envFrom ?? []) if (from.secretRef) Object.assign(env, secret(from.secretRef.name));
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    env[e.name] = e.value ?? (ref ? secret(ref.name)[ref.key] : undefined) ?? '';
  }
  // The pod's emptyDir (/cache) is a directory of the work directory here.
  Object.assign(env, { HOME: host.work, RESTIC_CACHE_DIR: join(host.work, 'restic-cache'), TMPDIR: host.work });
  // The Secret names a database Service (db.<namespace>.svc) that only exists in kwok's imagination.
  if (env.DB_HOST && host.database) {
    const db = host.database;
    Object.assign(env, { DB_HOST: db.host, DB_PORT: String(db.port), DB_USER: db.username, DB_PASSWORD: db.password, DB_NAME: db.name });
  }
  const args = container.args ?? [];
  const resultFile = args.includes(TERMINATION_LOG) ? join(host.work, `${pod.metadata.name}.result`) : undefined;
  const mapped = args.map((a) => (a === MOVER_DATA_PATH && host.dataDir ? host.dataDir : a === TERMINATION_LOG && resultFile ? resultFile : a));
  return { args: mapped, env, ...(resultFile ? { resultFile } : {}) };
}

/**
 * The database that stands for a service of an Environment on the host's one server: one per
 * namespace and service, a valid unquoted PostgreSQL identifier of at most 63 bytes.
 */
export function hostDatabaseName(namespace: string, service: string): string {
  const name = `${namespace}_${service}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return (/^[a-z_]/.test(name) ? name : `_${name}`).slice(0, 63);
}

/** The status a kubelet writes when the pod's one container has exited. */
export function terminatedStatus(pod: MoverPod, exitCode: number, message: string, now: string): Record<string, unknown> {
  return {
    phase: exitCode === 0 ? 'Succeeded' : 'Failed',
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message, startedAt: now, finishedAt: now } },
    })),
  };
}

/** Kubernetes keeps at most 4096 bytes of a termination message; the end says why. */
export function terminationMessage(text: string): string {
  return text.length > 4000 ? text.slice(-4000) : text;
}

function moverContainer(pod: MoverPod): Container {
  const container = pod.spec.containers[0];
  if (!container) throw new GroveError('InvalidInput', `pod ${pod.metadata.name} has no container`);
  return container;
}

/** The values of Secrets in a namespace, decoded. */
export async function readSecrets(kube: Kube, namespace: string, names: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of names) {
    const s = await kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
    if (!s) throw new GroveError('NotFound', `Secret ${name} in ${namespace} does not exist`);
    out[name] = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
  return out;
}

/**
 * Runs a mover pod's command on this host and reports the pod finished. A failed command is
 * reported as a failed pod and rethrown.
 */
export async function runMoverPod(kube: Kube, pod: MoverPod, host: MoverHost): Promise<void> {
  const namespace = pod.metadata.namespace as string;
  const invocation = moverInvocation(pod, await readSecrets(kube, namespace, secretsOf(pod)), host, process.env.PATH ?? '');
  await mkdir(host.work, { recursive: true });
  try {
    await run(process.execPath, [groveMain(), ...invocation.args], { env: invocation.env, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    await finishPod(kube, pod, 1, terminationMessage(String((err as { stderr?: string }).stderr || messageOf(err))));
    throw err;
  }
  const result = invocation.resultFile ? await readFile(invocation.resultFile, 'utf8').catch(() => '') : '';
  await finishPod(kube, pod, 0, result);
}

/** Reports the pod as finished, as its kubelet would. */
export async function finishPod(kube: Kube, pod: MoverPod, exitCode: number, message = ''): Promise<void> {
  await kube.applyStatus(
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, status: terminatedStatus(pod, exitCode, message, new Date().toISOString()) } as KubeObject,
    { fieldManager: FIELD_MANAGER, force: true },
  );
}

export interface RunnerOptions {
  kube: Kube;
  cluster: ClusterState;
  /** Only the mover pods of Environments whose objects live in this namespace. */
  projectNamespace: string;
  /** The host's PostgreSQL server (superuser). */
  postgres: Omit<HostDatabase, 'name'>;
  work: string;
  log: (line: string) => void;
  signal: AbortSignal;
  intervalMs?: number;
}

/**
 * Runs every mover pod of the project namespace's Environments as it starts, until `signal`
 * aborts. Each pod runs once; a failed one is reported failed and the Job makes a new pod.
 */
export async function startMoverRunner(opts: RunnerOptions): Promise<void> {
  const done = new Set<string>();
  const selector = `app.kubernetes.io/component=mover,${LABELS.environmentNamespace}=${opts.projectNamespace}`;
  while (!opts.signal.aborted) {
    try {
      const pods = (await opts.kube.list<MoverPod>('v1', 'Pod', { labelSelector: selector })).items;
      for (const pod of pods) {
        const uid = pod.metadata.uid ?? '';
        if (pod.status?.phase !== 'Running' || done.has(uid) || opts.signal.aborted) continue;
        done.add(uid);
        await runOne(opts, pod);
      }
    } catch (err) {
      opts.log(`Listing mover pods failed: ${messageOf(err)}`);
    }
    await sleep(opts.intervalMs ?? 1000, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}

async function runOne(opts: RunnerOptions, pod: MoverPod): Promise<void> {
  const namespace = pod.metadata.namespace as string;
  const what = `${namespace}/${pod.metadata.name}`;
  const kind = kindOf(pod);
  try {
    if (!(HOST_KINDS as readonly string[]).includes(kind ?? '')) {
      await finishPod(opts.kube, pod, 1, `the local cluster's mover runner serves ${HOST_KINDS.join(' and ')} volumes only, not ${kind ?? 'this kind'}`);
      opts.log(`Refused ${what}: kind ${kind ?? '(none)'} cannot run on this host`);
      return;
    }
    const host: MoverHost = { work: join(opts.work, namespace) };
    const claim = claimOf(pod);
    if (claim) host.dataDir = await claimDirectory(opts, namespace, claim);
    if (kind === 'postgresql') {
      const service = pod.metadata.labels?.[LABELS.volume] ?? 'db';
      host.database = { ...opts.postgres, name: hostDatabaseName(servedNamespace(pod), service) };
      await ensureDatabase(host.database);
    }
    const started = performance.now();
    await runMoverPod(opts.kube, pod, host);
    opts.log(`Ran ${what} (${kind}) in ${Math.round(performance.now() - started)} ms`);
  } catch (err) {
    opts.log(`Mover pod ${what} failed: ${messageOf(err)}`);
  }
}

/** The host directory of a claim: its CSI volume's, or one of the runner's own for kwok's simulated volumes. */
async function claimDirectory(opts: RunnerOptions, namespace: string, claim: string): Promise<string> {
  const csi = await claimVolumePath(opts.kube, opts.cluster, namespace, claim);
  if (csi) return csi;
  const dir = join(opts.work, 'volumes', namespace, claim);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Creates the database if the server does not have it yet. */
export async function ensureDatabase(db: HostDatabase): Promise<void> {
  const env = { ...process.env, PGPASSWORD: db.password };
  const psql = (sql: string) => run('psql', ['-h', db.host, '-p', String(db.port), '-U', db.username, '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env });
  const { stdout } = await psql(`select 1 from pg_database where datname = '${db.name}'`);
  if (stdout.trim() !== '1') await psql(`create database ${db.name}`);
}
