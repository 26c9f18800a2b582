// Pruning-seed variation. A Wilson interval covers which test images were drawn, not how much
// another run of pruning and fine-tuning would move the result. The matrix may hold one variant
// (model, strategy, rate) measured with several pruning seeds — one Candidate per seed; here they
// become ONE candidate, judged by its worst case over the seeds:
// - limits: the largest size and the lowest clean accuracy of its seeds (so it meets a limit only
//   if every seed does);
// - score: the lowest robust lower bound (Wilson) among the seeds with admissible evidence — at an
//   adversarial share below 1, the aggregate's lower bound made of it and the lowest clean accuracy
//   (share.ts); the evidence, curve and comparisons are that worst seed's;
// - the answer reports the spread: per seed its robust accuracy and score, the worst seed, and the
//   lowest and highest robust accuracy at the budget (CandidateSummary.pruningSeeds).
// A seed without admissible evidence is listed (score null) but does not lower the score: it has
// no number to lower it with. A pruned winner resting on one scored seed gets a
// `single-pruning-seed` warning. The dense model is not pruned: several rows of it fold the same
// way, but it never gets that warning.
import { assessCandidate, LazyAssessment, preparedScore, type Assessment } from "./assess.js";
import { candidateLabel, fmtPct } from "./format.js";
import type { EvidenceCache } from "./lattice.js";
import type { BudgetLookup } from "./curve.js";
import { aggregatedOf, rankingScore, shareOf } from "./share.js";
import type { Candidate, CandidateSummary, PruningSeedSpread, Scenario, Warning } from "./types.js";

/** One (model, strategy, rate) measured with several pruning seeds, as one candidate (see the header). */
export interface SeededCandidate extends Candidate {
  /** The per-seed candidates, pruning seed ascending (an unknown seed last). */
  seeds: Candidate[];
}

export function isSeeded(c: Candidate): c is SeededCandidate {
  return Array.isArray((c as Partial<SeededCandidate>).seeds);
}

// The schedule is part of a variant: a cumulative and a one-shot variant are two candidates, never two seeds of one.
const variantKey = (c: Candidate): string => JSON.stringify([c.modelId, c.strategy, c.rate, c.schedule ?? "one-shot"]);
const bySeed = (a: Candidate, b: Candidate): number => (a.pruningSeed ?? Infinity) - (b.pruningSeed ?? Infinity);

/**
 * The candidates with each variant's seeds folded into one (see the header), in the order of each
 * variant's first appearance. A variant measured once stays the same object.
 */
export function foldSeeds(cands: readonly Candidate[]): Candidate[] {
  const groups = new Map<string, Candidate[]>();
  for (const c of cands) {
    const key = variantKey(c);
    const list = groups.get(key);
    if (list) list.push(c);
    else groups.set(key, [c]);
  }
  return [...groups.values()].map((members) => (members.length === 1 ? members[0]! : seeded(members)));
}

function seeded(members: Candidate[]): SeededCandidate {
  const seeds = [...members].sort(bySeed);
  const first = seeds[0]!;
  const cleanValue = (c: Candidate): number => (c.clean.n > 0 ? c.clean.correct / c.clean.n : 0);
  const worstClean = seeds.reduce((w, c) => (cleanValue(c) < cleanValue(w) ? c : w));
  // The worst case over the seeds, so that the limits hold for every seed.
  const { pruningSeed: _seed, ...shared } = first;
  // Object.assign onto the rest, not a spread followed by more properties (see assess.ts).
  return Object.assign(shared, {
    achievedRate: Math.min(...seeds.map((c) => c.achievedRate)),
    nonZeroParams: Math.max(...seeds.map((c) => c.nonZeroParams)),
    sparseBytes: Math.max(...seeds.map((c) => c.sparseBytes)),
    structured: seeds.every((c) => c.structured),
    clean: { ...worstClean.clean },
    // Scored seed by seed (assessVariant); the folded candidate has no rows of its own.
    evaluations: [],
    seeds,
  });
}

/**
 * The robust lower bound assessVariant takes (the worst seed's), from a prepared snapshot's
 * precomputed evidence (preparedScore); undefined where a seed's evidence is not prepared (then
 * assess the candidate). The caller makes the ranking score of it (rankingScore), as for any candidate.
 */
export function variantScore(c: Candidate, s: Scenario, cache: EvidenceCache, lookup?: BudgetLookup): number | null | undefined {
  if (!isSeeded(c)) return preparedScore(c, s, cache, lookup);
  let worst: number | null = null;
  for (const m of c.seeds) {
    const low = preparedScore(m, s, cache, lookup);
    if (low === undefined) return undefined;
    if (low !== null && (worst === null || low < worst)) worst = low;
  }
  return worst;
}

/**
 * assessCandidate for a candidate that may hold several pruning seeds (see the header). The worst
 * seed is the one with the lowest robust lower bound; the score is made from that bound and the
 * folded candidate's (lowest) clean accuracy, so at an adversarial share below 1 too it is
 * conservative for every seed and, like any candidate's, a straight line over the share (share.ts).
 */
