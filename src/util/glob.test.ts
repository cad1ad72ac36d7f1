import { describe, expect, it } from 'vitest';
import { globToRegExp } from './glob.ts';

describe('branch globs', () => {
  it.each([
    ['feature/*', 'feature/login', true],
    ['feature/*', 'feature/a/b', false],
    ['agent/**', 'agent/coder/fix', true],
    ['agent/**', 'agent/x', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['release-?', 'release-1', true],
    ['release-?', 'release-10', false],
    ['dependabot/*', 'dependabot', false],
    ['v1.2', 'v1x2', false],
    ['*', 'main', true],
    ['*', 'feature/x', false],
  ])('%s matches %s: %s', (glob, branch, expected) => {
    expect(globToRegExp(glob).test(branch)).toBe(expected);
  });
});
