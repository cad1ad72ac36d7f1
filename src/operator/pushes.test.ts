import { describe, expect, it } from 'vitest';
import { PushLog } from './pushes.ts';

const push = (branch: string, revision: string, pusher = 'ada') => ({ branch, revision, pusher });

describe('PushLog', () => {
  it('keeps the latest push of each branch, per Project', () => {
    const log = new PushLog();
    log.record('team-a', 'shop', push('main', 'a1'));
    log.record('team-a', 'shop', push('feature', 'b1', 'agent-7'));
    log.record('team-a', 'shop', push('main', 'a2', 'grace'));
    log.record('team-b', 'shop', push('main', 'c1'));
    expect([...log.of('team-a', 'shop')]).toEqual([
      ['feature', push('feature', 'b1', 'agent-7')],
      ['main', push('main', 'a2', 'grace')],
    ]);
    expect([...log.of('team-b', 'shop').keys()]).toEqual(['main']);
    expect(log.of('team-a', 'other').size).toBe(0);
  });

  it('forgets the branch pushed longest ago past 1,000 branches', () => {
    const log = new PushLog();
    for (let i = 0; i < 1000; i++) log.record('team-a', 'shop', push(`b${i}`, `r${i}`));
    // Pushed again, b0 is the newest; b1 is now the oldest.
    log.record('team-a', 'shop', push('b0', 'again'));
    log.record('team-a', 'shop', push('b1000', 'r1000'));
    const branches = log.of('team-a', 'shop');
    expect(branches.size).toBe(1000);
    expect(branches.has('b1')).toBe(false);
    expect(branches.get('b0')?.revision).toBe('again');
    expect(branches.has('b1000')).toBe(true);
  });
});
