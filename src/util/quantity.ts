/**
 * Kubernetes resource quantities (`250m`, `1.5Gi`, `2e3`) as numbers of base units (cores,
 * bytes), for comparing what a manifest asks for with a quota. Precision beyond a double's is
 * irrelevant at the sizes environments have.
 */
const SUFFIXES: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** The quantity in base units; throws on text that is not a quantity. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = QUANTITY.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a Kubernetes quantity (e.g. 250m, 1Gi)`);
  const [, number, exponent, suffix] = match;
  return Number(number) * (exponent ? 10 ** Number(exponent.slice(1)) : (SUFFIXES[suffix ?? ''] as number));
}
