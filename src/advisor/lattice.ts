// The attacker-knowledge lattice: white-box > transfer > black-box (strongest first). Robust
// accuracy under level K uses the evaluation measured at K. If K was not measured for a
// candidate, the nearest STRONGER measured level stands in (a stronger attacker can only find
// less robustness: conservative) with a warning; a weaker level never does (it would overstate
// robustness), so a candidate measured only at weaker levels has no admissible evidence.
//
// Attacks of weaker levels are in scope at every stronger level, so when a weaker level's row
// covers the same test images, its per-sample distances are merged in (per-sample minimum).
// The engine already computes each level as the worst case over the levels below, so this
// changes nothing for consistent data; when it does change the answer the row is inconsistent
// (typically gradient masking) and a warning says so.
import { AdvisorDataError } from "./errors.js";
import { conservativeBudget, estimateAt, measuredGrid, robustCount } from "./curve.js";
import { ALPHA, alignSamples, fisherExact } from "./paired.js";
import { fmtPct, knowledgeLabel, normLabel } from "./format.js";
import { KNOWLEDGE_LEVELS, NORMS, type Candidate, type CandidateRef, type Evaluation, type Knowledge, type Norm, type Warning } from "./types.js";
import { ATTACK_FAILURE_INDICATORS, wilson } from "../vocabulary.js";
import type { Assessment } from "./assess.js";

/** Levels stronger than k, nearest first (for black-box: transfer, then white-box). */
export function strongerLevels(k: Knowledge): Knowledge[] {
  return KNOWLEDGE_LEVELS.slice(0, KNOWLEDGE_LEVELS.indexOf(k)).reverse();
}

/** Levels weaker than k, nearest first. */
export function weakerLevels(k: Knowledge): Knowledge[] {
  return KNOWLEDGE_LEVELS.slice(KNOWLEDGE_LEVELS.indexOf(k) + 1);
}

export interface ResolvedEvidence {
  knowledgeRequested: Knowledge;
  knowledgeUsed: Knowledge;
  /** The evaluation at knowledgeUsed. */
  primary: Evaluation;
  /** Weaker-level evaluations on the same samples that lowered some per-sample distance. */
  merged: Evaluation[];
  /** Per-sample worst case, aligned with `primary.sampleIndices`. Read-only: may be the primary's own array. */
  distances: Float32Array;
  /** Robust counts at the grid budgets, when the snapshot is prepared (see robustCountAt). */
  gridCounts: Int32Array | null;
  /** The primary's grid (sorted, deduplicated). */
  grid: number[];
  warnings: Warning[];
}

export type EvidenceResolution = { evidence: ResolvedEvidence; reason: null } | { evidence: null; reason: string; unsound?: true };

/** Throws AdvisorDataError unless the evaluation is internally consistent. */
export function checkEvaluation(e: Evaluation, label: string): void {
  if (!(e.distances instanceof Float32Array)) throw new AdvisorDataError(`evaluation ${String(e.id)} of ${label}: distances must be a Float32Array`);
  if (!Array.isArray(e.sampleIndices) || e.sampleIndices.length !== e.distances.length) {
    throw new AdvisorDataError(
      `evaluation ${String(e.id)} of ${label}: ${e.distances.length} distances but ${Array.isArray(e.sampleIndices) ? e.sampleIndices.length : "no"} sample indices`,
    );
  }
  if (!Array.isArray(e.budgets)) throw new AdvisorDataError(`evaluation ${String(e.id)} of ${label}: budgets must be an array`);
}

/** The Wilson lower bound of an evaluation at ε under the conservative budget rule. */
function lowerBoundAt(e: Evaluation, budget: number): number {
  return estimateAt(e.distances, conservativeBudget(measuredGrid(e.budgets), budget).budgetUsed).interval.low;
}

/** Among several rows for one (candidate, norm, level), the most pessimistic at ε (lowest Wilson lower bound). */
function pickEvaluation(rows: Evaluation[], budget: number, ref: CandidateRef, label: string, warnings: Warning[]): Evaluation {
  let best = rows[0]!;
  if (rows.length > 1) {
    let bestLow = lowerBoundAt(best, budget);
    for (const e of rows.slice(1)) {
      const low = lowerBoundAt(e, budget);
      if (low < bestLow) {
        best = e;
        bestLow = low;
      }
    }
    warnings.push({
      code: "duplicate-evidence",
      message:
        `${label} has ${rows.length} ${normLabel(best.norm)} evaluations at ${best.knowledge} knowledge (rows ${rows.map((r) => String(r.id)).join(", ")}); ` +
        `the most pessimistic one at this budget, row ${String(best.id)}, was used.`,
      candidate: ref,
      evaluationIds: rows.map((r) => r.id),
    });
  }
  return best;
}

