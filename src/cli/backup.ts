/**
 * `grove backup ls|create`: the Backups of a project namespace, read and made with the
 * kubeconfig's own rights (the same RBAC as kubectl) or through Grove's API with a token
 * (`--server`). Tables for people, `-o json|yaml` for machines.
 *
 * @module
 */
import { GroveError } from '../errors/index.ts';
import { backendOf, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, OUTPUT_OPTION, outputFormat, render } from './common.ts';
import { backupTable } from './tables/index.ts';
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

