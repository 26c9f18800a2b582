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
import { KNOWLEDGE_LEVELS, type Candidate, type CandidateRef, type Evaluation, type Knowledge, type Norm, type Warning } from "./types.js";

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
  /** Per-sample worst case, aligned with `primary.sampleIndices`. */
  distances: Float32Array;
  /** The primary's grid (sorted, deduplicated). */
  grid: number[];
  warnings: Warning[];
}

export type EvidenceResolution = { evidence: ResolvedEvidence; reason: null } | { evidence: null; reason: string };

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

/** Finds the admissible evidence of one candidate for (norm, knowledge) at ε. */
export function resolveEvidence(
  candidate: Candidate,
  norm: Norm,
  knowledge: Knowledge,
  budget: number,
  ref: CandidateRef,
  label: string,
): EvidenceResolution {
  const ofNorm = candidate.evaluations.filter((e) => e.norm === norm);
  for (const e of ofNorm) checkEvaluation(e, label);
  const byLevel = (k: Knowledge): Evaluation[] => ofNorm.filter((e) => e.knowledge === k);
  const order: Knowledge[] = [knowledge, ...strongerLevels(knowledge)];
  const used = order.find((k) => byLevel(k).length > 0);
  if (used === undefined) {
    const measured = KNOWLEDGE_LEVELS.filter((k) => byLevel(k).length > 0);
    if (measured.length === 0) return { evidence: null, reason: `no ${normLabel(norm)} evaluation in the matrix` };
    return {
      evidence: null,
      reason:
        `${normLabel(norm)} was measured only at ${measured.join(", ")} knowledge, weaker than the requested ${knowledge}; ` +
        `a weaker attacker's result would overstate robustness, so there is no admissible evidence`,
    };
  }
  const warnings: Warning[] = [];
  const primary = pickEvaluation(byLevel(used), budget, ref, label, warnings);
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

  const grid = measuredGrid(primary.budgets);
  const budgetUsed = conservativeBudget(grid, budget).budgetUsed;
  const distances = Float32Array.from(primary.distances);
  const merged: Evaluation[] = [];
  for (const level of weakerLevels(used)) {
    for (const w of byLevel(level)) {
      const align = alignSamples(primary.sampleIndices, w.sampleIndices);
      if (align) {
        const before = robustCount(distances, budgetUsed);
        let lowered = false;
        for (let i = 0; i < distances.length; i++) {
          const d = w.distances[align[i]!]!;
          if (d < distances[i]!) {
            distances[i] = d;
            lowered = true;
          }
        }
        if (!lowered) continue;
        merged.push(w);
        const after = robustCount(distances, budgetUsed);
        if (after < before) {
          warnings.push({
            code: "lattice-inconsistent",
            message:
              `For ${label}, the ${level} evaluation (row ${String(w.id)}) beat ${before - after} sample(s) at this budget that the ${used} ` +
              `evaluation (row ${String(primary.id)}) left robust — a weaker attacker should never do better (possible gradient masking). ` +
              `The per-sample worst case of both rows was used.`,
            candidate: ref,
            evaluationIds: [primary.id, w.id],
          });
        }
      } else {
        const p = estimateAt(distances, budgetUsed);
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
    }
  }
  return { evidence: { knowledgeRequested: knowledge, knowledgeUsed: used, primary, merged, distances, grid, warnings }, reason: null };
}
