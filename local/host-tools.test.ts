import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingPackages } from './host-tools.ts';

describe('missingPackages', () => {
  it('finds a command on the PATH given, or at its absolute path, and names each missing package once', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'grove-path-'));
    await symlink('/bin/sh', join(bin, 'git'));
    await writeFile(join(bin, 'marker'), '');
    const tools = [
      { pkg: 'git', command: 'git' },
      { pkg: 'restic', command: 'restic' },
      { pkg: 'containernetworking-plugins', command: join(bin, 'marker') },
      { pkg: 'busybox-static', command: join(bin, 'busybox') },
      { pkg: 'restic', command: 'restic' },
    ];
    expect(await missingPackages(tools, `${bin}:/nonexistent`)).toEqual(['restic', 'busybox-static']);
  });
});
