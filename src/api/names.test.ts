import { describe, expect, it } from 'vitest';
import { environmentName, environmentNamespace, MAX_ENVIRONMENT_NAME, slugify } from './names.ts';

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

describe('environmentName', () => {
  it('is <project>-<branch> for a branch name that is already a DNS label', () => {
    expect(environmentName('shop', 'main')).toBe('shop-main');
    expect(environmentName('shop', 'release-2026')).toBe('shop-release-2026');
  });

  it('slugs and hashes names that lose characters', () => {
    expect(environmentName('shop', 'feature/login')).toMatch(/^shop-feature-login-[0-9a-f]{8}$/);
    expect(environmentName('shop', 'Feature/Über_Login')).toMatch(/^shop-feature-uber-login-[0-9a-f]{8}$/);
  });

  it('never collides for branches with the same slug', () => {
    const names = ['feature/login', 'feature-login', 'Feature-Login', 'feature//login', 'feature_login'].map((b) => environmentName('shop', b));
    expect(new Set(names).size).toBe(names.length);
  });

  it('differs between projects for the same branch', () => {
    expect(environmentName('shop', 'main')).not.toBe(environmentName('blog', 'main'));
    expect(environmentName('shop', 'feature/x')).not.toBe(environmentName('blog', 'feature/x'));
  });

  it('is stable: the same branch always gets the same name', () => {
    expect(environmentName('shop', 'agent/coder-7/fix-42')).toBe(environmentName('shop', 'agent/coder-7/fix-42'));
  });

  it.each([
    'a'.repeat(300),
    'agent/coder-7/' + 'very-long-task-description-'.repeat(10),
    '日本語のブランチ',
    '🌳',
    '123-starts-with-digit',
    '-x-',
    'release/2026.11.22',
    'x'.repeat(MAX_ENVIRONMENT_NAME),
  ])('makes a valid DNS label of at most %#40 characters from %j', (branch) => {
    const name = environmentName('a-rather-long-project-name', branch);
    expect(name).toMatch(DNS_LABEL);
    expect(name.length).toBeLessThanOrEqual(MAX_ENVIRONMENT_NAME);
  });

  it('tells apart long branches that share a prefix', () => {
    const long = 'feature/' + 'x'.repeat(100);
    expect(environmentName('shop', `${long}-a`)).not.toBe(environmentName('shop', `${long}-b`));
  });
});

describe('environmentNamespace', () => {
  it('is the Environment name for Environments made from branches', () => {
    expect(environmentNamespace('shop', environmentName('shop', 'main'))).toBe('shop-main');
  });

  it('prefixes the project to other names', () => {
    expect(environmentNamespace('shop', 'hotfix-copy')).toBe('shop-hotfix-copy');
  });

  it('stays a 63-character DNS label for long project and environment names', () => {
    const ns = environmentNamespace('a-very-long-project-name-for-the-shop', 'y'.repeat(60));
    expect(ns).toMatch(DNS_LABEL);
    expect(ns.length).toBeLessThanOrEqual(63);
  });
});

describe('slugify', () => {
  it('folds diacritics and case, collapsing other characters to single dashes', () => {
    expect(slugify('Ça/va//très_bien!')).toBe('ca-va-tres-bien');
  });
});
