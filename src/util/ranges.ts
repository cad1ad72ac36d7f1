/**
 * IPv4 and IPv6 addresses and ranges as numbers, so "is this address in that range" is one
 * comparison. An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is the IPv4 address: a
 * check must not be passed by spelling an address differently.
 *
 * @module
 */

export interface Address {
  v6: boolean;
  value: bigint;
}

export interface AddressRange {
  /** As written: `198.18.0.0/15`, `::1/128`. */
  text: string;
  v6: boolean;
  first: bigint;
  last: bigint;
}

/** A literal IPv4 or IPv6 address, or undefined when `text` is not one. */
export function parseAddress(text: string): Address | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { v6: false, value: v4 };
  const v6 = parseV6(text);
  if (v6 === undefined) return undefined;
  // ::ffff:a.b.c.d is IPv4 a.b.c.d.
  if (v6 >> 32n === 0xffffn) return { v6: false, value: v6 & 0xffffffffn };
  return { v6: true, value: v6 };
}

/** `address/prefix`, or a bare address (a range of one); undefined when it is neither. */
export function parseRange(text: string): AddressRange | undefined {
  const [addressText = '', prefixText, extra] = text.split('/');
  const address = parseAddress(addressText);
  if (!address || extra !== undefined) return undefined;
  const bits = address.v6 ? 128 : 32;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  const first = address.value & ~host;
  return { text, v6: address.v6, first, last: first | host };
}

export function inRange(range: AddressRange, address: Address): boolean {
  return range.v6 === address.v6 && address.value >= range.first && address.value <= range.last;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      const v4 = i === parts.length - 1 && part.includes('.') ? parseV4(part) : undefined;
      if (v4 !== undefined) out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail].reduce((n, g) => (n << 16n) | BigInt(g), 0n);
}
