// `npm run local -- up|down|status` as a user runs them: a second, separate cluster in its own state
// directory. `down` must stop exactly what `up` started, also when `up` itself was killed midway.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../../local/cli.ts';
import type { ClusterState } from '../../../local/cluster.ts';
import { isRunning } from '../../../local/processes.ts';

const main = fileURLToPath(new URL('../../../local/main.ts', import.meta.url));

async function local(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (chunk: string) => (append(chunk), true) }) as unknown as NodeJS.WritableStream;
  const code = await runLocal(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: process.env });
  return { code, stdout, stderr };
}

async function readState(dir: string): Promise<ClusterState | undefined> {
  return readFile(join(dir, 'state.json'), 'utf8').then(
    (t) => JSON.parse(t) as ClusterState,
    () => undefined,
  );
}

describe('npm run local', () => {
  it('stops what a killed `up` had started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'grove-crash-'));
    const upProcess = spawn(process.execPath, [main, 'up', '--tier', 'a', '--dir', dir], { stdio: 'ignore' });
    // Kill `up` as soon as it has recorded the API server, before the cluster is ready.
    let state: ClusterState | undefined;
    for (let i = 0; i < 600 && !state?.processes.some((p) => p.name === 'kube-apiserver'); i++) {
      await sleep(20);
      state = await readState(dir);
    }
    upProcess.kill('SIGKILL');
    expect(state?.processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver']);
    expect(state?.ready).toBe(false);
    const recorded = state!.processes;
    expect(recorded.every(isRunning)).toBe(true);

    const down = await local('down', '--dir', dir);
    expect(down.code).toBe(0);
    expect(down.stderr).toContain(`Stopped kube-apiserver (pid ${recorded[1]!.pid})`);
    expect(down.stderr).toContain(`Stopped etcd (pid ${recorded[0]!.pid})`);
    for (const rec of recorded) expect(isRunning(rec), rec.name).toBe(false);

    const status = await local('status', '--dir', dir);
    expect(status.code).toBe(1);
  });

  it('brings a cluster up, reports it, keeps it on a second up, and takes it down', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'grove-updown-'));
    const first = await local('up', '--tier', 'a', '--dir', dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/kube-apiserver\s+https:\/\/127\.0\.0\.1:\d+/);
    const state = (await readState(dir))!;
    expect(state.ready).toBe(true);

    const again = await local('up', '--tier', 'a', '--dir', dir);
    expect(again.stderr).toContain('already running');
    expect((await readState(dir))!.processes.map((p) => p.pid)).toEqual(state.processes.map((p) => p.pid));

    const status = await local('status', '--dir', dir, '-o', 'json');
    expect(status.code).toBe(0);
    const reported = JSON.parse(status.stdout) as { components: Array<{ name: string; running: boolean }> };
    expect(reported.components).toEqual([
      expect.objectContaining({ name: 'etcd', running: true }),
      expect.objectContaining({ name: 'kube-apiserver', running: true }),
    ]);

    expect((await local('down', '--dir', dir)).code).toBe(0);
    for (const rec of state.processes) expect(isRunning(rec), rec.name).toBe(false);
  });

  it('refuses a state directory that holds something else, and deletes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'grove-notmine-'));
    await writeFile(join(dir, 'precious.txt'), 'keep me');
    const result = await local('up', '--tier', 'a', '--dir', dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not empty and holds no local cluster');
    expect(await readFile(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });
});
