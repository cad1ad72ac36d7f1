/**
 * The built-in service catalog: how each `type: <name>:<version>` of `platform.yaml` runs. Every
 * entry runs as a fixed non-root user (the images' own service users), so its pods pass the
 * `restricted` Pod Security profile, on a read-only root filesystem with an emptyDir at each path
 * the server writes besides its data. The environment, paths and users follow the official
 * images' contract, which the local cluster's images (built from Debian packages) honour too.
 * Pure data.
 *
 * @module
 */

export type ServiceKind = 'postgresql' | 'mariadb' | 'mysql' | 'redis';

export interface CatalogEntry {
  image: string;
  port: number;
  /** Where the data volume is mounted. */
  dataPath: string;
  uid: number;
  /** URL scheme of the connection string given to applications. */
  scheme: string;
  /** Container environment from the credentials Secret (variable → Secret key). */
  env: Record<string, string>;
  /** Extra fixed environment. */
  fixedEnv?: Record<string, string>;
  /** Replaces the image's entrypoint. */
  command?: string[];
  /** Arguments to the image's entrypoint, which hands them to the server. */
  args?: string[];
  /** Paths the server writes besides its data (sockets, lock and temporary files): emptyDirs. */
  scratch: string[];
  /**
   * An init container's command that makes the credentials stored in the data those of this
   * Environment's Secret, before the server starts. A volume cloned from the parent holds the
   * parent's users and passwords, which the images' environment applies on a first start only;
   * a branch must never need production's password, so its own is set on every start (which
   * also makes editing the Secret rotate it). Runs with the server's image, environment and
   * mounts, and without the network.
   */
  credentials?: string[];
  /** Command a readiness probe runs. */
  ready: string[];
  /** Whether the service has users and databases (Redis has a password only). */
  hasDatabase: boolean;
  /**
   * Requests and limits when the manifest gives none: what the server needs at its own default
   * settings (MariaDB's buffer pool alone is 128 MiB, so less would have it killed at start).
   */
  resources: { cpu: string; memory: string };
}

/** The resources a service of the manifest runs with: its own, else its kind's defaults. */
export function serviceResources(service: { type: string; resources?: { cpu?: string; memory?: string } }): { cpu: string; memory: string } {
  const defaults = CATALOG[parseServiceType(service.type).kind].resources;
  return { cpu: service.resources?.cpu ?? defaults.cpu, memory: service.resources?.memory ?? defaults.memory };
}

/**
 * Single-user mode: no server, no socket, no network; it also replays the WAL of a copy taken
 * from a running server. It exits 0 whatever a statement did, so its errors are looked for.
 * Nothing to do before the first start's initdb.
 */
const POSTGRES_CREDENTIALS = [
  '[ -s "$PGDATA/PG_VERSION" ] || exit 0',
  // A copy of a running server's data holds its lock file; no server runs on it before this pod's.
  'rm -f "$PGDATA/postmaster.pid"',
  `user=$(printf %s "$POSTGRES_USER" | sed 's/"/""/g')`,
  `password=$(printf %s "$POSTGRES_PASSWORD" | sed "s/'/''/g")`,
  `out=$(printf 'ALTER ROLE "%s" WITH LOGIN PASSWORD '"'"'%s'"'"';\\n' "$user" "$password" | postgres --single -D "$PGDATA" -c listen_addresses= postgres 2>&1 >/dev/null) || { printf '%s\\n' "$out" >&2; exit 1; }`,
  `case "$out" in *ERROR:* | *FATAL:* | *PANIC:*) printf '%s\\n' "$out" >&2; exit 1 ;; esac`,
].join('\n');

/**
 * MariaDB and MySQL read an init file at every start: this writes one, to the scratch directory
 * the server's container shares, that sets the Secret's passwords on the users that exist. On a
 * first start no user exists yet, and the image's entrypoint makes them with the same passwords.
 */
function mysqlCredentials(prefix: 'MARIADB' | 'MYSQL', dir: string): string {
  return [
    // A SQL string literal: backslashes and quotes escaped.
    String.raw`lit() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }`,
    `user=$(lit "$${prefix}_USER")`,
    `password=$(lit "$${prefix}_PASSWORD")`,
    `root=$(lit "$${prefix}_ROOT_PASSWORD")`,
    `cat > ${dir}/grove-credentials.sql <<EOF`,
    "ALTER USER IF EXISTS $user@'%' IDENTIFIED BY $password;",
    "ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY $root;",
    "ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY $root;",
    'EOF',
  ].join('\n');
}

