/**
 * `grove env renew|sleep|wake NAME`: the lifecycle verbs on one Environment, as patches made
 * with the kubeconfig's own rights (the same RBAC as kubectl). The operator does the rest: a
 * renewal moves the expiry, `sleep` scales to zero, `wake` scales back and counts as activity.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { API_VERSION } from '../api/crds.ts';
import type { Environment } from '../api/types.gen.ts';
import { GroveError } from '../errors/index.ts';
import { isNotFound } from '../kube/index.ts';
import { lifecyclePatch } from '../lifecycle/index.ts';
import { CLUSTER_OPTIONS, kubeOf } from './common.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove env renew|sleep|wake NAME [-n NAMESPACE]

  renew   Count now as activity: the expiry moves and an idle Environment wakes
  sleep   Scale the Environment to zero until woken (spec.state: sleeping)
  wake    Scale it back to its manifest (spec.state: active) and renew it

Options:
  -n, --namespace NS   The project namespace (default: default)
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
`;

/** The field manager of what people change through the CLI, apart from the operator's own writes. */
const CLI_MANAGER = 'grove-cli';

export async function envCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: CLUSTER_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [verb, name, ...extra] = positionals;
  if (verb !== 'renew' && verb !== 'sleep' && verb !== 'wake') throw new GroveError('InvalidInput', `env takes renew, sleep or wake\n\n${HELP}`);
  if (!name || extra.length) throw new GroveError('InvalidInput', `env ${verb} takes one Environment name\n\n${HELP}`);
  const kube = kubeOf(values.kubeconfig, io.env);
  const ref = { apiVersion: API_VERSION, kind: 'Environment', namespace: values.namespace, name };
  let env: Environment;
  try {
    env = await kube.mergePatch<Environment>(ref, lifecyclePatch(verb, new Date()), { fieldManager: CLI_MANAGER });
  } catch (err) {
    if (isNotFound(err)) throw new GroveError('NotFound', `Environment ${name} does not exist in namespace ${values.namespace}`, { cause: err });
    throw err;
  }
  const done = { renew: `Renewed Environment ${name}`, sleep: `Environment ${name} goes to sleep`, wake: `Environment ${name} wakes up` }[verb];
  io.stdout.write(`${done}; watch it with: kubectl get environment ${env.metadata.name} -n ${values.namespace} -w\n`);
  return 0;
}
