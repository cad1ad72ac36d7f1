/**
 * The operator's controllers, each with its reconciler and its number of workers.
 *
 * @module
 */
import type { AuditSink } from '../audit/index.ts';
import { backupReconciler } from '../controllers/backup/index.ts';
import { backupStoreReconciler } from '../controllers/backupstore/index.ts';
import { environmentReconciler, type EnvironmentControllerDeps } from '../controllers/environment/index.ts';
import { projectReconciler } from '../controllers/project/index.ts';
import { rehearsalReconciler } from '../controllers/rehearsal/index.ts';
import { denialReportReconciler, rehearsalReportReconciler, reportReconciler } from '../controllers/report/index.ts';
import { restoreReconciler } from '../controllers/restore/index.ts';
import type { EventRecorder } from '../events/index.ts';
import type { Movers } from '../data/index.ts';
import type { Kube } from '../kube/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { NamespaceAccess } from '../planner/index.ts';
import { type Clock, Controller, type Reconciler } from '../runtime/index.ts';
import type { Outbound } from '../outbound/index.ts';
import type { Lockdown } from '../policy/index.ts';
import type { GitSource } from '../source/git/index.ts';
import type { PushLog } from './pushes.ts';

export interface Controllers {
  projects: Controller;
  environments: Controller;
  backupStores: Controller;
  backups: Controller;
  restores: Controller;
  rehearsals: Controller;
  /** What became of each revision, told to the Git host. */
  reports: Controller;
  /** The branches policy refused, told to the Git host. */
  denialReports: Controller;
  /** Each rehearsal's outcome, told to the Git host. */
  rehearsalReports: Controller;
}

export interface ControllerDeps {
  kube: Kube;
  git: GitSource;
  /** Where the operator may connect for Projects. */
  outbound?: Outbound;
  /** The operator-wide kill switch, as the informers last saw it. */
  lockdown?: () => Lockdown | undefined;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  audit: AuditSink;
  pushes: PushLog;
  /** What the informers hold, for the Environment controller's reads of its children. */
  cache: EnvironmentControllerDeps['cache'];
  movers: Movers;
  resticCacheDir?: string;
  access?: NamespaceAccess;
  internalNetworks?: readonly string[];
  projectWorkers?: number;
  environmentWorkers?: number;
}

export function operatorControllers(deps: ControllerDeps): Controllers {
  const { kube, git, clock, log, metrics, audit } = deps;
  const controller = (name: string, reconcile: Reconciler, workers: number): Controller =>
    new Controller({ name, reconcile, clock, log, metrics, workers });
  const reportDeps = { kube, clock, ...(deps.cache ? { cache: deps.cache } : {}), ...(deps.outbound ? { outbound: deps.outbound } : {}) };
  return {
    projects: controller(
      'project',
      projectReconciler({ kube, git, clock, audit, pushes: (namespace, project) => deps.pushes.of(namespace, project), ...(deps.lockdown ? { lockdown: deps.lockdown } : {}), ...(deps.outbound ? { outbound: deps.outbound } : {}) }),
      deps.projectWorkers ?? 2,
    ),
    environments: controller(
      'environment',
      environmentReconciler({
        kube,
        git,
        clock,
        events: deps.events,
        audit,
        movers: deps.movers,
        cache: deps.cache,
        ...(deps.access ? { access: deps.access } : {}),
        ...(deps.internalNetworks ? { internalNetworks: deps.internalNetworks } : {}),
        ...(deps.lockdown ? { lockdown: deps.lockdown } : {}),
      }),
      deps.environmentWorkers ?? 4,
    ),
    backups: controller('backup', backupReconciler({ kube, git, clock, audit, movers: deps.movers, ...(deps.outbound ? { outbound: deps.outbound } : {}), ...(deps.resticCacheDir ? { resticCacheDir: deps.resticCacheDir } : {}) }), 2),
    backupStores: controller('backupstore', backupStoreReconciler({ kube, clock, ...(deps.outbound ? { outbound: deps.outbound } : {}) }), 1),
    restores: controller('restore', restoreReconciler({ kube, clock, audit }), 1),
    rehearsals: controller('rehearsal', rehearsalReconciler({ kube, git, clock, audit, movers: deps.movers, ...(deps.cache ? { cache: deps.cache } : {}) }), 2),
    reports: controller('report', reportReconciler(reportDeps), 2),
    denialReports: controller('denial-report', denialReportReconciler(reportDeps), 1),
    rehearsalReports: controller('rehearsal-report', rehearsalReportReconciler(reportDeps), 1),
  };
}

export function allOf(controllers: Controllers): Controller[] {
  return [controllers.projects, controllers.environments, controllers.backupStores, controllers.backups, controllers.restores, controllers.rehearsals, controllers.reports, controllers.denialReports, controllers.rehearsalReports];
}
