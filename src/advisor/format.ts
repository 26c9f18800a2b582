// Number and name formatting for the advisor's plain-language text. Locale-independent on
// purpose (answers must not depend on the server's locale).
import type { CandidateRef, Knowledge, Norm } from "./types.js";

/** 33275 → "33,275". */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? "-" : "";
  const [int, frac] = Math.abs(n).toString().split(".");
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + grouped + (frac !== undefined ? `.${frac}` : "");
}

/** 0.7123 → "71.2 %". */
export function fmtPct(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)} %`;
}

/** A difference of fractions in percentage points: 0.023 → "2.3 points". */
export function fmtPoints(x: number, digits = 1): string {
  const v = (100 * x).toFixed(digits);
  return `${v} point${v === (1).toFixed(digits) ? "" : "s"}`;
}

/** "p = 0.0386", "p = 0.41", "p < 0.0001". */
export function fmtP(p: number): string {
  if (p < 1e-4) return "p < 0.0001";
  return `p = ${p >= 0.1 ? p.toFixed(2) : p.toPrecision(3)}`;
}

/** Compression rate, five significant digits: 8 → "8×", 3.99951 → "3.9995×". */
export function fmtRate(r: number): string {
  return `${Number.isFinite(r) ? Number(r.toPrecision(5)) : r}×`;
}

/** Budget without float noise: 0.30000000000000004 → "0.3". */
export function fmtBudget(b: number): string {
  if (!Number.isFinite(b)) return String(b);
  return String(Number(b.toPrecision(6)));
}

/** An adversarial share, three significant digits: 0.5 → "0.5", 0.49731 → "0.497". */
export function fmtShare(r: number): string {
  return String(Number(r.toPrecision(3)));
}

export function normLabel(norm: Norm): string {
  return norm === "l0" ? "L0" : norm === "l2" ? "L2" : "L∞";
}

export function knowledgeLabel(k: Knowledge): string {
  return k === "white-box" ? "white-box" : k === "transfer" ? "transfer (grey-box)" : "black-box";
}

export function budgetText(norm: Norm, budget: number): string {
  const unit = norm === "l0" ? ` changed feature${budget === 1 ? "" : "s"}` : "";
  return `${normLabel(norm)} ε = ${fmtBudget(budget)}${unit}`;
}

/**
 * "global-magnitude at 8×", "the dense model"; with the model when several models are ranked
 * together — its architecture and the first 12 hex digits of its id (as `git` abbreviates
 * hashes): readable, and unique among the models of a matrix in practice.
 */
export function candidateLabel(c: CandidateRef, withModel = false): string {
  const base = c.strategy === "dense" ? "the dense model" : `${c.strategy} at ${fmtRate(c.rate)}${c.schedule === "cumulative" ? " (cumulative)" : ""}`;
  return withModel ? `${base} of ${c.modelId.slice(0, 12)} (${c.architecture})` : base;
}
