/**
 * The Environments a Project should have, from its branches: a pure function from (Project,
 * branch heads, existing Environments, commit attribution) to the changes to make. No I/O, no
 * clock; the controller applies what it returns.
 *
 * Rules, in order:
 * - the production branch always has an Environment of type production, never a parent;
 * - other branches need to match `branches.include` (all when empty) and no `branches.exclude`;
 * - names are deterministic (`environmentName`); two branches that map to one name keep the
 *   Environment of the one that had it first, and the other is refused, never overwritten;
 * - policy (`policy/`) admits existing Environments first, then new branches by name: the
 *   branch patterns of the pusher's kind (agent or not), `limits.maxEnvironments` and
 *   `limits.maxEnvironmentsPerActor`; a denial is a skip with reason `PolicyDenied` and the rule;
 * - a branch whose Environment expired at its current head (`expired.grove.dev/<name>` on the
 *   Project) gets none until it moves;
 * - Environments whose branch is gone are marked (`grove.dev/branch-gone-since`) and deleted once
 *   `lifecycle.branchGoneGraceSeconds` have passed — production and protected ones only with
 *   `grove.dev/confirm-delete` equal to their name; a branch that comes back clears the mark;
 * - only Environments this controller made (`grove.dev/source: git`) are updated or deleted;
 * - with `pullRequests`, each open pull request from a branch of the repository (filtered by
 *   label and base branch) gets `<project>-pr-<number>` at its head, and goes like a gone branch
 *   once it is closed; a listing that failed leaves them all as they are. Without
 *   `branchEnvironments`, branches but production get none of their own.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, type Environment, environmentName, EXPIRED_ANNOTATION_PREFIX, LABELS, type Project, pullRequestEnvironmentName, type PullRequestRef, REASONS } from '../api/index.ts';
import { actorKey, actorLimitReached, branchNotAllowed, type Denial, deletionNotConfirmed, describeDenial, environmentLimitReached, identityKey } from '../policy/index.ts';
import type { Steering } from '../source/git/index.ts';
import { matchesAny } from '../util/index.ts';

export interface DesiredInput {
  project: Project;
  /** Branch → head commit. */
  branches: ReadonlyMap<string, string>;
  /** The Project's Environments as they are in the cluster. */
  existing: readonly Environment[];
  /** Attribution and steering from the head commit of branches being created or updated. */
  steering: ReadonlyMap<string, Steering>;
  /** Branch → who pushed its current head, from webhooks. */
  pushers?: ReadonlyMap<string, string>;
  /** The open pull requests, when the Project asks for Environments per pull request and the Git host listed them. */
  pullRequests?: readonly OpenPullRequest[];
  now: number;
}

/** An open pull request as the Git host lists it. */
export interface OpenPullRequest {
  number: number;
  title: string;
  author: string;
  head: { branch: string; sha: string };
  base: string;
  labels: readonly string[];
  fromFork: boolean;
}

/** What gets an Environment: a branch, or a pull request from one. */
interface Candidate {
  name: string;
  branch: string;
  head: string;
  production: boolean;
  pullRequest?: PullRequestRef;
}

/** Whether `env` is the Environment of `c` (its branch, and its pull request if any). */
const sameSource = (env: Environment, c: Candidate): boolean => env.spec.branch === c.branch && env.spec.pullRequest?.number === c.pullRequest?.number;
const describeSource = (env: Environment): string => (env.spec.pullRequest ? `pull request #${env.spec.pullRequest.number}` : `branch ${env.spec.branch}`);

export interface Skipped {
  branch: string;
  reason: string;
  message: string;
  /** The policy rule, when policy denied it. */
  rule?: string;
}

export interface DesiredChanges {
  /** Environments to create or update, as the controller wants them (for server-side apply). */
  apply: Environment[];
  /** Environments to delete (by name). */
  delete: Array<{ name: string; uid?: string }>;
  /** Branches left without an Environment, and Environments kept though their branch is gone. */
  skipped: Skipped[];
  /** Branches selected by the include/exclude rules. */
  selected: number;
  /** Selected branches without an Environment at their head: their commits' trailers steer and attribute. */
  needsSteering: string[];
  /** Environments whose branch just disappeared: annotate them with this time. */
  markGone: Array<{ name: string; since: string }>;
  /** Environments whose branch came back: their mark goes. */
  clearGone: string[];
  /** Expiry marks on the Project that no longer hold (the branch moved or went). */
  clearExpired: string[];
  /** When a grace period ends, to look again then. */
  nextAt?: number;
}

