import { describe, expect, it } from 'vitest';
import { type Cron, nextRun, parseCron, previousRun } from './cron.ts';

function cron(expr: string): Cron {
  const r = parseCron(expr);
  if (!r.ok) throw new Error(r.error);
  return r.cron;
}
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);

describe('parseCron', () => {
  it.each([
    ['99 * * * *', 'minute "99" is outside 0-59'],
    ['* * * *', 'expected five fields (minute hour day-of-month month day-of-week), got 4'],
    ['* 5-2 * * *', 'hour "5-2" is outside 0-23'],
    ['* * * foo *', 'month "foo" is not a number or a name'],
    ['*/0 * * * *', 'minute "*/0" is outside 0-59'],
    ['1,,2 * * * *', 'minute "" is not a value, range, list or step'],
  ])('rejects %s: %s', (expr, error) => {
    expect(parseCron(expr)).toEqual({ ok: false, error });
  });

  it('reads values, ranges, steps, lists, names and 7 as Sunday', () => {
    const c = cron('*/20 1-3,22 * jan-mar mon,7');
    expect([...c.minutes]).toEqual([0, 20, 40]);
    expect([...c.hours]).toEqual([1, 2, 3, 22]);
    expect([...c.months]).toEqual([1, 2, 3]);
    expect([...c.weekdays].sort()).toEqual([0, 1]);
    expect([...cron('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
  });
});

describe('nextRun and previousRun', () => {
  const cases: Array<[string, string, string, string]> = [
    // expression, at, previous at-or-before, next strictly-after
    ['0 3 * * *', '2026-11-22T03:00:00Z', '2026-11-22T03:00:00.000Z', '2026-11-23T03:00:00.000Z'],
    ['0 3 * * *', '2026-11-22T02:59:59Z', '2026-11-21T03:00:00.000Z', '2026-11-22T03:00:00.000Z'],
    ['@hourly', '2026-11-22T10:30:00Z', '2026-11-22T10:00:00.000Z', '2026-11-22T11:00:00.000Z'],
    ['*/15 * * * *', '2026-11-22T10:31:10Z', '2026-11-22T10:30:00.000Z', '2026-11-22T10:45:00.000Z'],
    ['0 0 1 * *', '2026-12-15T00:00:00Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 29 2 *', '2026-03-01T00:00:00Z', '2024-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    // Both day fields restricted: the 13th or any Friday.
    ['0 12 13 * fri', '2026-11-14T00:00:00Z', '2026-11-13T12:00:00.000Z', '2026-11-20T12:00:00.000Z'],
  ];
  it.each(cases)('%s at %s', (expr, now, previous, next) => {
    expect(iso(previousRun(cron(expr), at(now)))).toBe(previous);
    expect(iso(nextRun(cron(expr), at(now)))).toBe(next);
  });

  it('finds nothing for a date that never comes', () => {
    expect(nextRun(cron('0 0 31 2 *'), at('2026-01-01T00:00:00Z'))).toBeUndefined();
  });
});
