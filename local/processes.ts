/**
 * Long-running host processes of the local cluster: started detached (their own session and
 * process group, so they outlive `npm run local -- up`), logged to files, and stopped by PID.
 *
 * A PID alone can be reused by an unrelated process after a reboot or a crash, so each record
 * also keeps the process's start time from /proc; a record whose start time no longer matches is
 * treated as gone and nothing is signalled.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GroveError } from '../src/errors/index.ts';

export interface ProcessRecord {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  startTicks: string;
  command: string[];
  log: string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  log: string;
  env?: Record<string, string>;
  cwd?: string;
}

export function startProcess(opts: StartOptions): ProcessRecord {
  const fd = openSync(opts.log, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...opts.env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    child.unref();
    if (child.pid === undefined) throw new GroveError('ProcessFailed', `could not start ${opts.name} (${opts.command})`);
    const startTicks = readStartTicks(child.pid);
    if (startTicks === undefined) throw new GroveError('ProcessFailed', `${opts.name} exited at once; see ${opts.log}`);
    return { name: opts.name, pid: child.pid, startTicks, command: [opts.command, ...opts.args], log: opts.log };
  } finally {
    closeSync(fd);
  }
}

function readStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True while the very process the record describes is running. */
export function isRunning(rec: ProcessRecord): boolean {
  return readStartTicks(rec.pid) === rec.startTicks;
}

/**
 * Stops the process group of a record: SIGTERM, then SIGKILL after `graceMs`. Does nothing if the
 * process is already gone or the PID now belongs to another process.
 */
export async function stopProcess(rec: ProcessRecord, graceMs = 10_000): Promise<'stopped' | 'gone'> {
  if (!isRunning(rec)) return 'gone';
  signalGroup(rec.pid, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (!isRunning(rec)) return 'stopped';
    await sleep(50);
  }
  if (isRunning(rec)) signalGroup(rec.pid, 'SIGKILL');
  while (isRunning(rec)) await sleep(20);
  return 'stopped';
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group leader may have exited while its group lives on, or everything is already gone.
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** The last lines of a log file, to say why a process failed. */
export async function logTail(path: string, lines = 15): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Free TCP ports on 127.0.0.1, all different. */
export async function freePorts(count: number): Promise<number[]> {
  // Hold every listener until all ports are chosen, so the same port is never handed out twice.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Grove's own entry point (`src/main.ts`): what the operator and mover add-ons run. */
export function groveMain(): string {
  return fileURLToPath(new URL('../src/main.ts', import.meta.url));
}

/** The local cluster's entry point (`local/main.ts`): what its own helper processes run. */
export function localMain(): string {
  return fileURLToPath(new URL('./main.ts', import.meta.url));
}
