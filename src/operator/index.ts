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
import { ANNOTATIONS, FIELD_MANAGER, LABELS } from '../api/constants.ts';
import { API_VERSION } from '../api/crds.ts';
import type { KubeObject } from '../api/meta.ts';
import type { Environment } from '../api/types.gen.ts';
import { isWorkload, observedForm, writtenByOthers } from '../applier/index.ts';
import { backupReconciler } from '../controllers/backup/index.ts';
import { backupStoreReconciler } from '../controllers/backupstore/index.ts';
import { environmentReconciler } from '../controllers/environment/index.ts';
import { projectReconciler } from '../controllers/project/index.ts';
import { restoreReconciler } from '../controllers/restore/index.ts';
import { fanOut, kubernetesEventSink, storeSink, streamSink } from '../audit/sinks.ts';
import { eventRecorder } from '../events/index.ts';
import { kubernetesAuthorizer } from '../http/api/auth.ts';
import { createHttpServer } from '../http/server.ts';
import type { Push } from '../source/git/index.ts';
import { type Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import type { Clock } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { InformerCache, withoutManagedFields } from '../runtime/cache.ts';
import { Informer } from '../runtime/informer.ts';
import { LeaderElector } from '../runtime/leader.ts';
import { PLANNED_KINDS } from '../planner/index.ts';
import { namespaceAccess } from './identity.ts';
import { GitSource } from '../source/git/index.ts';

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
  const git = new GitSource({ cacheDir: opts.gitCacheDir });
  const identity = opts.leaderElection?.identity ?? `${hostname()}-${process.pid}`;
  const access = opts.namespaceRole ? await namespaceAccess(kube, opts.namespaceRole) : undefined;
  const events = eventRecorder(kube, clock, log, identity);
  const trail = storeSink({ kube, clock, log, writer: identity, ...(opts.audit?.flushMs !== undefined ? { flushMs: opts.audit.flushMs } : {}) });
  const audit = fanOut(log, [streamSink(opts.audit?.destination), kubernetesEventSink(events), trail]);
  // Who pushed what, from the webhooks this replica received: attribution for the next sync.
  const pushes = new Map<string, Map<string, Push>>();
  const projects = new Controller({
    name: 'project',
    reconcile: projectReconciler({ kube, git, clock, audit, pushes: (namespace, project) => pushes.get(`${namespace}/${project}`) ?? new Map() }),
    clock,
    log,
    metrics,
    workers: opts.projectWorkers ?? 2,
  });
  const environments = new Controller({
    name: 'environment',
    reconcile: environmentReconciler({ kube, git, clock, events, audit, moverImage: opts.moverImage, cache: { lookup: (ref) => cache.lookup(ref) }, ...(access ? { access } : {}), ...(opts.internalNetworks ? { internalNetworks: opts.internalNetworks } : {}) }),
    clock,
    log,
    metrics,
    workers: opts.environmentWorkers ?? 4,
  });
  const backups = new Controller({
    name: 'backup',
    reconcile: backupReconciler({ kube, git, clock, audit, moverImage: opts.moverImage, ...(opts.resticCacheDir ? { resticCacheDir: opts.resticCacheDir } : {}) }),
    clock,
    log,
    metrics,
    workers: 2,
  });
  const backupStores = new Controller({ name: 'backupstore', reconcile: backupStoreReconciler({ kube, clock }), clock, log, metrics, workers: 1 });
  const restores = new Controller({ name: 'restore', reconcile: restoreReconciler({ kube, clock, audit }), clock, log, metrics, workers: 1 });
  const scope = opts.namespace ? { namespace: opts.namespace } : {};
  // Grove's own kinds, cached without managedFields; `onChange` says which changes reconcile what.
  const own = (kind: string, onChange: (key: string, obj: KubeObject, deleted: boolean, previous: KubeObject | undefined) => void): Informer =>
    new Informer({ kube, apiVersion: API_VERSION, kind, transform: withoutManagedFields, clock, log, ...scope, onChange });
  /** Status-only updates (our own writes, mostly) are not a reason to reconcile again. */
  const onSpecChange = (controller: Controller) => (key: string, obj: KubeObject, deleted: boolean, previous: KubeObject | undefined) => {
    if (!deleted && (!previous || specOrAnnotationsChanged(previous, obj))) controller.enqueue(key);
  };
  const informers = [
    own('Project', (key, obj, deleted, previous) => {
      if (deleted || !previous || specOrAnnotationsChanged(previous, obj)) projects.enqueue(key);
    }),
    own('Environment', (key, obj, deleted, previous) => {
      // A Git-driven Environment deleted by hand comes back while its branch exists.
      if (deleted) projects.enqueue(`${obj.metadata.namespace}/${(obj as Environment).spec.project}`);
      else onSpecChange(environments)(key, obj, deleted, previous);
      // A Restore reports how its Environment's data fills, status changes included.
      const restore = obj.metadata.annotations?.[ANNOTATIONS.restore];
      if (restore) restores.enqueue(`${obj.metadata.namespace}/${restore}`);
    }),
    own('BackupStore', onSpecChange(backupStores)),
    own('Backup', onSpecChange(backups)),
    own('Restore', onSpecChange(restores)),
  ];

  // Children of Environments live in their own namespaces; their labels lead back to the owner.
  // A child that changes (rolls out, is edited or deleted) gets its Environment reconciled. The
  // caches keep only what the applier and readiness read of each child.
  // Secrets are not watched: a cluster-wide watch needs the right to read every Secret in the
  // cluster, kube-system's too, and the least-privileged operator has no such right. Planned
  // Secrets are applied on every reconcile instead (an unchanged apply writes nothing).
  const childSelector = opts.namespace ? `${LABELS.environmentNamespace}=${opts.namespace}` : LABELS.environmentNamespace;
  for (const [apiVersion, kind] of PLANNED_KINDS.filter(([, kind]) => kind !== 'Secret')) {
    informers.push(
      new Informer({
        kube,
        apiVersion,
        kind,
        labelSelector: childSelector,
        transform: observedForm,
        clock,
        log,
        onChange: (_key, obj, deleted, previous) => {
          // Controllers' bookkeeping on objects whose readiness Grove does not wait for.
          if (!deleted && previous && writtenByOthers(kind) && !isWorkload(kind) && !specOrAnnotationsChanged(previous, obj)) return;
          const labels = obj.metadata.labels ?? {};
          const owner = labels[LABELS.environment];
          const ownerNamespace = labels[LABELS.environmentNamespace];
          if (!owner || !ownerNamespace) return;
          // A mover Job reports to its Backup; everything else to its Environment.
          const backup = labels[LABELS.backup];
          if (backup) backups.enqueue(`${ownerNamespace}/${backup}`);
          else environments.enqueue(`${ownerNamespace}/${owner}`);
        },
      }),
    );
  }
  const cache = new InformerCache(informers);

  let leading = false;
  let synced = false;
  let resolveDone!: (why: 'stopped' | 'lost-leadership') => void;
  const done = new Promise<'stopped' | 'lost-leadership'>((resolve) => (resolveDone = resolve));

  const startWork = (): void => {
    leading = true;
    for (const i of informers) i.start();
    projects.start();
    environments.start();
    backupStores.start();
    backups.start();
    restores.start();
    void Promise.all(informers.map((i) => i.synced)).then(() => {
      synced = true;
      log.info({ namespace: opts.namespace ?? '(all)' }, 'Synced the caches; controllers running');
    });
  };
  const stopWork = async (): Promise<void> => {
    leading = false;
    for (const i of informers) i.stop();
    await Promise.all([projects.stop(), environments.stop(), backupStores.stop(), backups.stop(), restores.stop()]);
    // What the controllers recorded last reaches the BackupStores before the process goes.
    await trail.flush();
  };

  const server: Server = createHttpServer({
    kube,
    metrics,
    log,
    ready: () => !leading || synced,
    api: { kube, clock, log: log.child({ component: 'api' }), authorizer: kubernetesAuthorizer(kube, clock), audit, git },
    requestSync: async (namespace, name, push) => {
      if (push) {
        const key = `${namespace}/${name}`;
        const branches = pushes.get(key) ?? new Map<string, Push>();
        branches.delete(push.branch);
        branches.set(push.branch, push);
        // The oldest pushes go first: attribution of a branch nobody syncs again is not worth memory.
        if (branches.size > 1000) branches.delete(branches.keys().next().value as string);
        pushes.set(key, branches);
      }
      if (leading) return projects.enqueue(`${namespace}/${name}`);
      await kube.mergePatch(
        { apiVersion: API_VERSION, kind: 'Project', namespace, name },
        { metadata: { annotations: { [ANNOTATIONS.syncRequestedAt]: new Date(clock.now()).toISOString() } } },
        { fieldManager: FIELD_MANAGER },
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, resolve);
  });

  let elector: LeaderElector | undefined;
  if (opts.leaderElection) {
    elector = new LeaderElector({
      kube,
      clock,
      log,
      namespace: opts.leaderElection.namespace,
      name: opts.leaderElection.name,
      identity,
      onStartedLeading: startWork,
      onStoppedLeading: () => {
        void stopWork().then(() => resolveDone('lost-leadership'));
      },
    });
    elector.start();
  } else startWork();

  return {
    address: server.address() as AddressInfo,
    done,
    async stop() {
      await elector?.stop();
      await stopWork();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      resolveDone('stopped');
    },
  };
}

/** Status-only updates (our own writes, mostly) are not a reason to reconcile again. */
function specOrAnnotationsChanged(before: KubeObject, after: KubeObject): boolean {
  return (
    before.metadata.generation !== after.metadata.generation ||
    JSON.stringify(before.metadata.annotations ?? {}) !== JSON.stringify(after.metadata.annotations ?? {}) ||
    JSON.stringify(before.metadata.labels ?? {}) !== JSON.stringify(after.metadata.labels ?? {}) ||
    before.metadata.deletionTimestamp !== after.metadata.deletionTimestamp
  );
}
