export { globToRegExp, matchesAny } from './glob.ts';
export { formatDuration } from './time.ts';
