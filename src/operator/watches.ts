/**
 * What the operator watches, and which change reconciles what.
 *
 * Grove's own kinds are cached without managedFields. Children of Environments live in their own
 * namespaces; their labels lead back to the owner, and a child that changes (rolls out, is edited
 * or deleted) gets its Environment reconciled. The caches keep only what the applier and readiness
 * read of each child.
 *
 * Secrets are not watched: a cluster-wide watch needs the right to read every Secret in the
 * cluster, kube-system's too, and the least-privileged operator has no such right. Planned Secrets
 * are applied on every reconcile instead (an unchanged apply writes nothing).
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, type Environment, type KubeObject, LABELS, LOCKDOWN_CONFIGMAP, type Rehearsal } from '../api/index.ts';
import { isWorkload, observedForm, writtenByOthers } from '../applier/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import { PLANNED_KINDS } from '../planner/index.ts';
import { type Lockdown, operatorLockdown } from '../policy/index.ts';
import { type Clock, type Controller, Informer, objectKey, withoutManagedFields } from '../runtime/index.ts';
import type { Controllers } from './controllers.ts';

export interface WatchOptions {
  kube: Kube;
  clock: Clock;
  log: Logger;
  /** Watch only this namespace's Grove objects and the children of its Environments. */
  namespace?: string;
  /** The operator's own namespace, where its kill switch (the ConfigMap grove-lockdown) lives. */
  home: string;
}

export interface Watches {
  informers: Informer[];
  /** The operator-wide kill switch as last seen. */
  lockdown: () => Lockdown | undefined;
}

/** One informer per watched kind, each enqueueing the keys its changes concern. */
export function watches(opts: WatchOptions, controllers: Controllers): Watches {
  const own = ownKinds(opts, controllers);
  // Engaging or lifting the switch concerns every Project and Environment at once.
  const all = () => {
    for (const informer of own) {
      const controller = informer.kind === 'Project' ? controllers.projects : informer.kind === 'Environment' ? controllers.environments : undefined;
      for (const obj of controller ? informer.list() : []) controller?.enqueue(objectKey(obj));
    }
  };
  const lockdownSwitch = new Informer({
    kube: opts.kube,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: opts.home,
    fieldSelector: `metadata.name=${LOCKDOWN_CONFIGMAP}`,
    clock: opts.clock,
    log: opts.log,
    onChange: (_key, obj, deleted, previous) => {
      if (JSON.stringify(operatorLockdown(deleted ? undefined : obj)) !== JSON.stringify(operatorLockdown(previous))) all();
    },
  });
  return { informers: [...own, lockdownSwitch, ...children(opts, controllers)], lockdown: () => operatorLockdown(lockdownSwitch.list()[0]) };
}

function ownKinds(opts: WatchOptions, { projects, environments, backupStores, backups, restores, rehearsals, reports, denialReports, rehearsalReports }: Controllers): Informer[] {
  const { kube, clock, log } = opts;
  const scope = opts.namespace ? { namespace: opts.namespace } : {};
  const own = (kind: string, onChange: (key: string, obj: KubeObject, deleted: boolean, previous: KubeObject | undefined) => void): Informer =>
    new Informer({ kube, apiVersion: API_VERSION, kind, transform: withoutManagedFields, clock, log, ...scope, onChange });
  const onSpecChange = (controller: Controller) => (key: string, obj: KubeObject, deleted: boolean, previous: KubeObject | undefined) => {
    if (!deleted && (!previous || specOrAnnotationsChanged(previous, obj))) controller.enqueue(key);
  };
  const envs = own('Environment', (key, obj, deleted, previous) => {
      // A Git-driven Environment deleted by hand comes back while its branch exists.
      if (deleted) projects.enqueue(`${obj.metadata.namespace}/${(obj as Environment).spec.project}`);
      else onSpecChange(environments)(key, obj, deleted, previous);
      // A Restore reports how its Environment's data fills, status changes included.
      const restore = obj.metadata.annotations?.[ANNOTATIONS.restore];
      if (restore) restores.enqueue(`${obj.metadata.namespace}/${restore}`);
      // A Rehearsal follows its Environment step by step, and sees it go.
      const rehearsal = obj.metadata.labels?.[LABELS.rehearsal];
      if (rehearsal) rehearsals.enqueue(`${obj.metadata.namespace}/${rehearsal}`);
      // What the Git host is told follows the status.
      else reports.enqueue(key);
  });
  return [
    own('Project', (key, obj, deleted, previous) => {
      // Its refusals, in its status, go to the Git host.
      if (!deleted) denialReports.enqueue(key);
      if (!deleted && previous && !specOrAnnotationsChanged(previous, obj)) return;
      projects.enqueue(key);
      // What a Project's spec says of its Environments (lockdown, egress, its Git host) reaches each at once.
      if (previous && previous.metadata.generation !== obj.metadata.generation) {
        for (const env of envs.list()) {
          if (env.metadata.namespace !== obj.metadata.namespace || (env as Environment).spec.project !== obj.metadata.name) continue;
          environments.enqueue(objectKey(env));
          reports.enqueue(objectKey(env));
        }
      }
    }),
    envs,
    own('BackupStore', onSpecChange(backupStores)),
    own('Backup', onSpecChange(backups)),
    own('Restore', onSpecChange(restores)),
    own('Rehearsal', (key, obj, deleted, previous) => {
      onSpecChange(rehearsals)(key, obj, deleted, previous);
      if (deleted) return;
      // Its outcome goes to the Git host: as a status, and in the comment of the Environments of its branch.
      rehearsalReports.enqueue(key);
      for (const env of envs.list()) {
        const e = env as Environment;
        if (e.metadata.namespace === obj.metadata.namespace && e.spec.branch === (obj as Rehearsal).spec.branch && !e.metadata.labels?.[LABELS.rehearsal]) reports.enqueue(objectKey(env));
      }
    }),
  ];
}

function children(opts: WatchOptions, { environments, backups, rehearsals }: Controllers): Informer[] {
  const { kube, clock, log } = opts;
  const labelSelector = opts.namespace ? `${LABELS.environmentNamespace}=${opts.namespace}` : LABELS.environmentNamespace;
  return PLANNED_KINDS.filter(([, kind]) => kind !== 'Secret').map(
    ([apiVersion, kind]) =>
      new Informer({
        kube,
        apiVersion,
        kind,
        labelSelector,
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
          // A mover Job reports to its Backup or Rehearsal; everything else to its Environment.
          const backup = labels[LABELS.backup];
          const rehearsal = labels[LABELS.rehearsal];
          if (backup) backups.enqueue(`${ownerNamespace}/${backup}`);
          else if (rehearsal && kind === 'Job') rehearsals.enqueue(`${ownerNamespace}/${rehearsal}`);
          else environments.enqueue(`${ownerNamespace}/${owner}`);
        },
      }),
  );
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
