/**
 * `grove restore BACKUP`: asks for a Backup to be restored into a new Environment (a Restore
 * object, made with the kubeconfig's own rights or through Grove's API with a token), and with
 * `--wait` follows it until the data is in or the restore fails, printing each step once.
 *
 * @module
 */
import { GroveError } from '../errors/index.ts';
import { backendOf, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, follow, OUTPUT_OPTION, outputFormat, readyLine, render, timeoutSeconds } from './common.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove restore BACKUP [--target ENVIRONMENT [--overwrite]] [--name N] [--wait] [--timeout SECONDS] [-n NAMESPACE] [-o table|json|yaml]

Restores a Backup into a new Environment, made for the backup's branch at its revision; its
volumes are filled from the Backup before its applications start. An existing Environment's
data is replaced only with --overwrite, and only after a Backup of it has completed.

Options:
  --target ENV         The Environment to restore into (default: a new one named like the Restore)
  --overwrite          Replace the data of an existing --target (its applications stop meanwhile)
  --name N             The Restore's name (default: <backup>-restore-<time>)
  --wait               Follow the restore until it completes or fails
  --timeout SECONDS    How long --wait waits (default: 1800)
  -n, --namespace NS   The project namespace (default: default)
  -o, --output FORMAT  table (default), json or yaml
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
${SERVER_HELP}`;

export async function restoreCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    target: { type: 'string' },
    overwrite: { type: 'boolean' },
    name: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string', default: '1800' },
    ...CLUSTER_OPTIONS,
    ...SERVER_OPTIONS,
    ...OUTPUT_OPTION,
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [backupName, ...extra] = positionals;
  if (!backupName || extra.length) throw new GroveError('InvalidInput', `restore takes one Backup name\n\n${HELP}`);
  if (values.overwrite && !values.target) throw new GroveError('InvalidInput', `--overwrite needs the --target Environment whose data it replaces\n\n${HELP}`);
  const output = outputFormat(values.output);
  const timeout = timeoutSeconds(values.timeout);
  const backend = backendOf(values, io.env);
  const namespace = values.namespace;

  const created = await backend.createRestore(namespace, { backup: backupName, ...(values.name ? { name: values.name } : {}), ...(values.target ? { target: values.target } : {}), ...(values.overwrite ? { overwrite: true } : {}) });
  const name = created.metadata.name as string;
  if (output === 'table') io.stdout.write(`Created Restore ${name} of Backup ${backupName} into Environment ${values.target ?? name}\n`);
  if (!values.wait) {
    if (output !== 'table') io.stdout.write(render(created, output));
    return 0;
  }

  const { last: current, finished } = await follow({
    read: () => backend.getRestore(namespace, name),
    line: readyLine,
    done: (r) => {
      const ready = r?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' || ready?.reason === 'RestoreFailed' || ready?.reason === 'TargetExists';
    },
    seconds: timeout,
    ...(output === 'table' ? { progress: (line: string) => void io.stderr.write(`  ${line}\n`) } : {}),
  });
  if (output !== 'table') io.stdout.write(render(current, output));
  if (current?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True') return 0;
  if (!finished) io.stderr.write(`Restore ${name} did not complete within ${timeout}s; it goes on: grove restore is only watching\n`);
  return 1;
}
