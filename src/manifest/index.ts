/**
 * `platform.yaml`: parse with bounds, validate against the published JSON Schema and the
 * cross-references a schema cannot express, and resolve per environment.
 *
 * @module
 */
export { formatError, MAX_MANIFEST_BYTES, type ManifestError, parseDuration, parseManifest, type ParseResult, VARIABLES } from './parse.ts';
export { type EnvironmentType, merge, type ResolveContext, type ResolvedManifest, resolveManifest } from './resolve.ts';
export { MANIFEST_SCHEMA, MANIFEST_SCHEMA_ID } from './schema.ts';
export type * from './types.gen.ts';
