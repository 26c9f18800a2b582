// Is the candidate set of a model complete? A grid measures every strategy at every rate, so a
// model's candidates form a rectangle: the dense model plus (strategies seen) × (rates seen).
// Holes mean a matrix still being built (a partial export) or cells that failed: an answer chosen
// among the measured candidates only must say so, and name what is missing.
import { fmtRate } from "./format.js";
import type { Candidate, Warning } from "./types.js";

export interface ModelCoverage {
  modelId: string;
  architecture: string;
  present: number;
  expected: number;
  /** Missing (strategy, rate) pairs, dense as ("dense", 1). */
  missing: { strategy: string; rate: number }[];
}

/** Per model of `pool`, the (strategy, rate) pairs missing from the rectangle its candidates span. */
export function coverageOf(pool: readonly Candidate[]): ModelCoverage[] {
  const byModel = new Map<string, Candidate[]>();
  for (const c of pool) byModel.set(c.modelId, [...(byModel.get(c.modelId) ?? []), c]);
  const out: ModelCoverage[] = [];
  for (const [modelId, cs] of byModel) {
    const pruned = cs.filter((c) => c.strategy !== "dense");
    const strategies = [...new Set(pruned.map((c) => c.strategy))].sort();
    const rates = [...new Set(pruned.map((c) => c.rate))].sort((a, b) => a - b);
    const have = new Set(cs.map((c) => `${c.strategy}@${c.rate}`));
    const missing: ModelCoverage["missing"] = [];
    if (!cs.some((c) => c.strategy === "dense")) missing.push({ strategy: "dense", rate: 1 });
    for (const s of strategies) for (const r of rates) if (!have.has(`${s}@${r}`)) missing.push({ strategy: s, rate: r });
    const expected = 1 + strategies.length * rates.length;
    out.push({ modelId, architecture: cs[0]!.architecture, present: expected - missing.length, expected, missing });
  }
  return out;
}

/** One warning per model whose candidate set has holes (none when every set is complete). */
export function incompleteGridWarnings(pool: readonly Candidate[]): Warning[] {
  return coverageOf(pool)
    .filter((m) => m.missing.length > 0)
    .map((m) => {
      const byStrategy = new Map<string, number[]>();
      for (const x of m.missing) byStrategy.set(x.strategy, [...(byStrategy.get(x.strategy) ?? []), x.rate]);
      const list = [...byStrategy].map(([s, rs]) => (s === "dense" ? "the dense model" : `${s} at ${rs.map(fmtRate).join(", ")}`)).join("; ");
      return {
        code: "incomplete-grid" as const,
        message:
          `The matrix holds ${m.present} of the ${m.expected} candidates of ${m.architecture} (model ${m.modelId.slice(0, 12)}…) that its strategies and rates span; ` +
          `missing: ${list}. The answer is chosen among the measured candidates only.`,
      };
    });
}
