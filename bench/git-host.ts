// Push → commit status on a real Gitea: from the moment `git push` to Gitea returns to the moment
// Gitea's API shows Grove's pending status for the pushed commit, and then its success status
// (the Environment Ready on kwok's simulated node). Gitea sends the push webhook itself; Grove's
// operator runs as its own process, as in production. Pushes one after another.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { outboundAllowArgs } from '../local/network.ts';
import { environmentName } from '../src/api/index.ts';
import { kubeFromFile } from '../src/kube/index.ts';
import { benchCluster, listeningAddress, summary, table } from './harness.ts';

const run = promisify(execFile);
const PUSHES = Number(process.env.GROVE_BENCH_PUSHES ?? 25);
const SECRET = 'bench-webhook-secret';
const MANIFEST = 'version: 1\napplications:\n  web: { image: "shop/web:${GIT_COMMIT}", port: 8080 }\n';

export async function gitHostBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  const gitea = cluster.state.gitea!;
  const kube = kubeFromFile(cluster.state.kubeconfig);
  const ns = 'bench-githost';
  const project = 'shop';
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${gitea.url}/api/v1${path}`, { method, headers: { authorization: `token ${gitea.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (!res.ok) throw new Error(`Gitea answered ${res.status} to ${method} ${path}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const operator = spawn(
    process.execPath,
    [fileURLToPath(new URL('../src/main.ts', import.meta.url)), 'operator', '--kubeconfig', cluster.state.kubeconfig, '--namespace', ns, '--listen', '127.0.0.1:0', '--log-level', 'info', ...outboundAllowArgs(cluster.state)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const operatorUrl = await listeningAddress(operator);
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const usable = { 'grove.dev/usable-by': `Project/${project}` };
    await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'webhook', namespace: ns, annotations: usable }, stringData: { secret: SECRET } } as never);
    await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gitea', namespace: ns, annotations: usable }, stringData: { token: gitea.token } } as never);
    await api('POST', '/user/repos', { name: 'bench-shop', private: false, default_branch: 'main' });
    const repoPath = `${gitea.username}/bench-shop`;
    const remote = new URL(`${gitea.url}/${repoPath}.git`);
    remote.username = gitea.username;
    remote.password = gitea.token;
    const work = await mkdtemp(join(tmpdir(), 'grove-bench-'));
    const g = (...args: string[]) => run('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@grove.invalid', ...args], { cwd: work });
    await g('init', '--quiet', '-b', 'main');
    await writeFile(join(work, 'platform.yaml'), MANIFEST);
    await g('add', '--all');
    await g('commit', '--quiet', '-m', 'main');
    await g('push', '--quiet', remote.toString(), 'main');
    await kube.create({
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: project, namespace: ns },
      spec: { repo: { url: `${gitea.url}/${repoPath}.git` }, pollIntervalSeconds: 3600, webhook: { secretRef: { name: 'webhook' } }, gitHost: { type: 'gitea', secretRef: { name: 'gitea' } }, defaults: { clone: 'empty' } },
    } as never);
    await api('POST', `/repos/${repoPath}/hooks`, { type: 'gitea', active: true, events: ['push'], config: { url: `${operatorUrl}/hooks/${ns}/${project}`, content_type: 'json', secret: SECRET } });

    const state = async (sha: string, context: string): Promise<string[]> =>
      (await api<Array<{ status: string; context: string }>>('GET', `/repos/${repoPath}/commits/${sha}/statuses?limit=50`)).filter((s) => s.context === context).map((s) => s.status);
    const pending: number[] = [];
    const success: number[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const branch = `agent/task-${i}`;
      await g('checkout', '--quiet', '-B', branch, 'main');
      await writeFile(join(work, 'task.txt'), `${i}\n`);
      await g('add', '--all');
      await g('commit', '--quiet', '-m', branch);
      const sha = (await g('rev-parse', 'HEAD')).stdout.trim();
      await g('push', '--quiet', remote.toString(), branch);
      const pushed = performance.now();
      const context = `grove/${environmentName(project, branch)}`;
      for (let tries = 0; ; tries++) {
        if (tries > 6000) throw new Error(`no success status for ${branch} after 2 minutes`);
        const seen = await state(sha, context);
        if (seen.includes('pending') && pending.length === i) pending.push(performance.now() - pushed);
        if (seen.includes('success')) {
          success.push(performance.now() - pushed);
          if (pending.length === i) pending.push(Number.NaN);
          break;
        }
        await sleep(20);
      }
    }
    const shown = (values: number[]) => values.filter((v) => !Number.isNaN(v));
    table(
      `Push to Gitea → Grove's commit status in Gitea, ${PUSHES} pushes (ms)`,
      ['status', 'n', 'p50', 'p90', 'p99', 'max'],
      [
        ['pending', ...Object.values(summary(shown(pending)))],
        ['success', ...Object.values(summary(success))],
      ],
    );
    const missed = pending.filter((v) => Number.isNaN(v)).length;
    if (missed) console.log(`${missed} pushes went to success before a poll saw their pending status.`);
  } finally {
    operator.kill('SIGTERM');
    await cluster.stop();
  }
}
