import { describe, expect, it } from 'vitest';
import { advance, budgetState, periodStart, ratesOf, total, type Usage } from './budget.ts';

const GIB = 1024 ** 3;
const T0 = Date.parse('2026-12-02T10:00:00Z'); // a Wednesday
const H = 3_600_000;
const awake = ratesOf({ cpu: 0.5, memory: 2 * GIB, storage: 10 * GIB, pods: 3 }, true);
const asleep = { ...awake, awake: false };

describe('periodStart', () => {
  it('starts days at midnight UTC and weeks on Monday', () => {
    expect(new Date(periodStart(T0, 'day')).toISOString()).toBe('2026-12-02T00:00:00.000Z');
    expect(new Date(periodStart(T0, 'week')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(new Date(periodStart(Date.parse('2026-11-30T00:00:00Z'), 'week')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(new Date(periodStart(Date.parse('2026-12-06T23:59:59Z'), 'week')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
  });
});

describe('advance', () => {
  it('counts requests while awake and volumes always, at the rates in force since the last count', () => {
    let u = advance(undefined, awake, T0, 'day');
    u = advance(u, asleep, T0 + 2 * H, 'day'); // two hours awake, then it sleeps
    u = advance(u, asleep, T0 + 5 * H, 'day'); // three hours asleep
    expect(u.cpuHours).toBeCloseTo(1); // 0.5 cores × 2 h
    expect(u.memoryGiBHours).toBeCloseTo(4); // 2 GiB × 2 h
    expect(u.storageGiBDays).toBeCloseTo((10 * 5) / 24); // 10 GiB × 5 h
  });

  it('adds nothing when advanced twice to the same moment, as after a restart', () => {
    const u = advance(advance(undefined, awake, T0, 'day'), awake, T0 + H, 'day');
    expect(advance(u, awake, T0 + H, 'day')).toEqual(u);
  });

  it('adds nothing while the clock is behind the record, and counts that time once it passes again', () => {
    const u = advance(advance(undefined, awake, T0, 'day'), awake, T0 + 2 * H, 'day');
    const back = advance(u, awake, T0 + H, 'day');
    expect(back).toMatchObject({ cpuHours: u.cpuHours, countedUntil: u.countedUntil });
    expect(advance(back, awake, T0 + 3 * H, 'day').cpuHours).toBeCloseTo(1.5);
  });

  it('starts the next period at its boundary: the hours before midnight are the old day\'s', () => {
    const evening = Date.parse('2026-12-02T22:00:00Z');
    const u = advance(advance(undefined, awake, evening, 'day'), awake, evening + 4 * H, 'day');
    expect(u.periodStart).toBe('2026-12-03T00:00:00.000Z');
    expect(u.cpuHours).toBeCloseTo(1); // 0.5 cores × the 2 h after midnight
  });
});

describe('total and budgetState', () => {
  it('sums the records of the current period only, and says what is spent', () => {
    const today = advance(advance(undefined, awake, T0, 'day'), awake, T0 + 4 * H, 'day');
    const stale: Usage = { ...today, periodStart: '2026-12-01T00:00:00.000Z', cpuHours: 100 };
    const sum = total([today, today, stale], T0 + 4 * H, 'day');
    expect(sum.cpuHours).toBeCloseTo(4);
    expect(budgetState({ cpuHours: 5 }, sum)).toEqual({ used: expect.closeTo(0.8, 5), exhausted: [], warning: true });
    expect(budgetState({ cpuHours: 4, memoryGiBHours: 100 }, sum)).toMatchObject({ exhausted: ['cpuHours'], warning: true });
    expect(budgetState({}, sum)).toEqual({ used: 0, exhausted: [], warning: false });
    expect(budgetState({ storageGiBDays: 0 }, sum).exhausted).toEqual(['storageGiBDays']);
  });
});
