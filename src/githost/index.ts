/**
 * Git hosts' APIs — GitHub, GitLab, Gitea — behind one small interface: commit statuses, the
 * open pull requests of a branch, and a comment per pull request kept up to date; and what
 * Grove reports through them about an Environment (pure).
 *
 * @module
 */
export { type GitHost, GitHostError, gitHost, type GitHostOptions } from './client.ts';
export { commentMarker, denialReports, environmentComment, REHEARSAL_CONTEXT, rehearsalReport, rehearsalSection, type RevisionReport, revisionReport, statusContext } from './report.ts';
export { type CommitStatus, type HostRepo, hostRepo, type HostType, type PullRequest, type StatusState } from './requests.ts';
