// Size limits and the minimum clean accuracy: which candidates are feasible and, when none is,
// which limit(s) exclude everything and what the nearest candidate would need.
//
// Rules:
// - maxParameters: nonZeroParams <= maxParameters (whole model, non-zero);
// - minCompression: achievedRate >= minCompression·(1 − 0.1 %) — the MEASURED rate, with a small
//   tolerance because an exact grid rate is rarely hit to the last parameter (round(total/c));
// - maxBytes: sparseBytes <= maxBytes;
// - structuredOnly: candidate.structured (filter granularity: structured-l1, filter/*; and dense);
// - minCleanAccuracy: clean point estimate correct/n >= minCleanAccuracy.
// Infeasibility: every subset of the active limits is tried (at most 2^5); the minimal subsets
// whose removal makes some candidate feasible are the relaxations, smallest first.
import { candidateLabel, fmtInt, fmtPct, fmtRate } from "./format.js";
import type { Candidate, CandidateRef, Infeasibility, LimitName, LimitShortfall, NearestCandidate, Relaxation, Scenario } from "./types.js";

export const COMPRESSION_TOLERANCE = 1e-3;

export interface ActiveLimit {
  name: LimitName;
  /** Path in the scenario. */
  field: string;
  value: number | boolean;
}

export function activeLimits(s: Scenario): ActiveLimit[] {
  const out: ActiveLimit[] = [];
  const l = s.sizeLimit ?? {};
  if (l.maxParameters !== undefined) out.push({ name: "maxParameters", field: "sizeLimit.maxParameters", value: l.maxParameters });
  if (l.minCompression !== undefined) out.push({ name: "minCompression", field: "sizeLimit.minCompression", value: l.minCompression });
  if (l.maxBytes !== undefined) out.push({ name: "maxBytes", field: "sizeLimit.maxBytes", value: l.maxBytes });
  if (l.structuredOnly === true) out.push({ name: "structuredOnly", field: "sizeLimit.structuredOnly", value: true });
  if (s.minCleanAccuracy !== undefined) out.push({ name: "minCleanAccuracy", field: "minCleanAccuracy", value: s.minCleanAccuracy });
  return out;
}

export function cleanValue(c: Candidate): number {
  return c.clean.n > 0 ? c.clean.correct / c.clean.n : 0;
}

export function passesLimit(c: Candidate, l: ActiveLimit): boolean {
  switch (l.name) {
    case "maxParameters":
      return c.nonZeroParams <= (l.value as number);
    case "minCompression":
      return c.achievedRate >= (l.value as number) * (1 - COMPRESSION_TOLERANCE);
    case "maxBytes":
      return c.sparseBytes <= (l.value as number);
    case "structuredOnly":
      return c.structured;
    case "minCleanAccuracy":
      return cleanValue(c) >= (l.value as number);
  }
}

/** Whether c meets every limit. */
export function passesAll(c: Candidate, limits: readonly ActiveLimit[]): boolean {
  for (const l of limits) if (!passesLimit(c, l)) return false;
  return true;
}

export function failedLimits(c: Candidate, limits: readonly ActiveLimit[]): ActiveLimit[] {
  return limits.filter((l) => !passesLimit(c, l));
}

/** What candidate c lacks to meet limit l (call only for a limit it fails). */
export function shortfall(c: Candidate, l: ActiveLimit): LimitShortfall {
  // A fresh object per shortfall, extended with Object.assign (not a spread: see assess.ts).
  const base = (): { limit: ActiveLimit["name"]; field: string; required: ActiveLimit["value"] } => ({ limit: l.name, field: l.field, required: l.value });
  const v = l.value as number;
  switch (l.name) {
    case "maxParameters":
      return Object.assign(base(), {
        actual: c.nonZeroParams,
        text: `has ${fmtInt(c.nonZeroParams)} non-zero parameters; maxParameters is ${fmtInt(v)} (${fmtInt(c.nonZeroParams - v)} too many)`,
      });
    case "minCompression":
      return Object.assign(base(), { actual: c.achievedRate, text: `reaches ${fmtRate(c.achievedRate)} compression; minCompression is ${fmtRate(v)}` });
    case "maxBytes":
      return Object.assign(base(), {
        actual: c.sparseBytes,
        text: `takes ${fmtInt(c.sparseBytes)} bytes stored sparse; maxBytes is ${fmtInt(v)} (${fmtInt(c.sparseBytes - v)} too many)`,
      });
    case "structuredOnly":
      return Object.assign(base(), { actual: c.structured, text: `${c.strategy.startsWith("kernel/") ? "prunes kernels, which a dense convolution still computes" : "is unstructured"} (${c.strategy}); structuredOnly admits only filter pruning (structured-l1, filter/*) and dense` });
    case "minCleanAccuracy":
      return Object.assign(base(), { actual: cleanValue(c), text: `has clean accuracy ${fmtPct(cleanValue(c))}; minCleanAccuracy is ${fmtPct(v)}` });
  }
}

