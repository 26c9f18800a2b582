// The advisor's contract: plain data in, plain data out (DESIGN.md, "Vocabulary" and "The
// advisor"). No Express, SQLite or TensorFlow here — the HTTP layer and the SQLite store map
// their rows onto these input types and serialise the output types as they are.
//
// Units (part of the contract, as in the vocabulary):
// - every accuracy, interval bound, margin and threshold is a FRACTION in [0, 1] (0.71 = 71 %);
//   a "point" in plain-language text is one percentage point = 0.01;
// - a budget ε is in the units of its norm: L∞ pixel units in [0, 1], L2 Euclidean, L0 an
//   integer number of changed input features;
// - a compression rate is prunable parameters before ÷ non-zero prunable parameters after.
// The shared names, units and the matrix snapshot come from the vocabulary (src/vocabulary.ts),
// which the engine and the store import too, so none of them can drift apart. KNOWLEDGE_LEVELS is
// ordered STRONGEST FIRST.
import type { AttackRecord, EvidenceId, Interval, Knowledge, Norm, Strategy, StrategyName } from "../vocabulary.js";

export { DEFAULT_ADVERSARIAL_SHARE, KNOWLEDGE_LEVELS, NORMS, PRUNING_STRATEGIES, STRATEGIES, STRATEGY_NAMES, canonicalCandidateStrategy } from "../vocabulary.js";
export type { AttackRecord, Candidate, CleanCount, Evaluation, EvidenceId, Interval, Knowledge, MatrixSnapshot, Norm, Strategy } from "../vocabulary.js";

// ───────────────────────────────── input: the question ─────────────────────────────────

/** Any subset of the size limits; an empty object means "no size limit". */
export interface SizeLimit {
  /** Upper bound on non-zero parameters of the whole model (integer >= 1). */
  maxParameters?: number;
  /** Lower bound on the ACHIEVED compression rate (>= 1; achieved rates within 0.1 % below it still count). */
  minCompression?: number;
  /** Upper bound on the sparse storage size in bytes (> 0). */
  maxBytes?: number;
  /** Only structured candidates (filter pruning: structured-l1, filter/*; and dense). `false` is the same as absent. */
  structuredOnly?: boolean;
}

export interface Scenario {
  norm: Norm;
  /** ε in the units of `norm`: finite, >= 0; an integer for L0; at most 1 for L∞. */
  budget: number;
  knowledge: Knowledge;
  sizeLimit?: SizeLimit;
  /** Minimum clean accuracy (fraction, compared with the point estimate correct / n). */
  minCleanAccuracy?: number;
  /** Filters selecting the model; all given filters must match. Several models are ranked together only if they share one data set. */
  modelId?: string;
  architecture?: string;
  dataset?: string;
  /**
   * Score evidence that failed the engine's sanity checks (Evaluation.failedChecks) too, with an
   * `unsound-evidence` warning. Default false: such evidence is listed as unscored, with the checks.
   */
  allowUnsoundEvidence?: boolean;
  /**
   * The share r of inputs that are adversarial, a fraction in [0, 1]; default 1 (every input is
   * attacked: the answer is about robust accuracy alone, exactly as without this field).
   * Below 1, candidates are ranked by the lower 95 % bound of the aggregated accuracy
   * (1 − r)·clean + r·robust (vocabulary.ts, aggregateAccuracy), and the answer says over which
   * shares the recommendation stays the best. Validation drops the default 1, so a question has one normal form.
   */
  adversarialShare?: number;
}

// ───────────────────────────────── output ─────────────────────────────────

export interface CandidateRef {
  modelId: string;
  architecture: string;
  dataset: string;
  strategy: Strategy;
  rate: number;
  /** `cumulative`: pruned from the previous rate's fine-tuned variant (a candidate apart from the one-shot variant); absent: one-shot. */
  schedule?: "cumulative";
}

/**
 * How the budget ε was mapped onto the measured grid (conservative interpolation):
 * - `clean`: ε = 0, robust accuracy is the clean accuracy of the evaluated samples (exact, no attack needed);
 * - `measured`: ε is a grid budget;
 * - `next-up`: ε lies between two grid budgets, the next one up is used;
 * - `below-grid`: 0 < ε < the smallest grid budget, the smallest grid budget is used;
 * - `beyond-range`: ε exceeds the largest grid budget (or there is no grid): the value computed
 *   from the per-sample distances at ε is used (at most the value at the largest grid budget).
 */
