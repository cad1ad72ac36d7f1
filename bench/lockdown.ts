// The kill switch at fleet size: N Environments (default 100; one production among them) made
// Ready on the local cluster, then the Project's switch engaged. Prints the time from the switch
// until every Environment but production had lost its egress policies (the last NetworkPolicy
// that lets pods out of their namespace deleted), percentiles over the Environments, and the
// same for lifting it. The same for the operator-wide switch (its ConfigMap).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Environment, type KubeObject, LOCKDOWN_CONFIGMAP, type Project } from '../src/api/index.ts';
import { type Kube, kubeFromFile } from '../src/kube/index.ts';
import { outboundAllowArgs } from '../local/network.ts';
import { benchCluster, summary, table } from './harness.ts';

const run = promisify(execFile);
const COUNT = Number(process.env.GROVE_BENCH_ENVIRONMENTS ?? 100);
const EGRESS = ['allow-dns', 'allow-internet-egress'];
const MANIFEST = 'version: 1\napplications:\n  web: { image: "shop/web:1", port: 8080, resources: { cpu: 10m, memory: 16Mi } }\n';

export async function lockdownBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  const kube = kubeFromFile(cluster.state.kubeconfig);
  const ns = 'fleet';
  let operator: ReturnType<typeof spawn> | undefined;
  try {
    const work = await mkdtemp(join(tmpdir(), 'grove-bench-lockdown-'));
    const bare = join(cluster.state.git!.root, 'fleet.git');
    await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    await run('git', ['init', '--quiet', '-b', 'main', work]);
    await writeFile(join(work, 'platform.yaml'), MANIFEST);
    await run('git', ['add', '.'], { cwd: work });
    await run('git', ['-c', 'user.name=Bench', '-c', 'user.email=b@example.com', 'commit', '--quiet', '-m', 'fleet'], { cwd: work });
    await run('git', ['push', '--quiet', bare, 'main'], { cwd: work });
    const revision = (await run('git', ['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();

    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const project: Project = {
      apiVersion: 'grove.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'fleet', namespace: ns },
      // Only production follows Git; the other Environments are made here, as kubectl users make them.
      spec: { repo: { url: `${cluster.state.git!.url}/fleet.git` }, pollIntervalSeconds: 86400, branches: { include: ['none'] }, defaults: { clone: 'empty' }, network: { egress: { mode: 'internet' } } },
    };
    await kube.create(project);
    const names = Array.from({ length: COUNT - 1 }, (_, i) => `fleet-e${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((name) => kube.create<Environment>({ apiVersion: 'grove.dev/v1alpha1', kind: 'Environment', metadata: { name, namespace: ns }, spec: { project: 'fleet', branch: 'main', revision, type: 'development', clone: 'empty' } })),
      );
    }
    operator = spawn(process.execPath, [fileURLToPath(new URL('../src/main.ts', import.meta.url)), 'operator', '--kubeconfig', cluster.state.kubeconfig, '--namespace', ns, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...outboundAllowArgs(cluster.state)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(async () => (await kube.list<Environment>('grove.dev/v1alpha1', 'Environment', { namespace: ns })).items.filter((e) => e.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === COUNT, 900_000, 'all Ready');
    const namespaces = new Map((await kube.list<Environment>('grove.dev/v1alpha1', 'Environment', { namespace: ns })).items.map((e) => [e.metadata.name as string, e.status?.namespace as string]));
    const agentDriven = names.map((n) => namespaces.get(n) as string);
    const production = namespaces.get('fleet-main') as string;
    console.error(`[bench] ${COUNT} Environments Ready; engaging the switch`);

    const rows: Array<Array<string | number>> = [];
    const measure = async (what: string, flip: () => Promise<unknown>, cut: boolean) => {
      const watch = egressWatch(kube, agentDriven, cut);
      const at = performance.now();
      await flip();
      const times = await watch.done(at, 600_000);
      const s = summary(times);
      rows.push([what, agentDriven.length, s.p50, s.p90, s.max]);
      if (cut) {
        const kept = (await kube.list<KubeObject>('networking.k8s.io/v1', 'NetworkPolicy', { namespace: production })).items.map((p) => p.metadata.name);
        if (!EGRESS.every((n) => kept.includes(n))) throw new Error(`production lost its egress: ${kept.join(', ')}`);
      }
    };
    const projectRef = { apiVersion: 'grove.dev/v1alpha1', kind: 'Project', namespace: ns, name: 'fleet' };
    await measure('Project spec.lockdown: true', () => kube.mergePatch(projectRef, { spec: { lockdown: true } }, { fieldManager: 'bench' }), true);
    await measure('Project spec.lockdown: false', () => kube.mergePatch(projectRef, { spec: { lockdown: false } }, { fieldManager: 'bench' }), false);
    const configMap = (engaged: boolean) => kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: LOCKDOWN_CONFIGMAP, namespace: ns }, data: { engaged: String(engaged) } } as KubeObject, { fieldManager: 'bench', force: true });
    await measure('operator-wide ConfigMap engaged', () => configMap(true), true);
    await measure('operator-wide ConfigMap lifted', () => configMap(false), false);
    table(`The kill switch over ${COUNT} Environments (${agentDriven.length} held, production kept), kwok nodes: time from the switch until each one's egress policies were gone (or back)`, ['switch', 'Environments', 'p50 (ms)', 'p90 (ms)', 'all (ms)'], rows);
  } finally {
    operator?.kill('SIGTERM');
    await cluster.stop();
  }
}

/** When each namespace's egress policies went (cut) or came back (lifted), in ms after `at`. */
function egressWatch(kube: Kube, namespaces: string[], cut: boolean): { done: (at: number, timeoutMs: number) => Promise<number[]> } {
  return {
    async done(at, timeoutMs) {
      const seen = new Map<string, number>();
      while (seen.size < namespaces.length) {
        if (performance.now() - at > timeoutMs) throw new Error(`only ${seen.size}/${namespaces.length} namespaces ${cut ? 'cut' : 'restored'} in time`);
        const list = await kube.list<KubeObject>('networking.k8s.io/v1', 'NetworkPolicy', { labelSelector: 'grove.dev/project=fleet' });
        const open = new Set(list.items.filter((p) => EGRESS.includes(p.metadata.name as string)).map((p) => p.metadata.namespace as string));
        const now = performance.now() - at;
        for (const n of namespaces) if (!seen.has(n) && (cut ? !open.has(n) : open.has(n))) seen.set(n, now);
        await sleep(50);
      }
      return [...seen.values()];
    },
  };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}