/** How far c is from meeting l, relative (0 when it meets it); used to pick the nearest candidate. */
function distance(c: Candidate, l: ActiveLimit): number {
  if (passesLimit(c, l)) return 0;
  const v = l.value as number;
  switch (l.name) {
    case "maxParameters":
      return c.nonZeroParams / v - 1;
    case "minCompression":
      return c.achievedRate > 0 ? v / c.achievedRate - 1 : Number.POSITIVE_INFINITY;
    case "maxBytes":
      return c.sparseBytes / v - 1;
    case "structuredOnly":
      return 1;
    case "minCleanAccuracy":
      return (v - cleanValue(c)) / Math.max(v, 1e-9);
  }
}

export function refOf(c: Candidate): CandidateRef {
  return { modelId: c.modelId, architecture: c.architecture, dataset: c.dataset, strategy: c.strategy, rate: c.rate, ...(c.schedule === undefined ? {} : { schedule: c.schedule }) };
}

/** Smaller model first: fewer non-zero parameters, then fewer bytes. */
export function smallerFirst(a: Candidate, b: Candidate): number {
  return a.nonZeroParams - b.nonZeroParams || a.sparseBytes - b.sparseBytes;
}

function nearestUnder(cands: readonly Candidate[], relaxed: readonly ActiveLimit[]): { candidate: Candidate; score: number } {
  let best: { candidate: Candidate; score: number } | null = null;
  for (const c of cands) {
    const score = relaxed.reduce((s, l) => s + distance(c, l), 0);
    if (!best || score < best.score || (score === best.score && smallerFirst(c, best.candidate) < 0)) best = { candidate: c, score };
  }
  return best!;
}

function nearestOut(c: Candidate, limits: readonly ActiveLimit[]): NearestCandidate {
  return { candidate: refOf(c), needs: failedLimits(c, limits).map((l) => shortfall(c, l)) };
}

/** Why no candidate passes `limits` (call only when none does and `cands` is not empty). */
export function analyseInfeasibility(cands: readonly Candidate[], limits: readonly ActiveLimit[], withModel: boolean): Infeasibility {
  const k = limits.length;
  const found: { mask: number; feasible: Candidate[]; nearest: Candidate; score: number }[] = [];
  // Subsets by increasing size, so a kept subset is minimal iff no kept subset is inside it.
  const masks = Array.from({ length: 2 ** k }, (_, m) => m)
    .filter((m) => m > 0)
    .sort((a, b) => popcount(a) - popcount(b) || a - b);
  for (const mask of masks) {
    if (found.some((f) => (f.mask & mask) === f.mask)) continue;
    const kept = limits.filter((_, i) => !(mask & (1 << i)));
    const relaxed = limits.filter((_, i) => mask & (1 << i));
    const feasible = cands.filter((c) => failedLimits(c, kept).length === 0);
    if (feasible.length === 0) continue;
    const { candidate, score } = nearestUnder(feasible, relaxed);
    found.push({ mask, feasible, nearest: candidate, score });
  }
  found.sort((a, b) => popcount(a.mask) - popcount(b.mask) || a.score - b.score || smallerFirst(a.nearest, b.nearest));
  const relaxations: Relaxation[] = found.map((f) => ({
    remove: limits.filter((_, i) => f.mask & (1 << i)).map((l) => l.name),
    feasibleCount: f.feasible.length,
    nearest: nearestOut(f.nearest, limits),
  }));
  const singles = relaxations.filter((r) => r.remove.length === 1).map((r) => r.remove[0]!);
  const smallest = relaxations[0]!;
  const binding = singles.length > 0 ? singles : [...new Set(relaxations.filter((r) => r.remove.length === smallest.remove.length).flatMap((r) => r.remove))];
  const nearest = smallest.nearest;
  const label = candidateLabel(nearest.candidate, withModel);
  const needs = nearest.needs.map((n) => n.text).join("; ");
  let text: string;
  if (singles.length === 1) {
    text =
      `No candidate meets every limit; ${singles[0]} is the binding one: without it ${smallest.feasibleCount} candidate(s) would qualify. ` +
      `The nearest, ${label}, ${needs}.`;
  } else if (singles.length > 1) {
    text =
      `No candidate meets every limit; removing any one of ${singles.join(", ")} would make a candidate feasible. ` +
      `The nearest, ${label}, ${needs}.`;
  } else {
    text =
      `No candidate meets every limit, and no single limit is to blame: it takes removing ${smallest.remove.join(" and ")} together. ` +
      `The nearest, ${label}, ${needs}.`;
  }
  return {
    candidatesConsidered: cands.length,
    limits: limits.map((l) => ({ limit: l.name, field: l.field, value: l.value, excludes: cands.filter((c) => !passesLimit(c, l)).length })),
    binding,
    relaxations,
    nearest,
    text,
  };
}

function popcount(m: number): number {
  let n = 0;
  for (let x = m; x; x &= x - 1) n++;
  return n;
}
