// One candidate under one scenario: admissible evidence (lattice), the conservative budget
// (curve), robust accuracy with its Wilson interval, the score (lower bound; with an adversarial
// share below 1 that of the aggregated accuracy, share.ts) and the warnings about the evidence
// used. Shared by recommend and gate.
import { wilson } from "../vocabulary.js";
import { AdvisorDataError } from "./errors.js";
import { budgetLookup, conservativeBudget, estimate, pointsAround, type BudgetChoice, type BudgetLookup, type Estimate } from "./curve.js";
import { preparedEvidence, resolveEvidence, robustCountAt, slotOf, type EvidenceCache, type ResolvedEvidence } from "./lattice.js";
import { refOf, smallerFirst } from "./limits.js";
import { planScore } from "./scoring.js";
import type { ComparableSide } from "./paired.js";
import { budgetText, candidateLabel, fmtBudget, fmtInt } from "./format.js";
import { aggregatedOf, rankingScore, shareOf } from "./share.js";
import {
  PRUNING_STRATEGIES,
  type Candidate,
  type CandidateRef,
  type CandidateSummary,
  type CurveSeries,
  type EvidenceId,
  type EvidenceRow,
  type PruningSeedSpread,
  type Scenario,
  type Warning,
} from "./types.js";

/** Below this many evaluated samples a warning says the interval is wide. */
export const FEW_SAMPLES = 100;
/** Scores closer than this are a tie (then the smaller model wins). */
export const SCORE_TIE = 1e-12;

export interface Assessment {
  candidate: Candidate;
  ref: CandidateRef;
  label: string;
  evidence: ResolvedEvidence | null;
  noEvidenceReason: string | null;
  /** No evidence because the only rows in scope failed the engine's sanity checks. */
  unsound: boolean;
  choice: BudgetChoice | null;
  estimate: Estimate | null;
  /** Lower Wilson 95 % bound of the robust accuracy; null without evidence. */
  robustLow: number | null;
  /** The ranking score (rankingScore): robustLow at share 1, the aggregate's lower bound below; null without evidence. */
  score: number | null;
  /** Built on first read (a question shows only a few candidates). */
  readonly summary: CandidateSummary;
  readonly warnings: Warning[];
  /** A variant measured with several pruning seeds (seeds.ts): the spread over its seeds, built on first call. */
  seedSpread?: () => PruningSeedSpread;
}

