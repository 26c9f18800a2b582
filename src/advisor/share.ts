// The adversarial share (Merkle et al. 2021): over an input stream in which a share r of the
// inputs is adversarial, a model is right on (1 − r)·clean + r·robust of them. With r below 1:
// - the ranking score is the lower 95 % bound of that aggregate (vocabulary.ts, aggregateAccuracy:
//   the two bounds combined linearly), so every candidate's score is a straight line over r;
// - the winner and a runner-up are compared with a normal test of the aggregated difference;
// - the shares at which the best candidate changes are the crossings of those lines (shareSweep).
// r = 1 is the default and changes nothing: every function here hands back the robust-only value.
import { aggregateAccuracy, DEFAULT_ADVERSARIAL_SHARE, wilson, type AggregatedEstimate } from "../vocabulary.js";
import { fmtInt, fmtP, fmtPct, fmtShare } from "./format.js";
import { ALPHA } from "./paired.js";
import type { Candidate, CleanCount, Comparison, Interval, Scenario } from "./types.js";

/** The scenario's adversarial share (1 when not given). */
export function shareOf(s: Scenario): number {
  return s.adversarialShare ?? DEFAULT_ADVERSARIAL_SHARE;
}

/** Clean accuracy of a candidate as the answers show it: correct / n with its Wilson interval. */
export function cleanEstimate(clean: CleanCount): { value: number; interval: Interval } {
  return { value: clean.n > 0 ? clean.correct / clean.n : 0, interval: wilson(clean.correct, clean.n) };
}

/** The aggregate of one candidate at `share`, from its robust estimate. */
export function aggregatedOf(c: Candidate, robust: { value: number; interval: Interval }, share: number): AggregatedEstimate {
  return aggregateAccuracy(cleanEstimate(c.clean), robust, share);
}

/**
 * The ranking score from the robust lower bound: at share 1 that bound itself (untouched), below
 * 1 the lower bound of the aggregate, (1 − r)·clean bound + r·robust bound. null stays null (no evidence).
 */
export function rankingScore(c: Candidate, robustLow: number | null, s: Scenario): number | null {
  const share = shareOf(s);
  if (robustLow === null || share === DEFAULT_ADVERSARIAL_SHARE) return robustLow;
  const clean = cleanEstimate(c.clean).interval.low;
  return aggregateAccuracy({ value: clean, interval: { low: clean, high: clean } }, { value: robustLow, interval: { low: robustLow, high: robustLow } }, share).interval.low;
}

/**
 * Two-sided normal tail P(|Z| >= |z|) = erfc(|z| / √2), by the Chebyshev fit of erfc in Numerical
 * Recipes (fractional error below 1.2e-7 for every argument) — ample for a p-value compared with 0.05.
 */
export function twoSidedNormalP(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.min(1, t * Math.exp(-x * x + poly));
}

const binomialVariance = (p: number, n: number): number => (n > 0 ? (p * (1 - p)) / n : 0);

/**
 * The winner against another candidate on aggregated accuracy at `share` < 1, from their robust
 * comparison (McNemar or Fisher, paired.ts) and their clean counts. D = (1 − r)·Δclean + r·Δrobust,
 * tested with a two-sided normal test whose standard error is an upper bound:
 * - Δclean: only counts are stored for the whole test split, so the unpaired standard error; the
 *   two models classify the same images, whose outcomes are positively correlated, which makes the
 *   true one smaller (conservative);
 * - Δrobust: paired on the same samples, the paired standard error from the discordant counts,
 *   sqrt(b + c − (b − c)²/n) / n; on different samples the unpaired one;
 * - the two differences are correlated in an unknown way: sd(D) <= (1 − r)·sd(Δclean) + r·sd(Δrobust)
 *   whatever the correlation (as for the aggregate's interval).
 */
