// How numbers read on the page (fractions as percentages, rates with ×, sizes in KB).
import type { Knowledge, Norm } from "./types.js";

export const NORM_LABEL: Record<Norm, string> = { l0: "L0", l2: "L2", linf: "L∞" };
export const NORM_UNITS: Record<Norm, string> = { l0: "input features changed", l2: "Euclidean distance", linf: "pixel units, 0–1" };
export const KNOWLEDGE_LABEL: Record<Knowledge, string> = { "white-box": "white-box", transfer: "transfer", "black-box": "black-box" };

export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(digits)} %`;
}

export function interval(i: { low: number; high: number }): string {
  return `${(i.low * 100).toFixed(1)}–${(i.high * 100).toFixed(1)} %`;
}

export function rate(r: number): string {
  return `${Number.isInteger(r) ? r : r.toFixed(2)}×`;
}

/** 26028 → "26,028" (without Intl: its first use loads locale data, a visible cost on a first render). */
export function int(n: number): string {
  const [whole, frac] = String(Math.abs(n)).split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${n < 0 ? "-" : ""}${grouped}${frac ? `.${frac}` : ""}`;
}

/** A tick label: at most 4 significant digits, no locale. */
export function tick(x: number): string {
  return String(Number(x.toPrecision(4)));
}

export function bytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

export function budget(norm: Norm, b: number): string {
  return `${NORM_LABEL[norm]} ε = ${b}`;
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** "lenet5 · global-magnitude 4×", "… 4× (cumulative)" for a variant of the cumulative schedule. */
export function candidateName(c: { architecture: string; strategy: string; rate: number; schedule?: string }): string {
  if (c.strategy === "dense") return `${c.architecture} · dense`;
  return `${c.architecture} · ${c.strategy} ${rate(c.rate)}${c.schedule === "cumulative" ? " (cumulative)" : ""}`;
}

/** Whether two candidates, curves or rows are of the same pruning schedule (absent: one-shot). */
export const sameSchedule = (a: { schedule?: string | null }, b: { schedule?: string | null }): boolean => (a.schedule === "cumulative") === (b.schedule === "cumulative");

/** The heatmap row of a candidate: its strategy, a separate row for its cumulative-schedule variants. */
export const strategyRow = (c: { strategy: string; schedule?: string }): string => (c.schedule === "cumulative" ? `${c.strategy} (cumulative)` : c.strategy);

export const candidateKey = (c: { modelId: string; strategy: string; rate: number; schedule?: string }): string =>
  `${c.modelId}/${c.strategy}@${c.rate}${c.schedule === "cumulative" ? "/cumulative" : ""}`;

/** What a candidate's score is for this question: the lower bound of robust accuracy, or of the aggregate at a share below 1. */
export function scoreName(s: { adversarialShare?: number }): string {
  const r = s.adversarialShare;
  return r !== undefined && r < 1 ? `lower 95 % bound of (1 − ${r})·clean + ${r}·robust accuracy` : "lower 95 % bound of robust accuracy";
}
