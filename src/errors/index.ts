/**
 * Grove's one error type. Every failure that crosses a module boundary is a GroveError with a
 * stable `code`; library errors (client-node, isomorphic-git, ajv, child processes) are wrapped
 * once, at the module that talks to the library, with the original kept as `cause`.
 *
 * @module
 */

export type ErrorCode =
  /** A binary could not be built or found. */
  | 'BuildFailed'
  /** A process exited or did not become ready. */
  | 'ProcessFailed'
  /** Input (a file, a flag, an object) is not what was expected. */
  | 'InvalidInput'
  /** The Kubernetes API refused or failed a request. */
  | 'KubeApi'
  /** Grove's HTTP API refused or failed a request. */
  | 'Api'
  /** A Git remote could not be read. */
  | 'GitSource'
  /** A Git host's API (commit statuses, pull requests, comments) refused or failed a request. */
  | 'GitHost'
  /** A backup store, restic or a database dump failed. */
  | 'Backup'
  /** A wait ran out of time. */
  | 'Timeout'
  /** Something that must exist does not. */
  | 'NotFound'
  /** Grove's policy refuses the request (RBAC allowed it). */
  | 'Forbidden'
  /** A reconcile failed; see ReconcileError.disposition. */
  | 'Reconcile';

export class GroveError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GroveError';
    this.code = code;
  }
}

/** The message of anything thrown, for logs and conditions. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * How a failed reconcile continues:
 * - `retry`: a transient failure; retried with per-key backoff.
 * - `wait`: waiting on something outside Grove; retried after `requeueAfterMs`, no backoff.
 * - `stall`: needs a person (bad input); not retried until the object changes, or, when what
 *   must change lies outside it (a branch to push), looked at again after `requeueAfterMs`.
 */
export type Disposition = 'retry' | 'wait' | 'stall';

/** A reconcile failure with a CamelCase `reason` for conditions and how to continue. */
export class ReconcileError extends GroveError {
  readonly reason: string;
  readonly disposition: Disposition;
  readonly requeueAfterMs: number | undefined;
  constructor(reason: string, message: string, disposition: Disposition, options?: { cause?: unknown; requeueAfterMs?: number }) {
    super('Reconcile', message, options);
    this.name = 'ReconcileError';
    this.reason = reason;
    this.disposition = disposition;
    this.requeueAfterMs = options?.requeueAfterMs;
  }
}
