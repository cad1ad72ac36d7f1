/**
 * Git as Grove's source of truth: branch discovery, files at a commit, commit trailers.
 *
 * @module
 */
export { createHttpClient, type TransferStats } from './http.ts';
export { type CommitInfo, type GitCredentials, type GitRemote, GitSource, type GitSourceOptions } from './repository.ts';
export { parseTrailers, type Steering } from './trailers.ts';
