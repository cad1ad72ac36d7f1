/**
 * The source step: the Project, the revision (the pinned one or the branch's head) and the
 * manifest there. A manifest that is missing or invalid is recorded in `ManifestValid` and in the
 * work, not thrown: the lifecycle step still runs for a broken branch, and the admission step
 * then stalls this Environment only — what runs keeps running, untouched.
 *
 * @module
 */
import { API_VERSION, CONDITIONS, type Project, REASONS } from '../../api/index.ts';
import { GroveError, messageOf, ReconcileError } from '../../errors/index.ts';
import { refusedIn } from '../../outbound/index.ts';
import { formatError, parseManifest, resolveManifest } from '../../manifest/index.ts';
import { type GitRemote, type GitSource, remoteOf } from '../../source/git/index.ts';
import type { EnvironmentStep, StepDeps } from './context.ts';

export function sourceStep(deps: StepDeps): EnvironmentStep {
  return {
    name: 'source',
    owns: [CONDITIONS.manifestValid],
    async run({ object: env, state, mark, log }) {
      const namespace = env.metadata.namespace as string;
      const project = await deps.read<Project>({ apiVersion: API_VERSION, kind: 'Project', namespace, name: env.spec.project });
      if (!project) throw new ReconcileError(REASONS.projectNotFound, `Project ${env.spec.project} does not exist in namespace ${namespace}`, 'wait', { requeueAfterMs: 60_000 });
      const remote = await remoteOf(deps.kube, project);
      const revision = env.spec.revision ?? (await headOf(deps.git, remote, env.spec.branch));
      const manifestPath = project.spec.manifestPath ?? 'platform.yaml';
      Object.assign(state, { project, remote, revision, manifestPath });

      let text: string | undefined;
      try {
        text = await deps.git.readFile(remote, { branch: env.spec.branch, commit: revision }, manifestPath);
      } catch (err) {
        if (err instanceof GroveError && err.code === 'NotFound') throw new ReconcileError(REASONS.revisionNotFound, messageOf(err), 'stall', { cause: err });
        throw new ReconcileError(refusedIn(err) ? REASONS.destinationRefused : REASONS.gitUnavailable, messageOf(err), 'retry', { cause: err });
      }
      if (text === undefined) {
        state.invalid = { reason: REASONS.manifestNotFound, message: `${manifestPath} does not exist at ${revision}` };
        mark(CONDITIONS.manifestValid, 'False', state.invalid.reason, state.invalid.message);
        return undefined;
      }
      const parsed = parseManifest(text, manifestPath);
      if (!parsed.ok) {
        const message = `${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'} at ${revision.slice(0, 12)}:\n${parsed.errors.map(formatError).join('\n')}`;
        state.invalid = { reason: REASONS.manifestInvalid, message };
        mark(CONDITIONS.manifestValid, 'False', REASONS.manifestInvalid, message);
        log.info({ revision, errors: parsed.errors.length }, 'Found the manifest invalid; left the running workloads as they are');
        return undefined;
      }
      mark(CONDITIONS.manifestValid, 'True', REASONS.manifestValid, `${manifestPath} at ${revision.slice(0, 12)} is valid`);
      if (parsed.manifest.lifecycle) state.manifestLifecycle = parsed.manifest.lifecycle;
      state.manifest = resolveManifest(parsed.manifest, { type: env.spec.type ?? 'development', commit: revision, branch: env.spec.branch, environment: env.metadata.name as string });
      return undefined;
    },
  };
}

async function headOf(git: GitSource, remote: GitRemote, branch: string): Promise<string> {
  const head = (await git.listBranches(remote)).get(branch);
  // Stalled for kstatus (only a push can help), and checked again each minute for that push.
  if (!head) throw new ReconcileError(REASONS.revisionNotFound, `branch ${branch} does not exist in the repository`, 'stall', { requeueAfterMs: 60_000 });
  return head;
}
