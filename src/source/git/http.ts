/**
 * The HTTP client isomorphic-git talks through. Its bundled Node client has no timeout, so a Git
 * server that accepts a connection and never answers would hold a reconcile forever; this one
 * gives every request a deadline and counts the bytes it moves.
 *
 * @module
 */
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { type Dispatcher, fetch } from 'undici';

export interface TransferStats {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

/** `dispatcher` decides where connections may go; every redirect is a connection it makes too. */
export function createHttpClient(timeoutMs: number, stats?: TransferStats, dispatcher?: Dispatcher): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const body = req.body ? Buffer.concat(await collect(req.body)) : undefined;
      if (stats) {
        stats.requests++;
        stats.bytesSent += body?.length ?? 0;
      }
      const res = await fetch(req.url, {
        method: req.method ?? 'GET',
        headers: req.headers ?? {},
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        ...(dispatcher ? { dispatcher } : {}),
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, key) => (headers[key] = value));
      const chunks = res.body ? countChunks(res.body, stats) : emptyIterable();
      return { url: res.url, method: req.method ?? 'GET', statusCode: res.status, statusMessage: res.statusText, headers, body: chunks };
    },
  };
}

async function collect(body: AsyncIterableIterator<Uint8Array> | Uint8Array[] | AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) parts.push(chunk);
  return parts;
}

async function* countChunks(stream: AsyncIterable<Uint8Array>, stats?: TransferStats): AsyncIterableIterator<Uint8Array> {
  for await (const chunk of stream) {
    if (stats) stats.bytesReceived += chunk.length;
    yield chunk;
  }
}

async function* emptyIterable(): AsyncIterableIterator<Uint8Array> {
  // no body
}
