// Branch discovery on a repository with 10,000 branches: Grove's listing (isomorphic-git,
// protocol v2 ls-refs with the refs/heads/ prefix) against native `git ls-remote --heads`, on
// the same Git server in the same run. Prints time, bytes on the wire and peak memory.
//
// Bytes are counted by the Git server for both clients (its access log), so they are measured
// the same way. Peak memory is each client's own process: a fresh Node process doing one listing
// for Grove (its baseline, Node itself, is printed too), GNU time for git.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GitSource } from '../src/source/git/index.ts';
import { benchCluster, summary, table } from './harness.ts';

const run = promisify(execFile);
const BRANCHES = Number(process.env.GROVE_BENCH_BRANCHES ?? 10_000);
const ROUNDS = Number(process.env.GROVE_BENCH_ROUNDS ?? 15);

export async function discoveryBenchmark(): Promise<void> {
  const cluster = await benchCluster('c');
  try {
    const git = cluster.state.git!;
    const url = `${git.url}/many.git`;
    await makeRepository(join(git.root, 'many.git'), BRANCHES);

    const grove = new GitSource({ cacheDir: await mkdtemp(join(tmpdir(), 'grove-bench-cache-')) });
    const groveList = async (): Promise<number> => {
      const started = performance.now();
      const branches = await grove.listBranches({ url });
      if (branches.size !== BRANCHES) throw new Error(`Grove listed ${branches.size} branches, expected ${BRANCHES}`);
      return performance.now() - started;
    };
    const gitList = async (): Promise<number> => {
      const started = performance.now();
      const { stdout } = await run('git', ['-c', 'protocol.version=2', 'ls-remote', '--heads', url], { maxBuffer: 64 * 1024 * 1024 });
      const elapsed = performance.now() - started;
      const lines = stdout.trim().split('\n').length;
      if (lines !== BRANCHES) throw new Error(`git listed ${lines} branches, expected ${BRANCHES}`);
      return elapsed;
    };

    // Warm both paths (JIT, connection setup, the server's page cache), then alternate.
    for (let i = 0; i < 3; i++) {
      await groveList();
      await gitList();
    }
    const times = { grove: [] as number[], git: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      times.grove.push(await groveList());
      times.git.push(await gitList());
    }

    const bytes = { grove: await bytesOf(git.accessLog, groveList), git: await bytesOf(git.accessLog, gitList) };
    const memory = { grove: await groveRss(url), node: await groveRss(''), git: await gitRss(url) };

    const g = summary(times.grove);
    const n = summary(times.git);
    table(`Branch discovery, ${BRANCHES} branches, ${ROUNDS} rounds each (loopback, git http-backend)`, ['client', 'p50 ms', 'p90 ms', 'max ms', 'bytes in', 'bytes out', 'peak RSS MiB'], [
      ['grove (isomorphic-git, v2 ls-refs + prefix)', g.p50, g.p90, g.max, bytes.grove.response, bytes.grove.request, `${(memory.grove / 1024).toFixed(1)} (node alone ${(memory.node / 1024).toFixed(1)})`],
      ['git ls-remote --heads (protocol v2)', n.p50, n.p90, n.max, bytes.git.response, bytes.git.request, (memory.git / 1024).toFixed(1)],
    ]);
    console.log(`\nGrove / native git, p50 time: ${(g.p50 / n.p50).toFixed(2)}x (target ≤ 1.5x); bytes received: ${(bytes.grove.response / bytes.git.response).toFixed(2)}x`);
  } finally {
    await cluster.stop();
  }
}

/** A bare repository with one commit and `count` branches pointing at it, refs packed. */
async function makeRepository(bare: string, count: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'grove-bench-repo-'));
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await run('git', ['init', '--quiet', '-b', 'main', work]);
  await writeFile(join(work, 'platform.yaml'), 'version: 1\n');
  await run('git', ['add', '.'], { cwd: work });
  await run('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', 'commit', '--quiet', '-m', 'init'], { cwd: work });
  await run('git', ['push', '--quiet', bare, 'main'], { cwd: work });
  const sha = (await run('git', ['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();
  const input = Array.from({ length: count - 1 }, (_, i) => `create refs/heads/agent/task-${String(i).padStart(5, '0')} ${sha}\n`).join('');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['update-ref', '--stdin'], { cwd: bare, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git update-ref exited ${code}`))));
    child.stdin.end(input);
  });
  await run('git', ['pack-refs', '--all'], { cwd: bare });
}

/** Request and response bytes the Git server logged while `fn` ran once. */
async function bytesOf(accessLog: string, fn: () => Promise<unknown>): Promise<{ request: number; response: number }> {
  const before = (await readFile(accessLog, 'utf8')).length;
  await fn();
  await new Promise((r) => setTimeout(r, 50));
  const lines = (await readFile(accessLog, 'utf8')).slice(before).trim().split('\n').filter(Boolean);
  return lines.reduce(
    (acc, l) => {
      const e = JSON.parse(l) as { requestBytes: number; responseBytes: number };
      return { request: acc.request + e.requestBytes, response: acc.response + e.responseBytes };
    },
    { request: 0, response: 0 },
  );
}

/** Peak RSS (KiB) of a fresh Node process that lists the branches once; with no URL, of Node doing nothing. */
async function groveRss(url: string): Promise<number> {
  const script = url
    ? `import { GitSource } from ${JSON.stringify(new URL('../src/source/git/index.ts', import.meta.url).href)};
       const g = new GitSource({ cacheDir: ${JSON.stringify(await mkdtemp(join(tmpdir(), 'grove-bench-rss-')))} });
       await g.listBranches({ url: ${JSON.stringify(url)} });
       console.log(process.resourceUsage().maxRSS);`
    : 'console.log(process.resourceUsage().maxRSS);';
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  return Number(stdout.trim());
}

async function gitRss(url: string): Promise<number> {
  const { stderr } = await run('/usr/bin/time', ['-f', '%M', 'git', '-c', 'protocol.version=2', 'ls-remote', '--heads', url], { maxBuffer: 64 * 1024 * 1024 });
  return Number(stderr.trim().split('\n').at(-1));
}
