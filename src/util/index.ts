export { globToRegExp, matchesAny } from './glob.ts';
export { compactTime, formatAge, formatDuration, microTime } from './time.ts';
export { parseQuantity } from './quantity.ts';
export { nextRun, parseCron, previousRun } from './cron.ts';
export { type Address, type AddressRange, inRange, parseAddress, parseRange } from './ranges.ts';