/**
 * What does not depend on the budget, computed once per matrix version when the snapshot is
 * prepared (prepared.ts) and on every call otherwise: which level's rows stand for a requested
 * level, and — per primary row — the per-sample merge with the weaker levels' rows.
 */
type LevelChoice =
  | {
      used: Knowledge;
      rows: Evaluation[];
      ofNorm: Evaluation[];
      /** The merge plan of the one row at `used`, once made; undefined with several rows (which one depends on ε). */
      plan?: MergePlan;
    }
  | { used: null; reason: string; unsound?: true };

/** One weaker row met while merging: aligned (and lowering some distance) or on other samples. */
type MergeStep = { w: Evaluation; level: Knowledge; before: Float32Array; after: Float32Array | null };

export interface MergePlan {
  /** The primary's grid (measuredGrid). */
  grid: number[];
  /** Per-sample worst case (the primary's own array when nothing was lowered: read-only). */
  distances: Float32Array;
  /**
   * Robust counts at each grid budget (aligned with `grid`), prepared snapshots only: a budget
   * maps onto a grid budget (curve.ts) except beyond the grid, where the distances are counted.
   */
  gridCounts: Int32Array | null;
  /** The lower Wilson bounds of those counts (prepared snapshots only): a question's score is a lookup (assess.ts, preparedScore). */
  gridLows: Float64Array | null;
  merged: Evaluation[];
  steps: MergeStep[];
}

/** Memo tables of a prepared snapshot (prepared.ts); absent, everything is computed per call. */
export interface EvidenceCache {
  /** Per candidate, one slot per (norm, knowledge) (slotOf), filled when first resolved. */
  levels: WeakMap<Candidate, (LevelChoice | undefined)[]>;
  merges: WeakMap<Evaluation, MergePlan>;
  /**
   * Per candidate without admissible evidence, its assessment per (slotOf, how it is labelled):
   * nothing of it depends on ε, and a question lists every such candidate (assess.ts).
   */
  noEvidence: WeakMap<Candidate, (Assessment | undefined)[]>;
  /** One measured grid per budget list (a loaded snapshot shares the lists): rows of one grid share one array. */
  grids: WeakMap<readonly number[], number[]>;
}

export function newEvidenceCache(): EvidenceCache {
  return { levels: new WeakMap(), merges: new WeakMap(), noEvidence: new WeakMap(), grids: new WeakMap() };
}

/** The (norm, knowledge, unsound evidence allowed) slot of EvidenceCache.levels. */
export function slotOf(norm: Norm, knowledge: Knowledge, allowUnsound: boolean): number {
  return (NORMS.indexOf(norm) * KNOWLEDGE_LEVELS.length + KNOWLEDGE_LEVELS.indexOf(knowledge)) * 2 + (allowUnsound ? 1 : 0);
}

/** A row that passed every sanity check and indicator of attack failure of the engine (none failed, or none recorded). */
export function isSound(e: Evaluation): boolean {
  return e.failedChecks === undefined || e.failedChecks.length === 0;
}

/**
 * What the failed names are, for messages: "sanity checks", "indicators of attack failure" or
 * both. Rows that failed only sanity checks read as they always did.
 */
export function failureKind(failed: readonly string[]): string {
  const indicator = failed.some((f) => (ATTACK_FAILURE_INDICATORS as readonly string[]).includes(f));
  const check = failed.some((f) => !(ATTACK_FAILURE_INDICATORS as readonly string[]).includes(f));
  return indicator && check ? "sanity checks and indicators of attack failure" : indicator ? "indicators of attack failure" : "sanity checks";
}

