// Indicators of attack failure (Pintor et al., NeurIPS 2022, "Indicators of Attack Failure:
// Debugging and Improving Optimization of Adversarial Examples"), computed per evaluation and
// stored with its matrix row. Each indicator says whether it was measured (`checked`), whether it
// was seen at all (`fired`), and whether it makes the row inadmissible (`failed`; the advisor does
// not score such a row, src/advisor/lattice.ts).
//
// Admissibility — what a careful robustness evaluation can and cannot live with. An indicator
// matters only where it can inflate the robust accuracy the row reports, i.e. on samples the row
// counts as ROBUST at some positive grid budget (d_i > smallest positive ε); on a sample some
// attack beat anyway it changes nothing.
//   zero-gradients: the margin and the cross-entropy input gradients of a clean-correct sample are
//     both exactly zero, or either is not finite, at the clean input (the gradient attacks have no
//     direction there: masked or shattered gradients, a quantiser, a dead network). Inadmissible
//     as soon as ONE such sample is counted robust: its robustness rests on attacks that could not
//     move it, and a healthy model has none (none on the first 100 test images of the shipped
//     LeNet-5 and its global-magnitude 16x, layer-magnitude 32x and random 64x variants, L∞ and
//     L2; see the README). Beaten samples with zero gradients are harmless (something found them anyway).
//   silent-success: an attack saw a point it judged misclassified within the budget and box but
//     the point it returned is not verified adversarial. Inadmissible as soon as one such sample is
//     counted robust at that budget (for a minimization attack: below the distance of the rejected
//     point): an adversarial point is known, and the row says the sample resisted.
//   incomplete-optimisation: every fixed-budget gradient run that FAILED on a sample ended with its
//     best loss still rising (more than 5 % of the run's rise in its last 10 % of steps; see
//     attacks/gradients.ts, stillRising). One run that settled and failed backs the sample's
//     robustness (APGD's step-size schedule settles where fixed-step PGD may not). Inadmissible when
//     such samples counted robust exceed INCOMPLETE_MAX_SHARE of the evaluated samples: then more
//     steps could move the robust accuracy by more than the convergence probe tolerates (1 point).
//   unconstrained-failure, weaker-attack-wins: the sanity report's `unbounded` and `masking` checks
//     under the paper's names; they already make a row unsound (by those names), so here they are
//     only mirrored.
//   degenerate-model: a class whose logit does not depend on the input at all — its classifier
//     column, or every path to it, is pruned away — found from the weights (degenerate.ts). Reported
//     with the classes. Some dead classes do not fail the row: the robust accuracy of such a model
//     is still measured correctly (the cross-entropy attacks see the other classes), and where it is
//     not, the zero-gradients indicator fails the row; a constant class is a model-quality fact (its
//     clean accuracy shows it), not a measurement error. EVERY class dead fails it: the model is a
//     constant function (`constant`), no input changes its answer, so its "robust accuracy" is its
//     clean accuracy at any budget — true, but it measures no robustness, and the unbounded check
//     cannot apply (sanity.ts: no input is classified differently). Such a row is unscored as
//     degenerate-model, not as an attack failure.
//   convergence: the optional probe (convergence.ts) re-ran the white-box attacks with twice the
//     steps and restarts; inadmissible when that moved the robust accuracy by more than 1 point at
//     some grid budget.
// Rows without indicators (measured before they existed) read as "not measured", neither passing
// nor failing.
import type { AttackFailureIndicator } from "../../vocabulary.js";
import { beatenAt } from "./curve.js";
import type { SanityReport } from "./sanity.js";

/** incomplete-optimisation fails a row when its robust samples still improving exceed this share of the samples. */
export const INCOMPLETE_MAX_SHARE = 0.01;
/** Version of the report's shape and rules (stored with it). */
export const INDICATOR_RULES_VERSION = 2;

/**
 * What one attack's runs reported per sample (AttackTrace, summed over its budgets); kept on the
 * attack's record so an evaluation that takes the record over also takes these over.
 */
