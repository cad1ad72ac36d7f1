/**
 * Waiting for the local cluster's pieces: probes that answer true or false, and loops that give
 * up with the component's own last log lines, so a failed start says why.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../src/api/index.ts';
import { GroveError, messageOf } from '../src/errors/index.ts';
import { formatDuration } from '../src/util/index.ts';
import type { Progress } from './build.ts';
import { isRunning, logTail, type ProcessRecord } from './processes.ts';

export async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export interface ProbeOptions {
  ca?: string;
  insecure?: boolean;
}

/** One GET; true on a 2xx answer. The cluster's own health endpoints only. */
export function httpOk(url: string, opts: ProbeOptions = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    const req = (tls ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        timeout: 2000,
        ...(tls ? { ca: opts.ca ? readFileSync(opts.ca) : undefined, rejectUnauthorized: !opts.insecure } : {}),
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function waitReady(rec: ProcessRecord, probe: () => Promise<boolean>, progress: Progress, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await probe()) {
      progress(`${rec.name} ready (pid ${rec.pid}, ${formatDuration(performance.now() - started)})`);
      return;
    }
    if (!isRunning(rec)) {
      throw new GroveError('ProcessFailed', `${rec.name} exited while starting. Last lines of ${rec.log}:\n${await logTail(rec.log)}`);
    }
    await sleep(100);
  }
  throw new GroveError('Timeout', `${rec.name} was not ready after ${formatDuration(timeoutMs)}. Last lines of ${rec.log}:\n${await logTail(rec.log)}`);
}

export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < timeoutMs) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new GroveError('Timeout', `timed out after ${formatDuration(timeoutMs)} waiting for ${what}${last ? `: ${messageOf(last)}` : ''}`);
}

export function nodeReady(node: KubeObject): boolean {
  const conditions = (node as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}
