/**
 * The one error the API answers with: an RFC 9457 problem document's status, title, detail and
 * extension members (a manifest's errors, one by one). Apart from `index.ts` so that the
 * operations in their own modules throw it without importing the router.
 *
 * @module
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  /** Extension members of the problem document, beside `detail`. */
  readonly members: Record<string, unknown>;
  constructor(status: number, title: string, detail: string, headers: Record<string, string> = {}, members: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.title = title;
    this.headers = headers;
    this.members = members;
  }
}
