/**
 * The operator: informers and controllers behind leader election, plus the HTTP endpoints.
 *
 * Every replica serves HTTP; only the leader runs informers and controllers, so only the leader
 * writes. A webhook that reaches a standby replica is passed on by annotating the Project
 * (`grove.dev/sync-requested-at`), which the leader's informer sees. A leader that loses its
 * lease stops at once and reports it; the process exits and campaigns again when restarted.
 *
 * @module
 */
import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { ANNOTATIONS, API_VERSION, FIELD_MANAGER } from '../api/index.ts';
import { fanOut, kubernetesEventSink, storeSink, streamSink } from '../audit/sinks/index.ts';
import { eventRecorder } from '../events/index.ts';
import { kubernetesAuthorizer } from '../http/api/index.ts';
import { createHttpServer } from '../http/index.ts';
import { type Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { type Clock, type Controller, type Informer, InformerCache, LeaderElector } from '../runtime/index.ts';
import { outbound as connections } from '../outbound/index.ts';
import { GitSource } from '../source/git/index.ts';
import { operatorDestinations } from './destinations.ts';
import { allOf, operatorControllers } from './controllers.ts';
import { namespaceAccess } from './identity.ts';
import { PushLog } from './pushes.ts';
import { watches } from './watches.ts';

/**
 * Node flags the operator process runs with (the image's entrypoint and the benchmarks use them).
 * A reconcile allocates many short-lived objects (API responses, watch events); with V8's default
 * young generation of up to 3 × 32 MiB, and an old generation sized from the machine's memory,
 * the heap grows far beyond what stays live. A 4 MiB semi-space and a 256 MiB old generation keep
 * the resident size near the live set (about 100 MiB of heap at 1,000 Environments) at no
 * measured cost in throughput. The Helm chart raises the old generation with the memory limit.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=256'] as const;

export interface OperatorOptions {
  kube: Kube;
  /** Defaults to a fresh registry; pass the one the Kube client counts its requests in. */
  metrics?: Metrics;
  log: Logger;
  clock: Clock;
  /** Watch only this namespace (all namespaces when absent). */
  namespace?: string;
  listen: { host: string; port: number };
  /** Lease to campaign for; without it this replica leads at once. */
  leaderElection?: { namespace: string; name: string; identity?: string };
  gitCacheDir: string;
  /** restic's cache for the operator's own reads of backup repositories. */
  resticCacheDir?: string;
  /** The image of mover Jobs (Grove's own). */
  moverImage: string;
  projectWorkers?: number;
  environmentWorkers?: number;
  /** The audit stream's destination (stdout when absent), and how often batches go to the BackupStores. */
  audit?: { destination?: DestinationStream; flushMs?: number };
  /**
   * The ClusterRole the operator binds to itself in each Environment's namespace. Set when it
   * runs with least privilege (the Helm chart): then those RoleBindings are its only rights there.
   */
  namespaceRole?: string;
  /** The cluster's pod, Service and node networks, which internet egress never reaches. */
  internalNetworks?: readonly string[];
  /** The operator's own namespace (the Lease's, the kill switch's); default: the watched namespace, or grove-system. */
  homeNamespace?: string;
  /** What the operator may connect to for Projects although the DestinationPolicy would refuse it. */
  outboundAllow?: readonly string[];
}

