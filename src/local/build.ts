/**
 * Builds the local cluster's upstream binaries from the Go module proxy, once.
 *
 * Binaries are cached outside any work tree, under `<cache>/<name>@<version>-<go version>/`, so
 * every checkout, test run and CI run on the machine reuses them. A build goes to a temporary
 * directory and is renamed into place, so an interrupted build never leaves a broken cache entry.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { access, appendFile, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { GroveError } from '../errors/index.ts';
import { formatDuration } from '../util/index.ts';
import { type Component, COMPONENTS, KUBERNETES_VERSION, versionLdflags } from './components.ts';

export type Progress = (line: string) => void;

export interface BuildOptions {
  cacheDir: string;
  progress: Progress;
  /** How often a long build reports that it is still running. */
  heartbeatMs?: number;
}

/** `$GROVE_CACHE_DIR`, else `$XDG_CACHE_HOME/grove`, else `~/.cache/grove`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GROVE_CACHE_DIR) return env.GROVE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'grove');
}

const GO_ENV = { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };

export async function goVersion(): Promise<string> {
  const { stdout } = await run('go', ['env', 'GOVERSION'], { cwd: process.cwd() });
  return stdout.trim();
}

export function componentDir(cacheDir: string, c: Component, go: string): string {
  return join(cacheDir, `${c.name}@${c.version}-${go}`);
}

/**
 * Returns the path of each component's binary, building those not yet cached.
 * Idempotent; a cached component costs one `stat`.
 */
export async function ensureBinaries(components: readonly Component[], opts: BuildOptions): Promise<Map<string, string>> {
  const go = await goVersion().catch((cause: unknown) => {
    throw new GroveError('BuildFailed', 'Go is needed to build the local cluster (https://go.dev/doc/install); `go env GOVERSION` failed', { cause });
  });
  const paths = new Map<string, string>();
  const missing: Component[] = [];
  for (const c of components) {
    const bin = join(componentDir(opts.cacheDir, c, go), c.name);
    paths.set(c.name, bin);
    if (!(await exists(bin))) missing.push(c);
  }
  if (missing.length > 0) {
    opts.progress(`Building ${missing.map((c) => `${c.name}@${c.version}`).join(', ')} with ${go} (first time only; cached in ${opts.cacheDir})`);
  }
  for (const c of missing) await buildComponent(c, go, opts);
  return paths;
}

