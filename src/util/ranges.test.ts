import { describe, expect, it } from 'vitest';
import { parseAddress, parseRange } from './ranges.ts';

describe('addresses and ranges', () => {
  it('reads IPv4, IPv6 and IPv4 written as IPv6 as the same numbers', () => {
    expect(parseAddress('127.0.0.1')).toEqual({ v6: false, value: 0x7f000001n });
    expect(parseAddress('::ffff:127.0.0.1')).toEqual(parseAddress('127.0.0.1'));
    expect(parseAddress('::ffff:7f00:1')).toEqual(parseAddress('127.0.0.1'));
    expect(parseAddress('::1')).toEqual({ v6: true, value: 1n });
    expect(parseAddress('fe80::1:2')).toEqual({ v6: true, value: (0xfe80n << 112n) | 0x10002n });
    for (const bad of ['127.1', '256.0.0.1', '01.2.3.4', '1:2:3:4:5:6:7:8:9', 'a::b::c', 'example.com', '']) expect(parseAddress(bad), bad).toBeUndefined();
  });

  it('reads ranges and refuses what is not one', () => {
    expect(parseRange('198.18.0.0/15')).toMatchObject({ first: parseAddress('198.18.0.0')!.value, last: parseAddress('198.19.255.255')!.value });
    expect(parseRange('10.1.2.3/8')).toMatchObject({ first: parseAddress('10.0.0.0')!.value });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/x', '10.0.0.0/8/8']) expect(parseRange(bad), bad).toBeUndefined();
  });
});