export interface RunningOperator {
  address: AddressInfo;
  /** Resolves when the operator stops: asked to, or because it lost leadership. */
  done: Promise<'stopped' | 'lost-leadership'>;
  stop(): Promise<void>;
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const { kube, log, clock } = opts;
  const metrics = opts.metrics ?? createMetrics();
  const policy = await operatorDestinations(kube, log, { ...(opts.internalNetworks ? { internalNetworks: opts.internalNetworks } : {}), ...(opts.outboundAllow ? { allow: opts.outboundAllow } : {}) });
  const home = opts.homeNamespace ?? opts.namespace ?? 'grove-system';
  const outbound = connections(policy, { onRefused: (refusal) => log.warn({ component: 'outbound', reason: refusal.message }, 'Refused a connection for a Project') });
  const git = new GitSource({ cacheDir: opts.gitCacheDir, outbound });
  const identity = opts.leaderElection?.identity ?? `${hostname()}-${process.pid}`;
  const access = opts.namespaceRole ? await namespaceAccess(kube, opts.namespaceRole) : undefined;
  const events = eventRecorder(kube, clock, log, identity);
  const trail = storeSink({ kube, clock, log, writer: identity, outbound, ...(opts.audit?.flushMs !== undefined ? { flushMs: opts.audit.flushMs } : {}) });
  const audit = fanOut(log, [streamSink(opts.audit?.destination), kubernetesEventSink(events), trail]);
  const pushes = new PushLog();
  const controllers = operatorControllers({
    kube,
    git,
    outbound,
    clock,
    log,
    metrics,
    events,
    audit,
    pushes,
    // The informers are made for the controllers' queues, so the cache is reached lazily.
    cache: { lookup: (ref) => cache.lookup(ref) },
    lockdown: () => watched.lockdown(),
    // Mover Jobs run beside the operator, where the store's keys may be.
    movers: { image: opts.moverImage, namespace: home },
    ...(opts.resticCacheDir ? { resticCacheDir: opts.resticCacheDir } : {}),
    ...(access ? { access } : {}),
    ...(opts.internalNetworks ? { internalNetworks: opts.internalNetworks } : {}),
    ...(opts.projectWorkers !== undefined ? { projectWorkers: opts.projectWorkers } : {}),
    ...(opts.environmentWorkers !== undefined ? { environmentWorkers: opts.environmentWorkers } : {}),
  });
  const watched = watches({ kube, clock, log, home, ...(opts.namespace ? { namespace: opts.namespace } : {}) }, controllers);
  const cache = new InformerCache(watched.informers);
  const work = leaderWork(watched.informers, allOf(controllers), trail, log, opts.namespace);

  const server: Server = createHttpServer({
    kube,
    metrics,
    log,
    clock,
    ready: () => !work.leading || work.synced,
    api: { kube, clock, log: log.child({ component: 'api' }), authorizer: kubernetesAuthorizer(kube, clock), audit, git, outbound, operator: { home, lockdown: () => watched.lockdown() } },
    requestSync: async (namespace, name, push) => {
      if (push) pushes.record(namespace, name, push);
      if (work.leading) return controllers.projects.enqueue(`${namespace}/${name}`);
      // A standby replica passes the webhook on to the leader through the Project itself.
      await kube.mergePatch(
        { apiVersion: API_VERSION, kind: 'Project', namespace, name },
        { metadata: { annotations: { [ANNOTATIONS.syncRequestedAt]: new Date(clock.now()).toISOString() } } },
        { fieldManager: FIELD_MANAGER },
      );
    },
  });
  await listen(server, opts.listen);

  let resolveDone!: (why: 'stopped' | 'lost-leadership') => void;
  const done = new Promise<'stopped' | 'lost-leadership'>((resolve) => (resolveDone = resolve));
  let elector: LeaderElector | undefined;
  if (opts.leaderElection) {
    elector = new LeaderElector({
      kube,
      clock,
      log,
      namespace: opts.leaderElection.namespace,
      name: opts.leaderElection.name,
      identity,
      onStartedLeading: () => work.start(),
      onStoppedLeading: () => void work.stop().then(() => resolveDone('lost-leadership')),
    });
    elector.start();
  } else work.start();

  return {
    address: server.address() as AddressInfo,
    done,
    async stop() {
      await elector?.stop();
      await work.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      resolveDone('stopped');
    },
  };
}

interface LeaderWork {
  readonly leading: boolean;
  /** Every informer has listed once since this replica began to lead. */
  readonly synced: boolean;
  start(): void;
  stop(): Promise<void>;
}

/** What only the leader runs: the informers and the controllers. */
function leaderWork(informers: Informer[], controllers: Controller[], trail: { flush(): Promise<void> }, log: Logger, namespace: string | undefined): LeaderWork {
  let leading = false;
  let synced = false;
  return {
    get leading() {
      return leading;
    },
    get synced() {
      return synced;
    },
    start() {
      leading = true;
      for (const i of informers) i.start();
      for (const c of controllers) c.start();
      void Promise.all(informers.map((i) => i.synced)).then(() => {
        synced = true;
        log.info({ namespace: namespace ?? '(all)' }, 'Synced the caches; controllers running');
      });
    },
    async stop() {
      leading = false;
      for (const i of informers) i.stop();
      await Promise.all(controllers.map((c) => c.stop()));
      // What the controllers recorded last reaches the BackupStores before the process goes.
      await trail.flush();
    },
  };
}

function listen(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, resolve);
  });
}
