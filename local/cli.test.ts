import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runLocal } from './cli.ts';

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
}

async function local(...args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runLocal(args, { stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('npm run local', () => {
  it('rejects a bad tier before doing anything', async () => {
    const r = await local('up', '--tier', 'z', '--dir', '/nonexistent/never-created');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tier: tier must be one of a, b, c, d (got "z")');
  });

  it('rejects an unknown option with the help text', async () => {
    const r = await local('up', '--frob');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--frob'");
    expect(r.stderr).toContain('Usage: npm run local --');
  });

  it('checks the demo\'s tools before it starts anything, with the command that installs them', async () => {
    const out = capture();
    const err = capture();
    const dir = '/nonexistent/never-created';
    const code = await runLocal(['demo', '--tier', 'c', '--dir', dir], { stdout: out.stream, stderr: err.stream, env: { PATH: '/nonexistent' } });
    expect(code).toBe(2);
    expect(err.text()).toContain('the demo needs Debian packages that are not installed: restic git');
    expect(err.text()).toContain('\n  apt-get update && apt-get install -y restic git');
    expect(existsSync(dir)).toBe(false);
  });
});