/**
 * Redis with its append-only file. With AOF on and no AOF yet, Redis starts empty and ignores a
 * `dump.rdb` beside it, which is exactly what a restore leaves: so a data directory holding only
 * an RDB file is loaded without AOF first, and AOF is switched on at run time (Redis's own way
 * to move a dataset to AOF: it rewrites the AOF from the data), before the server for good starts.
 */
const REDIS_START = `export REDISCLI_AUTH="$REDIS_PASSWORD"
if [ -f /data/dump.rdb ] && [ ! -e /data/appendonlydir ] && [ ! -e /data/appendonly.aof ]; then
  redis-server --requirepass "$REDIS_PASSWORD" --appendonly no --dir /data --bind 127.0.0.1 &
  until redis-cli --no-auth-warning ping >/dev/null 2>&1; do sleep 0.2; done
  redis-cli --no-auth-warning config set appendonly yes >/dev/null
  until [ -f /data/appendonlydir/appendonly.aof.manifest ] && redis-cli --no-auth-warning info persistence | grep -q '^aof_rewrite_in_progress:0'; do sleep 0.2; done
  redis-cli --no-auth-warning shutdown
  wait
fi
exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data`;

export const CATALOG: Record<ServiceKind, CatalogEntry> = {
  postgresql: {
    image: 'docker.io/library/postgres',
    port: 5432,
    dataPath: '/var/lib/postgresql/data',
    uid: 999,
    scheme: 'postgresql',
    env: { POSTGRES_USER: 'username', POSTGRES_PASSWORD: 'password', POSTGRES_DB: 'database' },
    // A subdirectory: initdb refuses a volume's root, which may hold lost+found.
    fixedEnv: { PGDATA: '/var/lib/postgresql/data/pgdata' },
    scratch: ['/var/run/postgresql', '/tmp'],
    credentials: ['sh', '-c', POSTGRES_CREDENTIALS],
    // Over TCP: the first start's temporary server (initdb, then the database made) listens on
    // the socket only, so a socket probe would call it ready while clients are refused.
    ready: ['sh', '-c', 'pg_isready -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'],
    hasDatabase: true,
    resources: { cpu: '100m', memory: '256Mi' },
  },
  mariadb: {
    image: 'docker.io/library/mariadb',
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    scheme: 'mysql',
    env: { MARIADB_USER: 'username', MARIADB_PASSWORD: 'password', MARIADB_DATABASE: 'database', MARIADB_ROOT_PASSWORD: 'password' },
    scratch: ['/run/mysqld', '/tmp'],
    credentials: ['sh', '-c', mysqlCredentials('MARIADB', '/run/mysqld')],
    // The server runs the file at every start, as root, before it takes clients.
    args: ['mariadbd', '--init-file=/run/mysqld/grove-credentials.sql'],
    // Over TCP: the first start's temporary server listens on the socket only, so this answers
    // once the real server does.
    ready: ['sh', '-c', 'mariadb-admin ping -h 127.0.0.1 -u"$MARIADB_USER" -p"$MARIADB_PASSWORD"'],
    hasDatabase: true,
    resources: { cpu: '100m', memory: '384Mi' },
  },
  mysql: {
    image: 'docker.io/library/mysql',
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    scheme: 'mysql',
    env: { MYSQL_USER: 'username', MYSQL_PASSWORD: 'password', MYSQL_DATABASE: 'database', MYSQL_ROOT_PASSWORD: 'password' },
    scratch: ['/var/run/mysqld', '/tmp'],
    credentials: ['sh', '-c', mysqlCredentials('MYSQL', '/var/run/mysqld')],
    args: ['mysqld', '--init-file=/var/run/mysqld/grove-credentials.sql'],
    ready: ['sh', '-c', 'mysqladmin ping -h 127.0.0.1 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD"'],
    hasDatabase: true,
    resources: { cpu: '100m', memory: '512Mi' },
  },
  redis: {
    image: 'docker.io/library/redis',
    port: 6379,
    dataPath: '/data',
    uid: 999,
    scheme: 'redis',
    env: { REDIS_PASSWORD: 'password' },
    command: ['sh', '-c', REDIS_START],
    scratch: ['/tmp'],
    ready: ['sh', '-c', 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping'],
    hasDatabase: false,
    resources: { cpu: '100m', memory: '128Mi' },
  },
};

/** `postgresql:16` → { kind: 'postgresql', version: '16' }. The manifest schema guarantees the form. */
export function parseServiceType(type: string): { kind: ServiceKind; version: string } {
  const [kind, version] = type.split(':') as [ServiceKind, string];
  return { kind, version };
}
