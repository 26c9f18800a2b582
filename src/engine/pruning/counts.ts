// How many weights a selection keeps: pure arithmetic, no TensorFlow (the API checks a refresh
// grid's feasibility with it before any model is loaded, see feasibility.ts).

/** How many of n weights survive compression rate c: round(n / c), halves rounded up (Math.round). */
export function keepCount(n: number, rate: number): number {
  return Math.round(n / rate);
}

/**
 * How many weights each layer keeps under layer-wise pruning: every layer keeps floor(n_l / c) or
 * ceil(n_l / c) — the same fraction up to one weight — and the total is exactly round(total / c).
 * The extra weights go to the layers with the largest remainders (largest-remainder apportionment),
 * ties to the earlier layer.
 */
export function layerKeepCounts(sizes: number[], rate: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const quotas = sizes.map((n) => n / rate);
  const counts = quotas.map((q) => Math.floor(q));
  let missing = keepCount(total, rate) - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, i) => ({ i, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (missing <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    missing--;
  }
  return counts;
}