export type BudgetRule = "clean" | "measured" | "next-up" | "below-grid" | "beyond-range";

export interface AccuracyEstimate {
  value: number;
  /** Wilson 95 % interval. */
  interval: Interval;
}

export interface CleanAccuracy extends AccuracyEstimate {
  correct: number;
  n: number;
}

export interface RobustAccuracy extends AccuracyEstimate {
  /** Samples robust at `budgetUsed` (correct and unbeaten). */
  robust: number;
  n: number;
  norm: Norm;
  /** ε of the scenario. */
  budget: number;
  /** The budget whose measurement was used (see BudgetRule). */
  budgetUsed: number;
  budgetRule: BudgetRule;
  knowledgeRequested: Knowledge;
  knowledgeUsed: Knowledge;
  /** Evidence rows behind the number: the evaluation at `knowledgeUsed` first, then any weaker-level rows merged in per sample. */
  evaluationIds: EvidenceId[];
}

/** (1 − r)·clean + r·robust at the scenario's adversarial share r, with the combined 95 % interval. */
export interface AggregatedAccuracy extends AccuracyEstimate {
  /** The adversarial share r. */
  share: number;
}

export interface CandidateSummary extends CandidateRef {
  achievedRate: number;
  nonZeroParams: number;
  sparseBytes: number;
  /** Kernel and filter strategies: bytes of the dense model with the removable filters physically dropped, when measured. */
  droppedBytes?: number;
  structured: boolean;
  cleanAccuracy: CleanAccuracy;
  /** null when the candidate has no admissible evidence for the scenario. */
  robustAccuracy: RobustAccuracy | null;
  /** Only when the scenario's adversarialShare is below 1; null without robust evidence. */
  aggregatedAccuracy?: AggregatedAccuracy | null;
  /**
   * The ranking score: lower 95 % bound of the aggregated accuracy at the scenario's adversarial
   * share — at share 1 (the default) the lower Wilson bound of the robust accuracy; null without evidence.
   */
  score: number | null;
  /**
   * Present when the variant was measured with several pruning seeds (src/advisor/seeds.ts): the
   * candidate is then its worst case — its worst seed's robust accuracy and score, the largest size
   * and the lowest clean accuracy of its seeds — and this is the spread over the seeds.
   */
  pruningSeeds?: PruningSeedSpread;
}

/** One pruning seed of a variant measured with several. */
export interface PruningSeedResult {
  /** null when the matrix does not say. */
  seed: number | null;
  /** Robust accuracy (point estimate at the budget used); null without admissible evidence. */
  robustAccuracy: number | null;
  /** This seed's lower Wilson 95 % bound; null without admissible evidence. */
  score: number | null;
  evaluationIds: EvidenceId[];
}

export interface PruningSeedSpread {
  /** Seeds measured. */
  count: number;
  /** Every seed measured, ascending (the HTTP answer's lean view leaves the list out: `include=details`). */
  seeds?: PruningSeedResult[];
  /** The seed whose score is the candidate's (the lowest); null when no seed has admissible evidence. */
  worstSeed: number | null;
  /** Lowest and highest robust accuracy across the seeds with admissible evidence; null when none has. */
  robustAccuracy: { min: number; max: number } | null;
}

export const WARNING_CODES = [
  "budget-beyond-range",
  "knowledge-fallback",
  "few-samples",
  "gradient-masking",
  "lattice-inconsistent",
  "duplicate-evidence",
  "margin-not-significant",
  "no-evidence",
  "incomplete-grid",
  "unsound-evidence",
  "clean-accuracy-drop",
  "dense-outperformed",
  "single-pruning-seed",
  "mixed-attack-sets",
] as const;
/**
 * - budget-beyond-range: ε exceeds the largest measured budget;
 * - knowledge-fallback: the scenario's knowledge level was not measured, a stronger level's result was used;
 * - few-samples: the evidence used has fewer than FEW_SAMPLES samples;
 * - gradient-masking: the evidence used carries the engine's masking flag;
 * - lattice-inconsistent: a weaker-knowledge evaluation found the model less robust than the level used (possible masking);
 * - duplicate-evidence: several evaluations for one (candidate, norm, knowledge); the most pessimistic was used;
 * - margin-not-significant: the recommendation's lead over the runner-up is not statistically significant;
 * - no-evidence: candidates met the limits but had no admissible evidence and were not ranked;
 * - incomplete-grid: a model's candidates do not cover every strategy at every rate (a partial matrix);
 * - unsound-evidence: allowUnsoundEvidence scored evidence that failed the engine's sanity checks;
 * - clean-accuracy-drop: the recommendation's clean accuracy is more than 5 points under its dense model's;
 * - dense-outperformed: the recommendation beats its dense model's robust accuracy by more than 10 points,
 *   explained sample by sample (margin gain vs samples the dense model misclassifies anyway);
 * - single-pruning-seed: the pruned recommendation (or gate candidate) rests on one pruning seed, so its
 *   interval covers the sampling of test images but not the randomness of pruning and fine-tuning;
 * - mixed-attack-sets: the candidates compared were measured with different attack sets (e.g. rows of
 *   an older engine next to rebuilt ones), so their ranks partly compare attacks.
 */