export interface AttackSignals {
  /** Per sample: the smallest budget (minimization attacks: distance) at which the attack saw an adversarial point it did not return; Infinity when none. */
  silentAt: Float32Array;
  /** Per sample: some failed run ended with its loss still rising. */
  rising: Uint8Array;
  /** Per sample: some failed run had settled. */
  settled: Uint8Array;
  /** Whether the attack reported what it saw (silent successes) and whether its runs (incomplete optimisation). */
  seenMeasured: boolean;
  risingMeasured: boolean;
}

export function newSignals(n: number): AttackSignals {
  return { silentAt: new Float32Array(n).fill(Infinity), rising: new Uint8Array(n), settled: new Uint8Array(n), seenMeasured: false, risingMeasured: false };
}

/** Per clean-correct sample of the white-box target, from its input gradients at the clean input (gradient-check.ts). */
export interface GradientFlags {
  /** Both the margin's and the cross-entropy's gradient are exactly zero. */
  zero: Uint8Array;
  /** Either gradient has a non-finite entry. */
  nonFinite: Uint8Array;
}

interface Base {
  checked: boolean;
  /** Seen at all (on any sample). */
  fired: boolean;
  /** Makes the row inadmissible. */
  failed: boolean;
  note?: string;
}

export interface ZeroGradientIndicator extends Base {
  /** Clean-correct samples whose gradients are zero or not finite. */
  samples: number;
  nonFinite: number;
  /** Of those, samples the row counts as robust at some positive grid budget. */
  robust: number;
}

export interface SilentSuccessIndicator extends Base {
  samples: number;
  /** Samples counted robust at a budget where an attack had seen an adversarial point. */
  robust: number;
  /** Samples per attack (`knowledge/name`). */
  byAttack: Record<string, number>;
}

export interface IncompleteIndicator extends Base {
  /** Samples whose every failed gradient run ended still improving. */
  samples: number;
  robust: number;
  /** The most robust such samples a row may have (INCOMPLETE_MAX_SHARE of n). */
  limit: number;
}

export interface MirroredIndicator extends Base {
  /** Where the check lives in the sanity report. */
  sanityCheck: "unbounded" | "masking";
}

export interface DegenerateIndicator extends Base {
  /** Classes whose logit does not depend on the input. */
  deadClasses: number[];
  /** Every class is dead: the model is a constant function (fails the row; absent before rules version 2). */
  constant?: boolean;
}

export interface ConvergenceAtBudget {
  budget: number;
  /** Robust accuracy of the row, and with the stronger attacks' findings added (per-sample minimum). */
  before: number;
  after: number;
  /** before − after, in accuracy (0.01 = 1 point). */
  move: number;
}

export interface ConvergenceIndicator extends Base {
  /** What the probe ran, e.g. "white-box attacks with 2x steps and restarts". */
  probe?: string;
  maxMove?: number;
  /** The most a probe may move the robust accuracy (0.01 = 1 point). */
  tolerance?: number;
  perBudget?: ConvergenceAtBudget[];
  seconds?: number;
}

export interface IndicatorReport {
  rules: number;
  zeroGradients: ZeroGradientIndicator;
  silentSuccess: SilentSuccessIndicator;
  incompleteOptimisation: IncompleteIndicator;
  unconstrainedFailure: MirroredIndicator;
  weakerAttackWins: MirroredIndicator;
  degenerateModel: DegenerateIndicator;
  convergence: ConvergenceIndicator;
  /** The indicators that make the row inadmissible (empty: admissible as far as the indicators go). */
  failed: AttackFailureIndicator[];
}

/** Each indicator's entry in the report, by name. */
export const INDICATOR_FIELDS: Record<AttackFailureIndicator, Exclude<keyof IndicatorReport, "rules" | "failed">> = {
  "zero-gradients": "zeroGradients",
  "silent-success": "silentSuccess",
  "incomplete-optimisation": "incompleteOptimisation",
  "unconstrained-failure": "unconstrainedFailure",
  "weaker-attack-wins": "weakerAttackWins",
  "degenerate-model": "degenerateModel",
  convergence: "convergence",
};

