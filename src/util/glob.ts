/**
 * Branch globs: `*` matches within one path segment, `**` across segments, `?` one character.
 * `feature/*` matches `feature/login` but not `feature/a/b`; `agent/**` matches both.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*' && glob[i + 1] === '*') {
      // `**/` also matches no segment at all: `a/**/b` matches `a/b`.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function matchesAny(text: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(text));
}
