import { describe, expect, it } from 'vitest';
import { runCli } from './index.ts';

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
}

async function grove(...args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli(args, { stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('grove', () => {
  it('prints usage and exits 2 without a command', async () => {
    const r = await grove();
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: grove <command>');
  });

  it('names an unknown command', async () => {
    const r = await grove('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });

  it('rejects a bad tier before doing anything', async () => {
    const r = await grove('local', 'up', '--tier', 'z', '--dir', '/nonexistent/never-created');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tier: tier must be one of a, b, c (got "z")');
  });

  it('rejects an unknown option with the help text', async () => {
    const r = await grove('local', 'up', '--frob');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--frob'");
  });
});
