/**
 * The Project controller: lists the repository's branches and makes the Project's Environments
 * match them (create, move the revision, delete), under the rules of `planner/branches.ts`.
 *
 * Level-triggered: a poll, a webhook and a changed Environment all just enqueue the Project's
 * key, and each reconcile starts from the branches as they are now. Writes are server-side
 * applies of deterministic names, so a restart midway never makes duplicates.
 *
 * It runs in the reconcile frame as three steps: `suspend` (a paused Project, `spec.suspend`, goes
 * no further: nothing is listed or written, and `Ready` says it is suspended), `branches`
 * (`SourceAvailable`: could they be listed) and `environments` (`Admitted`: did policy refuse any;
 * `Ready`: the Environments match the branches). When Git is unreachable, nothing is created,
 * changed or deleted. A Project with `pullRequests` (or a rehearsal label) lists its open pull
 * requests from its Git host too; when that fails, their Environments stay as they are. The
 * revisions its commits or pull requests ask to rehearse get their `Rehearsal`.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, CONDITIONS, type Environment, environmentName, EXPIRED_ANNOTATION_PREFIX, FIELD_MANAGER, findCondition, LABELS, type Project, type ProjectStatus, REASONS } from '../../api/index.ts';
import { auditEvent, auditObject, type AuditSink, environmentEvent, noAudit } from '../../audit/index.ts';
import { messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import { type Clock, framedReconciler, type Reconciler } from '../../runtime/index.ts';
import type { Logger } from '../../log/index.ts';
import { type GitRemote, type GitSource, parseTrailers, type Push, type Steering, remoteOf } from '../../source/git/index.ts';
import { alreadyApplied, desiredEnvironments, lockdownChanges, type OpenPullRequest, requestedRehearsals } from '../../planner/index.ts';
import { type Outbound, refusedIn } from '../../outbound/index.ts';
import { gitHostOf } from '../githost.ts';
import { createOnce } from '../shared.ts';
import { describeLockdown, heldByLockdown, type Lockdown, lockdownOf } from '../../policy/index.ts';

export interface ProjectControllerDeps {
  kube: Kube;
  git: GitSource;
  clock: Clock;
  random?: () => number;
  audit?: AuditSink;
  /** The last push each webhook reported for a Project's branches (branch → push). */
  pushes?: (namespace: string, project: string) => ReadonlyMap<string, Push>;
  /** The operator-wide kill switch, as last seen. */
  lockdown?: () => Lockdown | undefined;
  /** Where the operator may connect for a Project: its Git host's API too. */
  outbound?: Outbound;
}

interface ProjectWork {
  remote?: GitRemote;
  branches?: Map<string, string>;
  /** The open pull requests, for a Project that wants their Environments and whose host listed them. */
  pullRequests?: OpenPullRequest[];
}

