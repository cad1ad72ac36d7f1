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
import { createHash } from 'node:crypto';
import { access, appendFile, copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GroveError } from '../src/errors/index.ts';
import { formatDuration } from '../src/util/index.ts';
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

/** `digest` identifies the source of a Grove program, whose version alone may lag behind edits. */
export function componentDir(cacheDir: string, c: Component, go: string, digest?: string): string {
  return join(cacheDir, `${c.name}@${c.version}${digest ? `+${digest}` : ''}-${go}`);
}

/** Grove's own Go programs (recipe kind `source`), each a folder beside this module. */
const GO_SOURCE_DIR = fileURLToPath(new URL('./', import.meta.url));

/**
 * Returns the path of each component's binary, building those not yet cached.
 * Idempotent; a cached component costs one `stat`.
 */
export async function ensureBinaries(components: readonly Component[], opts: BuildOptions): Promise<Map<string, string>> {
  const go = await goVersion().catch((cause: unknown) => {
    throw new GroveError('BuildFailed', 'Go is needed to build the local cluster (https://go.dev/doc/install); `go env GOVERSION` failed', { cause });
  });
  const paths = new Map<string, string>();
  const missing: Array<{ c: Component; dir: string }> = [];
  for (const c of components) {
    const dir = componentDir(opts.cacheDir, c, go, c.recipe.kind === 'source' ? (await goSource(c.recipe.dir)).digest : undefined);
    const bin = join(dir, c.name);
    paths.set(c.name, bin);
    if (!(await exists(bin))) missing.push({ c, dir });
  }
  if (missing.length > 0) {
    opts.progress(`Building ${missing.map(({ c }) => `${c.name}@${c.version}`).join(', ')} with ${go} (first time only; cached in ${opts.cacheDir})`);
  }
  for (const { c, dir } of missing) await buildComponent(c, dir, go, opts);
  return paths;
}

