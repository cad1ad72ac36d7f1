import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.ts';

describe('parseQuantity', () => {
  it.each([
    ['250m', 0.25],
    ['2', 2],
    [4, 4],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['128Mi', 128 * 2 ** 20],
    ['1G', 1e9],
    ['2e3', 2000],
    ['.5', 0.5],
  ])('reads %s', (text, expected) => expect(parseQuantity(text)).toBeCloseTo(expected));

  it.each(['', 'Gi', '1gi', '1 Gi', '--1'])('refuses %j', (text) => expect(() => parseQuantity(text)).toThrow(/not a Kubernetes quantity/));
});
