import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRunning, startProcess, stopProcess } from './processes.ts';

async function logFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'grove-proc-')), 'out.log');
}

describe('host processes', () => {
  it('starts a detached process, sees it run, and stops it', async () => {
    const rec = startProcess({ name: 'sleeper', command: 'sleep', args: ['300'], log: await logFile() });
    expect(isRunning(rec)).toBe(true);
    expect(await stopProcess(rec)).toBe('stopped');
    expect(isRunning(rec)).toBe(false);
    expect(await stopProcess(rec)).toBe('gone');
  });

  it('kills a process that ignores SIGTERM after the grace period', async () => {
    const rec = startProcess({ name: 'stubborn', command: 'sh', args: ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], log: await logFile() });
    expect(await stopProcess(rec, 200)).toBe('stopped');
    expect(isRunning(rec)).toBe(false);
  });

  it('never signals a process whose PID was reused by another', async () => {
    const rec = startProcess({ name: 'sleeper', command: 'sleep', args: ['300'], log: await logFile() });
    const impostor = { ...rec, startTicks: String(Number(rec.startTicks) - 1) };
    expect(isRunning(impostor)).toBe(false);
    expect(await stopProcess(impostor)).toBe('gone');
    expect(isRunning(rec)).toBe(true);
    await stopProcess(rec);
  });
});
