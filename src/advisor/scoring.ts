// Scoring every candidate of a question on a prepared snapshot (prepared.ts). Once per selection
// of models and (norm, knowledge, unsound evidence allowed), each pooled candidate's prepared
// evidence is looked up (its merge plan, or its pruning seeds' plans) and, once per selection, its
// place in the order between equal scores (tieBreak) is ranked; a question then reads one
// precomputed lower bound per candidate and sorts by numbers. The numbers are preparedScore's
// (assess.ts) and the order rankCompare's: the answers do not change (test/advisor/prepared.test.ts).
import { tieBreak } from "./assess.js";
import { lookUpBudget, robustCount, type BudgetLookup } from "./curve.js";
import { preparedEvidence, type EvidenceCache, type MergePlan } from "./lattice.js";
import { isSeeded } from "./seeds.js";
import { wilson } from "../vocabulary.js";
import type { Candidate, Knowledge, Norm } from "./types.js";

/**
 * What a candidate is scored from: its plan; its seeds' plans (null: that seed has no admissible
 * evidence); null: no admissible evidence; undefined: not prepared, or several rows at the level
 * used (the most pessimistic one depends on ε) — scored per question as before.
 */
export type ScoreSource = MergePlan | { seeds: (MergePlan | null)[] } | null | undefined;

export function scoreSources(pool: readonly Candidate[], norm: Norm, knowledge: Knowledge, allowUnsound: boolean, cache: EvidenceCache): ScoreSource[] {
  return pool.map((c) => {
    if (!isSeeded(c)) return preparedEvidence(c, norm, knowledge, allowUnsound, cache);
    const seeds = c.seeds.map((m) => preparedEvidence(m, norm, knowledge, allowUnsound, cache));
    return seeds.every((p): p is MergePlan | null => p !== undefined) ? { seeds } : undefined;
  });
}

/** The lower Wilson bound of robust accuracy of a prepared plan at the question's budget. */
export function planScore(plan: MergePlan, lookup: BudgetLookup): number {
  const at = lookUpBudget(lookup, plan.grid);
  if (at.index >= 0 && plan.gridLows) return plan.gridLows[at.index]!;
  const robust = at.index >= 0 && plan.gridCounts ? plan.gridCounts[at.index]! : robustCount(plan.distances, at.used);
  return wilson(robust, plan.distances.length).low;
}

/** The robust lower bound (a variant's worst seed's), null without evidence; undefined: score the candidate another way. */
export function sourceScore(src: ScoreSource, lookup: BudgetLookup): number | null | undefined {
  if (src === undefined || src === null) return src;
  if (!("seeds" in src)) return planScore(src, lookup);
  let worst: number | null = null;
  for (const plan of src.seeds) {
    if (plan === null) continue;
    const low = planScore(plan, lookup);
    if (worst === null || low < worst) worst = low;
  }
  return worst;
}

/**
 * Each pooled candidate's place in the order between equal scores (tieBreak), ranked once: a
 * question compares ranks instead of sizes, strategies and ids. tieBreak never ties two candidates
 * of one pool (one per model, strategy and rate), so the order is the same.
 */
export function tieRanks(pool: readonly Candidate[]): Int32Array {
  const order = pool.map((_, i) => i).sort((i, j) => tieBreak(pool[i]!, pool[j]!));
  const ranks = new Int32Array(pool.length);
  order.forEach((i, rank) => (ranks[i] = rank));
  return ranks;
}
