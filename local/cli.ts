/**
 * `npm run local`: the local cluster of DESIGN §6, made of upstream binaries running as host
 * processes on 127.0.0.1.
 *
 * @module
 */
import { appendFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GroveError, messageOf } from '../src/errors/index.ts';
import { defaultCacheDir, ensureBinaries } from './build.ts';
import { type ClusterState, down, readState, status, up } from './cluster.ts';
import { componentsForTier, parseTier, tierIncludes } from './components.ts';
import { ensureImages } from './images.ts';
import { runDemo } from './demo.ts';
import { createGitServer } from './git-server.ts';
import { startMoverRunner } from './mover-runner.ts';
import { kubeFromFile } from '../src/kube/index.ts';
import { demoSummary } from './demo-summary.ts';
import type { CliIo } from '../src/cli/index.ts';

const HELP = `Usage: npm run local -- <up|down|status|demo|build> [options]

  up       Start the local cluster and print what runs where
  down     Stop exactly the processes 'up' started
  status   Show the recorded processes and whether they run
  demo     Start the cluster and Grove on it, push a branch of examples/shop
           and show its Environment, lineage, backup and (tier D) its page;
           tier D where this machine can run it, else C (or --tier c|d)
  build    Build the cluster's binaries into the cache, start nothing

Options:
  --tier a|b|c|d a: etcd + kube-apiserver with Grove's CRDs
                 b: + kube-controller-manager, kube-scheduler, kwok nodes
                 c: + MinIO (S3), a Git smart-HTTP server, CSI volumes (default: c)
                 d: + a real node: containerd, kubelet, kube-proxy, kube-router,
                      CoreDNS and locally built images (root; Debian packages)
  --dir DIR      State directory (default: $GROVE_LOCAL_DIR or ~/.local/state/grove/local)
  --nodes N      Simulated nodes at tier B and up (default: 2; at tier D 0,
                 and tainted so that nothing lands there unasked)
  -o json        Machine-readable output (status)
  --short        demo: the same steps with little data and no repository check (CI)
`;

export function defaultLocalDir(env: NodeJS.ProcessEnv): string {
  if (env.GROVE_LOCAL_DIR) return env.GROVE_LOCAL_DIR;
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'grove', 'local');
}

/** Runs one command line; returns the exit code. Errors are printed, never thrown. */
export async function runLocal(argv: string[], io: CliIo): Promise<number> {
  try {
    return await localCommand(argv, io);
  } catch (err) {
    io.stderr.write(`npm run local: ${messageOf(err)}\n`);
    return err instanceof GroveError && err.code === 'InvalidInput' ? 2 : 1;
  }
}

async function localCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'git-server') return gitServerCommand(rest);
  if (sub === 'mover-runner') return moverRunnerCommand(rest, io);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        tier: { type: 'string' },
        dir: { type: 'string' },
        nodes: { type: 'string' },
        output: { type: 'string', short: 'o' },
        short: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new GroveError('InvalidInput', `${(err as Error).message}\n\n${HELP}`);
  }
  if (parsed.help || !sub) {
    io.stdout.write(HELP);
    return sub ? 0 : 2;
  }
  const dir = parsed.dir ?? defaultLocalDir(io.env);
  const cacheDir = defaultCacheDir(io.env);
  const progress = (line: string): void => void io.stderr.write(`• ${line}\n`);
  const tier = parseTierOption(parsed.tier ?? 'c');
  const nodes = parsed.nodes === undefined ? undefined : Number.parseInt(parsed.nodes, 10);
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 0 || nodes > 100 || String(nodes) !== parsed.nodes)) {
    throw new GroveError('InvalidInput', `--nodes must be a whole number from 0 to 100 (got "${parsed.nodes}")`);
  }

  switch (sub) {
    case 'build': {
      const paths = await ensureBinaries(componentsForTier(tier), { cacheDir, progress });
      for (const [name, path] of paths) io.stdout.write(`${name.padEnd(24)} ${path}\n`);
      if (tierIncludes(tier, 'd')) {
        const coredns = paths.get('coredns');
        if (!coredns) throw new GroveError('NotFound', 'coredns was not built');
        for (const image of await ensureImages({ cacheDir, progress, coredns })) io.stdout.write(`${`image ${image.name}`.padEnd(24)} ${image.ref}  ${image.archive}\n`);
      }
      return 0;
    }
    case 'up': {
      const state = await up({ dir, tier, cacheDir, progress, ...(nodes !== undefined ? { nodes } : {}) });
      io.stdout.write(describeCluster(state));
      return 0;
    }
    case 'demo': {
      if (parsed.tier !== undefined && tier !== 'c' && tier !== 'd') throw new GroveError('InvalidInput', `--tier: the demo runs on tier c or d (got "${parsed.tier}")`);
      const demoTier = parsed.tier === undefined ? undefined : (tier as 'c' | 'd');
      const result = await runDemo({ dir, cacheDir, ...(nodes !== undefined ? { nodes } : {}), ...(demoTier ? { tier: demoTier } : {}), short: parsed.short, progress, path: io.env.PATH ?? '' });
      const downCommand = `npm run local -- down${dir === defaultLocalDir(io.env) ? '' : ` --dir ${dir}`}`;
      io.stdout.write(
        demoSummary(
          { ...result, kubeconfig: result.state.kubeconfig, kubectl: result.state.kubectl, downCommand },
          Date.now(),
        ),
      );
      return 0;
    }
    case 'down':
      await down(dir, progress);
      return 0;
    case 'status': {
      const result = await status(dir);
      if (parsed.output === 'json') {
        io.stdout.write(`${JSON.stringify(result ?? null, null, 2)}\n`);
        return result ? 0 : 1;
      }
      if (!result) {
        io.stdout.write(`No local cluster recorded in ${dir}\n`);
        return 1;
      }
      io.stdout.write(describeCluster(result.state));
      io.stdout.write(`\n${'COMPONENT'.padEnd(26)}${'PID'.padEnd(9)}${'RUNNING'.padEnd(9)}LOG\n`);
      for (const c of result.components) io.stdout.write(`${c.name.padEnd(26)}${String(c.pid).padEnd(9)}${(c.running ? 'yes' : 'no').padEnd(9)}${c.log}\n`);
      return result.components.length > 0 && result.components.every((c) => c.running) ? 0 : 1;
    }
    default:
      throw new GroveError('InvalidInput', `unknown subcommand "${sub}"\n\n${HELP}`);
  }
}

