// Robust accuracy from per-sample minimal adversarial distances, and the CONSERVATIVE mapping of
// a budget ε onto the measured grid. Fixed-budget attacks only ran at the grid budgets, so
// between two grid budgets b_k < ε <= b_{k+1} the advisor uses the value at b_{k+1} (robust
// accuracy never rises with the budget, so that is a lower bound of what the attacks would have
// found at ε); beyond the grid it uses the distances at ε themselves (minimization attacks give
// them) and says so. Never more robustness than the neighbouring measurements support.
import { estimate, estimateAt, isRobustAt, robustCount, type Estimate } from "../vocabulary.js";

export { estimate, estimateAt, isRobustAt, robustCount, type Estimate };
import type { BudgetRule, CurvePointOut } from "./types.js";

/** Grid budgets sorted ascending, duplicates and non-finite or negative values dropped. */
export function measuredGrid(budgets: readonly number[]): number[] {
  return [...new Set(budgets.filter((b) => Number.isFinite(b) && b >= 0))].sort((a, b) => a - b);
}

/** Relative tolerance under which a grid budget and ε are the same budget (float round-off of stored values). */
export const BUDGET_EQUALITY_TOLERANCE = 1e-9;

function sameBudget(a: number, b: number): boolean {
  return Math.abs(a - b) <= BUDGET_EQUALITY_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

export interface BudgetChoice {
  budget: number;
  budgetUsed: number;
  rule: BudgetRule;
}

/** Which budget's measurement stands for ε (see BudgetRule). `grid` must come from measuredGrid. */
export function conservativeBudget(grid: readonly number[], budget: number): BudgetChoice {
  const i = gridIndexFor(grid, budget);
  if (i >= 0 && sameBudget(grid[i]!, budget)) return { budget, budgetUsed: grid[i]!, rule: "measured" };
  if (budget === 0) return { budget, budgetUsed: 0, rule: "clean" };
  if (i < 0) return { budget, budgetUsed: budget, rule: "beyond-range" };
  return { budget, budgetUsed: grid[i]!, rule: i === 0 ? "below-grid" : "next-up" };
}

/**
 * Where one question's ε falls on the grids of its candidates, remembered for the last grid met:
 * a question scores every candidate, and their rows share a few grids (one per norm, as a
 * prepared snapshot shares the arrays), so the grid is searched about once per question.
 */
export interface BudgetLookup {
  readonly budget: number;
  grid: readonly number[] | null;
  /** conservativeBudget(grid, budget).budgetUsed. */
  used: number;
  /** Index of `used` in the grid; -1 when it is not a grid budget (ε = 0 off the grid, or beyond it). */
  index: number;
}

export function budgetLookup(budget: number): BudgetLookup {
  return { budget, grid: null, used: 0, index: -1 };
}

/** Points `l` at `grid` (sorted, deduplicated: measuredGrid) and returns it. */
export function lookUpBudget(l: BudgetLookup, grid: readonly number[]): BudgetLookup {
  if (l.grid === grid) return l;
  l.grid = grid;
  const i = gridIndexFor(grid, l.budget);
  const measured = i >= 0 && sameBudget(grid[i]!, l.budget);
  l.index = measured || (l.budget !== 0 && i >= 0) ? i : -1;
  l.used = l.index >= 0 ? grid[l.index]! : l.budget === 0 ? 0 : l.budget;
  return l;
}

/**
 * The first grid budget equal to ε (sameBudget), else the first one above it; -1 when there is
 * none. One pass: the grid is ascending, so past the first budget above ε (and not equal to it)
 * none can equal ε.
 */
function gridIndexFor(grid: readonly number[], budget: number): number {
  for (let i = 0; i < grid.length; i++) {
    const b = grid[i]!;
    if (b > budget || sameBudget(b, budget)) return i;
  }
  return -1;
}

/**
 * Curve points around ε: up to `around` grid budgets below ε, the grid budget at ε if any, up to
 * `around` above; plus the point actually used when it is not a grid budget (ε = 0, or ε beyond
 * the grid). Ascending by budget.
 */
export function pointsAround(grid: readonly number[], distances: ArrayLike<number>, choice: BudgetChoice, around = 2): CurvePointOut[] {
  const eps = choice.budget;
  const below = grid.filter((b) => b < eps && !sameBudget(b, eps)).slice(-around);
  const at = grid.filter((b) => sameBudget(b, eps));
  const above = grid.filter((b) => b > eps && !sameBudget(b, eps)).slice(0, around);
  const point = (budget: number, position: CurvePointOut["position"], kind: CurvePointOut["kind"]): CurvePointOut => {
    const e = estimateAt(distances, budget);
    return { budget, robust: e.robust, n: e.n, accuracy: e.value, interval: e.interval, position, kind };
  };
  const points = [
    ...below.map((b) => point(b, "below", "grid")),
    ...at.map((b) => point(b, "at", "grid")),
    ...above.map((b) => point(b, "above", "grid")),
  ];
  if (choice.rule === "clean") points.unshift(point(0, "at", "clean"));
  if (choice.rule === "beyond-range") points.push(point(eps, "at", "extrapolated"));
  return points;
}
