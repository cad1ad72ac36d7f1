// Push → Environment latency: from the moment `git push` (over smart HTTP) returns to the moment
// the Environment with the pushed revision exists, seen through a watch. Two modes:
// - webhook: each push is followed by a signed webhook, pushes one after another;
// - polling only: no webhooks, pushes spread over time, found by the poll (interval 10 s).
// The operator runs as its own process (`grove operator`), as in production.
import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { outboundAllowArgs } from '../local/network.ts';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Environment, environmentName } from '../src/api/index.ts';
import { kubeFromFile } from '../src/kube/index.ts';
import { benchCluster, listeningAddress, summary, table } from './harness.ts';

const run = promisify(execFile);
const PUSHES = Number(process.env.GROVE_BENCH_PUSHES ?? 50);
const SECRET = 'bench-webhook-secret';

export async function pushLatencyBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  const kube = kubeFromFile(cluster.state.kubeconfig);
  const ns = 'bench';
  const operator = spawn(
    process.execPath,
    [fileURLToPath(new URL('../src/main.ts', import.meta.url)), 'operator', '--kubeconfig', cluster.state.kubeconfig, '--namespace', ns, '--listen', '127.0.0.1:0', '--log-level', 'info', ...outboundAllowArgs(cluster.state)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'webhook', namespace: ns, annotations: { 'grove.dev/usable-by': 'Project/shop-webhook, Project/shop-polling' } }, stringData: { secret: SECRET } } as never);
    const operatorUrl = await listeningAddress(operator);

    // Every Environment version the watch shows, with the time it was first seen.
    const seen = new Map<string, number>();
    const abort = new AbortController();
    const list = await kube.list<Environment>('grove.dev/v1alpha1', 'Environment', { namespace: ns });
    void kube
      .watch('grove.dev/v1alpha1', 'Environment', { namespace: ns, resourceVersion: list.resourceVersion, signal: abort.signal }, (e) => {
        if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
        const env = e.object as Environment;
        const key = `${env.metadata.name}@${env.spec.revision}`;
        if (!seen.has(key)) seen.set(key, performance.now());
      })
      .catch(() => undefined);
    const waitFor = async (key: string): Promise<number> => {
      for (let i = 0; i < 120_000 && !seen.has(key); i++) await sleep(2);
      const at = seen.get(key);
      if (at === undefined) throw new Error(`never saw ${key}`);
      return at;
    };

    const results: Array<[string, number[]]> = [];
    for (const mode of ['webhook', 'polling'] as const) {
      const project = `shop-${mode}`;
      const repo = await repository(cluster.state.git!.root, project, `${cluster.state.git!.url}/${project}.git`);
      await kube.create({
        apiVersion: 'grove.dev/v1alpha1',
        kind: 'Project',
        metadata: { name: project, namespace: ns },
        spec: { repo: { url: repo.url }, pollIntervalSeconds: mode === 'webhook' ? 3600 : 10, webhook: { secretRef: { name: 'webhook' } } },
      } as never);
      await waitFor(`${environmentName(project, 'main')}@${repo.main}`);

      const latencies: number[] = [];
      if (mode === 'webhook') {
        for (let i = 0; i < PUSHES; i++) {
          const branch = `agent/task-${i}`;
          const sha = await repo.push(branch);
          const pushed = performance.now();
          await webhook(operatorUrl, ns, project);
          latencies.push((await waitFor(`${environmentName(project, branch)}@${sha}`)) - pushed);
        }
      } else {
        // Pushes spread over two poll intervals, so they land at every phase of the poll.
        const pending: Array<Promise<number>> = [];
        for (let i = 0; i < PUSHES; i++) {
          const branch = `agent/task-${i}`;
          const sha = await repo.push(branch);
          const pushed = performance.now();
          pending.push(waitFor(`${environmentName(project, branch)}@${sha}`).then((at) => at - pushed));
          await sleep(Math.max(0, 20_000 / PUSHES - 60));
        }
        latencies.push(...(await Promise.all(pending)));
      }
      results.push([mode, latencies]);
    }
    abort.abort();

    table(
      `Push → Environment latency, ${PUSHES} pushes per mode (ms)`,
      ['mode', 'n', 'p50', 'p90', 'p99', 'max'],
      results.map(([mode, l]) => {
        const s = summary(l);
        return [mode, s.n, s.p50, s.p90, s.p99, s.max];
      }),
    );
    console.log('Targets: webhook p50 ≤ 300 ms, p99 ≤ 1000 ms. Polling is bounded by the poll interval (10 s here).');
    await unsignedBurst(operatorUrl, ns, 'shop-webhook');
  } finally {
    operator.kill('SIGTERM');
    await cluster.stop();
  }
}

