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
});
