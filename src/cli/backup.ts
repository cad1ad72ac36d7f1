/**
 * `grove backup ls|create`: the Backups of a project namespace, read and made with the
 * kubeconfig's own rights (the same RBAC as kubectl) or through Grove's API with a token
 * (`--server`). Tables for people, `-o json|yaml` for machines.
 *
 * @module
 */
import type { Backup } from '../api/types.gen.ts';
import { GroveError } from '../errors/index.ts';
import { formatAge } from '../util/index.ts';
import { backendOf, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, OUTPUT_OPTION, outputFormat, render, table } from './common.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove backup ls     [--environment E] [-n NAMESPACE] [-o table|json|yaml]
       grove backup create --environment E [--name N] [--retain SECONDS] [-n NAMESPACE]

Lists the Backups of a project namespace, or asks for one of an Environment now.

Options:
  -n, --namespace NS   The project namespace (default: default)
  --environment E      Only this Environment's Backups; the Environment to back up
  --name N             The new Backup's name (default: <environment>-manual-<time>)
  --retain SECONDS     Keep the backup this long after it completes (default: until deleted)
  -o, --output FORMAT  table (default), json or yaml
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
${SERVER_HELP}`;

export async function backupCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    environment: { type: 'string' },
    name: { type: 'string' },
    retain: { type: 'string' },
    ...CLUSTER_OPTIONS,
    ...SERVER_OPTIONS,
    ...OUTPUT_OPTION,
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || extra.length || !['ls', 'create'].includes(action)) throw new GroveError('InvalidInput', `backup takes ls or create\n\n${HELP}`);
  const output = outputFormat(values.output);
  const backend = backendOf(values, io.env);
  const namespace = values.namespace;

  if (action === 'create') {
    const environment = values.environment;
    if (!environment) throw new GroveError('InvalidInput', `--environment is required\n\n${HELP}`);
    const retain = values.retain === undefined ? undefined : Number(values.retain);
    if (retain !== undefined && (!Number.isInteger(retain) || retain < 60)) throw new GroveError('InvalidInput', `--retain must be a whole number of seconds, at least 60 (got "${values.retain}")`);
    const created = await backend.createBackup(namespace, environment, values.name, retain);
    io.stdout.write(output === 'table' ? `Created Backup ${created.metadata.name} of ${environment}; follow it with: grove backup ls -n ${namespace} --environment ${environment}\n` : render(created, output));
    return 0;
  }

  const items = (await backend.listBackups(namespace, values.environment)).sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  if (output !== 'table') {
    io.stdout.write(render({ apiVersion: 'v1', kind: 'List', items }, output));
    return 0;
  }
  io.stdout.write(backupTable(items, Date.now()));
  return 0;
}

/** NAME ENVIRONMENT TRIGGER READY SIZE VOLUMES EXPIRES AGE, aligned. Pure. */
export function backupTable(items: Backup[], now: number): string {
  const rows = items.map((b) => {
    const ready = b.status?.conditions?.find((c) => c.type === 'Ready');
    return [
      b.metadata.name ?? '',
      b.spec.environment,
      b.spec.trigger ?? 'manual',
      ready ? (ready.status === 'True' ? 'True' : ready.reason) : 'Pending',
      b.status?.sizeBytes !== undefined ? humanBytes(b.status.sizeBytes) : '-',
      String(b.status?.volumes?.length ?? '-'),
      b.status?.expiresAt ? `in ${formatAge(Date.parse(b.status.expiresAt) - now)}` : '-',
      b.metadata.creationTimestamp ? formatAge(now - Date.parse(b.metadata.creationTimestamp)) : '-',
    ];
  });
  const header = ['NAME', 'ENVIRONMENT', 'TRIGGER', 'READY', 'SIZE', 'VOLUMES', 'EXPIRES', 'AGE'];
  if (rows.length === 0) return 'No backups.\n';
  return table(header, rows);
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${units[unit]}`;
}
