/**
 * `planBranch`: what a push of a branch would make, read the way the controllers read it — the
 * Project, its repository through the operator's Git source (branch heads, the manifest at the
 * commit, the commit's trailers) and its Environments — and computed by `preview/`. Nothing is
 * written: not the Environment, not its namespace, not an audit event.
 *
 * @module
 */
import { API_VERSION, type Environment, LABELS, type Project } from '../../api/index.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import type { Kube } from '../../kube/index.ts';
import type { Logger } from '../../log/index.ts';
import { formatError, parseManifest } from '../../manifest/index.ts';
import { type BranchPlan, previewBranch } from '../../preview/index.ts';
import { type GitRemote, type GitSource, parseTrailers, type Steering, remoteOf } from '../../source/git/index.ts';
import { ApiProblem } from './problem.ts';

export interface PlanDeps {
  kube: Kube;
  git?: GitSource;
  log: Logger;
  now: number;
}

const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

export async function planBranch(deps: PlanDeps, namespace: string, name: string, ask: { branch: string; revision?: string | undefined }): Promise<{ status: number; value: BranchPlan }> {
  const { kube, git } = deps;
  if (!git) throw new ApiProblem(503, 'Service Unavailable', 'this server was started without a Git source, so it cannot read manifests');
  if (ask.revision !== undefined && !COMMIT.test(ask.revision)) throw new ApiProblem(400, 'Bad Request', `revision must be a full commit SHA (got "${ask.revision}")`);
  const project = await kube.get<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name });
  if (!project) throw new ApiProblem(404, 'Not Found', `Project ${name} does not exist in namespace ${namespace}`);
  let remote: GitRemote;
  try {
    remote = await remoteOf(kube, project);
  } catch (err) {
    // The Project's own configuration stands in the way, as its conditions say too.
    if (err instanceof ReconcileError) throw new ApiProblem(409, 'Conflict', `project ${name}: ${err.message}`);
    throw err;
  }
  const unreadable = (err: unknown): ApiProblem => new ApiProblem(502, 'Bad Gateway', `the repository of project ${name} could not be read: ${messageOf(err)}`);
  const branches = await git.listBranches(remote).catch((err: unknown) => {
    throw unreadable(err);
  });
  const revision = ask.revision ?? branches.get(ask.branch);
  if (!revision) throw new ApiProblem(404, 'Not Found', `branch ${ask.branch} does not exist in the repository of project ${name}`);

  const path = project.spec.manifestPath ?? 'platform.yaml';
  const ref = { branch: ask.branch, commit: revision };
  const text = await git.readFile(remote, ref, path).catch((err: unknown) => {
    if (err instanceof GroveError && err.code === 'NotFound') throw new ApiProblem(404, 'Not Found', messageOf(err));
    throw unreadable(err);
  });
  if (text === undefined) throw new ApiProblem(422, 'Unprocessable Content', `${path} does not exist at ${revision}`, {}, { errors: [] });
  const parsed = parseManifest(text, path);
  if (!parsed.ok) {
    const lines = parsed.errors.map(formatError);
    throw new ApiProblem(422, 'Unprocessable Content', `${path} at ${revision.slice(0, 12)} has ${lines.length} error${lines.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, {}, {
      errors: parsed.errors.map((e) => ({ file: e.file, line: e.line, column: e.column, field: e.path, message: e.message })),
    });
  }
  const steering = await steeringOf(deps, remote, ref);
  const existing = (await kube.list<Environment>(API_VERSION, 'Environment', { namespace, labelSelector: `${LABELS.project}=${name}` })).items;
  return { status: 200, value: previewBranch({ project, branch: ask.branch, revision, manifest: parsed.manifest, branches, existing, now: deps.now, ...(steering ? { steering } : {}) }) };
}

/** The commit's trailers; a plan without them is still a plan, as a push without them still makes an Environment. */
async function steeringOf(deps: PlanDeps, remote: GitRemote, ref: { branch: string; commit: string }): Promise<Steering | undefined> {
  try {
    return parseTrailers((await (deps.git as GitSource).readCommit(remote, ref)).message);
  } catch (err) {
    deps.log.warn({ branch: ref.branch, revision: ref.commit, err: messageOf(err) }, 'Could not read the head commit; planned without attribution');
    return undefined;
  }
}
