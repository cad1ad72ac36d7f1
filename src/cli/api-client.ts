/**
 * The CLI's client of Grove's HTTP API (`--server`): calls an operation of the same table the
 * server routes by, with the caller's Bearer token, and turns problem documents into errors that
 * say what the server said.
 *
 * @module
 */
import { GroveError, messageOf } from '../errors/index.ts';
import { type OperationId, OPERATIONS } from '../http/api/index.ts';

/** `--server` and `--token`, for `parseArgs`: through the API, the token decides what a command may do. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Their lines in a command's help, aligned with its other options. */
export const SERVER_HELP = `  --server URL         Through Grove's HTTP API instead (default: $GROVE_SERVER)
  --token T            The Kubernetes token it checks (default: $GROVE_TOKEN)
`;

/** A problem document as the API sends it. */
export interface Problem {
  status: number;
  title: string;
  detail: string;
  errors?: Array<{ file: string; line: number; column: number; field: string; message: string }>;
}

/** A call the API refused or failed; `problem` is what it answered. */
export class ApiCallError extends GroveError {
  readonly problem: Problem;
  constructor(problem: Problem, hint = '') {
    super(problem.status === 404 ? 'NotFound' : problem.status === 400 ? 'InvalidInput' : 'Api', problem.status === 404 ? problem.detail : `${problem.status} ${problem.title}: ${problem.detail}${hint}`);
    this.name = 'ApiCallError';
    this.problem = problem;
  }
}

export interface ApiCall {
  /** The placeholders of the operation's path. */
  params: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: Record<string, unknown>;
}

export type ApiClient = <T>(operation: OperationId, call: ApiCall) => Promise<T>;

/** The URL of one call, from the operation table. Pure. */
export function operationUrl(server: string, operation: OperationId, call: ApiCall): URL {
  const op = OPERATIONS.find((o) => o.id === operation);
  if (!op) throw new GroveError('InvalidInput', `no API operation ${operation}`);
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = call.params[name];
    if (value === undefined) throw new GroveError('InvalidInput', `${operation} needs ${name}`);
    return encodeURIComponent(value);
  });
  // Relative to the server URL, so a server behind a path prefix keeps it.
  const url = new URL(path.slice(1), server.endsWith('/') ? server : `${server}/`);
  for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

/** The problem document of a failed answer, or one made from what came back instead. Pure. */
export function problemOf(status: number, statusText: string, text: string): Problem {
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (typeof parsed.detail === 'string') return { status, title: parsed.title ?? statusText, detail: parsed.detail, ...(Array.isArray(parsed.errors) ? { errors: parsed.errors } : {}) };
  } catch {
    // Not a problem document: a proxy's page, say.
  }
  return { status, title: statusText, detail: text.trim().slice(0, 300) || 'no detail' };
}

export function apiClient(server: string, token: string | undefined, fetchImpl: typeof fetch = fetch): ApiClient {
  const method = (operation: OperationId): string => OPERATIONS.find((o) => o.id === operation)?.method ?? 'GET';
  return async <T>(operation: OperationId, call: ApiCall): Promise<T> => {
    const url = operationUrl(server, operation, call);
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method: method(operation),
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(call.body ? { 'content-type': 'application/json' } : {}) },
        ...(call.body ? { body: JSON.stringify(call.body) } : {}),
      });
    } catch (err) {
      throw new GroveError('Api', `cannot reach the Grove API at ${server}: ${messageOf((err as Error).cause ?? err)}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw new ApiCallError(problemOf(res.status, res.statusText, text), res.status === 401 ? (token ? '' : '; pass --token or set GROVE_TOKEN (kubectl create token NAME)') : '');
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new GroveError('Api', `the Grove API at ${server} answered ${operation} with something that is not JSON`, { cause: err });
    }
  };
}
