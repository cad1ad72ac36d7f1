/**
 * The report controller: tells the Project's Git host what became of each Environment's
 * revision — a commit status (pending, success with the URL, failure with the reason) and one
 * comment on every open pull request from the Environment's branch, edited in place.
 *
 * It has a queue of its own, so a slow or unreachable host delays reports, never reconciles;
 * a failed delivery is retried with the queue's backoff, or after the wait a rate limit names.
 * The host's own record is what was delivered: a status the host already shows, or a comment
 * that already says the same, is not posted again, across restarts too. Within one process, a
 * report delivered is remembered, so the Environment's other changes cost the host nothing.
 *
 * @module
 */
import { API_VERSION, type Environment, type Project, type Rehearsal } from '../../api/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import { commentMarker, denialReports, environmentComment, GitHostError, rehearsalReport, revisionReport } from '../../githost/index.ts';
import type { Kube } from '../../kube/index.ts';
import { type Outbound, refusedIn } from '../../outbound/index.ts';
import type { Clock, ObjectCache, Reconciler } from '../../runtime/index.ts';
import { gitHostOf } from '../githost.ts';
import { readerOf } from '../shared.ts';

export interface ReportControllerDeps {
  kube: Kube;
  clock: Clock;
  /** Where the operator may connect for a Project: the host's API too. */
  outbound?: Outbound;
  /** The informers' objects: every change of every Environment comes here, and costs the API server nothing for a Project without a Git host. */
  cache?: ObjectCache;
}

export const REPORT_REASONS = { hostUnavailable: 'GitHostUnavailable', hostRefused: 'GitHostRefused' } as const;

export function reportReconciler(deps: ReportControllerDeps): Reconciler {
  /** Per Environment, what the host was last seen to show (the report and the comment). */
  const delivered = new Map<string, string>();
  const read = readerOf(deps);
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const env = await read<Environment>({ apiVersion: API_VERSION, kind: 'Environment', namespace, name });
    const report = env && revisionReport(env);
    if (!env || !report) {
      delivered.delete(key);
      return {};
    }
    const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: env.spec.project });
    const spec = project?.spec.gitHost;
    if (!project || !spec) return {};
    const comment = spec.comments === false ? undefined : environmentComment(env, report, await latestRehearsal(deps, env, report.revision));
    const digest = JSON.stringify([env.spec.branch, report, comment]);
    if (delivered.get(key) === digest) return {};

    const host = await gitHostOf(deps, project);
    try {
      let posted = await host.report(report.revision, report.status);
      if (posted) log.info({ revision: report.revision, state: report.status.state }, 'Reported the revision to the Git host');
      if (comment) {
        // A pull request's own Environment speaks on it; a branch's only where pull requests have none.
        const numbers = env.spec.pullRequest ? [env.spec.pullRequest.number] : project.spec.pullRequests ? [] : (await host.pullRequests(env.spec.branch)).map((pr) => pr.number);
        for (const number of numbers) {
          const done = await host.comment(number, commentMarker(env), comment);
          if (done !== 'unchanged') log.info({ pullRequest: number, state: report.status.state }, done === 'created' ? 'Commented on the pull request' : 'Updated the comment on the pull request');
          posted ||= done !== 'unchanged';
        }
      }
      if (!posted) log.debug({ revision: report.revision, state: report.status.state }, 'Found the report already on the Git host');
    } catch (err) {
      throw asReconcileError(err);
    }
    delivered.set(key, digest);
    return {};
  };
}

/**
 * The Project's refusals, told to the Git host: a failure status for each branch head policy
 * refused an Environment (`status.denied`), so a push that brings nothing up says why at once.
 */
export function denialReportReconciler(deps: ReportControllerDeps): Reconciler {
  const delivered = new Map<string, string>();
  const read = readerOf(deps);
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name });
    const reports = project?.spec.gitHost ? denialReports(project) : [];
    const digest = JSON.stringify(reports);
    if (!project || reports.length === 0 || delivered.get(key) === digest) return {};
    const host = await gitHostOf(deps, project);
    try {
      for (const report of reports) {
        if (await host.report(report.revision, report.status)) log.info({ revision: report.revision, context: report.status.context }, 'Reported a refused branch to the Git host');
      }
    } catch (err) {
      throw asReconcileError(err);
    }
    delivered.set(key, digest);
    return {};
  };
}

/** The newest Rehearsal of the Environment's branch at this revision, for its comment. */
async function latestRehearsal(deps: ReportControllerDeps, env: Environment, revision: string): Promise<Rehearsal | undefined> {
  const namespace = env.metadata.namespace as string;
  // From the informer where it serves: this runs for every change of every reported Environment.
  const all = deps.cache?.list?.<Rehearsal>(API_VERSION, 'Rehearsal', namespace) ?? (await deps.kube.list<Rehearsal>(API_VERSION, 'Rehearsal', { namespace })).items;
  return all
    .filter((r) => r.spec.branch === env.spec.branch && r.status?.revision === revision)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))
    .at(-1);
}

/**
 * Each Rehearsal's outcome, told to the Git host as the `grove/rehearsal` status of its
 * revision (the pull request's comment shows it through the report controller).
 */
export function rehearsalReportReconciler(deps: ReportControllerDeps): Reconciler {
  const delivered = new Map<string, string>();
  const read = readerOf(deps);
  return async ({ key, log }) => {
    const [namespace, name] = key.split('/') as [string, string];
    const rehearsal = await read<Rehearsal>({ apiVersion: API_VERSION, kind: 'Rehearsal', namespace, name });
    const report = rehearsal && rehearsalReport(rehearsal);
    if (!rehearsal || !report) {
      delivered.delete(key);
      return {};
    }
    const digest = JSON.stringify(report);
    if (delivered.get(key) === digest) return {};
    const project = await read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: rehearsal.spec.project });
    if (!project?.spec.gitHost) return {};
    const host = await gitHostOf(deps, project);
    try {
      if (await host.report(report.revision, report.status)) log.info({ revision: report.revision, state: report.status.state }, 'Reported the rehearsal to the Git host');
    } catch (err) {
      throw asReconcileError(err);
    }
    delivered.set(key, digest);
    return {};
  };
}

/** A host that names its wait is waited for; one that refuses (a bad token) is asked again later; the rest back off. */
function asReconcileError(err: unknown): ReconcileError {
  if (err instanceof GitHostError && err.retryAfterSeconds !== undefined) return new ReconcileError(REPORT_REASONS.hostUnavailable, err.message, 'wait', { cause: err, requeueAfterMs: err.retryAfterSeconds * 1000 });
  if (err instanceof GitHostError && (err.status === 401 || err.status === 403 || err.status === 404)) return new ReconcileError(REPORT_REASONS.hostRefused, err.message, 'wait', { cause: err, requeueAfterMs: 300_000 });
  if (refusedIn(err)) return new ReconcileError(REPORT_REASONS.hostRefused, messageOf(err), 'wait', { cause: err, requeueAfterMs: 300_000 });
  return new ReconcileError(REPORT_REASONS.hostUnavailable, messageOf(err), 'retry', { cause: err });
}
