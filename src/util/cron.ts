/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week, in UTC), as Kubernetes
 * CronJobs read them: `*`, values, ranges, steps, lists, month and weekday names, the @macros,
 * and the rule that a restricted day-of-month and day-of-week match when either does. Pure.
 *
 * @module
 */

export interface Cron {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Whether day-of-month and day-of-week were both restricted (then either may match). */
  eitherDay: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, offset: 1 },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS, offset: 0 },
] as const;

export type CronResult = { ok: true; cron: Cron } | { ok: false; error: string };

export function parseCron(expression: string): CronResult {
  const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return { ok: false, error: `expected five fields (minute hour day-of-month month day-of-week), got ${parts.length}` };
  const sets: Array<Set<number>> = [];
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i]!;
    const set = new Set<number>();
    for (const item of part.split(',')) {
      const m = /^(\*|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(\d+))?$/i.exec(item);
      const value = (s: string): number | undefined => {
        const named = 'names' in field ? (field.names as readonly string[]).indexOf(s.toLowerCase()) : -1;
        if (named >= 0 && 'offset' in field) return named + field.offset;
        return /^\d+$/.test(s) ? Number(s) : undefined;
      };
      if (!m) return { ok: false, error: `${field.name} "${item}" is not a value, range, list or step` };
      const step = m[4] === undefined ? 1 : Number(m[4]);
      let lo: number = field.min;
      let hi: number = field.max;
      if (m[1] !== '*') {
        const a = value(m[2]!);
        const b = m[3] === undefined ? (m[4] === undefined ? a : field.max) : value(m[3]);
        if (a === undefined || b === undefined) return { ok: false, error: `${field.name} "${item}" is not a number${'names' in field ? ' or a name' : ''}` };
        [lo, hi] = [a, b];
      }
      if (lo < field.min || hi > field.max || lo > hi || step < 1) return { ok: false, error: `${field.name} "${item}" is outside ${field.min}-${field.max}` };
      for (let v = lo; v <= hi; v += step) set.add(i === 4 && v === 7 ? 0 : v);
    }
    sets.push(set);
  }
  const [minutes, hours, days, months, weekdays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { ok: true, cron: { minutes, hours, days, months, weekdays, eitherDay: parts[2] !== '*' && parts[4] !== '*' } };
}

const MINUTE = 60_000;

function matches(cron: Cron, t: Date): boolean {
  if (!cron.minutes.has(t.getUTCMinutes()) || !cron.hours.has(t.getUTCHours()) || !cron.months.has(t.getUTCMonth() + 1)) return false;
  const dom = cron.days.has(t.getUTCDate());
  const dow = cron.weekdays.has(t.getUTCDay());
  return cron.eitherDay ? dom || dow : dom && dow;
}

function dayMatches(cron: Cron, t: Date): boolean {
  if (!cron.months.has(t.getUTCMonth() + 1)) return false;
  const dom = cron.days.has(t.getUTCDate());
  const dow = cron.weekdays.has(t.getUTCDay());
  return cron.eitherDay ? dom || dow : dom && dow;
}

/** The latest scheduled minute at or before `at` (ms), within five years; undefined if none. */
export function previousRun(cron: Cron, at: number): number | undefined {
  let t = Math.floor(at / MINUTE) * MINUTE;
  const limit = at - 5 * 366 * 24 * 60 * MINUTE;
  while (t >= limit) {
    const d = new Date(t);
    if (!dayMatches(cron, d)) {
      // Jump to the last minute of the previous day.
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - MINUTE;
      continue;
    }
    if (matches(cron, d)) return t;
    t -= MINUTE;
  }
  return undefined;
}

/** The first scheduled minute strictly after `at` (ms), within five years; undefined if none. */
export function nextRun(cron: Cron, at: number): number | undefined {
  let t = (Math.floor(at / MINUTE) + 1) * MINUTE;
  const limit = at + 5 * 366 * 24 * 60 * MINUTE;
  while (t <= limit) {
    const d = new Date(t);
    if (!dayMatches(cron, d)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      continue;
    }
    if (matches(cron, d)) return t;
    t += MINUTE;
  }
  return undefined;
}
