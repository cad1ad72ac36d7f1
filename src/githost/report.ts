/**
 * What Grove tells the Git host about an Environment: the commit status of the revision it is
 * at, and the pull-request comment that sums it up. Pure: from the Environment as its status
 * says, so the same Environment always gives the same report, and a report already delivered is
 * recognised as such.
 *
 * @module
 */
import { CONDITIONS, type Environment, environmentName, findCondition, type Project } from '../api/index.ts';
import type { CommitStatus } from './requests.ts';

export interface RevisionReport {
  revision: string;
  status: CommitStatus;
}

/** `grove/<environment>`: one status per Environment on a commit, which a branch and its pull request may share. */
export const statusContext = (env: Environment): string => `grove/${env.metadata.name ?? ''}`;

/** The comment's marker: how Grove finds its own comment on a pull request again. */
export const commentMarker = (env: Environment): string => `<!-- grove:environment ${env.metadata.namespace ?? ''}/${env.metadata.name ?? ''} -->`;

/**
 * The status of the revision the Environment is asked to run: failure when its manifest is
 * broken (with the first error's position) or it stalled, success with its URL once Ready at
 * that revision, pending otherwise. The pending line stays the same while the Environment
 * progresses, so its progress posts nothing new.
 */
export function revisionReport(env: Environment): RevisionReport | undefined {
  const revision = env.spec.revision;
  if (!revision || env.metadata.deletionTimestamp) return undefined;
  const name = env.metadata.name ?? '';
  const context = statusContext(env);
  const current = (type: string) => {
    const c = findCondition(env.status?.conditions, type);
    return c && c.observedGeneration === env.metadata.generation ? c : undefined;
  };
  const manifest = current(CONDITIONS.manifestValid);
  if (manifest?.status === 'False') return { revision, status: { state: 'failure', context, description: firstError(manifest.message) } };
  const ready = current(CONDITIONS.ready);
  const url = env.status?.urls?.[0]?.url;
  if (ready?.status === 'True' && env.status?.observedRevision === revision) {
    return { revision, status: { state: 'success', context, description: url ? `Environment ${name} is ready at ${url}` : `Environment ${name} is ready`, ...(url ? { targetUrl: url } : {}) } };
  }
  const stalled = current(CONDITIONS.stalled);
  if (stalled?.status === 'True') return { revision, status: { state: 'failure', context, description: `${stalled.reason}: ${firstLine(stalled.message)}` } };
  return { revision, status: { state: 'pending', context, description: `Grove is preparing Environment ${name}` } };
}

/** The comment on a pull request whose head the Environment runs: where, what state, which data, until when. */
export function environmentComment(env: Environment, report: RevisionReport): string {
  const name = env.metadata.name ?? '';
  const verdict = { success: 'Ready', pending: 'Preparing', failure: 'Failed', error: 'Failed' }[report.status.state];
  // Progress is not written: each step would be an edit of the comment.
  const rows: Array<[string, string]> = [
    ['Revision', `\`${report.revision.slice(0, 12)}\``],
    ['State', report.status.state === 'failure' || report.status.state === 'error' ? `${verdict}: ${oneLine(report.status.description)}` : verdict],
  ];
  for (const u of env.status?.urls ?? []) rows.push([`URL (${u.name})`, u.url]);
  for (const l of env.status?.lineage ?? []) rows.push([`Data: ${l.volume}`, lineageText(l)]);
  if (env.status?.expiresAt) rows.push(['Expires', env.status.expiresAt]);
  const table = rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`).join('\n');
  return `### Grove: Environment \`${name}\` — ${verdict}\n\n| | |\n|---|---|\n${table}`;
}

function lineageText(l: NonNullable<NonNullable<Environment['status']>['lineage']>[number]): string {
  const from = l.source === 'snapshot' ? `snapshot of ${l.parent ?? 'its parent'}` : l.source === 'backup' ? `Backup ${l.backup ?? ''}${l.parent ? ` of ${l.parent}` : ''}` : 'empty';
  return `${from}${l.time ? ` at ${l.time}` : ''}`;
}

const firstLine = (message: string): string => message.split('\n')[0]?.trim() ?? '';
const oneLine = (message: string): string => message.replace(/\s*\n\s*/g, '; ').trim();

/**
 * The first error of an invalid manifest's message ("2 errors at …:\nplatform.yaml:3:3: …"),
 * with how many follow; the message itself when it lists none.
 */
function firstError(message: string): string {
  const lines = message.split('\n').slice(1).filter(Boolean);
  if (!lines.length) return firstLine(message);
  return `${lines[0]!.trim()}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`;
}

/**
 * The failure status of a branch's head that policy refused an Environment (from the Project's
 * `status.denied`), in the context its Environment would have had: so the agent that pushed it
 * learns at once why nothing came up.
 */
export function denialReports(project: Project): RevisionReport[] {
  const name = project.metadata.name ?? '';
  return (project.status?.denied ?? [])
    .filter((d) => d.revision)
    .map((d) => ({ revision: d.revision as string, status: { state: 'failure' as const, context: `grove/${environmentName(name, d.branch)}`, description: `Not admitted: ${firstLine(d.message)}` } }));
}
