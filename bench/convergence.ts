// N Environments (default 1,000) with a realistic manifest (2 applications, 1 database)
// converging from a cold operator start on the local cluster. Prints: time until all are Ready,
// Environments per second, the operator's peak RSS, Grove's API requests per Environment, and
// its CPU while idle after convergence. In the same run, the API server's own ceiling: the same
// planned objects applied with `kubectl apply --server-side` into fresh namespaces.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Environment, Project } from '../src/api/index.ts';
import { kubeFromFile } from '../src/kube/index.ts';
import { parseManifest, resolveManifest } from '../src/manifest/index.ts';
import { OPERATOR_NODE_FLAGS } from '../src/operator/index.ts';
import { planEnvironment } from '../src/planner/index.ts';
import { benchCluster, table } from './harness.ts';
import { outboundAllowArgs } from '../local/network.ts';

const run = promisify(execFile);
const COUNT = Number(process.env.GROVE_BENCH_ENVIRONMENTS ?? 1000);
const IDLE_SECONDS = Number(process.env.GROVE_BENCH_IDLE_SECONDS ?? 300);
/** Node flags of the operator process: the image's, unless GROVE_BENCH_OPERATOR_FLAGS compares others. */
const NODE_FLAGS = process.env.GROVE_BENCH_OPERATOR_FLAGS !== undefined ? process.env.GROVE_BENCH_OPERATOR_FLAGS.split(' ').filter(Boolean) : [...OPERATOR_NODE_FLAGS];
const MANIFEST = `version: 1
applications:
  web: { image: "shop/web:\${GIT_COMMIT}", port: 8080, health: { path: /healthz }, relationships: { database: db }, resources: { cpu: 10m, memory: 16Mi } }
  worker: { image: "shop/worker:\${GIT_COMMIT}", relationships: { database: db }, resources: { cpu: 10m, memory: 16Mi } }
services:
  db: { type: "postgresql:16", size: 1Gi, resources: { cpu: 10m, memory: 16Mi } }
routes:
  web: { upstream: web }
`;

