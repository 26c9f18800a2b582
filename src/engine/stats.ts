// Small statistics shared by the engine and the advisor. No TensorFlow here: plain numbers only.

export interface Interval {
  low: number;
  high: number;
}

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval for a binomial proportion (successes out of n), 95 % by default.
 * Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n.
 */
export function wilson(successes: number, n: number, z = Z95): Interval {
  if (!(Number.isInteger(successes) && Number.isInteger(n) && n >= 0 && successes >= 0 && successes <= n)) {
    throw new RangeError(`wilson(${successes}, ${n}): need integers 0 <= successes <= n`);
  }
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 and n the bounds are exactly 0 and 1; computing them would leave round-off.
  return { low: successes === 0 ? 0 : centre - half, high: successes === n ? 1 : centre + half };
}