function chooseLevel(candidate: Candidate, norm: Norm, knowledge: Knowledge, label: string, allowUnsound: boolean): LevelChoice {
  const ofNorm = candidate.evaluations.filter((e) => e.norm === norm);
  for (const e of ofNorm) checkEvaluation(e, label);
  // Unsound rows never stand for a level unless allowed; as weaker rows they are still merged in
  // (merging only lowers robustness).
  const admissible = allowUnsound ? ofNorm : ofNorm.filter(isSound);
  const byLevel = (k: Knowledge): Evaluation[] => admissible.filter((e) => e.knowledge === k);
  const inScope = [knowledge, ...strongerLevels(knowledge)];
  const used = inScope.find((k) => byLevel(k).length > 0);
  if (used !== undefined) return { used, rows: byLevel(used), ofNorm };
  const unsound = ofNorm.filter((e) => !isSound(e) && inScope.includes(e.knowledge));
  if (unsound.length > 0) {
    const which = unsound.map((e) => `row ${String(e.id)} (${e.knowledge}): ${e.failedChecks!.join(", ")}`).join("; ");
    return {
      used: null,
      reason:
        `its ${normLabel(norm)} evidence at ${knowledge} knowledge${knowledge === "white-box" ? "" : " or stronger"} failed the engine's ${failureKind(unsound.flatMap((e) => e.failedChecks!))} (${which}); ` +
        `unsound evidence is not scored (allowUnsoundEvidence scores it, with a warning)`,
      unsound: true,
    };
  }
  const measured = KNOWLEDGE_LEVELS.filter((k) => ofNorm.some((e) => e.knowledge === k));
  if (measured.length === 0) return { used: null, reason: `no ${normLabel(norm)} evaluation in the matrix` };
  return {
    used: null,
    reason:
      `${normLabel(norm)} was measured only at ${measured.join(", ")} knowledge, weaker than the requested ${knowledge}; ` +
      `a weaker attacker's result would overstate robustness, so there is no admissible evidence`,
  };
}

/** Merges the weaker levels' rows on the same samples into the primary's distances (per-sample minimum). */
function gridCountsOf(grid: readonly number[], distances: Float32Array): Int32Array {
  return Int32Array.from(grid, (b) => robustCount(distances, b));
}

/** The robust count at `budgetUsed`: from the grid counts when it is a grid budget. */
export function robustCountAt(plan: { grid: readonly number[]; gridCounts: Int32Array | null; distances: Float32Array }, budgetUsed: number): number {
  if (plan.gridCounts) {
    const i = plan.grid.indexOf(budgetUsed);
    if (i >= 0) return plan.gridCounts[i]!;
  }
  return robustCount(plan.distances, budgetUsed);
}

function planMerge(primary: Evaluation, ofNorm: readonly Evaluation[], cache: EvidenceCache | null): MergePlan {
  let current = primary.distances;
  const steps: MergeStep[] = [];
  for (const level of weakerLevels(primary.knowledge)) {
    for (const w of ofNorm.filter((e) => e.knowledge === level)) {
      // One array for the same samples (a loaded snapshot shares them): no alignment needed.
      const align = primary.sampleIndices === w.sampleIndices ? null : alignSamples(primary.sampleIndices, w.sampleIndices);
      if (!align && primary.sampleIndices !== w.sampleIndices) {
        steps.push({ w, level, before: current, after: null });
        continue;
      }
      let next: Float32Array | null = null;
      for (let i = 0; i < current.length; i++) {
        const d = w.distances[align ? align[i]! : i]!;
        if (d < current[i]!) (next ??= Float32Array.from(current))[i] = d;
      }
      if (!next) continue;
      steps.push({ w, level, before: current, after: next });
      current = next;
    }
  }
  let grid = cache?.grids.get(primary.budgets);
  if (!grid) {
    grid = measuredGrid(primary.budgets);
    cache?.grids.set(primary.budgets, grid);
  }
  const gridCounts = cache ? gridCountsOf(grid, current) : null;
  return {
    grid,
    distances: current,
    gridCounts,
    gridLows: gridCounts ? Float64Array.from(gridCounts, (k) => wilson(k, current.length).low) : null,
    merged: steps.filter((st) => st.after !== null).map((st) => st.w),
    steps,
  };
}

/**
 * A prepared candidate's evidence for (norm, knowledge) when it does not depend on ε (one row at
 * the level used): its grid, counts at the grid budgets and distances. null: no admissible evidence;
 * undefined: not prepared, or several rows at that level (the most pessimistic one depends on ε).
 */
export function preparedEvidence(c: Candidate, norm: Norm, knowledge: Knowledge, allowUnsound: boolean, cache: EvidenceCache): MergePlan | null | undefined {
  const choice = cache.levels.get(c)?.[slotOf(norm, knowledge, allowUnsound)];
  if (choice === undefined) return undefined;
  if (choice.used === null) return null;
  return choice.plan;
}

