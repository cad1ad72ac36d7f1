import { describe, expect, it } from 'vitest';
import { removeCondition, setCondition } from './conditions.ts';

describe('setCondition', () => {
  it('adds a condition with the transition time and generation', () => {
    expect(setCondition([], { type: 'Ready', status: 'False', reason: 'GitUnavailable', message: 'down' }, 't1', 3)).toEqual([
      { type: 'Ready', status: 'False', reason: 'GitUnavailable', message: 'down', lastTransitionTime: 't1', observedGeneration: 3 },
    ]);
  });

  it('keeps the transition time while the status stays, and moves it when the status changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 't1');
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 't2');
    expect(same[0]).toMatchObject({ reason: 'B', lastTransitionTime: 't1' });
    const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'Synced', message: 'ok' }, 't3');
    expect(flipped[0]).toMatchObject({ status: 'True', lastTransitionTime: 't3' });
    expect(flipped).toHaveLength(1);
  });

  it('bounds the message', () => {
    const [c] = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'x'.repeat(40_000) }, 't');
    expect(c!.message.length).toBeLessThanOrEqual(32_000);
  });

  it('removes a condition type', () => {
    const list = setCondition([], { type: 'Stalled', status: 'True', reason: 'A', message: 'a' }, 't');
    expect(removeCondition(list, 'Stalled')).toEqual([]);
  });
});
