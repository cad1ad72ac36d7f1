/**
 * The local cluster's Git host: a real Gitea, configured from nothing in the cluster's state
 * directory (SQLite, repositories, logs), listening where the cluster's other servers do. It is
 * seeded with one administrator and a token for it, so tests and the demo create repositories,
 * webhooks and pull requests through its API, and Grove reports to it as to any Gitea.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { GroveError, messageOf } from '../src/errors/index.ts';

const run = promisify(execFile);

export interface GiteaState {
  /** Its web and API root, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The administrator Grove's tests and the demo act as, its password and an all-scopes token. */
  username: string;
  password: string;
  token: string;
}

export interface GiteaPlan {
  /** The state directory of this Gitea (config, database, repositories, logs). */
  dir: string;
  host: string;
  port: number;
  /** The gitea binary; its templates, options and public assets are beside it. */
  binary: string;
}

/** app.ini: nothing leaves the machine (no mail, update checks or avatars), webhooks may reach the cluster's own addresses. */
export function giteaConfig(plan: GiteaPlan, secrets: { secretKey: string; internalToken: string; jwtSecret: string }): string {
  const url = `http://${plan.host}:${plan.port}/`;
  return `APP_NAME = Grove local Git host
RUN_MODE = prod
WORK_PATH = ${plan.dir}

[server]
PROTOCOL = http
HTTP_ADDR = ${plan.host}
HTTP_PORT = ${plan.port}
ROOT_URL = ${url}
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
OFFLINE_MODE = true
STATIC_ROOT_PATH = ${dirname(plan.binary)}
APP_DATA_PATH = ${join(plan.dir, 'data')}

[database]
DB_TYPE = sqlite3
PATH = ${join(plan.dir, 'data', 'gitea.db')}
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = ${join(plan.dir, 'repositories')}
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = ${secrets.secretKey}
INTERNAL_TOKEN = ${secrets.internalToken}
PASSWORD_HASH_ALGO = pbkdf2

[oauth2]
JWT_SECRET = ${secrets.jwtSecret}

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
DEFAULT_KEEP_EMAIL_PRIVATE = true

[webhook]
; Grove's webhook endpoint listens on the loopback or the node's TEST-NET link.
ALLOWED_HOST_LIST = loopback,private,external
DELIVER_TIMEOUT = 10
SKIP_TLS_VERIFY = false

[mailer]
ENABLED = false

[picture]
DISABLE_GRAVATAR = true
ENABLE_FEDERATED_AVATAR = false

[cron.update_checker]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = ${join(plan.dir, 'log')}
`;
}

/** The config file's path, and what `gitea` needs in its environment to find it and its work path. */
export function giteaInvocation(plan: GiteaPlan): { config: string; env: Record<string, string> } {
  return { config: join(plan.dir, 'custom', 'conf', 'app.ini'), env: { GITEA_WORK_DIR: plan.dir, GITEA_CUSTOM: join(plan.dir, 'custom'), HOME: plan.dir, USER: 'git' } };
}

/**
 * Writes the configuration, creates the database and the administrator, and returns the
 * administrator's credentials; the server itself is started by the caller, as one of the
 * cluster's processes.
 */
export async function prepareGitea(plan: GiteaPlan): Promise<Omit<GiteaState, 'url'>> {
  const { config, env } = giteaInvocation(plan);
  for (const sub of ['custom/conf', 'data', 'repositories', 'log']) await mkdir(join(plan.dir, sub), { recursive: true });
  const secret = () => randomBytes(32).toString('base64url');
  await writeFile(config, giteaConfig(plan, { secretKey: secret(), internalToken: secret(), jwtSecret: secret() }), { mode: 0o600 });
  const gitea = (...args: string[]) => run(plan.binary, ['--config', config, '--work-path', plan.dir, ...args], { env: { ...process.env, ...env, ...asRoot() }, cwd: plan.dir });
  const username = 'grove';
  const password = randomBytes(12).toString('base64url');
  try {
    await gitea('migrate');
    await gitea('admin', 'user', 'create', '--username', username, '--password', password, '--email', 'grove@grove.invalid', '--admin', '--must-change-password=false');
    const { stdout } = await gitea('admin', 'user', 'generate-access-token', '--username', username, '--token-name', `grove-${randomBytes(3).toString('hex')}`, '--scopes', 'all', '--raw');
    return { username, password, token: stdout.trim() };
  } catch (err) {
    const { stderr = '', stdout = '' } = err as { stderr?: string; stdout?: string };
    throw new GroveError('ProcessFailed', `gitea could not be set up in ${plan.dir}: ${`${stderr}${stdout}`.trim().split('\n').slice(-5).join('\n') || messageOf(err)}`, { cause: err });
  }
}

/** Gitea refuses to run as root unless told this is deliberate; the local cluster runs as root on CI. */
export function asRoot(): Record<string, string> {
  return process.getuid?.() === 0 ? { GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT: 'true' } : {};
}

/** The example repository `up` seeds: `<user>/shop`, holding examples/shop on `main`. */
export const EXAMPLE_REPOSITORY = 'shop';

/**
 * Creates `<user>/shop` (public) unless it exists, and pushes `source` (a directory: examples/shop)
 * to its `main` as one commit when the branch does not exist yet. Returns its clone URL.
 */
export async function seedExample(gitea: GiteaState, source: string): Promise<string> {
  const api = async (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${gitea.url}/api/v1${path}`, { method, headers: { authorization: `token ${gitea.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const created = await api('POST', '/user/repos', { name: EXAMPLE_REPOSITORY, private: false, default_branch: 'main', description: 'The Grove example: a web application with a PostgreSQL database' });
  if (!created.ok && created.status !== 409) throw new GroveError('ProcessFailed', `Gitea refused to create ${gitea.username}/${EXAMPLE_REPOSITORY}: ${created.status} ${await created.text()}`);
  const cloneUrl = `${gitea.url}/${gitea.username}/${EXAMPLE_REPOSITORY}.git`;
  if ((await api('GET', `/repos/${gitea.username}/${EXAMPLE_REPOSITORY}/branches/main`)).ok) return cloneUrl;
  const work = await mkdtemp(join(tmpdir(), 'grove-seed-'));
  try {
    await cp(source, work, { recursive: true });
    const g = (...args: string[]) => run('git', ['-c', 'user.name=Grove', '-c', 'user.email=grove@grove.invalid', ...args], { cwd: work });
    await g('init', '--quiet', '-b', 'main');
    await g('add', '--all');
    await g('commit', '--quiet', '-m', 'The shop: a web app with a database');
    const remote = new URL(cloneUrl);
    remote.username = gitea.username;
    remote.password = gitea.token;
    await g('push', '--quiet', remote.toString(), 'main');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return cloneUrl;
}
