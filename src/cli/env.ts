/**
 * `grove env ls|get|create|wait|renew|sleep|wake|delete`: Environments with the kubeconfig's own
 * rights (the same RBAC as kubectl), or through Grove's API with a token (`--server`). Tables
 * for people, `-o json|yaml` for machines; `wait` shows progress on stderr while the Environment
 * comes up.
 *
 * @module
 */
import { CONDITIONS, type Environment, findCondition } from '../api/index.ts';
import { GroveError } from '../errors/index.ts';
import { type Backend, backendOf, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, OUTPUT_OPTION, outputFormat, render, timeoutSeconds } from './common.ts';
import { describeEnvironment, environmentTable } from './tables/index.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove env ls [--project P]
       grove env get|renew|sleep|wake|delete NAME
       grove env create NAME --project P --branch B [--type T] [--parent E] [--ttl SECONDS] [--clone S]
       grove env wait NAME [--timeout SECONDS]
  (every form takes -n NAMESPACE, and --kubeconfig FILE or --server URL [--token T];
   ls, get, create and wait take -o table|json|yaml)

  ls      The Environments of a project namespace
  get     One Environment: its conditions, URLs, expiry and lineage
  create  An Environment for a branch; its data is cloned from the parent (production by default)
  wait    Until the Environment is Ready (exit 0), stalls or the timeout passes (exit 1)
  renew   Count now as activity: the expiry moves and an idle Environment wakes
  sleep   Scale the Environment to zero until woken (spec.state: sleeping)
  wake    Scale it back to its manifest (spec.state: active) and renew it
  delete  Delete it (after its final backup, when its type is backed up)

  --server URL  Go through Grove's HTTP API (default: $GROVE_SERVER) with --token T (default:
                $GROVE_TOKEN, e.g. from kubectl create token NAME): the token's RBAC decides
`;

const VERBS = ['ls', 'get', 'create', 'wait', 'renew', 'sleep', 'wake', 'delete'] as const;

export async function envCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    ...CLUSTER_OPTIONS,
    ...SERVER_OPTIONS,
    ...OUTPUT_OPTION,
    project: { type: 'string' },
    branch: { type: 'string' },
    type: { type: 'string' },
    parent: { type: 'string' },
    ttl: { type: 'string' },
    clone: { type: 'string' },
    timeout: { type: 'string', default: '600' },
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [given, name, ...extra] = positionals;
  const verb = VERBS.find((v) => v === given);
  if (!verb) throw new GroveError('InvalidInput', `env takes ${VERBS.join(', ')}\n\n${HELP}`);
  if (verb !== 'ls' && (!name || extra.length)) throw new GroveError('InvalidInput', `env ${verb} takes one Environment name\n\n${HELP}`);
  const output = outputFormat(values.output);
  const backend = backendOf(values, io.env);
  const namespace = values.namespace;
  const show = (env: Environment, line: string): void => void io.stdout.write(output === 'table' ? `${line}\n` : render(env, output));

  switch (verb) {
    case 'ls': {
      const items = await backend.listEnvironments(namespace, values.project);
      io.stdout.write(output === 'table' ? environmentTable(items, Date.now()) : render({ apiVersion: 'v1', kind: 'List', items }, output));
      return 0;
    }
    case 'get': {
      const env = await backend.getEnvironment(namespace, name as string);
      io.stdout.write(output === 'table' ? describeEnvironment(env, Date.now()) : render(env, output));
      return 0;
    }
    case 'create': {
      if (!values.project || !values.branch) throw new GroveError('InvalidInput', `env create needs --project and --branch\n\n${HELP}`);
      const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
      if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0)) throw new GroveError('InvalidInput', `--ttl must be a whole number of seconds (got "${values.ttl}")`);
      const spec = {
        project: values.project,
        branch: values.branch,
        ...(values.type ? { type: values.type as 'development' } : {}),
        ...(values.parent ? { parent: values.parent } : {}),
        ...(ttl !== undefined ? { ttlSeconds: ttl } : {}),
        ...(values.clone ? { clone: values.clone as 'auto' } : {}),
      };
      const env = await backend.createEnvironment(namespace, name as string, spec);
      show(env, `Created Environment ${name}; follow it with: grove env wait ${name} -n ${namespace}`);
      return 0;
    }
    case 'wait': {
      const timeout = timeoutSeconds(values.timeout);
      const { env, ready } = await waitForReady(backend, namespace, name as string, timeout * 1000, (line) => io.stderr.write(`${line}\n`));
      show(env, ready ? `Environment ${name} is Ready${env.status?.urls?.[0] ? ` at ${env.status.urls[0].url}` : ''}` : `Environment ${name} is not Ready: ${findCondition(env.status?.conditions, CONDITIONS.ready)?.message ?? 'no status yet'}`);
      return ready ? 0 : 1;
    }
    case 'delete': {
      await backend.deleteEnvironment(namespace, name as string);
      io.stdout.write(`Deleting Environment ${name}; its namespace goes after the final backup, when its type is backed up\n`);
      return 0;
    }
    case 'renew':
    case 'sleep':
    case 'wake': {
      const env = await backend.lifecycle(namespace, name as string, verb);
      const done = { renew: `Renewed Environment ${name}`, sleep: `Environment ${name} goes to sleep`, wake: `Environment ${name} wakes up` }[verb];
      io.stdout.write(`${done}; watch it with: kubectl get environment ${env.metadata.name} -n ${namespace} -w\n`);
      return 0;
    }
  }
}

/** Where an Environment stands while one waits for it: done (Ready or stalled at its generation), and the line that says why not. Pure. */
export function readiness(env: Environment): { done: boolean; ready: boolean; line: string } {
  const current = env.status?.observedGeneration === env.metadata.generation;
  const ready = findCondition(env.status?.conditions, CONDITIONS.ready);
  const stalled = findCondition(env.status?.conditions, CONDITIONS.stalled);
  if (current && ready?.status === 'True') return { done: true, ready: true, line: 'Ready' };
  const line = ready ? `${ready.reason}: ${ready.message.split('\n')[0]}` : 'Waiting for the operator';
  return { done: current && stalled?.status === 'True', ready: false, line };
}

/** Polls until Ready (true), stalled or the deadline (false); reports each new reason. */
async function waitForReady(backend: Backend, namespace: string, name: string, timeoutMs: number, progress: (line: string) => void): Promise<{ env: Environment; ready: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let said = '';
  for (;;) {
    // A long poll in short rounds, so progress shows while it waits.
    const env = await backend.pollEnvironment(namespace, name, Math.min(5000, Math.max(0, deadline - Date.now())));
    const state = readiness(env);
    if (state.done || Date.now() >= deadline) return { env, ready: state.ready };
    if (state.line !== said) progress((said = state.line));
    if (!backend.longPolls) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