export function projectReconciler(deps: ProjectControllerDeps): Reconciler {
  const audit = deps.audit ?? noAudit;
  // Trailers of head commits, by repository and commit: a branch denied by policy is not read again every sync.
  const steeringCache = new Map<string, Steering>();
  return framedReconciler<Project, ProjectStatus, ProjectWork>({
    get: (namespace, name) => deps.kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name }),
    state: () => ({}),
    writeStatus: (project, status) => writeStatus(deps.kube, project, status),
    clock: deps.clock,
    steps: [
      {
        name: 'suspend',
        run({ object: project }) {
          if (!project.spec.suspend) return Promise.resolve(undefined);
          const message = 'Suspended (spec.suspend): branches are not listed, and no Environment is created, moved or deleted until it is resumed';
          return Promise.resolve({ ready: { reason: REASONS.suspended, message }, last: true });
        },
      },
      {
        name: 'branches',
        owns: [CONDITIONS.sourceAvailable],
        async run({ object: project, state, mark, log }) {
          state.remote = await remoteOf(deps.kube, project);
          try {
            state.branches = await deps.git.listBranches(state.remote);
          } catch (err) {
            const reason = refusedIn(err) ? REASONS.destinationRefused : REASONS.gitUnavailable;
            mark(CONDITIONS.sourceAvailable, 'False', reason, messageOf(err));
            throw new ReconcileError(reason, `The branches could not be listed (${messageOf(err)}); existing Environments are left as they are`, 'retry', { cause: err });
          }
          let listed = `Listed ${state.branches.size} branches`;
          if (project.spec.pullRequests || project.spec.rehearsals?.label) {
            // Without the list, the pull requests' Environments stay as they are (none made, none removed).
            try {
              state.pullRequests = await (await gitHostOf(deps, project)).openPullRequests();
              listed += ` and ${state.pullRequests.length} open pull requests`;
            } catch (err) {
              listed += `; the pull requests could not be listed (${messageOf(err)}), so their Environments are left as they are`;
              log.warn({ err: messageOf(err) }, 'Could not list the pull requests; their Environments are left as they are');
            }
          }
          mark(CONDITIONS.sourceAvailable, 'True', REASONS.synced, listed);
          return undefined;
        },
      },
      {
        name: 'environments',
        owns: [CONDITIONS.admitted],
        async run({ object: project, status, state, mark, now, log }) {
          const { remote, branches } = state as Required<Pick<ProjectWork, 'remote' | 'branches'>>;
          const namespace = project.metadata.namespace as string;
          const name = project.metadata.name as string;
          const intervalMs = (project.spec.pollIntervalSeconds ?? 60) * 1000;
          const jittered = Math.round(intervalMs * (0.9 + (deps.random ?? Math.random)() * 0.2));
          const existing = (await deps.kube.list<Environment>(API_VERSION, 'Environment', { namespace, labelSelector: `${LABELS.project}=${name}` })).items;
          const base = { project, branches, existing, now, ...(state.pullRequests ? { pullRequests: state.pullRequests } : {}) };
          // Attribution (and with it policy) comes from the head commit of each branch that is new or moved.
          const steering = new Map<string, Steering>();
          for (const branch of desiredEnvironments({ ...base, steering }).needsSteering) {
            const revision = branches.get(branch) as string;
            const cacheKey = `${project.spec.repo.url}\0${revision}`;
            let found = steeringCache.get(cacheKey);
            if (!found) {
              try {
                found = parseTrailers((await deps.git.readCommit(remote, { branch, commit: revision })).message);
                for (const problem of found.problems) log.warn({ branch, revision }, `Ignored a commit trailer: ${problem}`);
                if (steeringCache.size >= 10_000) steeringCache.clear();
                steeringCache.set(cacheKey, found);
              } catch (err) {
                log.warn({ branch, err: messageOf(err) }, 'Could not read the head commit; creating the Environment without attribution');
                continue;
              }
            }
            steering.set(branch, found);
          }
          // A webhook's pusher attributes the revision it named, and only that one.
          const pushers = new Map([...(deps.pushes?.(namespace, name) ?? new Map<string, Push>())].filter(([b, p]) => branches.get(b) === p.revision).map(([b, p]) => [b, p.pusher]));
          const lockdown = lockdownOf(project, deps.lockdown?.());
          const wanted = desiredEnvironments({ ...base, steering, pushers });
          const changes = lockdown ? lockdownChanges(wanted, existing, (type) => heldByLockdown(lockdown, type)) : wanted;
          await applyChanges(deps, audit, project, existing, changes, log);
          // Not while the switch is engaged: a rehearsal makes an Environment.
          for (const rehearsal of lockdown ? [] : requestedRehearsals({ project, branches, steering, ...(state.pullRequests ? { pullRequests: state.pullRequests } : {}) })) {
            if (await createOnce(deps.kube, rehearsal)) log.info({ rehearsal: rehearsal.metadata.name, branch: rehearsal.spec.branch, revision: rehearsal.spec.revision }, 'Asked for a migration rehearsal');
          }

          const denials = changes.skipped.filter((s) => s.reason === REASONS.policyDenied);
          const deniedBefore = new Set((findCondition(project.status?.conditions, CONDITIONS.admitted)?.message ?? '').split('\n'));
          for (const d of denials) {
            const line = `${d.branch}: ${d.message}`;
            if (!deniedBefore.has(line)) await audit.record(denialEvent(project, d, branches.get(d.branch), steering.get(d.branch), line, deps.clock.now()));
          }
          if (denials.length) mark(CONDITIONS.admitted, 'False', REASONS.policyDenied, denials.map((d) => `${d.branch}: ${d.message}`).join('\n'));
          else mark(CONDITIONS.admitted, 'True', REASONS.admitted, 'Every selected branch has its Environment');
          const denied = denials.slice(0, 100).map((d) => ({ branch: d.branch, ...(branches.get(d.branch) ? { revision: branches.get(d.branch) } : {}), ...(d.rule ? { rule: d.rule } : {}), message: d.message.slice(0, 2048) }));
          if (denied.length) status.denied = denied;
          else delete status.denied;

          status.lastSyncTime = new Date(now).toISOString();
          status.branchCount = changes.selected;
          status.environmentCount = existing.length + changes.apply.filter((e) => !existing.some((x) => x.metadata.name === e.metadata.name)).length - changes.delete.length;
          const refused = changes.skipped.length ? `; ${changes.skipped.map((s) => `${s.branch}: ${s.message}`).join('; ')}` : '';
          return {
            ready: lockdown
              ? { reason: REASONS.lockedDown, message: `${describeLockdown(lockdown)}; ${status.environmentCount} environments for ${changes.selected} selected branches` }
              : { reason: REASONS.synced, message: `${status.environmentCount} environments for ${changes.selected} selected branches${refused}` },
            requeueAfterMs: changes.nextAt === undefined ? jittered : Math.max(1000, Math.min(jittered, changes.nextAt - now)),
          };
        },
      },
    ],
  });
}

