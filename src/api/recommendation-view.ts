// The recommendation as the API and `advisor recommend` hand it out: lean by default (the winner,
// the best 5 alternatives without their details — each one's paired test with the winner and
// its own warnings; for a variant measured with several pruning seeds, the per-seed list behind
// its spread —, the answer's warnings, rationale, version and links to the evidence), the
// rest on request with `include` (evidence rows, curves, details, every alternative, the
// unscored candidates with their reasons). The advisor computes the paired
// tests only for the alternatives shown.
import { recommend, type MatrixSnapshot, type Recommendation, type Scenario } from "../advisor/index.js";
import { HttpProblem } from "./problem.js";
import type { components } from "./schema.gen.js";

type Schemas = components["schemas"];

export const INCLUDE_PARTS = ["evidence", "curve", "details", "all-alternatives", "unscored"] as const;
export type IncludePart = (typeof INCLUDE_PARTS)[number];
/** Candidates shown without `include=all-alternatives`: the winner (rank 1) and ranks 2–5. */
export const DEFAULT_ALTERNATIVES = 5;

/** `evidence,curve` → the set; an unknown part is a 400 naming `include`. */
export function parseInclude(text: string | undefined): Set<IncludePart> {
  const out = new Set<IncludePart>();
  if (text === undefined || text === "") return out;
  for (const part of text.split(",")) {
    const p = part.trim();
    if (!(INCLUDE_PARTS as readonly string[]).includes(p)) {
      throw new HttpProblem(400, "Bad Request", `include: unknown part ${JSON.stringify(p)} (known: ${INCLUDE_PARTS.join(", ")})`, "include");
    }
    out.add(p as IncludePart);
  }
  return out;
}

/**
 * GET /v1/matrix/curves for the recommendation and the runner-up around the budget; with an
 * adversarial share below 1, their aggregated accuracy against the share at that budget (vs=share).
 */
function curvesLink(r: Recommendation): string | null {
  const shown = r.alternatives.slice(0, 2).map((a) => a.candidate);
  const first = shown[0];
  if (!first) return null;
  const q = new URLSearchParams({
    model: first.modelId,
    norm: r.scenario.norm,
    knowledge: r.scenario.knowledge,
    candidates: shown.filter((c) => c.modelId === first.modelId).map((c) => `${c.strategy}@${c.rate}`).join(","),
    at: String(r.scenario.budget),
    ...(r.scenario.adversarialShare === undefined ? {} : { vs: "share" }),
  });
  return `/v1/matrix/curves?${q.toString()}`;
}

function evidenceLinks(r: Recommendation): string[] {
  const ids = new Set<string>();
  for (const a of r.alternatives.slice(0, 2)) for (const id of a.candidate.robustAccuracy?.evaluationIds ?? []) ids.add(String(id));
  return [...ids].map((id) => `/v1/matrix/rows/${encodeURIComponent(id)}`);
}

/** A candidate without its per-seed list (a variant measured with several pruning seeds keeps its spread). */
function leanSummary<T extends Schemas["CandidateSummary"] | null>(c: T): T {
  if (!c?.pruningSeeds?.seeds) return c;
  const { seeds: _s, ...spread } = c.pruningSeeds;
  return Object.assign({}, c, { pruningSeeds: spread });
}

/** An alternative without its details (its paired test with the winner, its own warnings, its per-seed list). */
function lean(a: Recommendation["alternatives"][number]): Schemas["Alternative"] {
  const { comparison: _c, warnings: _w, ...rest } = a;
  return Object.assign(rest, { candidate: leanSummary(rest.candidate) });
}

/** Shapes the advisor's full answer for the wire. */
export function recommendationView(r: Recommendation, include: ReadonlySet<IncludePart>): Schemas["Recommendation"] {
  const { evidence, curve, alternatives, unscored, ...rest } = r;
  // Object.assign onto the rest, not `{ ...rest, more }` (see src/advisor/assess.ts on spreads).
  return Object.assign(rest, {
    recommendation: include.has("details") ? rest.recommendation : leanSummary(rest.recommendation),
    // The unscored candidates are counted (counts.feasible − counts.ranked) and named in the
    // no-evidence warning; each one with its reason comes with include=unscored.
    ...(include.has("unscored") ? { unscored } : {}),
    // Each alternative's paired test and own warnings are details: the winner's and the
    // runner-up's warnings are in the answer's warnings, their test in its comparison.
    // Lean: the top 5 are the recommendation (rank 1, in `recommendation`) and ranks 2–5 here.
    alternatives: (include.has("all-alternatives") ? alternatives : alternatives.slice(1)).map((a) => (include.has("details") ? a : lean(a))),
    ...(include.has("evidence") ? { evidence } : {}),
    ...(include.has("curve") ? { curve } : {}),
    links: { evidence: evidenceLinks(r), curves: curvesLink(r) },
  });
}

/** The advisor's answer, shaped: only the alternatives shown get their paired tests computed, and evidence rows and curves only when included. */
export function answerRecommendation(snapshot: MatrixSnapshot, scenario: Scenario, include: ReadonlySet<IncludePart>): Schemas["Recommendation"] {
  // Written out, not `{ ...(cond ? {} : { alternatives }), more }`: that literal shape leaves its
  // objects alive past the next scavenge on Node 20 (src/advisor/assess.ts, bench/literal-survival.ts).
  const r = recommend(snapshot, scenario, {
    alternatives: include.has("all-alternatives") ? undefined : DEFAULT_ALTERNATIVES,
    // What the view drops is not built.
    evidence: include.has("evidence"),
    curve: include.has("curve"),
    unscored: include.has("unscored"),
  });
  return recommendationView(r, include);
}
