/**
 * Which files of a build context a `.dockerignore` lets into the build, decided the way buildah
 * (containers/storage's pattern matcher, a fork of Moby's) decides it, so a digest of the files
 * let in changes exactly when what the build can see changes. Pure.
 *
 * Semantics: one pattern a line, `#` lines are comments, `!` re-includes; a pattern is cleaned
 * like a path and matches a file or any directory above it; `*` and `?` stop at `/`, `**`
 * matches any number of directories; the last pattern that matches decides.
 *
 * @module
 */
import { posix } from 'node:path';

interface Pattern {
  re: RegExp;
  /** A `!` pattern: a match lets the file in again. */
  exception: boolean;
}

export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const exception = pattern.startsWith('!');
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern === '') continue;
    pattern = clean(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    patterns.push({ re: patternRegExp(pattern), exception });
  }
  return patterns;
}

/** Go's `filepath.Clean` for slash paths: no `.`, no `..` that can be resolved, no trailing `/`. */
function clean(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

/** The regular expression Moby's pattern matcher compiles a pattern to. */
function patternRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` is `**`.
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if ('.+()|{}$'.includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      // Escapes the next character; a trailing backslash stands for itself.
      re += i + 1 < pattern.length ? `\\${pattern[++i] as string}` : '\\\\';
    } else {
      re += ch;
    }
  }
  return new RegExp(`${re}$`);
}

/**
 * Whether the context file at `path` (relative, `/`-separated) is left out of the build.
 * A pattern that names a directory leaves out everything below it, and a `!` pattern that names
 * a directory brings everything below it back.
 */
export function isIgnored(patterns: readonly Pattern[], path: string): boolean {
  const parts = path.split('/');
  const ancestors = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    // An exception only matters once the file is left out, and another exclusion only before.
    if (p.exception !== ignored) continue;
    if (p.re.test(path) || ancestors.some((a) => p.re.test(a))) ignored = !p.exception;
  }
  return ignored;
}
