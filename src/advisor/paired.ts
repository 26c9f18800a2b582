// Significance of a difference in robust accuracy between two candidates at the budget.
// - Same test images (paired by sample index): McNemar's EXACT test — two-sided binomial test
//   (p = 1/2) on the discordant pairs; p = min(1, 2·P(X <= min(b, c))), X ~ Bin(b + c, 1/2).
// - Different test images: Fisher's exact test on the 2×2 table (robust / not, per candidate),
//   two-sided (sum of the tables no more likely than the observed one). It treats the two sample
//   sets as independent, which overlapping sets are not; the output says "unpaired".
import type { CandidateRef, Comparison } from "./types.js";
import { fmtP, fmtPct } from "./format.js";
import { isRobustAt } from "../vocabulary.js";

/** Significance level of every test of the advisor. */
export const ALPHA = 0.05;

/** ln(k!) for k = 0..n. */
export function logFactorials(n: number): Float64Array {
  const t = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) t[k] = t[k - 1]! + Math.log(k);
  return t;
}

/** One table of ln(k!) for every test, grown (doubled) on demand: a question runs several tests. */
let sharedLogFactorials = logFactorials(1024);

/** ln(k!) for k = 0..at least n: the shared table, the same numbers as logFactorials(n). Read-only. */
function logFactorialsUpTo(n: number): Float64Array {
  if (sharedLogFactorials.length <= n) sharedLogFactorials = logFactorials(Math.max(n, 2 * (sharedLogFactorials.length - 1)));
  return sharedLogFactorials;
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} = ${v}: need a non-negative integer`);
}

/** Exact two-sided McNemar p-value from the discordant counts b and c. b = c = 0 gives 1. */
export function mcnemarExact(b: number, c: number): number {
  checkCount("b", b);
  checkCount("c", c);
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  const lf = logFactorialsUpTo(n);
  const ln2n = n * Math.LN2;
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(lf[n]! - lf[i]! - lf[n - i]! - ln2n);
  return Math.min(1, 2 * tail);
}

/** Two-sided Fisher exact p-value for robust counts r1 of n1 and r2 of n2. */
export function fisherExact(r1: number, n1: number, r2: number, n2: number): number {
  for (const [name, v] of [["r1", r1], ["n1", n1], ["r2", r2], ["n2", n2]] as const) checkCount(name, v);
  if (r1 > n1 || r2 > n2) throw new RangeError(`fisherExact: counts exceed totals (${r1}/${n1}, ${r2}/${n2})`);
  const total = n1 + n2;
  const col = r1 + r2;
  const lf = logFactorialsUpTo(total);
  const lchoose = (n: number, k: number): number => lf[n]! - lf[k]! - lf[n - k]!;
  const denom = lchoose(total, col);
  const prob = (x: number): number => Math.exp(lchoose(n1, x) + lchoose(n2, col - x) - denom);
  const observed = prob(r1);
  let p = 0;
  for (let x = Math.max(0, col - n2); x <= Math.min(n1, col); x++) {
    const px = prob(x);
    if (px <= observed * (1 + 1e-7)) p += px;
  }
  return Math.min(1, p);
}

/**
 * Position in `b` of each sample of `a` when both cover exactly the same test images (in any
 * order); null otherwise (different sets, or duplicated indices that do not line up).
 */
export function alignSamples(a: readonly number[], b: readonly number[]): Int32Array | null {
  if (a.length !== b.length) return null;
  // The usual case (rows of one grid share their samples, in one order): no lookup table.
  let same = a === b;
  if (!same) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    same = i === a.length;
  }
  if (same) {
    const identity = new Int32Array(a.length);
    for (let i = 0; i < a.length; i++) identity[i] = i;
    return identity;
  }
  const pos = new Map<number, number>();
  b.forEach((idx, i) => pos.set(idx, i));
  const out = new Int32Array(a.length);
  if (pos.size !== b.length) {
    // Duplicated indices: pair positionally, and only if the lists are identical.
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return null;
      out[i] = i;
    }
    return out;
  }
  for (let i = 0; i < a.length; i++) {
    const j = pos.get(a[i]!);
    if (j === undefined) return null;
    out[i] = j;
  }
  return out;
}

/**
 * Which samples of one side are robust: indicators (1 = robust), or the per-sample distances read
 * at the budget used (isRobustAt), which spares an array per comparison.
 */
export type Robustness = Uint8Array | { distances: ArrayLike<number>; budget: number };

/** Samples robust for a only and for b only; `align` maps a's positions to b's (null: the same positions). */
function discordantCounts(a: Robustness, b: Robustness, n: number, align: Int32Array | null): { aOnly: number; bOnly: number } {
  if (!align && !(a instanceof Uint8Array) && !(b instanceof Uint8Array)) return discordantAtBudgets(a.distances, a.budget, b.distances, b.budget, n);
  const ai = a instanceof Uint8Array ? a : null;
  const bi = b instanceof Uint8Array ? b : null;
  const ad = a instanceof Uint8Array ? null : a;
  const bd = b instanceof Uint8Array ? null : b;
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < n; i++) {
    const j = align ? align[i]! : i;
    const x = ai ? ai[i] !== 0 : isRobustAt(ad!.distances[i]!, ad!.budget);
    const y = bi ? bi[j] !== 0 : isRobustAt(bd!.distances[j]!, bd!.budget);
    if (x && !y) aOnly++;
    else if (!x && y) bOnly++;
  }
  return { aOnly, bOnly };
}

/**
 * discordantCounts for the usual case (both sides' distances read at their budgets, the same
 * positions): one monomorphic loop with the thresholds hoisted — isRobustAt's test, without a
 * call and a boxed number per sample. Four of these run for every answer.
 */
function discordantAtBudgets(a: ArrayLike<number>, aBudget: number, b: ArrayLike<number>, bBudget: number, n: number): { aOnly: number; bOnly: number } {
  const ta = Math.fround(aBudget);
  const tb = Math.fround(bBudget);
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! > ta;
    const y = b[i]! > tb;
    if (x !== y) {
      if (x) aOnly++;
      else bOnly++;
    }
  }
  return { aOnly, bOnly };
}

/** What a comparison needs of one side: which of its samples are robust at the budget used. */
export interface ComparableSide {
  ref: CandidateRef;
  label: string;
  indicators: Robustness;
  sampleIndices: readonly number[];
  robust: number;
  n: number;
}

/** Tests a against b: McNemar exact when paired on the same samples, Fisher exact otherwise. */
export function compare(a: ComparableSide, b: ComparableSide): Comparison {
  const aValue = a.n > 0 ? a.robust / a.n : 0;
  const bValue = b.n > 0 ? b.robust / b.n : 0;
  const difference = aValue - bValue;
  // One array of sample indices (rows of one grid share it): paired position by position.
  const sameSamples = a.sampleIndices === b.sampleIndices;
  const align = sameSamples ? null : alignSamples(a.sampleIndices, b.sampleIndices);
  const direction = `${a.label} ${fmtPct(aValue)} vs ${b.label} ${fmtPct(bValue)}`;
  let method: Comparison["method"];
  let discordant: Comparison["discordant"];
  let pValue: number;
  let details: string;
  if (sameSamples || align) {
    discordant = discordantCounts(a.indicators, b.indicators, a.sampleIndices.length, align);
    method = "mcnemar-exact";
    pValue = mcnemarExact(discordant.aOnly, discordant.bOnly);
    details = `paired on the same ${a.n} samples: ${discordant.aOnly} robust only for the first, ${discordant.bOnly} only for the second; McNemar exact`;
  } else {
    discordant = null;
    method = "fisher-exact";
    pValue = fisherExact(a.robust, a.n, b.robust, b.n);
    details = `evaluated on different samples (unpaired, ${a.n} and ${b.n}); Fisher exact`;
  }
  const significant = pValue < ALPHA;
  // One literal, no `{ ...base, more }`: see assess.ts on spreads in a question's path.
  return {
    a: a.ref,
    b: b.ref,
    aRobust: a.robust,
    aN: a.n,
    bRobust: b.robust,
    bN: b.n,
    difference,
    paired: discordant !== null,
    method,
    discordant,
    pValue,
    significant,
    text: `${direction}, ${details} ${fmtP(pValue)}, ${significant ? "significant" : "not significant"} at ${ALPHA}.`,
  };
}
