// Curves from per-sample minimal adversarial distances: robust accuracy at ε is the share of
// samples with d_i > ε (d_i = 0 for clean errors, Infinity when never beaten), with a Wilson
// 95 % interval. Monotone in ε by construction.
import { wilson, type Interval } from "../stats.js";

export interface CurvePoint {
  budget: number;
  /** Samples still classified correctly under every attack in scope at this budget. */
  robust: number;
  n: number;
  accuracy: number;
  interval: Interval;
}

/**
 * Distances are stored as float32; a budget is compared in the same precision, so a sample
 * recorded as beaten at exactly ε (stored as fround(ε), which may exceed ε in float64) counts as
 * beaten at ε.
 */
export function beatenAt(distance: number, budget: number): boolean {
  return distance <= Math.fround(budget);
}

export function robustCount(distances: ArrayLike<number>, budget: number): number {
  let robust = 0;
  for (let i = 0; i < distances.length; i++) if (!beatenAt(distances[i]!, budget)) robust++;
  return robust;
}

export function curvePoint(distances: ArrayLike<number>, budget: number): CurvePoint {
  const n = distances.length;
  const robust = robustCount(distances, budget);
  return { budget, robust, n, accuracy: n ? robust / n : 0, interval: wilson(robust, n) };
}

export function curveOf(distances: ArrayLike<number>, budgets: readonly number[]): CurvePoint[] {
  return budgets.map((b) => curvePoint(distances, b));
}