export type WarningCode = (typeof WARNING_CODES)[number];

export interface Warning {
  code: WarningCode;
  /** Plain-language explanation. */
  message: string;
  candidate?: CandidateRef;
  evaluationIds?: EvidenceId[];
}

/**
 * A significance test between two candidates: of their robust accuracies at the budget, or — with
 * an adversarial share below 1 — of their aggregated accuracies.
 */
export interface Comparison {
  a: CandidateRef;
  b: CandidateRef;
  /** Both evaluations cover exactly the same test images (paired by sample index). */
  paired: boolean;
  /**
   * `mcnemar-exact` when paired (two-sided binomial test on the discordant pairs), else
   * `fisher-exact` (two-sided, treats the sample sets as independent); with an adversarial share
   * below 1, `aggregate-normal`: a two-sided normal test of the aggregated difference with a
   * conservative standard error (share.ts).
   */
  method: "mcnemar-exact" | "fisher-exact" | "aggregate-normal";
  /** The adversarial share the aggregated difference is at; only with `aggregate-normal`. */
  share?: number;
  aRobust: number;
  aN: number;
  bRobust: number;
  bN: number;
  /** Paired only: samples robust for a but not b, and for b but not a. */
  discordant: { aOnly: number; bOnly: number } | null;
  /** Point estimate a − b (fraction) of robust accuracy, or of aggregated accuracy with `aggregate-normal`. */
  difference: number;
  pValue: number;
  /** pValue < ALPHA (0.05). */
  significant: boolean;
  text: string;
}

export interface Alternative {
  /** 1 = the recommendation. */
  rank: number;
  candidate: CandidateSummary;
  score: number;
  /** Winner's score − this score (>= 0, fraction). */
  margin: number;
  /** Whether the winner's robust accuracy differs significantly from this one; null for rank 1. */
  significant: boolean | null;
  comparison: Comparison | null;
  warnings: Warning[];
}

export interface EvidenceRow {
  evaluationId: EvidenceId;
  candidate: CandidateRef;
  norm: Norm;
  knowledgeRequested: Knowledge;
  /** The level this row was measured at. */
  knowledgeUsed: Knowledge;
  /** `primary`: the evaluation at the level used; `weaker-level`: a weaker level's row on the same samples, merged per sample (worst case). */
  role: "primary" | "weaker-level";
  attacks: AttackRecord[];
  budgets: number[];
  n: number;
  maskingSuspected: boolean;
}

export interface CurvePointOut {
  budget: number;
  robust: number;
  n: number;
  accuracy: number;
  interval: Interval;
  /** Where the point lies relative to ε. */
  position: "below" | "at" | "above";
  /** `grid`: a measured budget; `clean`: ε = 0; `extrapolated`: ε beyond the grid, from the per-sample distances. */
  kind: "grid" | "clean" | "extrapolated";
}

export interface CurveSeries {
  role: "recommendation" | "runner-up";
  candidate: CandidateRef;
  knowledgeUsed: Knowledge;
  evaluationIds: EvidenceId[];
  /** Up to 2 grid budgets below ε, the one at ε, up to 2 above, ascending. */
  points: CurvePointOut[];
}

export type LimitName = "maxParameters" | "minCompression" | "maxBytes" | "structuredOnly" | "minCleanAccuracy";

/** What one candidate lacks to meet one limit. */
export interface LimitShortfall {
  limit: LimitName;
  /** Path of the limit in the scenario, e.g. "sizeLimit.maxParameters". */
  field: string;
  required: number | boolean;
  actual: number | boolean;
  text: string;
}

export interface NearestCandidate {
  candidate: CandidateRef;
  needs: LimitShortfall[];
}