export function desiredEnvironments(input: DesiredInput): DesiredChanges {
  const { project, branches, existing, steering } = input;
  const spec = project.spec;
  const production = spec.productionBranch ?? 'main';
  const include = spec.branches?.include ?? [];
  const exclude = spec.branches?.exclude ?? [];
  const graceMs = (spec.lifecycle?.branchGoneGraceSeconds ?? 300) * 1000;
  const expiredMarks = new Map(
    Object.entries(project.metadata.annotations ?? {})
      .filter(([k]) => k.startsWith(EXPIRED_ANNOTATION_PREFIX))
      .map(([k, v]) => [k.slice(EXPIRED_ANNOTATION_PREFIX.length), v]),
  );
  const projectName = project.metadata.name ?? '';
  const namespace = project.metadata.namespace;

  const perBranch = !spec.pullRequests || spec.pullRequests.branchEnvironments !== false;
  const selectedBranches = [...branches.keys()]
    .filter((b) => b === production || (perBranch && (include.length === 0 || matchesAny(b, include)) && !matchesAny(b, exclude)))
    .sort((a, b) => (a === production ? -1 : b === production ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const selected: Candidate[] = [
    ...selectedBranches.map((branch) => ({ name: environmentName(projectName, branch), branch, head: branches.get(branch) as string, production: branch === production })),
    ...pullRequestCandidates(project, input.pullRequests ?? [], branches),
  ];

  const byName = new Map(existing.map((e) => [e.metadata.name ?? '', e]));
  const skipped: Skipped[] = [];
  const apply: Environment[] = [];
  const keep = new Set<string>();

  // Existing Environments are admitted before new ones, so a limit never evicts a running one.
  const ordered = [...selected.filter((c) => byName.has(c.name)), ...selected.filter((c) => !byName.has(c.name))];
  const admittedNames = new Set<string>();
  const perActor = new Map<string, number>();
  const countActor = (actor: string | undefined): void => void (actor !== undefined && perActor.set(actor, (perActor.get(actor) ?? 0) + 1));
  const needsSteering = new Set<string>();
  const clearExpired = new Set<string>();
  const clearGone: string[] = [];
  for (const candidate of ordered) {
    const { name, branch, head, production: isProduction } = candidate;
    const what = candidate.pullRequest ? `pull request #${candidate.pullRequest.number}` : `branch ${branch}`;
    const current = byName.get(name);
    if (current?.metadata.annotations?.[ANNOTATIONS.branchGoneSince] && sameSource(current, candidate)) clearGone.push(name);
    const expiredAt = expiredMarks.get(name);
    if (expiredAt !== undefined && (!current || current.metadata.deletionTimestamp)) {
      if (expiredAt === head) {
        skipped.push({ branch, reason: REASONS.expired, message: `Environment ${name} expired at ${head.slice(0, 12)}; a push to ${branch} brings it back` });
        continue;
      }
    }
    if (expiredAt !== undefined && expiredAt !== head) clearExpired.add(name);
    if (!current || current.spec.revision !== head) needsSteering.add(branch);
    if (current && !sameSource(current, candidate)) {
      skipped.push({ branch, reason: REASONS.nameCollision, message: `${what} maps to Environment ${name}, which belongs to ${describeSource(current)}` });
      continue;
    }
    if (admittedNames.has(name)) {
      skipped.push({ branch, reason: REASONS.nameCollision, message: `${what} maps to Environment ${name}, already used by another branch` });
      continue;
    }
    if (current && current.metadata.labels?.[LABELS.source] !== 'git') {
      keep.add(name); // made by hand: not ours to change
      admittedNames.add(name);
      countActor(actorKey(current));
      continue;
    }
    const trailers = steering.get(branch);
    if (!current && !isProduction) {
      const identity = identityKey({ pusher: input.pushers?.get(branch), claimedAgent: trailers?.agent });
      const denial: Denial | undefined =
        branchNotAllowed(project, branch, trailers?.agent ? 'agent' : 'human') ??
        environmentLimitReached(project, admittedNames.size) ??
        actorLimitReached(project, identity, identity ? (perActor.get(identity) ?? 0) : 0);
      if (denial) {
        skipped.push({ branch, reason: REASONS.policyDenied, rule: denial.rule, message: describeDenial(denial) });
        continue;
      }
    }
    admittedNames.add(name);
    keep.add(name);
    const env = environmentFor(projectName, namespace, branch, isProduction, head, trailers, current, input.pushers?.get(branch), candidate.pullRequest);
    countActor(actorKey(current ?? env));
    apply.push(env);
  }

  const deletions: Array<{ name: string; uid?: string }> = [];
  const markGone: Array<{ name: string; since: string }> = [];
  let nextAt: number | undefined;
  for (const env of existing) {
    const name = env.metadata.name ?? '';
    if (keep.has(name) || env.metadata.labels?.[LABELS.source] !== 'git' || env.metadata.deletionTimestamp) continue;
    // Pull requests that could not be listed may all still be open.
    if (env.spec.pullRequest && input.pullRequests === undefined) continue;
    const gone = env.spec.pullRequest ? `pull request #${env.spec.pullRequest.number} is closed` : `branch ${env.spec.branch} is gone`;
    const unconfirmed = deletionNotConfirmed(env);
    if (unconfirmed) {
      skipped.push({ branch: env.spec.branch, reason: REASONS.policyDenied, rule: unconfirmed.rule, message: `${gone}; ${describeDenial(unconfirmed)}` });
      continue;
    }
    const since = Date.parse(env.metadata.annotations?.[ANNOTATIONS.branchGoneSince] ?? '');
    const goneSince = Number.isFinite(since) ? Math.min(since, input.now) : input.now;
    if (!Number.isFinite(since) && graceMs > 0) markGone.push({ name, since: new Date(input.now).toISOString() });
    if (input.now - goneSince >= graceMs) deletions.push({ name, ...(env.metadata.uid ? { uid: env.metadata.uid } : {}) });
    else {
      skipped.push({ branch: env.spec.branch, reason: REASONS.branchGone, message: `${gone}; Environment ${name} is deleted at ${new Date(goneSince + graceMs).toISOString()} unless it comes back` });
      nextAt = Math.min(nextAt ?? Number.POSITIVE_INFINITY, goneSince + graceMs);
    }
  }
  for (const name of expiredMarks.keys()) if (!selected.some((c) => c.name === name)) clearExpired.add(name);

  return { apply, delete: deletions, skipped, selected: selected.length, needsSteering: [...needsSteering], markGone, clearGone, clearExpired: [...clearExpired], ...(nextAt !== undefined ? { nextAt } : {}) };
}

/** The pull requests that get Environments: from this repository's own branches, matching the Project's labels and base branches. */
function pullRequestCandidates(project: Project, pullRequests: readonly OpenPullRequest[], branches: ReadonlyMap<string, string>): Candidate[] {
  const wants = project.spec.pullRequests;
  if (!wants) return [];
  const labels = wants.labels ?? [];
  const bases = wants.baseBranches ?? [];
  return pullRequests
    .filter((pr) => !pr.fromFork && branches.has(pr.head.branch) && /^[0-9a-f]{40}$/.test(pr.head.sha))
    .filter((pr) => (labels.length === 0 || pr.labels.some((l) => labels.includes(l))) && (bases.length === 0 || matchesAny(pr.base, bases)))
    .sort((a, b) => a.number - b.number)
    .map((pr) => ({
      name: pullRequestEnvironmentName(project.metadata.name ?? '', pr.number),
      branch: pr.head.branch,
      head: pr.head.sha,
      production: false,
      pullRequest: { number: pr.number, ...(pr.title ? { title: pr.title.slice(0, 256) } : {}), ...(pr.author ? { author: pr.author.slice(0, 253) } : {}), ...(pr.base ? { base: pr.base } : {}) },
    }));
}

/** The Environment this controller applies for a branch; also what a plan of the branch shows. */
export function environmentFor(
  project: string,
  namespace: string | undefined,
  branch: string,
  production: boolean,
  revision: string,
  steering: Steering | undefined,
  current: Environment | undefined,
  pusher: string | undefined,
  pullRequest?: PullRequestRef,
): Environment {
  const name = pullRequest ? pullRequestEnvironmentName(project, pullRequest.number) : environmentName(project, branch);
  const annotations: Record<string, string> = { [ANNOTATIONS.branch]: branch };
  if (steering?.agent) annotations[ANNOTATIONS.agent] = steering.agent;
  if (steering?.onBehalfOf) annotations[ANNOTATIONS.onBehalfOf] = steering.onBehalfOf;
  if (steering?.task) annotations[ANNOTATIONS.task] = steering.task;
  if (pusher) annotations[ANNOTATIONS.pushedBy] = pusher;
  // Recorded at admission when the Environment was created; applying without it would drop it.
  const requestedBy = current?.metadata.annotations?.[ANNOTATIONS.requestedBy];
  if (requestedBy) annotations[ANNOTATIONS.requestedBy] = requestedBy;
  // Steering from trailers applies when the Environment is created; later pushes only move the
  // revision, so a stray trailer cannot re-parent or re-time a running Environment.
  const fromTrailers = current ? {} : { ...(steering?.ttlSeconds !== undefined ? { ttlSeconds: steering.ttlSeconds } : {}), ...(steering?.parent && !production ? { parent: steering.parent } : {}) };
  const type = production ? 'production' : (current?.spec.type ?? 'development');
  const kept = current ? { ...(current.spec.ttlSeconds !== undefined ? { ttlSeconds: current.spec.ttlSeconds } : {}), ...(current.spec.parent ? { parent: current.spec.parent } : {}) } : {};
  return {
    apiVersion: API_VERSION,
    kind: 'Environment',
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      labels: {
        [LABELS.project]: project,
        [LABELS.environment]: name,
        [LABELS.type]: type,
        [LABELS.source]: 'git',
        [LABELS.managedBy]: 'grove',
        ...(pullRequest ? { [LABELS.pullRequest]: String(pullRequest.number) } : {}),
      },
      annotations,
    },
    spec: {
      project,
      branch,
      revision,
      type,
      ...kept,
      ...fromTrailers,
      ...(pullRequest ? { pullRequest } : {}),
    },
  };
}

/**
 * True when the live Environment already has every field the controller sets: applying again
 * would change nothing, so a sync of N unchanged branches costs no writes. A field someone
 * removed by hand makes this false, and the next apply restores it.
 */
export function alreadyApplied(live: Environment, desired: Environment): boolean {
  const contains = (have: Record<string, unknown> | undefined, want: Record<string, unknown> | undefined): boolean =>
    Object.entries(want ?? {}).every(([k, v]) => JSON.stringify(have?.[k]) === JSON.stringify(v));
  return (
    contains(live.metadata.labels, desired.metadata.labels) &&
    contains(live.metadata.annotations, desired.metadata.annotations) &&
    contains(live.spec as unknown as Record<string, unknown>, desired.spec as unknown as Record<string, unknown>)
  );
}

/**
 * What of `changes` a lockdown still lets through: changes to production Environments only.
 * Every other Environment stays as it is — not created, moved, marked or deleted.
 */
export function lockdownChanges(changes: DesiredChanges, existing: readonly Environment[], held: (type: string | undefined) => boolean): DesiredChanges {
  const typeOf = new Map(existing.map((e) => [e.metadata.name ?? '', e.spec.type]));
  const kept = (name: string, type = typeOf.get(name)) => !held(type);
  return {
    ...changes,
    // An existing Environment keeps its own type's answer; a new one is judged by the type it would get.
    apply: changes.apply.filter((e) => kept(e.metadata.name ?? '', typeOf.get(e.metadata.name ?? '') ?? e.spec.type) && !held(e.spec.type)),
    delete: changes.delete.filter((d) => kept(d.name)),
    markGone: changes.markGone.filter((m) => kept(m.name)),
    clearGone: changes.clearGone.filter((n) => kept(n)),
  };
}