export interface IndicatorInputs {
  /** The row's per-sample distances (every level in scope). */
  distances: ArrayLike<number>;
  budgets: readonly number[];
  /** Gradient flags (white-box in scope), else undefined with a note. */
  gradients?: GradientFlags;
  gradientNote?: string;
  /** The traced attacks' signals, labelled `knowledge/name` (white-box, not the sanity run). */
  signals: { label: string; signals: AttackSignals }[];
  deadClasses: number[] | null;
  /** The model's output width (classes), to tell a constant model (every class dead). */
  classCount: number;
  degenerateNote?: string;
  sanity: SanityReport;
}

/** Every one of the model's classes is dead: its output does not depend on the input at all. */
export function constantModel(deadClasses: readonly number[] | null, classCount: number): boolean {
  return deadClasses !== null && classCount > 0 && deadClasses.length === classCount;
}

/** The report's `failed` list from its indicators. */
function failedOf(r: Omit<IndicatorReport, "failed" | "rules">): AttackFailureIndicator[] {
  return (Object.keys(INDICATOR_FIELDS) as AttackFailureIndicator[]).filter((k) => r[INDICATOR_FIELDS[k]].failed);
}

/** Builds the report of one evaluation (see the header for the rules). */
export function indicatorReport(o: IndicatorInputs): IndicatorReport {
  const n = o.distances.length;
  const smallest = o.budgets.find((b) => b > 0);
  /** Counted robust at some positive grid budget. */
  const robustSomewhere = (p: number): boolean => smallest !== undefined && !beatenAt(o.distances[p]!, smallest);

  let zeroGradients: ZeroGradientIndicator;
  if (o.gradients) {
    let samples = 0;
    let nonFinite = 0;
    let robust = 0;
    for (let p = 0; p < n; p++) {
      const bad = o.gradients.zero[p] === 1 || o.gradients.nonFinite[p] === 1;
      if (!bad) continue;
      samples++;
      if (o.gradients.nonFinite[p] === 1) nonFinite++;
      if (robustSomewhere(p)) robust++;
    }
    zeroGradients = { checked: true, fired: samples > 0, failed: robust > 0, samples, nonFinite, robust };
  } else {
    zeroGradients = { checked: false, fired: false, failed: false, samples: 0, nonFinite: 0, robust: 0, note: o.gradientNote ?? "not measured" };
  }

  const seenBy = o.signals.filter((s) => s.signals.seenMeasured);
  const silentAt = new Float32Array(n).fill(Infinity);
  const byAttack: Record<string, number> = {};
  for (const { label, signals } of seenBy) {
    let count = 0;
    for (let p = 0; p < n; p++) {
      const at = signals.silentAt[p]!;
      if (at === Infinity) continue;
      count++;
      silentAt[p] = Math.min(silentAt[p]!, at);
    }
    if (count > 0) byAttack[label] = count;
  }
  let silentSamples = 0;
  let silentRobust = 0;
  for (let p = 0; p < n; p++) {
    if (silentAt[p] === Infinity) continue;
    silentSamples++;
    if (!beatenAt(o.distances[p]!, silentAt[p]!)) silentRobust++;
  }
  const silentSuccess: SilentSuccessIndicator =
    seenBy.length > 0
      ? { checked: true, fired: silentSamples > 0, failed: silentRobust > 0, samples: silentSamples, robust: silentRobust, byAttack }
      : { checked: false, fired: false, failed: false, samples: 0, robust: 0, byAttack, note: "no white-box attack reported what it saw" };

  const runs = o.signals.filter((s) => s.signals.risingMeasured);
  let incompleteSamples = 0;
  let incompleteRobust = 0;
  for (let p = 0; p < n; p++) {
    const rising = runs.some((s) => s.signals.rising[p] === 1);
    const settled = runs.some((s) => s.signals.settled[p] === 1);
    if (!rising || settled) continue;
    incompleteSamples++;
    if (robustSomewhere(p)) incompleteRobust++;
  }
  const limit = Math.floor(INCOMPLETE_MAX_SHARE * n);
  const incompleteOptimisation: IncompleteIndicator =
    runs.length > 0
      ? { checked: true, fired: incompleteSamples > 0, failed: incompleteRobust > limit, samples: incompleteSamples, robust: incompleteRobust, limit }
      : { checked: false, fired: false, failed: false, samples: 0, robust: 0, limit, note: "no fixed-budget gradient attack ran on the target" };

  const u = o.sanity.unbounded;
  const unconstrainedFailure: MirroredIndicator = { checked: u.checked, fired: u.pass === false, failed: false, sanityCheck: "unbounded" };
  const m = o.sanity.masking;
  const weakerAttackWins: MirroredIndicator = { checked: m.checked, fired: m.flagged, failed: false, sanityCheck: "masking" };
  const degenerateModel: DegenerateIndicator =
    o.deadClasses === null
      ? { checked: false, fired: false, failed: false, deadClasses: [], note: o.degenerateNote ?? "not measured" }
      : constantModel(o.deadClasses, o.classCount)
        ? {
            checked: true,
            fired: true,
            failed: true,
            deadClasses: [...o.deadClasses],
            constant: true,
            note: "the model's output is constant: no attack can change it, so none ran; every clean-correct sample is robust at every budget (exact)",
          }
        : { checked: true, fired: o.deadClasses.length > 0, failed: false, deadClasses: [...o.deadClasses] };
  const convergence: ConvergenceIndicator = { checked: false, fired: false, failed: false, note: "not probed (the grid's attacks.convergenceProbe chooses the cells)" };

  const parts = { zeroGradients, silentSuccess, incompleteOptimisation, unconstrainedFailure, weakerAttackWins, degenerateModel, convergence };
  return { rules: INDICATOR_RULES_VERSION, ...parts, failed: failedOf(parts) };
}

