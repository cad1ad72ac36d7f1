/**
 * Budget accounting: what an Environment consumes of a period's budget — CPU-hours and GiB-hours
 * of memory requested by its workloads while it is awake, GiB-days of its volumes whether it is
 * awake or not — kept as a running record (`Usage`) that each look at the Environment advances
 * from the last time it was accounted to now. Pure, with the time passed in.
 *
 * The record carries the rates in force since it was last advanced, so a change of the manifest
 * or of sleep counts from the moment it was seen, never backwards; and the time it was advanced
 * to, so advancing twice to the same moment (a restart, a second replica) adds nothing. A clock
 * that goes back adds nothing either: that time is counted once the clock passes the record again.
 *
 * @module
 */
import type { Requests } from './index.ts';

export type BudgetPeriod = 'day' | 'week';

/** What an Environment requests now: cores and GiB of its workloads, GiB of its volumes. */
export interface Rates {
  cpuCores: number;
  memoryGiB: number;
  storageGiB: number;
  /** Asleep, only the volumes count. */
  awake: boolean;
}

export interface Consumption {
  cpuHours: number;
  memoryGiBHours: number;
  storageGiBDays: number;
}

export interface Usage extends Consumption {
  /** The start of the period this record counts (RFC 3339, UTC). */
  periodStart: string;
  /** Up to when it has counted (RFC 3339). */
  countedUntil: string;
  /** The rates in force since then. */
  rates: Rates;
}

const GIB = 1024 ** 3;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The rates of a manifest's steady state (`manifestRequests`), awake or asleep. */
export function ratesOf(requests: Requests, awake: boolean): Rates {
  return { cpuCores: requests.cpu, memoryGiB: requests.memory / GIB, storageGiB: requests.storage / GIB, awake };
}

/** The start of the period holding `now`: midnight UTC, or Monday's for a week. */
export function periodStart(now: number, period: BudgetPeriod): number {
  const day = Math.floor(now / DAY_MS) * DAY_MS;
  if (period === 'day') return day;
  // 1970-01-01 was a Thursday: Monday is three days before it.
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  return day - weekday * DAY_MS;
}

/** What `rates` consume over `ms`. */
function consumed(rates: Rates, ms: number): Consumption {
  const hours = ms / HOUR_MS;
  return { cpuHours: rates.awake ? rates.cpuCores * hours : 0, memoryGiBHours: rates.awake ? rates.memoryGiB * hours : 0, storageGiBDays: (rates.storageGiB * ms) / DAY_MS };
}

function plus(a: Consumption, b: Consumption): Consumption {
  return { cpuHours: a.cpuHours + b.cpuHours, memoryGiBHours: a.memoryGiBHours + b.memoryGiBHours, storageGiBDays: a.storageGiBDays + b.storageGiBDays };
}

export const NOTHING: Consumption = { cpuHours: 0, memoryGiBHours: 0, storageGiBDays: 0 };

/**
 * The record advanced to `now` at the rates it carries, then carrying `rates`. When a period
 * boundary lies between, only the part of the interval after it counts for the new period.
 */
export function advance(previous: Usage | undefined, rates: Rates, now: number, period: BudgetPeriod): Usage {
  const start = periodStart(now, period);
  if (!previous) return { ...NOTHING, periodStart: iso(start), countedUntil: iso(now), rates };
  const until = Date.parse(previous.countedUntil);
  // The clock went back: nothing is counted until it passes the record again.
  if (!(now > until)) return { ...previous, rates };
  if (Date.parse(previous.periodStart) < start) {
    const inPeriod = consumed(previous.rates, now - Math.max(until, start));
    return { ...inPeriod, periodStart: iso(start), countedUntil: iso(now), rates };
  }
  return { ...plus(previous, consumed(previous.rates, now - until)), periodStart: previous.periodStart, countedUntil: iso(now), rates };
}

/** The sum of records of the period holding `now`; records of an earlier period count nothing. */
export function total(records: readonly Usage[], now: number, period: BudgetPeriod): Consumption {
  const start = iso(periodStart(now, period));
  return records.filter((u) => u.periodStart === start).reduce<Consumption>((sum, u) => plus(sum, u), NOTHING);
}

export interface BudgetLimits {
  cpuHours?: number;
  memoryGiBHours?: number;
  storageGiBDays?: number;
}

export interface BudgetState {
  /** The largest share of any limit consumed (0 without limits); above 1 when exceeded. */
  used: number;
  /** The dimensions whose limit is reached. */
  exhausted: Array<keyof Consumption>;
  warning: boolean;
}

/** How much of the budget `consumption` is, and whether it is spent or past its warning share. */
export function budgetState(limits: BudgetLimits, consumption: Consumption, warnAt = 0.8): BudgetState {
  const dims = (['cpuHours', 'memoryGiBHours', 'storageGiBDays'] as const).filter((d) => limits[d] !== undefined);
  const share = (d: keyof Consumption): number => (limits[d] === 0 ? Number.POSITIVE_INFINITY : consumption[d] / (limits[d] as number));
  const used = dims.reduce((max, d) => Math.max(max, share(d)), 0);
  return { used, exhausted: dims.filter((d) => share(d) >= 1), warning: used >= warnAt };
}

const iso = (t: number): string => new Date(t).toISOString();
