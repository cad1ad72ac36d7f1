/**
 * What Grove tells the Git host about an Environment: the commit status of the revision it is
 * at, and the pull-request comment that sums it up. Pure: from the Environment as its status
 * says, so the same Environment always gives the same report, and a report already delivered is
 * recognised as such.
 *
 * @module
 */
import { CONDITIONS, type Environment, environmentName, findCondition, LABELS, type Project, type Rehearsal } from '../api/index.ts';
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
  // A rehearsal's copy speaks through its Rehearsal (`rehearsalReport`).
  if (!revision || env.metadata.deletionTimestamp || env.metadata.labels?.[LABELS.rehearsal]) return undefined;
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

/** The comment on a pull request whose head the Environment runs: where, what state, which data, until when, and the rehearsal of that head. */
export function environmentComment(env: Environment, report: RevisionReport, rehearsal?: Rehearsal): string {
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
  const section = rehearsal && rehearsal.status?.revision === report.revision ? `\n\n${rehearsalSection(rehearsal)}` : '';
  return `### Grove: Environment \`${name}\` — ${verdict}\n\n| | |\n|---|---|\n${table}${section}`;
}

/** The commit status of a rehearsal's revision, in its own context. */
export const REHEARSAL_CONTEXT = 'grove/rehearsal';

/**
 * What a Rehearsal tells the Git host of its revision: pending while it runs, then success or
 * failure with the hook's outcome, its duration and the schema change in one line.
 */
export function rehearsalReport(rehearsal: Rehearsal): RevisionReport | undefined {
  const revision = rehearsal.status?.revision;
  if (!revision) return undefined;
  const result = rehearsal.status?.result;
  const parent = rehearsal.status?.parent ?? 'its parent';
  if (!result) return { revision, status: { state: 'pending', context: REHEARSAL_CONTEXT, description: `Rehearsing the migration on a copy of ${parent}'s data` } };
  return { revision, status: { state: result.succeeded ? 'success' : 'failure', context: REHEARSAL_CONTEXT, description: rehearsalLine(rehearsal) } };
}

function rehearsalLine(rehearsal: Rehearsal): string {
  const result = rehearsal.status?.result;
  if (!result) return 'Running';
  const took = result.durationSeconds !== undefined ? ` in ${result.durationSeconds.toFixed(1)}s` : '';
  const changed = (result.schema ?? []).filter((c) => c.changed).map((c) => `${c.service} +${c.added ?? 0} −${c.removed ?? 0}`);
  const schema = result.schema?.length ? (changed.length ? `; schema: ${changed.join(', ')}` : '; no schema change') : '';
  return result.succeeded ? `Migration passed${took}${schema}` : `Migration failed${took}: ${oneLine(result.message ?? 'the deploy hook failed')}`;
}

/** The rehearsal's part of a pull request's comment: outcome, the schema diffs, a failing hook's output. */
export function rehearsalSection(rehearsal: Rehearsal): string {
  const status = rehearsal.status ?? {};
  const of = `\`${(status.revision ?? '').slice(0, 12)}\` on a copy of \`${status.parent ?? ''}\``;
  if (!status.result) return `#### Migration rehearsal of ${of}: running`;
  const lines = [`#### Migration rehearsal of ${of}: ${status.result.succeeded ? 'passed' : 'failed'}`, '', rehearsalLine(rehearsal)];
  for (const change of status.result.schema ?? []) {
    if (!change.changed) continue;
    lines.push('', `<details><summary>Schema of ${change.service}: +${change.added ?? 0} −${change.removed ?? 0} lines</summary>`, '', ...fenced('diff', change.diff ?? ''), '</details>');
  }
  if (status.result.output) lines.push('', 'Output of the deploy hook:', '', ...fenced('text', status.result.output));
  return lines.join('\n');
}

/** A code block whose fence no line of the text can close. */
function fenced(lang: string, text: string): string[] {
  let fence = '```';
  while (text.includes(fence)) fence += '`';
  return [`${fence}${lang}`, text, fence];
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
