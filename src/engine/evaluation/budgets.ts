// Budgets (attack strengths ε) and the other knobs of an evaluation, validated in the units of
// the vocabulary: L0 counts changed features (an integer), L2 is Euclidean, L∞ is in pixel units
// of inputs scaled to [0, 1] (so at most 1).
import { KNOWLEDGE_LEVELS, NORMS, type Knowledge, type Norm } from "../attacks/types.js";

/** A bad evaluation request (unknown name, budget of the wrong kind, missing surrogate…). */
export class EvaluationError extends Error {
  override name = "EvaluationError";
}

export function parseNorm(value: string): Norm {
  const v = value.trim().toLowerCase();
  if ((NORMS as readonly string[]).includes(v)) return v as Norm;
  throw new EvaluationError(`unknown norm "${value}" (known: ${NORMS.join(", ")})`);
}

export function parseKnowledge(value: string): Knowledge {
  const v = value.trim().toLowerCase();
  if ((KNOWLEDGE_LEVELS as readonly string[]).includes(v)) return v as Knowledge;
  throw new EvaluationError(`unknown attacker knowledge "${value}" (known: ${KNOWLEDGE_LEVELS.join(", ")})`);
}

/** Throws unless `budget` is a valid ε for `norm`. */
export function checkBudget(norm: Norm, budget: number): void {
  const shown = Number.isNaN(budget) ? "NaN" : String(budget);
  if (typeof budget !== "number" || !Number.isFinite(budget)) throw new EvaluationError(`budget ${shown} is not a finite number`);
  if (budget < 0) throw new EvaluationError(`budget ${shown} is negative`);
  if (norm === "l0" && !Number.isInteger(budget)) throw new EvaluationError(`L0 budget ${shown} must be an integer number of changed features`);
  if (norm === "linf" && budget > 1) throw new EvaluationError(`L∞ budget ${shown} exceeds 1 (inputs are scaled to [0, 1])`);
}

/** Validates every budget and returns them sorted ascending without duplicates. */
export function normalizeBudgets(norm: Norm, budgets: readonly number[]): number[] {
  if (budgets.length === 0) throw new EvaluationError("at least one budget is needed");
  for (const b of budgets) checkBudget(norm, b);
  return [...new Set(budgets)].sort((a, b) => a - b);
}

/** Parses a comma-separated budget list ("0.05,0.1") and validates it for `norm`. */
export function parseBudgets(norm: Norm, text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const values = parts.map((p) => {
    if (p === "") throw new EvaluationError(`empty budget in "${text}"`);
    const v = Number(p);
    if (Number.isNaN(v)) throw new EvaluationError(`budget "${p}" is not a number`);
    return v;
  });
  return normalizeBudgets(norm, values);
}

/** The largest meaningful budget for `features` inputs: L∞ 1, L2 √features (the box diagonal), L0 every feature. */
export function unboundedBudget(norm: Norm, features: number): number {
  return norm === "linf" ? 1 : norm === "l2" ? Math.sqrt(features) : features;
}