export function compareAtShare(robust: Comparison, a: { label: string; clean: CleanCount }, b: { label: string; clean: CleanCount }, share: number): Comparison {
  const ca = cleanEstimate(a.clean).value;
  const cb = cleanEstimate(b.clean).value;
  const ra = robust.aN > 0 ? robust.aRobust / robust.aN : 0;
  const rb = robust.bN > 0 ? robust.bRobust / robust.bN : 0;
  const seClean = Math.sqrt(binomialVariance(ca, a.clean.n) + binomialVariance(cb, b.clean.n));
  const seRobust = robust.discordant
    ? Math.sqrt(Math.max(0, robust.discordant.aOnly + robust.discordant.bOnly - (robust.discordant.aOnly - robust.discordant.bOnly) ** 2 / robust.aN)) / robust.aN
    : Math.sqrt(binomialVariance(ra, robust.aN) + binomialVariance(rb, robust.bN));
  const aggA = (1 - share) * ca + share * ra;
  const aggB = (1 - share) * cb + share * rb;
  const difference = (1 - share) * (ca - cb) + share * (ra - rb);
  const se = (1 - share) * seClean + share * seRobust;
  // A difference with no uncertainty at all (e.g. both perfect on robust, clean counts at 0 or n) is certain.
  const pValue = difference === 0 ? 1 : se === 0 ? 0 : twoSidedNormalP(difference / se);
  const significant = pValue < ALPHA;
  const robustPart = robust.paired ? `paired on the same ${fmtInt(robust.aN)} samples` : `on different samples (${fmtInt(robust.aN)} and ${fmtInt(robust.bN)})`;
  // Every field of the robust comparison but those of the aggregate, in the same order (no spread: see assess.ts).
  return {
    a: robust.a,
    b: robust.b,
    aRobust: robust.aRobust,
    aN: robust.aN,
    bRobust: robust.bRobust,
    bN: robust.bN,
    difference,
    paired: robust.paired,
    method: "aggregate-normal",
    discordant: robust.discordant,
    pValue,
    significant,
    text:
      `${a.label} ${fmtPct(aggA)} vs ${b.label} ${fmtPct(aggB)} aggregated at adversarial share ${fmtShare(share)} ` +
      `(clean ${fmtPct(ca)} vs ${fmtPct(cb)} of ${fmtInt(a.clean.n)} and ${fmtInt(b.clean.n)} images; robust ${fmtPct(ra)} vs ${fmtPct(rb)}, ${robustPart}); ` +
      `normal test with a conservative standard error ${fmtP(pValue)}, ${significant ? "significant" : "not significant"} at ${ALPHA}.`,
    share,
  };
}

/** One candidate's score over the shares: clean lower bound at r = 0, robust lower bound at r = 1, a straight line between. */
export interface ShareLine<T> {
  item: T;
  /** Score at r = 0 (lower bound of clean accuracy). */
  atZero: number;
  /** Score at r = 1 (lower bound of robust accuracy). */
  atOne: number;
}

export interface EnvelopeSegment<T> {
  from: number;
  to: number;
  item: T;
}

/** Scores closer than this are equal (as SCORE_TIE in assess.ts). */
const TIE = 1e-12;

/**
 * The upper envelope of the lines over [0, 1]: consecutive ranges of shares, each with the line
 * that is highest there; each boundary is the exact share where two lines cross. Ties at a share
 * go to the line that is higher just after it (larger slope), then to `tie` (the ranking's
 * tie-break: the smaller model). Each step moves to a steeper line, so at most one segment per line.
 */
export function upperEnvelope<T>(lines: readonly ShareLine<T>[], tie: (x: T, y: T) => number): EnvelopeSegment<T>[] {
  if (lines.length === 0) return [];
  const slope = (l: ShareLine<T>): number => l.atOne - l.atZero;
  const better = (x: ShareLine<T>, y: ShareLine<T>): boolean => {
    if (Math.abs(x.atZero - y.atZero) > TIE) return x.atZero > y.atZero;
    if (slope(x) !== slope(y)) return slope(x) > slope(y);
    return tie(x.item, y.item) < 0;
  };
  let cur = lines.reduce((best, l) => (better(l, best) ? l : best));
  let from = 0;
  const out: EnvelopeSegment<T>[] = [];
  for (let step = 0; step <= lines.length; step++) {
    let next: ShareLine<T> | null = null;
    let at = 1;
    for (const l of lines) {
      const ds = slope(l) - slope(cur);
      if (ds <= 0) continue;
      // Where l catches up with cur: cur.atZero + s_cur·x = l.atZero + s_l·x.
      const x = (cur.atZero - l.atZero) / ds;
      if (!(x > from) || x > at + TIE) continue;
      if (next === null || x < at - TIE || (Math.abs(x - at) <= TIE && (slope(l) > slope(next) || (slope(l) === slope(next) && tie(l.item, next.item) < 0)))) {
        next = l;
        at = Math.min(at, x);
      }
    }
    if (next === null || at >= 1) break;
    out.push({ from, to: at, item: cur.item });
    from = at;
    cur = next;
  }
  out.push({ from, to: 1, item: cur.item });
  return out;
}

/** Where the point estimates of two candidates cross over r (clean c, robust ρ), or null outside [0, 1] or when parallel. */
export function pointCrossing(x: { clean: number; robust: number }, y: { clean: number; robust: number }): number | null {
  const dc = x.clean - y.clean;
  const denom = dc - (x.robust - y.robust);
  if (denom === 0) return null;
  const r = dc / denom;
  return r >= 0 && r <= 1 ? r : null;
}
