// The q-quantile of a sample (nearest rank, no interpolation), as the benchmarks report p50/p99; 0 for an empty sample.
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0;
}
