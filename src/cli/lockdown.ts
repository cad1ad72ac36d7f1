/**
 * `grove lockdown on|off`: the kill switch, of one Project (`--project`) or of the whole
 * operator (the ConfigMap grove-lockdown in the operator's namespace, `-n`). Engaged, every
 * Environment but production ones loses its egress beyond its namespace and is neither created
 * nor changed until it is lifted.
 *
 * @module
 */
import { GroveError } from '../errors/index.ts';
import { parseCommandLine } from './args.ts';
import { backendOf, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, OUTPUT_OPTION, outputFormat, render } from './common.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove lockdown on|off [--project P] [--reason TEXT] [-n NAMESPACE] [-o table|json|yaml]

Engages (on) or lifts (off) a kill switch. Engaged, every Environment other than production
loses all egress beyond its own namespace (DNS and the BackupStore too), and neither Grove nor
anyone without the confirm right creates or changes one until it is lifted; production keeps
running and following Git.

Options:
  --project P          The Project's own switch (spec.lockdown), in the project namespace -n
  --reason TEXT        Why, shown in the Project's status and in refusals
  -n, --namespace NS   With --project, the project namespace; without it, the operator's own
                       namespace, which holds the operator-wide switch (default: default)
  -o, --output FORMAT  table (default), json or yaml
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
${SERVER_HELP}`;

export async function lockdownCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, { project: { type: 'string' }, reason: { type: 'string' }, ...CLUSTER_OPTIONS, ...SERVER_OPTIONS, ...OUTPUT_OPTION }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [verb, ...extra] = positionals;
  if ((verb !== 'on' && verb !== 'off') || extra.length) throw new GroveError('InvalidInput', `lockdown takes on or off\n\n${HELP}`);
  if (verb === 'off' && values.reason) throw new GroveError('InvalidInput', `--reason goes with on\n\n${HELP}`);
  const output = outputFormat(values.output);
  const state = await backendOf(values, io.env).setLockdown(values.namespace, values.project, verb === 'on', values.reason);
  io.stdout.write(output === 'table' ? `${state.engaged ? 'Engaged' : 'Lifted'} the kill switch of ${state.by}${state.reason ? `: ${state.reason}` : ''}\n` : render(state, output));
  return 0;
}
