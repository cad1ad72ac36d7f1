/**
 * The built-in service catalog: how each `type: <name>:<version>` of `platform.yaml` runs. Every
 * entry runs as a fixed non-root user (the images' own service users), so its pods pass the
 * `restricted` Pod Security profile. Pure data.
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
  args?: string[];
  /** Command a readiness probe runs. */
  ready: string[];
  /** Whether the service has users and databases (Redis has a password only). */
  hasDatabase: boolean;
}

export const CATALOG: Record<ServiceKind, CatalogEntry> = {
  postgresql: {
    image: 'docker.io/library/postgres',
    port: 5432,
    dataPath: '/var/lib/postgresql/data',
    uid: 999,
    scheme: 'postgresql',
    env: { POSTGRES_USER: 'username', POSTGRES_PASSWORD: 'password', POSTGRES_DB: 'database' },
    fixedEnv: { PGDATA: '/var/lib/postgresql/data/pgdata' },
    ready: ['sh', '-c', 'pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB"'],
    hasDatabase: true,
  },
  mariadb: {
    image: 'docker.io/library/mariadb',
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    scheme: 'mysql',
    env: { MARIADB_USER: 'username', MARIADB_PASSWORD: 'password', MARIADB_DATABASE: 'database', MARIADB_ROOT_PASSWORD: 'password' },
    ready: ['sh', '-c', 'healthcheck.sh --connect --innodb_initialized'],
    hasDatabase: true,
  },
  mysql: {
    image: 'docker.io/library/mysql',
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    scheme: 'mysql',
    env: { MYSQL_USER: 'username', MYSQL_PASSWORD: 'password', MYSQL_DATABASE: 'database', MYSQL_ROOT_PASSWORD: 'password' },
    ready: ['sh', '-c', 'mysqladmin ping -h 127.0.0.1 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD"'],
    hasDatabase: true,
  },
  redis: {
    image: 'docker.io/library/redis',
    port: 6379,
    dataPath: '/data',
    uid: 999,
    scheme: 'redis',
    env: { REDIS_PASSWORD: 'password' },
    args: ['sh', '-c', 'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data'],
    ready: ['sh', '-c', 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping'],
    hasDatabase: false,
  },
};

/** `postgresql:16` → { kind: 'postgresql', version: '16' }. The manifest schema guarantees the form. */
export function parseServiceType(type: string): { kind: ServiceKind; version: string } {
  const [kind, version] = type.split(':') as [ServiceKind, string];
  return { kind, version };
}
