/**
 * `grove mover backup|restore|check`: the command backup and restore Jobs run, in Grove's own
 * image. The repository comes from restic's own environment variables, which the Job fills from
 * the BackupStore's Secrets; a database's connection from `DB_HOST`, `DB_PORT`, `DB_USER`,
 * `DB_PASSWORD` and `DB_NAME`, filled from the service's credentials Secret.
 *
 * A backup prints its result as one JSON line (the Backup status entry for the volume) and, with
 * `--result-file`, writes it there too: a pod's termination message.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { GroveError } from '../errors/index.ts';
import { backupVolume, type DatabaseAccess, dumpSchema, restoreVolume, SCHEMA_KINDS, type VolumeKind } from '../data/mover/index.ts';
import { Restic } from '../data/restic/index.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove mover backup  --name N --kind K --backup B --environment E [--path DIR] [--result-file F]
       grove mover restore --name N --kind K --snapshot ID [--path DIR [--replace]]
       grove mover check   [--read-data]
       grove mover schema  --name N --kind K

Backs up or restores one volume (--kind files, with --path) or database
(--kind postgresql | mariadb | redis) with restic. --replace empties DIR before
restoring into it, so it holds exactly the snapshot. schema prints a database's
schema (--kind postgresql | mariadb), which a migration rehearsal compares.

Environment:
  RESTIC_REPOSITORY, RESTIC_PASSWORD             the repository
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  AWS_DEFAULT_REGION                             its S3 credentials
  DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME   the database, for database kinds
  RESTIC_CACHE_DIR                               restic's cache (a writable directory)
`;

const KINDS: readonly VolumeKind[] = ['files', 'postgresql', 'mariadb', 'redis'];

export async function moverCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    name: { type: 'string' },
    kind: { type: 'string' },
    path: { type: 'string' },
    backup: { type: 'string' },
    environment: { type: 'string' },
    snapshot: { type: 'string' },
    'result-file': { type: 'string' },
    'read-data': { type: 'boolean' },
    replace: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || extra.length || !['backup', 'restore', 'check', 'schema'].includes(action)) throw new GroveError('InvalidInput', `mover takes one of backup, restore, check, schema\n\n${HELP}`);
  if (action === 'schema') {
    const kind = need(values.kind, '--kind') as VolumeKind;
    if (!SCHEMA_KINDS.includes(kind)) throw new GroveError('InvalidInput', `--kind must be one of ${SCHEMA_KINDS.join(', ')} for schema (got "${kind}")`);
    need(values.name, '--name');
    await dumpSchema(kind, databaseFromEnv(io.env, kind), io.stdout);
    return 0;
  }
  const restic = resticFromEnv(io.env);

  if (action === 'check') {
    await restic.check({ readData: values['read-data'] ?? false });
    io.stdout.write('The repository is intact.\n');
    return 0;
  }
  const name = need(values.name, '--name');
  const kind = need(values.kind, '--kind') as VolumeKind;
  if (!KINDS.includes(kind)) throw new GroveError('InvalidInput', `--kind must be one of ${KINDS.join(', ')} (got "${kind}")`);
  const target = { name, kind, ...(values.path ? { path: values.path } : {}), ...(kind === 'files' ? {} : { database: databaseFromEnv(io.env, kind) }) };

  if (action === 'backup') {
    const result = await backupVolume(restic, { ...target, backup: need(values.backup, '--backup'), environment: need(values.environment, '--environment') });
    const line = JSON.stringify(result);
    io.stdout.write(`${line}\n`);
    if (values['result-file']) await writeFile(values['result-file'], line);
    return 0;
  }
  await restoreVolume(restic, target, need(values.snapshot, '--snapshot'), { replace: values.replace ?? false });
  io.stderr.write(`Restored ${kind} ${name} from snapshot ${values.snapshot}.\n`);
  return 0;
}

function resticFromEnv(env: NodeJS.ProcessEnv): Restic {
  const location = env.RESTIC_REPOSITORY;
  const password = env.RESTIC_PASSWORD;
  if (!location || !password) throw new GroveError('InvalidInput', 'RESTIC_REPOSITORY and RESTIC_PASSWORD must be set');
  const backend: Record<string, string> = {};
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_DEFAULT_REGION']) if (env[k]) backend[k] = env[k];
  return new Restic({ location, password, env: backend }, env.RESTIC_CACHE_DIR ? { cacheDir: env.RESTIC_CACHE_DIR } : {});
}

function databaseFromEnv(env: NodeJS.ProcessEnv, kind: VolumeKind): DatabaseAccess {
  const missing = ['DB_HOST', 'DB_PORT', ...(kind === 'redis' ? [] : ['DB_USER', 'DB_PASSWORD', 'DB_NAME'])].filter((k) => !env[k]);
  if (missing.length) throw new GroveError('InvalidInput', `a ${kind} backup needs ${missing.join(', ')} in the environment`);
  const port = Number(env.DB_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new GroveError('InvalidInput', `DB_PORT must be a port number (got "${env.DB_PORT}")`);
  return { host: env.DB_HOST as string, port, username: env.DB_USER ?? '', password: env.DB_PASSWORD ?? '', database: env.DB_NAME ?? '' };
}

function need(value: string | undefined, flag: string): string {
  if (!value) throw new GroveError('InvalidInput', `${flag} is required\n\n${HELP}`);
  return value;
}