function checkCandidate(c: Candidate, label: string): void {
  const { correct, n } = c.clean ?? { correct: NaN, n: NaN };
  if (!(Number.isInteger(correct) && Number.isInteger(n) && correct >= 0 && correct <= n)) {
    throw new AdvisorDataError(`${label} of ${c.modelId}: clean accuracy ${correct}/${n} is not a valid count`);
  }
  for (const [name, v] of [["nonZeroParams", c.nonZeroParams], ["sparseBytes", c.sparseBytes], ["achievedRate", c.achievedRate], ["rate", c.rate]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new AdvisorDataError(`${label} of ${c.modelId}: ${name} = ${String(v)} is not a valid number`);
  }
  if (c.strategy !== "dense" && !(PRUNING_STRATEGIES as readonly string[]).includes(c.strategy)) {
    throw new AdvisorDataError(`${c.modelId}: unknown strategy "${String(c.strategy)}" in the matrix`);
  }
  if (!Array.isArray(c.evaluations)) throw new AdvisorDataError(`${label} of ${c.modelId}: evaluations must be an array`);
}

export function assessCandidate(c: Candidate, s: Scenario, withModel: boolean, cache: EvidenceCache | null = null): Assessment {
  const allowUnsound = s.allowUnsoundEvidence === true;
  const share = shareOf(s);
  // Without admissible evidence nothing of the assessment depends on ε: on a prepared snapshot it
  // is made once per (norm, knowledge, unsound allowed, labelling, share below 1 or not) and
  // shared, read-only — every question lists every such candidate among its unscored ones.
  let memo: (Assessment | undefined)[] | undefined;
  let memoSlot = 0;
  if (cache && preparedEvidence(c, s.norm, s.knowledge, allowUnsound, cache) === null) {
    memoSlot = slotOf(s.norm, s.knowledge, allowUnsound) * 4 + (withModel ? 2 : 0) + (share < 1 ? 1 : 0);
    memo = cache.noEvidence.get(c);
    const hit = memo?.[memoSlot];
    if (hit) return hit;
    if (!memo) cache.noEvidence.set(c, (memo = []));
  }
  const ref = refOf(c);
  const label = candidateLabel(ref, withModel);
  // A prepared snapshot's candidates were checked when it was prepared.
  if (!cache?.levels.has(c)) checkCandidate(c, label);
  const res = resolveEvidence(c, s.norm, s.knowledge, s.budget, ref, label, cache, allowUnsound);
  // The summary and the warnings are built on first use: a question ranks every candidate but
  // shows only a few of them. No `{ ...x, more }` literals on this path (nor on the rest of a
  // question's): on Node 20's V8 each object they make outlives the next scavenge, and GC was
  // about a third of a recommendation's CPU (bench/advisor-cpu.md); Object.assign onto a fresh
  // object makes the same object with its keys in the same order.
  const summaryBase = (): Omit<CandidateSummary, "robustAccuracy" | "score"> => ({
    modelId: ref.modelId,
    architecture: ref.architecture,
    dataset: ref.dataset,
    strategy: ref.strategy,
    rate: ref.rate,
    ...(ref.schedule === undefined ? {} : { schedule: ref.schedule }),
    achievedRate: c.achievedRate,
    nonZeroParams: c.nonZeroParams,
    sparseBytes: c.sparseBytes,
    ...(c.droppedBytes === undefined ? {} : { droppedBytes: c.droppedBytes }),
    structured: c.structured,
    cleanAccuracy: { value: c.clean.n > 0 ? c.clean.correct / c.clean.n : 0, interval: wilson(c.clean.correct, c.clean.n), correct: c.clean.correct, n: c.clean.n },
  });
  if (!res.evidence) {
    const summary = (): CandidateSummary => Object.assign(summaryBase(), { robustAccuracy: null, ...(share < 1 ? { aggregatedAccuracy: null } : {}), score: null });
    const none = new LazyAssessment(
      { candidate: c, ref, label, evidence: null, noEvidenceReason: res.reason, unsound: res.unsound === true, choice: null, estimate: null, robustLow: null, score: null },
      summary,
      () => [],
    );
    if (memo) memo[memoSlot] = none;
    return none;
  }
  const ev = res.evidence;
  const choice = conservativeBudget(ev.grid, s.budget);
  const est = estimate(robustCountAt(ev, choice.budgetUsed), ev.distances.length);
  const score = rankingScore(c, est.interval.low, s)!;
  const ids = (): EvidenceId[] => [ev.primary.id, ...ev.merged.map((e) => e.id)];
  const warnings = (): Warning[] => evidenceWarnings(ev, choice, est, s, ref, label, ids());
  const summary = (): CandidateSummary =>
    Object.assign(summaryBase(), {
      robustAccuracy: {
        value: est.value,
        interval: est.interval,
        robust: est.robust,
        n: est.n,
        norm: s.norm,
        budget: s.budget,
        budgetUsed: choice.budgetUsed,
        budgetRule: choice.rule,
        knowledgeRequested: ev.knowledgeRequested,
        knowledgeUsed: ev.knowledgeUsed,
        evaluationIds: ids(),
      },
      ...(share < 1 ? { aggregatedAccuracy: aggregatedOf(c, est, share) } : {}),
      score,
    });
  return new LazyAssessment(
    { candidate: c, ref, label, evidence: ev, noEvidenceReason: null, unsound: false, choice, estimate: est, robustLow: est.interval.low, score },
    summary,
    warnings,
  );
}

/** An Assessment's fields other than those built on first read. */
export type AssessmentFields = Omit<Assessment, "summary" | "warnings" | "seedSpread">;

/**
 * An Assessment whose summary and warnings are built on first read (by `makeSummary` and
 * `makeWarnings`, each called at most once). A class with getters on its prototype, not an object
 * literal with its own `get summary()`: V8 gives each such literal a hidden class of its own
 * (old-space objects pointing at that call's young closures), which kept every question's
 * garbage alive through scavenges — measured, GC was about a third of a recommendation's CPU
 * (bench/advisor-cpu.md). Instances of one class share one hidden class.
 */
export class LazyAssessment implements Assessment {
  readonly candidate: Candidate;
  readonly ref: CandidateRef;
  readonly label: string;
  readonly evidence: ResolvedEvidence | null;
  readonly noEvidenceReason: string | null;
  readonly unsound: boolean;
  readonly choice: BudgetChoice | null;
  readonly estimate: Estimate | null;
  readonly robustLow: number | null;
  readonly score: number | null;
  readonly seedSpread: (() => PruningSeedSpread) | undefined;
  #summary: CandidateSummary | undefined = undefined;
  #warnings: Warning[] | undefined = undefined;
  readonly #makeSummary: () => CandidateSummary;
  readonly #makeWarnings: () => Warning[];

  constructor(f: AssessmentFields, makeSummary: () => CandidateSummary, makeWarnings: () => Warning[], seedSpread?: () => PruningSeedSpread) {
    this.candidate = f.candidate;
    this.ref = f.ref;
    this.label = f.label;
    this.evidence = f.evidence;
    this.noEvidenceReason = f.noEvidenceReason;
    this.unsound = f.unsound;
    this.choice = f.choice;
    this.estimate = f.estimate;
    this.robustLow = f.robustLow;
    this.score = f.score;
    this.seedSpread = seedSpread;
    this.#makeSummary = makeSummary;
    this.#makeWarnings = makeWarnings;
  }

  get summary(): CandidateSummary {
    return (this.#summary ??= this.#makeSummary());
  }

  get warnings(): Warning[] {
    return (this.#warnings ??= this.#makeWarnings());
  }
}

/** What a reader of this candidate's number must know about the evidence behind it. */
function evidenceWarnings(ev: ResolvedEvidence, choice: BudgetChoice, est: Estimate, s: Scenario, ref: CandidateRef, label: string, ids: EvidenceId[]): Warning[] {
  const warnings = [...ev.warnings];
  if (choice.rule === "beyond-range") {
    const largest = ev.grid.at(-1);
    warnings.push({
      code: "budget-beyond-range",
      message:
        (largest === undefined
          ? `${label}'s evaluation (row ${String(ev.primary.id)}) has no fixed-budget grid; `
          : `${budgetText(s.norm, s.budget)} is beyond the largest measured budget ${fmtBudget(largest)} for ${label} (row ${String(ev.primary.id)}); `) +
        `the value computed from the per-sample minimal distances at ε is used (never more than at the largest measured budget), ` +
        `but no fixed-budget attack ran there, so it may overstate robustness.`,
      candidate: ref,
      evaluationIds: ids,
    });
  }
  if (est.n < FEW_SAMPLES) {
    warnings.push({
      code: "few-samples",
      message: `${label}'s robust accuracy rests on only ${fmtInt(est.n)} samples (fewer than ${FEW_SAMPLES}); its interval is wide.`,
      candidate: ref,
      evaluationIds: ids,
    });
  }
  const masked = [ev.primary, ...ev.merged].filter((e) => e.maskingSuspected);
  if (masked.length > 0) {
    warnings.push({
      code: "gradient-masking",
      message:
        `Gradient masking is suspected in the evidence for ${label} (row ${masked.map((e) => String(e.id)).join(", ")}): ` +
        `weaker-knowledge attacks beat samples the white-box attacks did not, so the white-box attacks may be weak and the robust accuracy overstated.`,
      candidate: ref,
      evaluationIds: masked.map((e) => e.id),
    });
  }
  return warnings;
}

/** Position of each strategy in the ranking's order between equal scores (-1: unknown, as indexOf). */
const STRATEGY_ORDER = new Map(["dense", ...PRUNING_STRATEGIES].map((st, i) => [st as string, i]));
const strategyOrder = (st: string): number => STRATEGY_ORDER.get(st) ?? -1;

/** Best first: higher score; ties (within SCORE_TIE) to the smaller model, then deterministic (strategy, rate, model). */
export function rankCompare(a: { score: number | null; candidate: Candidate }, b: { score: number | null; candidate: Candidate }): number {
  const sa = a.score ?? Number.NEGATIVE_INFINITY;
  const sb = b.score ?? Number.NEGATIVE_INFINITY;
  if (Math.abs(sa - sb) > SCORE_TIE) return sb - sa;
  return tieBreak(a.candidate, b.candidate);
}

/** The ranking's order between equal scores: the smaller model, then deterministic (strategy, rate, model). */
export function tieBreak(ca: Candidate, cb: Candidate): number {
  return (
    smallerFirst(ca, cb) ||
    strategyOrder(ca.strategy) - strategyOrder(cb.strategy) ||
    ca.rate - cb.rate ||
    (ca.modelId < cb.modelId ? -1 : ca.modelId > cb.modelId ? 1 : 0)
  );
}

/**
 * The robust lower bound assessCandidate gives (robustLow; rankingScore turns it into the score),
 * read off a prepared snapshot's precomputed evidence without building anything else; undefined
 * where that evidence is not prepared or depends on ε (then assess the candidate). null: no
 * admissible evidence.
 */
export function preparedScore(c: Candidate, s: Scenario, cache: EvidenceCache, lookup?: BudgetLookup): number | null | undefined {
  const ev = preparedEvidence(c, s.norm, s.knowledge, s.allowUnsoundEvidence === true, cache);
  if (ev === undefined || ev === null) return ev;
  return planScore(ev, lookup ?? budgetLookup(s.budget));
}

/** The side of a paired/unpaired comparison (needs evidence): its distances, read at the budget used. */
export function comparable(a: Assessment): ComparableSide {
  if (!a.evidence || !a.choice || !a.estimate) throw new Error(`internal: ${a.label} has no evidence to compare`);
  const indicators = { distances: a.evidence.distances, budget: a.choice.budgetUsed };
  return { ref: a.ref, label: a.label, indicators, sampleIndices: a.evidence.primary.sampleIndices, robust: a.estimate.robust, n: a.estimate.n };
}

export function evidenceRows(a: Assessment): EvidenceRow[] {
  const ev = a.evidence;
  if (!ev) return [];
  return [ev.primary, ...ev.merged].map((e, i) => ({
    evaluationId: e.id,
    candidate: a.ref,
    norm: e.norm,
    knowledgeRequested: ev.knowledgeRequested,
    knowledgeUsed: e.knowledge,
    role: i === 0 ? "primary" : "weaker-level",
    attacks: e.attacks,
    budgets: [...e.budgets],
    n: e.distances.length,
    maskingSuspected: e.maskingSuspected,
  }));
}

export function curveSeries(a: Assessment, role: CurveSeries["role"]): CurveSeries | null {
  const ev = a.evidence;
  if (!ev || !a.choice) return null;
  return {
    role,
    candidate: a.ref,
    knowledgeUsed: ev.knowledgeUsed,
    evaluationIds: [ev.primary.id, ...ev.merged.map((e) => e.id)],
    points: pointsAround(ev.grid, ev.distances, a.choice),
  };
}