/** The report with the convergence probe's outcome in (and `failed` recomputed). */
export function withConvergence(report: IndicatorReport, convergence: ConvergenceIndicator): IndicatorReport {
  const { rules: _rules, failed: _failed, ...parts } = report;
  const next = { ...parts, convergence };
  return { rules: report.rules, ...next, failed: failedOf(next) };
}

/** Lines for people: the indicators that fired, with their counts (empty when none did). */
export function describeIndicators(r: IndicatorReport): string[] {
  const out: string[] = [];
  const mark = (b: Base): string => (b.failed ? "FAILS the row" : "does not fail the row");
  if (r.zeroGradients.fired) out.push(`zero-gradients: ${r.zeroGradients.samples} sample(s) with zero or non-finite input gradients (${r.zeroGradients.nonFinite} non-finite), ${r.zeroGradients.robust} counted robust — ${mark(r.zeroGradients)}`);
  if (r.silentSuccess.fired) out.push(`silent-success: ${r.silentSuccess.samples} sample(s) (${Object.entries(r.silentSuccess.byAttack).map(([a, k]) => `${a} ${k}`).join(", ")}), ${r.silentSuccess.robust} counted robust — ${mark(r.silentSuccess)}`);
  if (r.incompleteOptimisation.fired) {
    out.push(`incomplete-optimisation: ${r.incompleteOptimisation.samples} sample(s), ${r.incompleteOptimisation.robust} counted robust (at most ${r.incompleteOptimisation.limit} allowed) — ${mark(r.incompleteOptimisation)}`);
  }
  if (r.unconstrainedFailure.fired) out.push("unconstrained-failure: the unbounded attack did not beat every sample (sanity check unbounded)");
  if (r.weakerAttackWins.fired) out.push("weaker-attack-wins: transfer or black-box attacks beat what white-box ones did not (sanity check masking)");
  if (r.degenerateModel.constant) out.push(`degenerate-model: every class (${r.degenerateModel.deadClasses.length}) is pruned away, the model's output is constant — ${mark(r.degenerateModel)}`);
  else if (r.degenerateModel.fired) out.push(`degenerate-model: class(es) ${r.degenerateModel.deadClasses.join(", ")} cannot depend on the input (pruned away) — ${mark(r.degenerateModel)}`);
  if (r.convergence.fired) out.push(`convergence: twice the steps and restarts moved the robust accuracy by ${(100 * (r.convergence.maxMove ?? 0)).toFixed(1)} points — ${mark(r.convergence)}`);
  return out;
}
