import { describe, expect, it } from 'vitest';
import { DEBIAN_IMAGES, debianKey, debianSources, digest, parseDeb822, parseImageList, parseSourcesList } from './images.ts';
import { isIgnored, parseDockerignore } from './images/dockerignore.ts';

describe('the .dockerignore matcher', () => {
  // The project's own .dockerignore.
  const project = parseDockerignore('# Only package files, tsconfig, src and bin go into the image build.\n*\n!package.json\n!package-lock.json\n!tsconfig.json\n!tsconfig.build.json\n!src/\n!bin/\nsrc/**/*.test.ts\n');

  it('lets in what the project\'s Dockerfile copies and nothing else', () => {
    const inside = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/main.ts', 'src/planner/index.ts', 'bin/grove.js'];
    const outside = ['README.md', 'Dockerfile', '.dockerignore', 'local/images.ts', 'docs/x/y.md', 'src/planner/planner.test.ts', 'src/a.test.ts', 'srcx/a.ts', 'examples/shop/app/main.go'];
    expect(inside.filter((f) => isIgnored(project, f))).toEqual([]);
    expect(outside.filter((f) => !isIgnored(project, f))).toEqual([]);
  });

  it('matches a directory pattern against everything below it, and `**` across directories', () => {
    const p = parseDockerignore('node_modules\n/dist/\n**/*.log\ndocs/*.md\n');
    expect(isIgnored(p, 'node_modules/a/b.js')).toBe(true);
    expect(isIgnored(p, 'dist/main.js')).toBe(true);
    expect(isIgnored(p, 'x.log')).toBe(true);
    expect(isIgnored(p, 'a/b/c.log')).toBe(true);
    expect(isIgnored(p, 'docs/a.md')).toBe(true);
    expect(isIgnored(p, 'docs/sub/a.md')).toBe(false);
    expect(isIgnored(p, 'src/dist/main.js')).toBe(false);
  });

  it('lets the last matching pattern decide, and treats regexp characters and escapes literally', () => {
    const p = parseDockerignore('*.md\n!README.md\nREADME.md\n!keep.md\nf(1).txt\n\\*.txt\n   \n# comment\n');
    expect(isIgnored(p, 'README.md')).toBe(true);
    expect(isIgnored(p, 'keep.md')).toBe(false);
    expect(isIgnored(p, 'f(1).txt')).toBe(true);
    expect(isIgnored(p, 'f1.txt')).toBe(false);
    expect(isIgnored(p, '*.txt')).toBe(true);
    expect(isIgnored(p, 'a.txt')).toBe(false);
  });

  it('cleans patterns like paths', () => {
    const p = parseDockerignore('./a/../b/\n!  b/keep\n');
    expect(isIgnored(p, 'b/x')).toBe(true);
    expect(isIgnored(p, 'b/keep')).toBe(false);
  });
});

describe('the apt sources', () => {
  const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.net/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.net/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: http://src.example.net/debian
Suites: bookworm

Types: deb
URIs: http://old.example.net/debian
Suites: bookworm
Enabled: no
`;

  it('reads the deb entries of a deb822 file', () => {
    expect(parseDeb822(deb822)).toEqual([
      { uris: ['http://mirror.example.net/debian'], suites: ['bookworm', 'bookworm-updates'], components: ['main'] },
      { uris: ['http://mirror.example.net/debian-security'], suites: ['bookworm-security'], components: ['main', 'contrib'] },
    ]);
  });

  it('reads one-line sources.list entries', () => {
    expect(parseSourcesList('# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://m.example/debian bookworm main\n')).toEqual([
      { uris: ['http://m.example/debian'], suites: ['bookworm'], components: ['main'] },
    ]);
  });

  it('takes the mirror of the machine\'s bookworm entry and keeps its updates and security suites', () => {
    const found = debianSources([...parseDeb822(deb822), { uris: ['http://ports.example/ubuntu'], suites: ['noble'], components: ['main'] }]);
    expect(found?.mirror).toBe('http://mirror.example.net/debian');
    expect(found?.list).toBe(
      'Types: deb\nURIs: http://mirror.example.net/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n' +
        'Types: deb\nURIs: http://mirror.example.net/debian-security\nSuites: bookworm-security\nComponents: main contrib\n',
    );
  });

  it('finds nothing on a machine without bookworm', () => {
    expect(debianSources([{ uris: ['http://archive.ubuntu.com/ubuntu'], suites: ['noble'], components: ['main'] }])).toBeUndefined();
  });
});

describe('cache keys', () => {
  const postgres = DEBIAN_IMAGES.find((r) => r.name === 'postgres')!;
  const files = new Map([['postgres-entrypoint.sh', '#!/bin/sh\nexec postgres\n']]);

  it('are stable, and change with the recipe, the placed files and the base rootfs', () => {
    const key = debianKey(postgres, files, 'base1');
    expect(key).toMatch(/^[0-9a-f]{12}$/);
    expect(debianKey(postgres, new Map(files), 'base1')).toBe(key);
    expect(debianKey(postgres, new Map([['postgres-entrypoint.sh', '#!/bin/sh\nexec postgres -d 1\n']]), 'base1')).not.toBe(key);
    expect(debianKey(postgres, files, 'base2')).not.toBe(key);
    expect(debianKey({ ...postgres, packages: ['postgresql-15', 'postgresql-contrib'] }, files, 'base1')).not.toBe(key);
    expect(debianKey({ ...postgres, versions: { 'postgresql-15': /^16\./ } }, files, 'base1')).not.toBe(key);
  });

  it('separate their parts', () => {
    expect(digest('ab', 'c')).not.toBe(digest('a', 'bc'));
    expect(digest('a', Buffer.from('b'))).toBe(digest('a', 'b'));
  });
});

describe('the service images', () => {
  it('run as uid 999 with numeric users, like the official images the catalog names', () => {
    for (const r of DEBIAN_IMAGES) {
      expect(r.config.user, r.name).toBe('999:999');
      expect(r.before, r.name).toContain('--uid 999');
    }
  });
});

describe('parseImageList', () => {
  it('maps each reference of `ctr images ls` to its labels', () => {
    const text = `REF                        TYPE                                                 DIGEST                                                                  SIZE      PLATFORMS   LABELS
grove.local/pause:3.10.2   application/vnd.docker.distribution.manifest.v2+json sha256:0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d 327.3 KiB linux/amd64 dev.grove.archive=pause-0123456789ab,io.cri-containerd.pinned=pinned
grove.local/redis:7.0      application/vnd.docker.distribution.manifest.v2+json sha256:1b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d 30.1 MiB  linux/amd64 -
`;
    expect(parseImageList(text)).toEqual(
      new Map([
        ['grove.local/pause:3.10.2', ['dev.grove.archive=pause-0123456789ab', 'io.cri-containerd.pinned=pinned']],
        ['grove.local/redis:7.0', []],
      ]),
    );
  });
});