export function assessVariant(c: Candidate, s: Scenario, withModel: boolean, cache: EvidenceCache | null = null): Assessment {
  if (!isSeeded(c)) return assessCandidate(c, s, withModel, cache);
  const members = c.seeds.map((m) => assessCandidate(m, s, withModel, cache));
  const scored = members.filter((m) => m.robustLow !== null);
  // The worst seed: the lowest robust lower bound; ties go to the lower point estimate, then to the lower seed.
  const worst =
    scored.length === 0
      ? members[0]!
      : scored.reduce((w, m) => {
          const d = m.robustLow! - w.robustLow!;
          return d < 0 || (d === 0 && m.estimate!.value < w.estimate!.value) ? m : w;
        });
  const share = shareOf(s);
  const score = scored.length === 0 ? null : rankingScore(c, worst.robustLow, s);
  const spread = (): PruningSeedSpread => {
    const values = scored.map((m) => m.estimate!.value);
    return {
      count: members.length,
      seeds: members.map((m) => ({
        seed: m.candidate.pruningSeed ?? null,
        robustAccuracy: m.estimate?.value ?? null,
        score: m.robustLow,
        evaluationIds: m.summary.robustAccuracy?.evaluationIds ?? [],
      })),
      worstSeed: scored.length === 0 ? null : (worst.candidate.pruningSeed ?? null),
      robustAccuracy: scored.length === 0 ? null : { min: Math.min(...values), max: Math.max(...values) },
    };
  };
  const unsound = scored.length === 0 && members.some((m) => m.unsound);
  return new LazyAssessment(
    {
      candidate: c,
      ref: worst.ref,
      label: worst.label,
      evidence: worst.evidence,
      noEvidenceReason: scored.length > 0 ? null : seedReasons(members),
      unsound,
      choice: worst.choice,
      estimate: worst.estimate,
      robustLow: scored.length === 0 ? null : worst.robustLow,
      score,
    },
    // The worst seed's robust accuracy with the folded candidate's (worst-case) size and clean accuracy.
    () =>
      Object.assign({}, worst.summary, {
      achievedRate: c.achievedRate,
      nonZeroParams: c.nonZeroParams,
      sparseBytes: c.sparseBytes,
      structured: c.structured,
      cleanAccuracy: cleanOf(c, members),
      ...(share < 1 ? { aggregatedAccuracy: worst.estimate ? aggregatedOf(c, worst.estimate, share) : null } : {}),
      score,
      pruningSeeds: spread(),
    }),
    // Every scored seed's evidence warnings (each names its rows), each message once.
    () => {
      const byMessage = new Map<string, Warning>();
      for (const w of (scored.length > 0 ? scored : [worst]).flatMap((m) => m.warnings)) if (!byMessage.has(w.message)) byMessage.set(w.message, w);
      return [...byMessage.values()];
    },
    spread,
  );
}

function cleanOf(c: Candidate, members: readonly Assessment[]): CandidateSummary["cleanAccuracy"] {
  // The member whose clean count the folded candidate took.
  const m = members.find((x) => x.candidate.clean.correct === c.clean.correct && x.candidate.clean.n === c.clean.n) ?? members[0]!;
  return m.summary.cleanAccuracy;
}

function seedReasons(members: readonly Assessment[]): string {
  const reasons = [...new Set(members.map((m) => m.noEvidenceReason ?? "no admissible evidence"))];
  return reasons.length === 1 ? reasons[0]! : members.map((m) => `pruning seed ${m.candidate.pruningSeed ?? "?"}: ${m.noEvidenceReason ?? "no admissible evidence"}`).join("; ");
}

/**
 * `single-pruning-seed`: the pruned candidate's number rests on one pruning seed (measured once,
 * or only one of its seeds has admissible evidence); null for dense and for several scored seeds.
 */
export function singleSeedWarning(a: Assessment, withModel: boolean): Warning | null {
  if (a.candidate.strategy === "dense" || a.robustLow === null) return null;
  const label = candidateLabel(a.ref, withModel);
  let head: string;
  if (!isSeeded(a.candidate)) {
    const seed = a.candidate.pruningSeed;
    head = `${label} rests on one pruning seed${seed === undefined ? "" : ` (${seed})`}`;
  } else {
    const seeds = a.seedSpread!().seeds!;
    const scored = seeds.filter((x) => x.score !== null);
    if (scored.length > 1) return null;
    const others = seeds.filter((x) => x.score === null).map((x) => String(x.seed ?? "?"));
    head = `${label} rests on one pruning seed (${String(scored[0]!.seed ?? "?")}; seed${others.length > 1 ? "s" : ""} ${others.join(", ")} had no admissible evidence)`;
  }
  // Lean: it is about the candidate answered for, whose rows its robustAccuracy lists.
  return {
    code: "single-pruning-seed",
    message: `${head}: its interval covers the choice of test images, not a rerun of pruning and fine-tuning; a grid's pruningSeeds or extraSeeds measure more.`,
  };
}

/** "; the worst of 2 pruning seeds (robust 61.0–66.4 %)" for a candidate scored over several seeds, else "". */
export function seedNote(a: Assessment): string {
  const spread = a.seedSpread?.();
  if (!spread || spread.robustAccuracy === null) return "";
  const scored = spread.seeds!.filter((x) => x.score !== null).length;
  if (scored < 2) return "";
  const { min, max } = spread.robustAccuracy;
  return `; the worst of ${scored} pruning seeds (robust ${fmtPct(min)}–${fmtPct(max)})`;
}