export interface Relaxation {
  /** Limits removed together (a minimal set: no proper subset suffices). */
  remove: LimitName[];
  /** Candidates that would then be feasible. */
  feasibleCount: number;
  nearest: NearestCandidate;
}

export interface Infeasibility {
  candidatesConsidered: number;
  /** Every active limit with the number of candidates it excludes on its own. */
  limits: { limit: LimitName; field: string; value: number | boolean; excludes: number }[];
  /** Limits whose removal alone would make some candidate feasible; if none, the limits of the smallest relaxations. */
  binding: LimitName[];
  /** Minimal sets of limits whose removal makes some candidate feasible, smallest first. */
  relaxations: Relaxation[];
  nearest: NearestCandidate;
  text: string;
}

export type RecommendationStatus = "ok" | "infeasible" | "no-evidence";

/** Over the shares from `from` to `to`, `candidate` has the highest lower bound of aggregated accuracy. */
export interface ShareSegment {
  from: number;
  to: number;
  candidate: CandidateRef;
}

export interface Recommendation {
  status: RecommendationStatus;
  matrixVersion: number;
  /** The validated scenario the answer is for. */
  scenario: Scenario;
  recommendation: CandidateSummary | null;
  /** Every feasible candidate with evidence, best first; rank 1 is the recommendation. */
  alternatives: Alternative[];
  /** Feasible candidates without admissible evidence (not ranked), with the reason. */
  unscored: { candidate: CandidateSummary; reason: string }[];
  /** Recommendation vs runner-up; null with fewer than two ranked candidates. */
  comparison: Comparison | null;
  /** Evidence rows behind the recommendation and the runner-up. */
  evidence: EvidenceRow[];
  /** Measured curve points around ε for the recommendation and the runner-up. */
  curve: CurveSeries[];
  infeasible: Infeasibility | null;
  counts: { considered: number; feasible: number; ranked: number };
  /**
   * Only with an adversarialShare below 1 and status ok: over all shares from 0 to 1, which ranked
   * candidate has the highest lower bound of aggregated accuracy — consecutive ranges, each
   * boundary the exact share where two candidates' lines cross. The asked share lies in the
   * recommendation's range.
   */
  shareSweep?: ShareSegment[];
  /** 2–4 plain sentences (one more with an adversarialShare below 1: how the choice changes over shares). */
  rationale: string;
  warnings: Warning[];
}

// ───────────────────────────────── gate ─────────────────────────────────

export interface GateThresholds {
  /** Pass only if the LOWER Wilson 95 % bound of robust accuracy is at least this (fraction), whatever the adversarial share. */
  minRobustAccuracy?: number;
  /**
   * Pass only if the LOWER 95 % bound of the aggregated accuracy (1 − r)·clean + r·robust at the
   * scenario's adversarialShare r is at least this (fraction). At share 1 (the default) it is the
   * same check as minRobustAccuracy.
   */
  minAggregatedAccuracy?: number;
  /**
   * Pass only if dense robust accuracy − candidate robust accuracy (point estimates, fraction:
   * 0.02 = 2 percentage points) is at most this. In [-1, 1]; negative demands a sweet spot.
   */
  maxDropVsDense?: number;
}

export interface GateRequest {
  /** The strategy by any accepted name (an alias such as filter/magnitude-local names the variant stored as structured-l1). */
  candidate: { strategy: StrategyName; rate: number; schedule?: "one-shot" | "cumulative" };
  scenario: Scenario;
  thresholds: GateThresholds;
}

export type GateCheckName = LimitName | "evidence" | "minRobustAccuracy" | "minAggregatedAccuracy" | "maxDropVsDense";

export interface GateCheck {
  check: GateCheckName;
  /** Path in the request, e.g. "scenario.sizeLimit.maxBytes" or "thresholds.minRobustAccuracy". */
  field: string;
  pass: boolean;
  text: string;
}

export interface GateResult {
  pass: boolean;
  /** One plain sentence per check, failures first. */
  reasons: string[];
  checks: GateCheck[];
  candidate: CandidateSummary;
  /** The same model's dense candidate (the reference of maxDropVsDense); null if the matrix has none. */
  dense: CandidateSummary | null;
  /** Dense − candidate robust accuracy (point estimates) with the significance test; null unless both have evidence. */
  drop: { value: number; comparison: Comparison | null } | null;
  evidence: EvidenceRow[];
  warnings: Warning[];
  matrixVersion: number;
}