/** Finds the admissible evidence of one candidate for (norm, knowledge) at ε. */
export function resolveEvidence(
  candidate: Candidate,
  norm: Norm,
  knowledge: Knowledge,
  budget: number,
  ref: CandidateRef,
  label: string,
  cache: EvidenceCache | null = null,
  allowUnsound = false,
): EvidenceResolution {
  let choice: LevelChoice;
  if (cache) {
    const slot = slotOf(norm, knowledge, allowUnsound);
    const perCandidate = cache.levels.get(candidate);
    choice = perCandidate?.[slot] ?? chooseLevel(candidate, norm, knowledge, label, allowUnsound);
    // Kept only once its rows passed checkEvaluation (chooseLevel throws otherwise).
    if (perCandidate) perCandidate[slot] = choice;
    else {
      const slots: (LevelChoice | undefined)[] = [];
      slots[slot] = choice;
      cache.levels.set(candidate, slots);
    }
  } else {
    choice = chooseLevel(candidate, norm, knowledge, label, allowUnsound);
  }
  if (choice.used === null) return { evidence: null, reason: choice.reason, ...(choice.unsound ? { unsound: true as const } : {}) };
  const used = choice.used;
  const warnings: Warning[] = [];
  const primary = pickEvaluation(choice.rows, budget, ref, label, warnings);
  if (used !== knowledge) {
    warnings.push({
      code: "knowledge-fallback",
      message:
        `${knowledgeLabel(knowledge)} knowledge was not measured for ${label} (${normLabel(norm)}); the ${used} evaluation ` +
        `(row ${String(primary.id)}) was used instead — a stronger attacker, so the robust accuracy is a conservative (lower) estimate.`,
      candidate: ref,
      evaluationIds: [primary.id],
    });
  }

  let plan = cache?.merges.get(primary);
  if (!plan) {
    plan = planMerge(primary, choice.ofNorm, cache);
    cache?.merges.set(primary, plan);
  }
  if (cache && choice.rows.length === 1) choice.plan = plan;
  const grid = plan.grid;
  const budgetUsed = conservativeBudget(grid, budget).budgetUsed;
  for (const { w, level, before, after } of plan.steps) {
    if (after) {
      const robustBefore = robustCount(before, budgetUsed);
      const robustAfter = robustCount(after, budgetUsed);
      if (robustAfter < robustBefore) {
        warnings.push({
          code: "lattice-inconsistent",
          message:
            `For ${label}, the ${level} evaluation (row ${String(w.id)}) beat ${robustBefore - robustAfter} sample(s) at this budget that the ${used} ` +
            `evaluation (row ${String(primary.id)}) left robust — a weaker attacker should never do better (possible gradient masking). ` +
            `The per-sample worst case of both rows was used.`,
          candidate: ref,
          evaluationIds: [primary.id, w.id],
        });
      }
      continue;
    }
    const p = estimateAt(before, budgetUsed);
    const q = estimateAt(w.distances, conservativeBudget(measuredGrid(w.budgets), budget).budgetUsed);
    if (q.value < p.value && fisherExact(q.robust, q.n, p.robust, p.n) < ALPHA) {
      warnings.push({
        code: "lattice-inconsistent",
        message:
          `For ${label}, the ${level} evaluation (row ${String(w.id)}, ${fmtPct(q.value)}) finds significantly less robustness than the ` +
          `${used} evaluation (row ${String(primary.id)}, ${fmtPct(p.value)}) on a different sample set — a weaker attacker should never do better ` +
          `(possible gradient masking). The rows cover different samples, so they could not be merged; treat the number with caution.`,
        candidate: ref,
        evaluationIds: [primary.id, w.id],
      });
    }
  }
  const unsoundUsed = [primary, ...plan.merged].filter((e) => !isSound(e));
  if (allowUnsound && unsoundUsed.length > 0) {
    warnings.push({
      code: "unsound-evidence",
      message:
        `The evidence for ${label} includes row(s) that failed the engine's ${failureKind(unsoundUsed.flatMap((e) => e.failedChecks!))} (${unsoundUsed.map((e) => `row ${String(e.id)}: ${e.failedChecks!.join(", ")}`).join("; ")}); ` +
        `they were scored because allowUnsoundEvidence is set, and may overstate robustness.`,
      candidate: ref,
      evaluationIds: unsoundUsed.map((e) => e.id),
    });
  }
  return {
    evidence: { knowledgeRequested: knowledge, knowledgeUsed: used, primary, merged: plan.merged, distances: plan.distances, gridCounts: plan.gridCounts, grid, warnings },
    reason: null,
  };
}
