/**
 * `grove rehearse BRANCH --project P`: asks for a migration rehearsal of the branch (a Rehearsal
 * object: the branch's deploy hook against a fresh copy of its parent's current data), and with
 * `--wait` follows it until it has a result, printing each step once, then the outcome, the
 * schema difference and a failing hook's output. Exits 0 only when the migration succeeded.
 *
 * @module
 */
import type { Rehearsal } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import { backendOf, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, follow, OUTPUT_OPTION, outputFormat, readyLine, render, timeoutSeconds } from './common.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove rehearse BRANCH --project P [--revision SHA] [--parent ENV] [--name N] [--wait] [--timeout SECONDS] [-n NAMESPACE] [-o table|json|yaml]

Rehearses the branch's migration: a short-lived Environment of the branch gets a fresh
snapshot of its parent's current data, its deploy hook runs there, and the outcome, the hook's
duration and, for PostgreSQL and MariaDB, the schema difference before and after are recorded
in the Rehearsal; then the Environment is deleted. Nothing the parent runs is touched.

Options:
  --project P          The Project (required)
  --revision SHA       The commit to rehearse (default: the branch's head when it starts)
  --parent ENV         The Environment whose data is copied (default: production)
  --name N             The Rehearsal's name (default: <project>-rehearse-<revision>, or generated)
  --wait               Follow it until it has a result; exit 1 when the migration failed
  --timeout SECONDS    How long --wait waits (default: 1800)
  -n, --namespace NS   The project namespace (default: default)
  -o, --output FORMAT  table (default), json or yaml
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
${SERVER_HELP}`;

export async function rehearseCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    project: { type: 'string' },
    revision: { type: 'string' },
    parent: { type: 'string' },
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
  const [branch, ...extra] = positionals;
  if (!branch || extra.length) throw new GroveError('InvalidInput', `rehearse takes one branch\n\n${HELP}`);
  if (!values.project) throw new GroveError('InvalidInput', `rehearse needs --project\n\n${HELP}`);
  if (values.revision !== undefined && !/^[0-9a-f]{40}$/.test(values.revision)) throw new GroveError('InvalidInput', `--revision must be a full commit SHA (got "${values.revision}")`);
  const output = outputFormat(values.output);
  const timeout = timeoutSeconds(values.timeout);
  const backend = backendOf(values, io.env);
  const namespace = values.namespace;

  const ask = { project: values.project, branch, ...(values.revision ? { revision: values.revision } : {}), ...(values.parent ? { parent: values.parent } : {}), ...(values.name ? { name: values.name } : {}) };
  const created = await backend.createRehearsal(namespace, ask);
  const name = created.metadata.name as string;
  if (output === 'table') io.stdout.write(`Created Rehearsal ${name} of branch ${branch}\n`);
  if (!values.wait) {
    if (output !== 'table') io.stdout.write(render(created, output));
    return 0;
  }

  const { last: current } = await follow({
    read: () => backend.getRehearsal(namespace, name),
    line: readyLine,
    done: (r) => r?.status?.result !== undefined,
    seconds: timeout,
    ...(output === 'table' ? { progress: (line: string) => void io.stderr.write(`  ${line}\n`) } : {}),
  });
  const result = current?.status?.result;
  if (output !== 'table') io.stdout.write(render(current, output));
  else if (current && result) io.stdout.write(describeResult(current));
  if (!result) io.stderr.write(`Rehearsal ${name} has no result within ${timeout}s; it goes on: grove rehearse is only watching\n`);
  return result?.succeeded ? 0 : 1;
}

/** The outcome in words, then each schema difference and a failing hook's output. */
export function describeResult(rehearsal: Rehearsal): string {
  const result = rehearsal.status?.result;
  if (!result) return '';
  const took = result.durationSeconds !== undefined ? ` in ${result.durationSeconds.toFixed(1)}s` : '';
  const lines = [result.succeeded ? `The migration succeeded${took}.` : `The migration failed${took}: ${result.message ?? ''}`];
  for (const change of result.schema ?? []) {
    lines.push(change.changed ? `Schema of ${change.service} (+${change.added ?? 0} −${change.removed ?? 0} lines):\n${change.diff ?? ''}` : `Schema of ${change.service}: unchanged`);
  }
  if (result.output) lines.push(`Output of the deploy hook:\n${result.output}`);
  return `${lines.join('\n')}\n`;
}