function parseTierOption(value: string): ReturnType<typeof parseTier> {
  try {
    return parseTier(value);
  } catch (err) {
    throw new GroveError('InvalidInput', `--tier: ${(err as Error).message}`);
  }
}

export function describeCluster(state: ClusterState): string {
  const lines = [
    `Local cluster, tier ${state.tier.toUpperCase()} (Kubernetes ${state.kubernetesVersion}), state in ${state.dir}`,
    `  kube-apiserver   ${state.apiserver.url}`,
    `  kubeconfig       ${state.kubeconfig}`,
    `  kubectl          ${state.kubectl}`,
  ];
  if (state.minio) lines.push(`  MinIO (S3)       ${state.minio.url}  (access key ${state.minio.accessKey}; secret in ${join(state.dir, 'state.json')})`);
  if (state.git) lines.push(`  Git server       ${state.git.url}/<repo>.git  (bare repositories in ${state.git.root})`);
  if (state.gitea) lines.push(`  Gitea            ${state.gitea.url}  (user ${state.gitea.username}; password and token in ${join(state.dir, 'state.json')})`);
  if (state.node) {
    const n = state.node.network;
    lines.push(`  node             ${state.node.name}: ${n.nodeIP} in network namespace ${n.netns}; pods ${n.podCIDR}, Services ${n.serviceCIDR}, DNS ${n.dnsServiceIP}`);
    lines.push(`  containerd       ctr -a ${state.node.containerdSocket} -n k8s.io images ls`);
  }
  if (state.csi) lines.push(`  CSI              ${state.csi.driver}: StorageClass ${state.csi.storageClass}, VolumeSnapshotClass ${state.csi.snapshotClass}  (volumes in ${state.csi.stateDir})`);
  lines.push(`  processes        ${state.processes.map((p) => `${p.name}[${p.pid}]`).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Internal: the Git server process that `up` starts at tier C. Runs until signalled. */
async function gitServerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { root: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, 'access-log': { type: 'string' }, username: { type: 'string' }, password: { type: 'string' } },
    strict: true,
  });
  if (!values.root || !values.port) throw new GroveError('InvalidInput', 'git-server needs --root and --port');
  const accessLog = values['access-log'];
  const server = createGitServer({
    root: values.root,
    ...(values.username && values.password ? { auth: { username: values.username, password: values.password } } : {}),
    ...(accessLog ? { onRequest: (entry) => appendFileSync(accessLog, `${JSON.stringify(entry)}\n`) } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(values.port), values.host, resolve);
  });
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.close(() => resolve()));
  });
  return 0;
}

/**
 * Internal: the local cluster's kubelet for the mover pods of one project namespace's
 * Environments, which `demo` starts. Runs until signalled.
 */
async function moverRunnerCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, namespace: { type: 'string' }, postgres: { type: 'string' }, 'postgres-user': { type: 'string' } },
    strict: true,
  });
  const address = /^(.*):(\d+)$/.exec(values.postgres ?? '');
  if (!values.dir || !values.namespace || !address) throw new GroveError('InvalidInput', 'mover-runner needs --dir, --namespace and --postgres HOST:PORT');
  const state = await readState(values.dir);
  if (!state) throw new GroveError('NotFound', `No local cluster recorded in ${values.dir}`);
  const abort = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => abort.abort());
  const log = (line: string): void => void io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(`Running the mover pods of namespace ${values.namespace}'s Environments`);
  await startMoverRunner({
    kube: kubeFromFile(state.kubeconfig),
    cluster: state,
    projectNamespace: values.namespace,
    postgres: { host: address[1] as string, port: Number(address[2]), username: values['postgres-user'] ?? 'grove', password: io.env.GROVE_POSTGRES_PASSWORD ?? '' },
    work: join(values.dir, 'demo', 'movers'),
    log,
    signal: abort.signal,
  });
  return 0;
}
