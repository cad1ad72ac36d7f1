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

  it('validates a manifest and exits 0', async () => {
    const r = await grove('validate', new URL('../../examples/shop/platform.yaml', import.meta.url).pathname);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/platform\.yaml: valid \(1 application, 2 services, 1 route\)/);
  });

  it('prints every error of a broken manifest and exits 1', async () => {
    const file = new URL('../../test/fixtures/manifests/invalid/typos.yaml', import.meta.url).pathname;
    const r = await grove('validate', file);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${file}:5:5: applications.web.replica: unknown field; did you mean "replicas"?`,
      `${file}:6:5: applications.web.helth: unknown field; did you mean "health"?`,
      `${file}:7:1: servics: unknown field; did you mean "services"?`,
    ]);
    expect(r.stderr).toContain('3 errors');
  });

  it('plans a branch offline as YAML, with the environment, namespace and route', async () => {
    const dir = new URL('../../examples/shop', import.meta.url).pathname;
    const r = await grove('plan', dir, '--branch', 'feature/login', '--revision', 'c'.repeat(40));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# grove plan: branch feature\/login of project shop \(development\) at c{40}\n# Environment shop-feature-login-[0-9a-f]{8} in namespace shop-feature-login-[0-9a-f]{8}; 21 objects\n/);
    expect(r.stdout).toContain('# route web: https://web-shop-feature-login-');
    expect(r.stdout).toContain('pod-security.kubernetes.io/enforce: restricted');
    expect(r.stdout).toContain(`image: registry.example.com/shop/web:${'c'.repeat(40)}`);
    expect(r.stdout).toContain('password: (generated when applied)');
    expect(r.stdout.match(/^---$/gm)).toHaveLength(21);
  });

  it('prints the manifest errors instead of a plan', async () => {
    const dir = new URL('../../test/fixtures/manifests/invalid', import.meta.url).pathname;
    const r = await grove('plan', dir, '--branch', 'main', '--manifest', 'typos.yaml', '--revision', 'c'.repeat(40));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('typos.yaml:5:5: applications.web.replica: unknown field; did you mean "replicas"?');
  });

  it('says plainly when the file is missing', async () => {
    const r = await grove('validate', '/nonexistent/platform.yaml');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read /nonexistent/platform.yaml: no such file');
  });
});

describe('grove operator --internal-network', () => {
  it('takes address ranges and refuses anything else by name', async () => {
    const { parseCidr } = await import('./operator.ts');
    expect(parseCidr('198.18.0.0/20')).toBe('198.18.0.0/20');
    expect(parseCidr('fd00::/8')).toBe('fd00::/8');
    for (const bad of ['198.18.0.0', '198.18.0.0/33', 'cluster/8', '198.18.0.0/8/1', '198.18.0.0/x']) {
      expect(() => parseCidr(bad), bad).toThrow(`--internal-network must be an address range such as 198.18.0.0/16 (got "${bad}")`);
    }
  });
});
