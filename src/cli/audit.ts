/**
 * `grove audit`: reads a Project's audit trail back from its BackupStore — the copy that
 * outlives Environments, namespaces and the operator — filtered by environment, actor, action
 * and time. Needs read access to the Project, its BackupStore and the store's credentials Secret;
 * through Grove's API (`--server`), only `get` on the Project.
 *
 * @module
 */
import { AUDIT_ACTIONS, type AuditAction, type AuditEvent, type AuditFilter } from '../audit/index.ts';
import { GroveError } from '../errors/index.ts';
import { parseDuration } from '../manifest/index.ts';
import { backendOf, kubeBackend, SERVER_HELP, SERVER_OPTIONS } from './backend.ts';
import { CLUSTER_OPTIONS, kubeOf, OUTPUT_OPTION, outputFormat, render } from './common.ts';
import { table } from './tables/index.ts';
import { parseCommandLine } from './args.ts';
import type { CliIo } from './index.ts';

const HELP = `Usage: grove audit --project P [-n NAMESPACE] [--environment E] [--actor A] [--action X]
                   [--since 24h|TIME] [--until TIME] [--endpoint URL] [-o table|json|yaml]

Prints who did what to a Project's Environments, from the trail in its BackupStore.

Options:
  -n, --namespace NS   The project namespace (default: default)
  --project P          The Project (required)
  --environment E      Only events about this Environment
  --actor A            Only events by this agent, person (on behalf of) or Kubernetes user
  --action X           Only this action: ${AUDIT_ACTIONS.join(', ')}
  --since D|TIME       From this long ago (e.g. 24h, 7d) or this RFC 3339 time
  --until TIME         Up to this RFC 3339 time
  --endpoint URL       Reach the store here instead of its spec.s3.endpoint (from outside the cluster)
  -o, --output FORMAT  table (default), json or yaml
  --kubeconfig FILE    Default: $KUBECONFIG or ~/.kube/config
${SERVER_HELP}`;

/** `24h`, `7d` (before now) or an RFC 3339 time, as milliseconds. Pure. */
export function parseSince(value: string, now: number, flag: string): number {
  const seconds = parseDuration(value);
  if (seconds !== undefined) return now - seconds * 1000;
  const t = Date.parse(value);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new GroveError('InvalidInput', `${flag} must be a duration such as 24h or an RFC 3339 time (got "${value}")`);
  return t;
}

export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    project: { type: 'string' },
    environment: { type: 'string' },
    actor: { type: 'string' },
    action: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    endpoint: { type: 'string' },
    ...CLUSTER_OPTIONS,
    ...SERVER_OPTIONS,
    ...OUTPUT_OPTION,
  }, HELP);
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length) throw new GroveError('InvalidInput', `audit takes no arguments, only options\n\n${HELP}`);
  if (!values.project) throw new GroveError('InvalidInput', `--project is required\n\n${HELP}`);
  if (values.action !== undefined && !AUDIT_ACTIONS.includes(values.action as AuditAction)) throw new GroveError('InvalidInput', `--action must be one of ${AUDIT_ACTIONS.join(', ')} (got "${values.action}")`);
  const output = outputFormat(values.output);
  const now = Date.now();
  const filter: AuditFilter = {
    ...(values.environment ? { environment: values.environment } : {}),
    ...(values.actor ? { actor: values.actor } : {}),
    ...(values.action ? { action: values.action as AuditAction } : {}),
    ...(values.since ? { since: parseSince(values.since, now, '--since') } : {}),
    ...(values.until ? { until: parseSince(values.until, now, '--until') } : {}),
  };

  if (values.endpoint && (values.server ?? io.env.GROVE_SERVER)) throw new GroveError('InvalidInput', '--endpoint is for reading the store directly; through --server the operator reaches it');
  // Only the kubeconfig's door reads the store from here, so only it takes another address for it.
  const backend = values.endpoint ? kubeBackend(kubeOf(values.kubeconfig, io.env), () => now, values.endpoint) : backendOf(values, io.env);
  const events = await backend.readAudit(values.namespace, values.project, filter);
  io.stdout.write(output === 'table' ? auditTable(events) : render(events, output));
  return 0;
}

/** TIME ACTION RESULT SOURCE ACTOR ENVIRONMENT REVISION MESSAGE, aligned. Pure. */
export function auditTable(events: readonly AuditEvent[]): string {
  if (events.length === 0) return 'No audit events.\n';
  const actor = (e: AuditEvent): string => {
    const { agent, onBehalfOf, kubernetesUser, pusher } = e.actor;
    return [agent, onBehalfOf && `for ${onBehalfOf}`, !agent && (pusher ?? kubernetesUser)].filter(Boolean).join(' ') || '-';
  };
  const rows = events.map((e) => [
    e.time.replace(/\.\d+Z$/, 'Z'),
    e.action,
    e.decision === 'denied' ? 'denied' : e.result,
    e.source,
    actor(e),
    e.environment ?? '-',
    e.revision?.slice(0, 12) ?? '-',
    (e.message ?? '').split('\n')[0] ?? '',
  ]);
  return table(['TIME', 'ACTION', 'RESULT', 'SOURCE', 'ACTOR', 'ENVIRONMENT', 'REVISION', 'MESSAGE'], rows);
}