async function buildComponent(c: Component, go: string, opts: BuildOptions): Promise<void> {
  const started = performance.now();
  const finalDir = componentDir(opts.cacheDir, c, go);
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const label = `${c.name}@${c.version}`;
  try {
    if (c.recipe.kind === 'kubernetes') {
      const wrapper = await ensureKubernetesWrapper(opts);
      if (c.recipe.module) await checkResolvedVersion(wrapper, c.recipe.module, c.version);
      const ldflags = `-s -w${c.recipe.stamp ? ` ${versionLdflags(c.version)}` : ''}`;
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', join(tmpDir, c.name), c.recipe.pkg], wrapper, {}, opts);
    } else {
      await goWithProgress(label, ['install', '-v', '-trimpath', '-ldflags', '-s -w', `${c.recipe.pkg}@${c.version}`], opts.cacheDir, { GOBIN: tmpDir }, opts);
      const built = join(tmpDir, basename(c.recipe.pkg));
      if (built !== join(tmpDir, c.name)) await rename(built, join(tmpDir, c.name));
    }
    if (c.files?.length) {
      const dir = await moduleDir(c.recipe.kind === 'install' ? c.recipe.module : c.recipe.pkg, c.version, opts.cacheDir);
      for (const file of c.files) await copyFile(join(dir, file), join(tmpDir, basename(file)));
    }
    await rm(finalDir, { recursive: true, force: true });
    await rename(tmpDir, finalDir);
  } catch (err) {
    await rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
  const ms = performance.now() - started;
  opts.progress(`Built ${label} in ${formatDuration(ms)}`);
  await appendFile(
    join(opts.cacheDir, 'builds.jsonl'),
    `${JSON.stringify({ component: c.name, version: c.version, go, seconds: Math.round(ms / 100) / 10, at: new Date().toISOString() })}\n`,
  );
}

/**
 * A Go module that requires k8s.io/kubernetes and pins each of its staging modules to the
 * published tag. The replace list is derived from the release's own go.mod, never kept by hand,
 * because each minor release adds staging modules.
 */
async function ensureKubernetesWrapper(opts: BuildOptions): Promise<string> {
  const dir = join(opts.cacheDir, 'build', `kubernetes@${KUBERNETES_VERSION}`);
  const tools = COMPONENTS.flatMap((c) => (c.recipe.kind === 'kubernetes' ? [c.recipe.pkg] : [])).sort();
  const key = JSON.stringify({ version: KUBERNETES_VERSION, tools });
  if ((await readFile(join(dir, 'grove-key.json'), 'utf8').catch(() => '')) === key) return dir;

  opts.progress(`Preparing the Kubernetes ${KUBERNETES_VERSION} build module`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'go.mod'), 'module grove.local/k8sbin\n\ngo 1.26.0\n');
  const info = JSON.parse((await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], { cwd: dir })).stdout) as { GoMod: string };
  const upstream = await readFile(info.GoMod, 'utf8');
  const staging = [...upstream.matchAll(/^\s*(k8s\.io\/\S+) => \.\/staging\/src\//gm)].map((m) => m[1] as string);
  if (staging.length === 0) throw new GroveError('BuildFailed', `found no staging modules in ${info.GoMod}`);
  const stagingVersion = KUBERNETES_VERSION.replace(/^v1\./, 'v0.');
  await run(
    'go',
    [
      'mod',
      'edit',
      `-require=k8s.io/kubernetes@${KUBERNETES_VERSION}`,
      ...staging.map((m) => `-replace=${m}=${m}@${stagingVersion}`),
      ...tools.map((t) => `-tool=${t}`),
    ],
    { cwd: dir },
  );
  await run('go', ['mod', 'tidy'], { cwd: dir });
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/** etcd is built at whatever version the Kubernetes graph selects; refuse a silent change. */
async function checkResolvedVersion(wrapper: string, module: string, expected: string): Promise<void> {
  const resolved = (await run('go', ['list', '-m', '-f', '{{.Version}}', module], { cwd: wrapper })).stdout.trim();
  if (resolved !== expected) {
    throw new GroveError('BuildFailed', `Kubernetes ${KUBERNETES_VERSION} selects ${module} ${resolved}, but ${expected} is pinned: update components.ts`);
  }
}

async function moduleDir(module: string, version: string, cwd: string): Promise<string> {
  const info = JSON.parse((await run('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd })).stdout) as { Dir: string };
  return info.Dir;
}

/** Runs a long `go` command, reporting how many packages it has compiled so far. */
async function goWithProgress(label: string, args: string[], cwd: string, env: Record<string, string>, opts: BuildOptions): Promise<void> {
  const started = performance.now();
  let packages = 0;
  const timer = setInterval(() => {
    opts.progress(`  ${label}: ${packages} packages compiled, ${formatDuration(performance.now() - started)} so far`);
  }, opts.heartbeatMs ?? 30_000);
  try {
    await run('go', args, {
      cwd,
      env,
      onStderrLine: (line) => {
        if (!line.startsWith('go: ')) packages++;
      },
    });
  } finally {
    clearInterval(timer);
  }
}

interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  onStderrLine?: (line: string) => void;
}

function run(cmd: string, args: string[], opts: RunOptions): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...GO_ENV, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr = (stderr + text).slice(-20_000);
      if (!opts.onStderrLine) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onStderrLine(line);
    });
    child.on('error', (cause) => reject(new GroveError('BuildFailed', `could not run ${cmd}: ${cause.message}`, { cause })));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const tail = stderr.split('\n').filter((l) => !/^[\w./-]+$/.test(l)).slice(-20).join('\n');
        reject(new GroveError('BuildFailed', `${cmd} ${args.join(' ')} exited with ${code}:\n${tail}`));
      }
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