type Changes = ReturnType<typeof desiredEnvironments>;

/** Makes the Environments match the branches: create or move, mark or clear a gone branch, delete. */
async function applyChanges(deps: ProjectControllerDeps, audit: AuditSink, project: Project, existing: Environment[], changes: Changes, log: Logger): Promise<void> {
  const namespace = project.metadata.namespace as string;
  const envRef = (envName: string) => ({ apiVersion: API_VERSION, kind: 'Environment', namespace, name: envName });
  for (const env of changes.apply) {
    const current = existing.find((e) => e.metadata.name === env.metadata.name);
    if (current && alreadyApplied(current, env)) continue;
    await deps.kube.apply(env, { fieldManager: FIELD_MANAGER, force: true });
    if (!current) log.info({ environment: env.metadata.name, branch: env.spec.branch, revision: env.spec.revision }, 'Created Environment');
    else if (current.spec.revision !== env.spec.revision) log.info({ environment: env.metadata.name, branch: env.spec.branch, revision: env.spec.revision }, 'Moved Environment to a new revision');
  }
  for (const { name: envName, since } of changes.markGone) {
    await deps.kube.mergePatch(envRef(envName), { metadata: { annotations: { [ANNOTATIONS.branchGoneSince]: since } } }, { fieldManager: FIELD_MANAGER });
    log.info({ environment: envName }, 'Found the branch gone; the Environment goes after the grace period');
  }
  for (const envName of changes.clearGone) {
    await deps.kube.mergePatch(envRef(envName), { metadata: { annotations: { [ANNOTATIONS.branchGoneSince]: null } } }, { fieldManager: FIELD_MANAGER });
  }
  for (const gone of changes.delete) {
    const env = existing.find((e) => e.metadata.name === gone.name);
    if (env) await audit.record(environmentEvent({ env, action: 'delete', now: deps.clock.now(), message: `branch ${env.spec.branch} is gone`, discriminator: env.metadata.uid ?? '' }));
    await deps.kube.delete(envRef(gone.name), gone.uid ? { uid: gone.uid } : {});
    log.info({ environment: gone.name }, 'Deleted Environment: its branch is gone');
  }
  if (changes.clearExpired.length) {
    const annotations = Object.fromEntries(changes.clearExpired.map((n) => [`${EXPIRED_ANNOTATION_PREFIX}${n}`, null]));
    await deps.kube.mergePatch({ apiVersion: API_VERSION, kind: 'Project', namespace, name: project.metadata.name as string }, { metadata: { annotations } }, { fieldManager: FIELD_MANAGER });
  }
  for (const s of changes.skipped) log.info({ branch: s.branch, reason: s.reason }, s.message);
}

/** The audit record of a branch the Project's policy refused, attributed to whoever its head commit names. */
function denialEvent(project: Project, denial: Changes['skipped'][number], revision: string | undefined, trailers: Steering | undefined, line: string, now: number) {
  const name = project.metadata.name as string;
  return auditEvent({
    object: auditObject(project),
    project: name,
    action: 'deny',
    now,
    environment: environmentName(name, denial.branch),
    actor: { ...(trailers?.agent ? { agent: trailers.agent } : {}), ...(trailers?.onBehalfOf ? { onBehalfOf: trailers.onBehalfOf } : {}), ...(trailers?.task ? { task: trailers.task } : {}) },
    source: 'push',
    ...(revision ? { revision } : {}),
    decision: 'denied',
    result: 'failed',
    message: denial.message,
    discriminator: line,
  });
}

/** Writes the status only when it changed: an unchanged poll costs no write. */
async function writeStatus(kube: Kube, project: Project, status: ProjectStatus): Promise<void> {
  const comparable = (s: ProjectStatus | undefined): string => JSON.stringify({ ...s, lastSyncTime: undefined });
  if (comparable(project.status) === comparable(status) && project.status?.lastSyncTime) {
    // Only the sync time moved: record it at most once a minute.
    const last = Date.parse(project.status.lastSyncTime);
    if (!status.lastSyncTime || Date.parse(status.lastSyncTime) - last < 60_000) return;
  }
  await kube.applyStatus(
    { apiVersion: API_VERSION, kind: 'Project', metadata: { name: project.metadata.name, namespace: project.metadata.namespace }, status },
    { fieldManager: FIELD_MANAGER, force: true },
  );
}
