// The recommendation as the API and `advisor recommend` hand it out: lean by default (the winner,
// the best 5 alternatives without their details — each one's paired test with the winner and
// its own warnings; for a variant measured with several pruning seeds, the per-seed list behind
// its spread —, the answer's warnings, rationale, version and links to the evidence), the
// rest on request with `include` (evidence rows, curves, details, every alternative, the
// unscored candidates with their reasons). The advisor computes the paired
// tests only for the alternatives shown.
import { gate, recommend, type GateRequest, type MatrixSnapshot, type Recommendation, type Scenario } from "../advisor/index.js";
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

/**
 * Decimal places of the fractions an answer shows for its candidates (rates, accuracies, interval
 * bounds, scores, margins, p-values). 1e-6 is a five-hundredth of one sample of 500, far below any
 * interval's width; the counts behind every fraction stay exact, so any bound can be recomputed.
 * Full float precision made a third of a lean answer's bytes (issue 18's 8 KB bound).
 */
export const WIRE_DECIMALS = 6;
const SCALE = 10 ** WIRE_DECIMALS;
const round = (x: number): number => Math.round(x * SCALE) / SCALE;
const roundInterval = (i: { low: number; high: number }): { low: number; high: number } => ({ low: round(i.low), high: round(i.high) });

type Summary = Schemas["CandidateSummary"];

/** A candidate's fractions rounded for the wire; with `seedList` false, without its per-seed list (a variant measured with several pruning seeds keeps its spread). */
function wireSummary(c: Summary, seedList: boolean): Summary {
  const ra = c.robustAccuracy;
  const agg = c.aggregatedAccuracy;
  let seeds = c.pruningSeeds;
  if (seeds?.seeds && !seedList) {
    const { seeds: _s, ...spread } = seeds;
    seeds = spread;
  }
  return Object.assign({}, c, {
    achievedRate: round(c.achievedRate),
    cleanAccuracy: Object.assign({}, c.cleanAccuracy, { value: round(c.cleanAccuracy.value), interval: roundInterval(c.cleanAccuracy.interval) }),
    robustAccuracy: ra ? Object.assign({}, ra, { value: round(ra.value), interval: roundInterval(ra.interval) }) : ra,
    score: c.score === null ? null : round(c.score),
    ...(agg ? { aggregatedAccuracy: Object.assign({}, agg, { value: round(agg.value), interval: roundInterval(agg.interval) }) } : {}),
    ...(seeds ? { pruningSeeds: seeds } : {}),
  });
}

function wireComparison(c: Schemas["Comparison"] | null | undefined): Schemas["Comparison"] | null {
  if (!c) return null;
  return Object.assign({}, c, { difference: round(c.difference), pValue: c.pValue === null ? null : round(c.pValue) });
}

/** An alternative rounded for the wire; lean: without its details (its paired test with the winner, its own warnings, its per-seed list). */
function wireAlternative(a: Recommendation["alternatives"][number], details: boolean): Schemas["Alternative"] {
  const { comparison, warnings, ...rest } = a;
  return Object.assign(rest, {
    candidate: wireSummary(rest.candidate, details),
    score: round(rest.score),
    margin: round(rest.margin),
    ...(details ? { comparison: wireComparison(comparison), warnings } : {}),
  });
}

/** Shapes the advisor's full answer for the wire. */
export function recommendationView(r: Recommendation, include: ReadonlySet<IncludePart>): Schemas["Recommendation"] {
  const { evidence, curve, alternatives, unscored, ...rest } = r;
  // Object.assign onto the rest, not `{ ...rest, more }` (see src/advisor/assess.ts on spreads).
  return Object.assign(rest, {
    recommendation: rest.recommendation && wireSummary(rest.recommendation, include.has("details")),
    comparison: wireComparison(rest.comparison),
    // The unscored candidates are counted (counts.feasible − counts.ranked) and named in the
    // no-evidence warning; each one with its reason comes with include=unscored.
    ...(include.has("unscored") ? { unscored } : {}),
    // Each alternative's paired test and own warnings are details: the winner's and the
    // runner-up's warnings are in the answer's warnings, their test in its comparison.
    // Lean: the top 5 are the recommendation (rank 1, in `recommendation`) and ranks 2–5 here.
    alternatives: (include.has("all-alternatives") ? alternatives : alternatives.slice(1)).map((a) => wireAlternative(a, include.has("details"))),
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

/** The gate's verdict as the API and `advisor gate` hand it out: its candidates' fractions rounded like a recommendation's (the per-seed list kept). */
export function answerGate(snapshot: MatrixSnapshot, request: GateRequest): Schemas["GateResult"] {
  const g: Schemas["GateResult"] = gate(snapshot, request);
  return Object.assign(g, {
    candidate: wireSummary(g.candidate, true),
    dense: g.dense && wireSummary(g.dense, true),
    drop: g.drop && Object.assign({}, g.drop, { value: round(g.drop.value), comparison: wireComparison(g.drop.comparison) }),
  });
}