async function buildComponent(c: Component, finalDir: string, go: string, opts: BuildOptions): Promise<void> {
  const started = performance.now();
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const label = `${c.name}@${c.version}`;
  try {
    if (c.recipe.kind === 'kubernetes') {
      const wrapper = await ensureKubernetesWrapper(opts);
      if (c.recipe.module) await checkResolvedVersion(wrapper, c.recipe.module, c.version, `Kubernetes ${KUBERNETES_VERSION}`);
      const ldflags = `-s -w${c.recipe.stamp ? ` ${versionLdflags(c.version)}` : ''}`;
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', join(tmpDir, c.name), c.recipe.pkg], wrapper, {}, opts);
    } else if (c.recipe.kind === 'source' && c.recipe.requires) {
      const wrapper = await ensureSourceModule(c, c.recipe.dir, c.recipe.requires, opts);
      const ldflags = `-s -w -X main.version=${c.version}+${(await goSource(c.recipe.dir)).digest}`;
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', join(tmpDir, c.name), '.'], wrapper, {}, opts);
    } else if (c.recipe.kind === 'csi' || c.recipe.kind === 'source') {
      const wrapper = await ensureCsiWrapper(opts);
      if (c.recipe.kind === 'csi') await checkResolvedVersion(wrapper, c.recipe.module, c.version, 'the CSI build module');
      const pkg = c.recipe.kind === 'csi' ? c.recipe.pkg : `${CSI_WRAPPER_MODULE}/${c.recipe.dir}`;
      // Each of these mains reports `main.version` (`--version`, logs, GetPluginInfo); release builds stamp it.
      const stamp = c.recipe.kind === 'source' ? `${c.version}+${(await goSource(c.recipe.dir)).digest}` : c.version;
      const ldflags = `-s -w -X main.version=${stamp}`;
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', join(tmpDir, c.name), pkg], wrapper, {}, opts);
    } else if (c.recipe.kind === 'main-module') {
      const source = await ensureModuleSource(c, c.recipe.module, opts);
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', `-s -w${c.recipe.ldflags ? ` ${c.recipe.ldflags}` : ''}`, '-o', join(tmpDir, c.name), c.recipe.pkg], source, {}, opts);
      for (const dir of c.recipe.dirs ?? []) await cp(join(source, dir), join(tmpDir, dir), { recursive: true });
    } else if (c.recipe.replace) {
      const wrapper = await ensureReplacingWrapper(c, c.recipe.module, c.recipe.pkg, c.recipe.replace, opts);
      await goWithProgress(label, ['build', '-v', '-trimpath', '-ldflags', '-s -w', '-o', join(tmpDir, c.name), c.recipe.pkg], wrapper, {}, opts);
    } else {
      await goWithProgress(label, ['install', '-v', '-trimpath', '-ldflags', '-s -w', `${c.recipe.pkg}@${c.version}`], opts.cacheDir, { GOBIN: tmpDir }, opts);
      const built = join(tmpDir, basename(c.recipe.pkg));
      if (built !== join(tmpDir, c.name)) await rename(built, join(tmpDir, c.name));
    }
    if (c.files?.length) {
      const dir = await moduleDir(c.filesModule ?? filesModuleOf(c), c.version, opts.cacheDir);
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
  await run(
    'go',
    ['mod', 'edit', `-require=k8s.io/kubernetes@${KUBERNETES_VERSION}`, ...(await stagingReplaces(dir)), ...tools.map((t) => `-tool=${t}`)],
    { cwd: dir },
  );
  await run('go', ['mod', 'tidy'], { cwd: dir });
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/**
 * `go mod edit` arguments that pin every staging module of Kubernetes to the published tag of
 * KUBERNETES_VERSION, read from the release's go.mod.
 */
async function stagingReplaces(cwd: string): Promise<string[]> {
  const info = JSON.parse((await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], { cwd })).stdout) as { GoMod: string };
  const upstream = await readFile(info.GoMod, 'utf8');
  const staging = [...upstream.matchAll(/^\s*(k8s\.io\/\S+) => \.\/staging\/src\//gm)].map((m) => m[1] as string);
  if (staging.length === 0) throw new GroveError('BuildFailed', `found no staging modules in ${info.GoMod}`);
  const stagingVersion = KUBERNETES_VERSION.replace(/^v1\./, 'v0.');
  return staging.map((m) => `-replace=${m}=${m}@${stagingVersion}`);
}

const CSI_WRAPPER_MODULE = 'grove.local/csibin';

/**
 * A Go module that requires the kubernetes-csi modules of the `csi` components and holds Grove's
 * `source` programs. The sidecars' own go.mod files pin the staging modules to the Kubernetes
 * release they were made with; here they follow KUBERNETES_VERSION, as the cluster does. A
 * sidecar's replace of one of its nested modules by a local path (external-snapshotter's
 * `client/v8 => ./client`) becomes that nested module at the sidecar's tag, which is how the
 * repository tags both.
 */
async function ensureCsiWrapper(opts: BuildOptions): Promise<string> {
  const dir = join(opts.cacheDir, 'build', `csi@kubernetes-${KUBERNETES_VERSION}`);
  const modules = new Map<string, string>();
  const tools: string[] = [];
  const sources: Array<{ dir: string; files: Map<string, string>; digest: string }> = [];
  for (const c of COMPONENTS) {
    if (c.recipe.kind === 'csi') {
      const pinned = modules.get(c.recipe.module);
      if (pinned && pinned !== c.version) throw new GroveError('BuildFailed', `${c.recipe.module} is pinned at both ${pinned} and ${c.version}`);
      modules.set(c.recipe.module, c.version);
      tools.push(c.recipe.pkg);
    } else if (c.recipe.kind === 'source' && !c.recipe.requires) {
      sources.push({ dir: c.recipe.dir, ...(await goSource(c.recipe.dir)) });
      tools.push(`${CSI_WRAPPER_MODULE}/${c.recipe.dir}`);
    }
  }
  tools.sort();
  const key = JSON.stringify({ kubernetes: KUBERNETES_VERSION, modules: [...modules].sort(), tools, sources: sources.map((s) => [s.dir, s.digest]) });
  if ((await readFile(join(dir, 'grove-key.json'), 'utf8').catch(() => '')) === key) return dir;

  opts.progress('Preparing the CSI build module');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'go.mod'), `module ${CSI_WRAPPER_MODULE}\n\ngo 1.26.0\n`);
  for (const s of sources) {
    await mkdir(join(dir, s.dir));
    for (const [name, text] of s.files) await writeFile(join(dir, s.dir, name), text);
  }
  const nested: string[] = [];
  for (const [module, version] of modules) {
    const info = JSON.parse((await run('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: dir })).stdout) as { GoMod: string };
    const upstream = await readFile(info.GoMod, 'utf8');
    const family = `${module.replace(/\/v\d+$/, '')}/`;
    for (const [, path] of upstream.matchAll(/^\s*(?:replace\s+)?(\S+) => \.\/\S+[ \t]*$/gm)) {
      if (path?.startsWith(family)) nested.push(`-replace=${path}=${path}@${version}`);
    }
  }
  await run(
    'go',
    ['mod', 'edit', ...[...modules].map(([m, v]) => `-require=${m}@${v}`), ...(await stagingReplaces(dir)), ...nested, ...tools.map((t) => `-tool=${t}`)],
    { cwd: dir },
  );
  await run('go', ['mod', 'tidy'], { cwd: dir });
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/** A Go module of one component's own: it requires the component's module and replaces the given dependencies. */
async function ensureReplacingWrapper(c: Component, module: string, pkg: string, replace: Readonly<Record<string, string>>, opts: BuildOptions): Promise<string> {
  const dir = join(opts.cacheDir, 'build', `${c.name}@${c.version}`);
  const key = JSON.stringify({ module, version: c.version, pkg, replace: Object.entries(replace).sort() });
  if ((await readFile(join(dir, 'grove-key.json'), 'utf8').catch(() => '')) === key) return dir;
  opts.progress(`Preparing the build module of ${c.name}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'go.mod'), `module grove.local/${c.name}bin\n\ngo 1.26.0\n`);
  await run('go', ['mod', 'edit', `-require=${module}@${c.version}`, ...Object.entries(replace).map(([m, v]) => `-replace=${m}=${m}@${v}`), `-tool=${pkg}`], { cwd: dir });
  await run('go', ['mod', 'tidy'], { cwd: dir });
  await checkResolvedVersion(dir, module, c.version, `the build module of ${c.name}`);
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/** A writable copy of a module's source at the component's version, to be built as the main module. */
async function ensureModuleSource(c: Component, module: string, opts: BuildOptions): Promise<string> {
  const dir = join(opts.cacheDir, 'build', `${c.name}@${c.version}-source`);
  const key = JSON.stringify({ module, version: c.version });
  if ((await readFile(join(dir, 'grove-key.json'), 'utf8').catch(() => '')) === key) return dir;
  opts.progress(`Fetching the source of ${c.name}@${c.version}`);
  await rm(dir, { recursive: true, force: true });
  // The module cache's copy is read-only; the build writes nothing into it, but a copy can be made writable.
  await cp(await moduleDir(module, c.version, opts.cacheDir), dir, { recursive: true });
  await run('chmod', ['-R', 'u+w', dir], { cwd: dir });
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/** A Go module of one of Grove's own programs that requires `requires` and nothing of the other builds. */
async function ensureSourceModule(c: Component, sourceDir: string, requires: Readonly<Record<string, string>>, opts: BuildOptions): Promise<string> {
  const dir = join(opts.cacheDir, 'build', `${c.name}@${c.version}`);
  const source = await goSource(sourceDir);
  const key = JSON.stringify({ requires: Object.entries(requires).sort(), digest: source.digest });
  if ((await readFile(join(dir, 'grove-key.json'), 'utf8').catch(() => '')) === key) return dir;
  opts.progress(`Preparing the build module of ${c.name}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'go.mod'), `module grove.local/${c.name}\n\ngo 1.26.0\n`);
  for (const [name, text] of source.files) await writeFile(join(dir, name), text);
  await run('go', ['mod', 'edit', ...Object.entries(requires).map(([m, v]) => `-require=${m}@${v}`)], { cwd: dir });
  await run('go', ['mod', 'tidy'], { cwd: dir });
  for (const [module, version] of Object.entries(requires)) await checkResolvedVersion(dir, module, version, `the build module of ${c.name}`);
  await writeFile(join(dir, 'grove-key.json'), key);
  return dir;
}

/** The `.go` files of one of Grove's own programs, and a digest of them for cache keys. */
async function goSource(dir: string): Promise<{ files: Map<string, string>; digest: string }> {
  const path = join(GO_SOURCE_DIR, dir);
  const names = (await readdir(path)).filter((f) => f.endsWith('.go')).sort();
  if (names.length === 0) throw new GroveError('BuildFailed', `no Go files in ${path}`);
  const files = new Map<string, string>();
  const hash = createHash('sha256');
  for (const name of names) {
    const text = await readFile(join(path, name), 'utf8');
    files.set(name, text);
    hash.update(`${name}\0${text}\0`);
  }
  return { files, digest: hash.digest('hex').slice(0, 12) };
}

/** Where `files` come from when the component names no other module. */
function filesModuleOf(c: Component): string {
  switch (c.recipe.kind) {
    case 'install':
    case 'csi':
    case 'main-module':
      return c.recipe.module;
    case 'kubernetes':
      return c.recipe.module ?? c.recipe.pkg;
    case 'source':
      throw new GroveError('BuildFailed', `${c.name} is built from Grove's source and has no module to copy files from`);
  }
}

/**
 * etcd is built at whatever version the Kubernetes graph selects, and a sidecar could be raised
 * by another's requirements; refuse a silent change.
 */
async function checkResolvedVersion(wrapper: string, module: string, expected: string, graph: string): Promise<void> {
  const resolved = (await run('go', ['list', '-m', '-f', '{{.Version}}', module], { cwd: wrapper })).stdout.trim();
  if (resolved !== expected) {
    throw new GroveError('BuildFailed', `${graph} selects ${module} ${resolved}, but ${expected} is pinned: update components.ts`);
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