/**
 * 200 unsigned webhooks, 20 at a time, while /healthz is asked in a loop: what the burst costs
 * the API server (GETs the operator made meanwhile) and how long health answers took.
 */
async function unsignedBurst(operatorUrl: string, namespace: string, project: string): Promise<void> {
  const gets = async () => Number(/^grove_kube_requests_total\{method="GET"\} (\d+)$/m.exec(await fetch(`${operatorUrl}/metrics`).then((r) => r.text()))?.[1] ?? 0);
  const before = await gets();
  let burst = true;
  const health: number[] = [];
  const probing = (async () => {
    while (burst) {
      const started = performance.now();
      await fetch(`${operatorUrl}/healthz`);
      health.push(performance.now() - started);
    }
  })();
  const started = performance.now();
  const statuses = new Map<number, number>();
  for (let round = 0; round < 10; round++) {
    for (const status of await Promise.all(Array.from({ length: 20 }, () => fetch(`${operatorUrl}/hooks/${namespace}/${project}`, { method: 'POST', body: '{}' }).then((r) => r.status)))) {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }
  const elapsed = performance.now() - started;
  burst = false;
  await probing;
  const h = summary(health);
  table('200 unsigned webhooks, 20 at a time, with /healthz asked throughout', ['figure', 'value'], [
    ['answers', [...statuses].map(([s, n]) => `${n}×${s}`).join(' ')],
    ['burst, ms', Math.round(elapsed)],
    ['API GETs during the burst', (await gets()) - before],
    ['/healthz answers', h.n],
    ['/healthz p50 ms', h.p50],
    ['/healthz max ms', h.max],
  ]);
}

async function webhook(operatorUrl: string, namespace: string, project: string): Promise<void> {
  const body = '{"ref":"refs/heads/x"}';
  const res = await fetch(`${operatorUrl}/hooks/${namespace}/${project}`, {
    method: 'POST',
    headers: { 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
    body,
  });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
}

async function repository(root: string, name: string, url: string): Promise<{ url: string; main: string; push: (branch: string) => Promise<string> }> {
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', join(root, `${name}.git`)]);
  const work = await mkdtemp(join(tmpdir(), 'grove-bench-push-'));
  const g = (...args: string[]) => run('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], { cwd: work });
  await g('init', '--quiet', '-b', 'main');
  await writeFile(join(work, 'platform.yaml'), 'version: 1\napplications:\n  web: { image: "shop/web:${GIT_COMMIT}", port: 8080 }\n');
  await g('add', '.');
  await g('commit', '--quiet', '-m', 'init');
  await g('push', '--quiet', url, 'main');
  const main = (await g('rev-parse', 'HEAD')).stdout.trim();
  return {
    url,
    main,
    async push(branch) {
      await g('checkout', '--quiet', '-B', branch, 'main');
      await g('commit', '--quiet', '--allow-empty', '-m', `Work on ${branch}`);
      await g('push', '--quiet', url, branch);
      return (await g('rev-parse', 'HEAD')).stdout.trim();
    },
  };
}