export async function convergenceBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  const kube = kubeFromFile(cluster.state.kubeconfig);
  const ns = 'fleet';
  let operator: ReturnType<typeof spawn> | undefined;
  try {
    // A repository whose main branch has the manifest; every Environment pins that commit.
    const work = await mkdtemp(join(tmpdir(), 'grove-bench-fleet-'));
    const bare = join(cluster.state.git!.root, 'fleet.git');
    await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    await run('git', ['init', '--quiet', '-b', 'main', work]);
    await writeFile(join(work, 'platform.yaml'), MANIFEST);
    await run('git', ['add', '.'], { cwd: work });
    await run('git', ['-c', 'user.name=Bench', '-c', 'user.email=b@example.com', 'commit', '--quiet', '-m', 'fleet'], { cwd: work });
    await run('git', ['push', '--quiet', bare, 'main'], { cwd: work });
    const revision = (await run('git', ['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();

    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const project: Project = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', metadata: { name: 'fleet', namespace: ns }, spec: { repo: { url: `${cluster.state.git!.url}/fleet.git` }, pollIntervalSeconds: 86400, limits: { quota: { cpu: '1', memory: '1Gi', pods: 20 } } } };
    await kube.create(project);
    const envs: Environment[] = Array.from({ length: COUNT }, (_, i) => ({
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Environment',
      metadata: { name: `e${String(i).padStart(4, '0')}`, namespace: ns },
      spec: { project: 'fleet', branch: 'main', revision, type: 'development' },
    }));
    for (let i = 0; i < envs.length; i += 50) await Promise.all(envs.slice(i, i + 50).map((e) => kube.create(e)));
    console.error(`[bench] created ${COUNT} Environments; starting the operator`);

    // The operator runs as in the image: compiled, with the image's Node flags.
    await run('npm', ['run', '-s', 'build'], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
    const writesBefore = await apiServerWrites(cluster.state.kubectl, cluster.state.kubeconfig);
    const started = performance.now();
    operator = spawn(
      process.execPath,
      [...NODE_FLAGS, fileURLToPath(new URL('../dist/main.js', import.meta.url)), 'operator', '--kubeconfig', cluster.state.kubeconfig, '--namespace', ns, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...outboundAllowArgs(cluster.state)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    let peakRss = 0;
    let ready = 0;
    while (ready < COUNT) {
      await sleep(1000);
      peakRss = Math.max(peakRss, await rssKiB(operator.pid!));
      const list = await kube.list<Environment>('grove.dev/v1alpha1', 'Environment', { namespace: ns });
      ready = list.items.filter((e) => e.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (process.env.GROVE_BENCH_TRACE) console.error(`[bench] ${((performance.now() - started) / 1000).toFixed(0)}s applied=${list.items.filter((e) => e.status?.observedRevision).length} ready=${ready} cpu=${await cpuTicks(operator.pid!)}`);
      if (performance.now() - started > 60 * 60_000) throw new Error(`only ${ready}/${COUNT} Ready after an hour`);
    }
    const convergedSeconds = (performance.now() - started) / 1000;
    const requests = await operatorRequests(operator.pid!);
    const clusterWrites = (await apiServerWrites(cluster.state.kubectl, cluster.state.kubeconfig)) - writesBefore;

    // Idle: nothing changes; watch the operator's CPU.
    const cpuBefore = await cpuTicks(operator.pid!);
    await sleep(IDLE_SECONDS * 1000);
    const idleCpu = ((await cpuTicks(operator.pid!)) - cpuBefore) / 100 / IDLE_SECONDS;
    peakRss = Math.max(peakRss, await rssKiB(operator.pid!));

    // The API server's ceiling: the same objects, applied by kubectl into fresh namespaces.
    const ceilingCount = Math.min(COUNT, 200);
    const serial = await kubectlCeiling(cluster.state.kubectl, cluster.state.kubeconfig, project, revision, ceilingCount, 1);
    const parallel = await kubectlCeiling(cluster.state.kubectl, cluster.state.kubeconfig, project, revision, ceilingCount, 4);

    table(`Convergence of ${COUNT} Environments (2 applications + 1 PostgreSQL each) from a cold operator start`, ['figure', 'value'], [
      ['time until all Ready (s)', convergedSeconds],
      ['Environments per second', COUNT / convergedSeconds],
      ['operator peak RSS (MiB)', peakRss / 1024],
      ['Grove API requests per Environment', requests / COUNT],
      ['API server writes per Environment, by every client', clusterWrites / COUNT],
      [`operator idle CPU over ${IDLE_SECONDS} s (% of a core)`, idleCpu * 100],
      [`kubectl apply --server-side, ${serial.environments} envs, 1 process (envs/s)`, serial.environments / serial.seconds],
      [`kubectl apply --server-side, ${parallel.environments} envs, 4 processes (envs/s)`, parallel.environments / parallel.seconds],
    ]);
    console.log('Targets: ≥ 10 Environments/s, ≤ 300 MiB RSS, idle CPU < 2% of a core.');
  } finally {
    operator?.kill('SIGTERM');
    await cluster.stop();
  }
}

/** Mutating requests the API server has served so far, from its own metrics. */
async function apiServerWrites(kubectl: string, kubeconfig: string): Promise<number> {
  const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], { maxBuffer: 256 * 1024 * 1024 });
  return [...stdout.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)]
    .filter((m) => /verb="(POST|PUT|PATCH|APPLY|DELETE)"/.test(m[1]!))
    .reduce((sum, m) => sum + Number(m[2]), 0);
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The operator's own count of API requests, from its /metrics. */
async function operatorRequests(pid: number): Promise<number> {
  const { stdout } = await run('ss', ['-ltnpH']);
  const port = new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${pid},`).exec(stdout)?.[1];
  if (!port) return Number.NaN;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^grove_kube_requests_total\{method="([A-Z]+)"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
}

/** The same objects Grove plans, applied by `kubectl apply --server-side` in `parallel` processes at once. */
async function kubectlCeiling(kubectl: string, kubeconfig: string, project: Project, revision: string, count: number, parallel: number): Promise<{ environments: number; seconds: number }> {
  const parsed = parseManifest(MANIFEST);
  if (!parsed.ok) throw new Error('the benchmark manifest is invalid');
  const shards: string[][] = Array.from({ length: parallel }, () => []);
  for (let i = 0; i < count; i++) {
    const name = `k${parallel}-${String(i).padStart(4, '0')}`;
    const environment: Environment = { apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name, namespace: 'fleet' }, spec: { project: 'kubectl', branch: 'main', revision } };
    const manifest = resolveManifest(parsed.manifest, { type: 'development', commit: revision, branch: 'main', environment: name });
    const plan = planEnvironment({ environment, project: { ...project, metadata: { ...project.metadata, name: 'kubectl' } }, manifest, revision, credentials: { db: { username: 'app', password: 'pw', database: 'app' } } });
    // Namespaces first, as Grove applies them: kubectl applies in file order.
    const [namespaces, rest] = [plan.objects.filter((o) => o.kind === 'Namespace'), plan.objects.filter((o) => o.kind !== 'Namespace')];
    shards[i % parallel]!.push(...[...namespaces, ...rest].map((o) => stringify(o)));
  }
  const dir = await mkdtemp(join(tmpdir(), 'grove-bench-kubectl-'));
  const files = await Promise.all(shards.map(async (docs, i) => {
    const file = join(dir, `objects-${i}.yaml`);
    await writeFile(file, docs.join('---\n'));
    return file;
  }));
  const started = performance.now();
  await Promise.all(files.map((file) => run(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--field-manager', 'bench', '-f', file], { maxBuffer: 256 * 1024 * 1024 })));
  return { environments: count, seconds: (performance.now() - started) / 1000 };
}
