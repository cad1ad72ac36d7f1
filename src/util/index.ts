export { globToRegExp, matchesAny } from './glob.ts';
export { formatDuration, microTime } from './time.ts';
