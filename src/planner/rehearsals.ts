/**
 * Which revisions a Project's Git activity asks to rehearse (`Rehearsal`): a branch head whose
 * commit says `Grove-Rehearse: true`, and the head of each open pull request that carries the
 * Project's rehearsal label. One Rehearsal per revision, named for it, so asking twice (a label
 * and a trailer, or every sync while the label stays) makes one, and a new push to a labelled
 * pull request makes the next. Pure.
 *
 * @module
 */
import { ANNOTATIONS, API_VERSION, LABELS, type Project, type Rehearsal, rehearsalName } from '../api/index.ts';
import type { Steering } from '../source/git/index.ts';
import type { OpenPullRequest } from './branches.ts';

export interface RehearsalInput {
  project: Project;
  /** Branch → head commit. */
  branches: ReadonlyMap<string, string>;
  /** The trailers of the heads read at this sync (branches that are new or moved). */
  steering: ReadonlyMap<string, Steering>;
  pullRequests?: readonly OpenPullRequest[];
}

export function requestedRehearsals(input: RehearsalInput): Rehearsal[] {
  const { project, branches } = input;
  const wanted = new Map<string, Rehearsal>();
  const add = (branch: string, revision: string, extra: { pullRequest?: number; steering?: Steering }): void => {
    const name = rehearsalName(project.metadata.name as string, revision);
    if (wanted.has(name)) return;
    const s = extra.steering;
    const annotations = { ...(s?.agent ? { [ANNOTATIONS.agent]: s.agent } : {}), ...(s?.onBehalfOf ? { [ANNOTATIONS.onBehalfOf]: s.onBehalfOf } : {}), ...(s?.task ? { [ANNOTATIONS.task]: s.task } : {}) };
    wanted.set(name, {
      apiVersion: API_VERSION,
      kind: 'Rehearsal',
      metadata: {
        name,
        namespace: project.metadata.namespace,
        labels: { [LABELS.project]: project.metadata.name as string },
        ...(Object.keys(annotations).length ? { annotations } : {}),
        ...(project.metadata.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Project', name: project.metadata.name as string, uid: project.metadata.uid }] } : {}),
      },
      spec: { project: project.metadata.name as string, branch, revision, ...(extra.pullRequest ? { pullRequest: extra.pullRequest } : {}) },
    });
  };
  for (const [branch, steering] of input.steering) {
    const head = branches.get(branch);
    if (steering.rehearse && head) add(branch, head, { steering });
  }
  const label = project.spec.rehearsals?.label;
  for (const pr of label ? (input.pullRequests ?? []) : []) {
    if (pr.fromFork || !pr.labels.includes(label as string) || !/^[0-9a-f]{40}$/.test(pr.head.sha)) continue;
    add(pr.head.branch, pr.head.sha, { pullRequest: pr.number, ...(input.steering.get(pr.head.branch) ? { steering: input.steering.get(pr.head.branch) } : {}) });
  }
  return [...wanted.values()];
}
