/**
 * Git as Grove's source of truth: branch discovery, files at a commit, commit trailers.
 *
 * @module
 */
export { createHttpClient, type TransferStats } from './http.ts';
export { type CommitInfo, type GitCredentials, type GitRemote, GitSource, type GitSourceOptions } from './repository.ts';
export { parseTrailers, type Steering } from './trailers.ts';
export { remoteOf } from './credentials.ts';

/** A push a Git host announced: attribution for the sync it asks for (webhooks parse it). */
export interface Push {
  branch: string;
  /** The commit the branch was pushed to. */
  revision: string;
  /** Who pushed, as the Git host names them. */
  pusher: string;
}
