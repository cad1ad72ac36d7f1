/**
 * `grove operator`: runs the controllers against a cluster until SIGTERM or SIGINT.
 *
 * @module
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GroveError } from '../errors/index.ts';
import { pino } from 'pino';
import { createLogger } from '../log/index.ts';
import { createMetrics } from '../metrics/index.ts';
import { startOperator } from '../operator/index.ts';
import { parseAllowed } from '../outbound/index.ts';
import { parseRange } from '../util/index.ts';
import { systemClock } from '../runtime/index.ts';
import { kubeOf } from './common.ts';
import type { CliIo } from './index.ts';

const DEFAULT_MOVER_IMAGE = 'ghcr.io/grove-dev/grove:0.1.0';

const HELP = `Usage: grove operator [options]

Runs Grove's controllers. Every replica serves webhooks, health and metrics;
with --leader-elect only the holder of the Lease reconciles.

Options:
  --kubeconfig FILE        Cluster credentials (default: $KUBECONFIG, else the pod's ServiceAccount
                           in a pod, else ~/.kube/config)
  --namespace NS           Watch one namespace only (default: all)
  --listen HOST:PORT       HTTP address for /hooks, /healthz, /readyz, /metrics (default: 0.0.0.0:8080)
  --leader-elect           Campaign for a Lease before reconciling
  --lease-namespace NS     The operator's own namespace: its Lease, and its kill switch, the ConfigMap
                           grove-lockdown (default: the watched namespace, or grove-system)
  --lease-name NAME        Name of the Lease (default: grove-operator)
  --identity ID            This replica's name in the Lease (default: hostname-pid)
  --git-cache-dir DIR      Object cache of the Git source (default: ~/.cache/grove/git)
  --mover-image IMAGE      Image of backup and restore Jobs: Grove's own (default: ${DEFAULT_MOVER_IMAGE})
  --log-level LEVEL        trace|debug|info|warn|error (default: info)
  --audit-log FILE         Where the audit stream's JSON lines go (default: stdout, marked "stream":"audit")
  --audit-flush-seconds N  How often the audit trail is appended to each Project's BackupStore (default: 5)
  --namespace-role ROLE    Bind this ClusterRole to the operator in every Environment namespace it
                           makes (least privilege: its only rights there; set by the Helm chart)
  --internal-network CIDR  The cluster's own pod, Service or node network, which Environments
                           allowed internet egress still cannot reach (repeatable; private ranges
                           are always excluded); the operator never connects there for a Project
  --outbound-allow DEST    An address range, optionally with a port (127.0.0.1:9000, 198.18.0.0/15,
                           [::1]:9000), that the operator may connect to for Projects (Git, S3)
                           although it is loopback, link-local or internal (repeatable; the API
                           server is never allowed)
`;

export async function operatorCommand(argv: string[], io: CliIo): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        listen: { type: 'string', default: '0.0.0.0:8080' },
        'leader-elect': { type: 'boolean', default: false },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string', default: 'grove-operator' },
        identity: { type: 'string' },
        'git-cache-dir': { type: 'string' },
        'mover-image': { type: 'string', default: DEFAULT_MOVER_IMAGE },
        'log-level': { type: 'string', default: 'info' },
        'audit-log': { type: 'string' },
        'audit-flush-seconds': { type: 'string', default: '5' },
        'namespace-role': { type: 'string' },
        'internal-network': { type: 'string', multiple: true },
        'outbound-allow': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new GroveError('InvalidInput', `${(err as Error).message}\n\n${HELP}`);
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const listen = /^(.*):(\d+)$/.exec(values.listen);
  if (!listen) throw new GroveError('InvalidInput', `--listen must be HOST:PORT (got "${values.listen}")`);
  // One writer for stdout: the log and the audit stream share it, so their lines never interleave.
  const stdout = pino.destination({ dest: 1, sync: true });
  const log = createLogger({ level: values['log-level'], destination: stdout });
  const flushSeconds = Number(values['audit-flush-seconds']);
  if (!Number.isFinite(flushSeconds) || flushSeconds <= 0) throw new GroveError('InvalidInput', `--audit-flush-seconds must be a positive number (got "${values['audit-flush-seconds']}")`);
  const cacheRoot = join(io.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'grove');
  const metrics = createMetrics();
  const operator = await startOperator({
    kube: kubeOf(values.kubeconfig, io.env, { onRequest: (method) => metrics.kubeRequests.inc({ method }) }),
    metrics,
    log,
    clock: systemClock,
    ...(values.namespace ? { namespace: values.namespace } : {}),
    homeNamespace: values['lease-namespace'] ?? values.namespace ?? 'grove-system',
    listen: { host: listen[1] as string, port: Number(listen[2]) },
    ...(values['leader-elect']
      ? {
          leaderElection: {
            namespace: values['lease-namespace'] ?? values.namespace ?? 'grove-system',
            name: values['lease-name'],
            ...(values.identity ? { identity: values.identity } : {}),
          },
        }
      : {}),
    gitCacheDir: values['git-cache-dir'] ?? join(cacheRoot, 'git'),
    resticCacheDir: join(cacheRoot, 'restic'),
    moverImage: values['mover-image'],
    ...(values['namespace-role'] ? { namespaceRole: values['namespace-role'] } : {}),
    ...(values['internal-network'] ? { internalNetworks: values['internal-network'].map(parseCidr) } : {}),
    ...(values['outbound-allow'] ? { outboundAllow: values['outbound-allow'].map((entry) => parseAllowed(entry).text) } : {}),
    audit: { flushMs: flushSeconds * 1000, destination: values['audit-log'] ? pino.destination({ dest: values['audit-log'], mkdir: true, sync: false }) : stdout },
  });
  log.info({ address: `${operator.address.address}:${operator.address.port}` }, 'Started the operator');
  const signalled = new Promise<'stopped'>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve('stopped'));
  });
  const why = await Promise.race([operator.done, signalled]);
  if (why === 'stopped') await operator.stop();
  log.info({ why }, 'Stopped the operator');
  return why === 'lost-leadership' ? 1 : 0;
}

/** `198.18.0.0/16` as given; anything that is not an address with a prefix length is refused. */
export function parseCidr(value: string): string {
  if (!value.includes('/') || !parseRange(value)) {
    throw new GroveError('InvalidInput', `--internal-network must be an address range such as 198.18.0.0/16 (got "${value}")`);
  }
  return value;
}
