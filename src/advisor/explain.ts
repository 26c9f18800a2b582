// Plain-language rationale and the warnings that are about the answer as a whole (the ones about
// one candidate's evidence come from assess.ts and lattice.ts).
import { SCORE_TIE, type Assessment } from "./assess.js";
import { budgetText, candidateLabel, fmtBudget, fmtInt, fmtP, fmtPct, fmtPoints, fmtRate, fmtShare, knowledgeLabel } from "./format.js";
import type { ActiveLimit } from "./limits.js";
import { cleanEstimate, pointCrossing } from "./share.js";
import { seedNote } from "./seeds.js";
import type { Comparison, Scenario, Warning } from "./types.js";

function sizeText(a: Assessment): string {
  const c = a.candidate;
  const size = `${fmtInt(c.nonZeroParams)} non-zero parameters, ${fmtInt(c.sparseBytes)} bytes sparse`;
  return c.strategy === "dense" ? size : `achieved ${fmtRate(c.achievedRate)}, ${size}`;
}

/**
 * "; taken at the next measured budget up, 0.1, measured against a white-box attacker; the worst of
 * 2 pruning seeds (robust 61.0–66.4 %)" — empty when nothing to say.
 */
export function budgetNote(a: Assessment): string {
  const ra = a.summary.robustAccuracy;
  if (!ra) return "";
  const notes: string[] = [];
  if (ra.budgetRule === "next-up" || ra.budgetRule === "below-grid") notes.push(`taken at the next measured budget up, ${fmtBudget(ra.budgetUsed)}`);
  if (ra.budgetRule === "beyond-range") notes.push("extrapolated beyond the measured budgets");
  if (ra.knowledgeUsed !== ra.knowledgeRequested) notes.push(`measured against a ${ra.knowledgeUsed} attacker`);
  return (notes.length ? `; ${notes.join(", ")}` : "") + seedNote(a);
}

function limitsText(limits: readonly ActiveLimit[]): string {
  return limits
    .map((l) => {
      const v = l.value as number;
      switch (l.name) {
        case "structuredOnly":
          return "structuredOnly";
        case "minCompression":
          return `minCompression ${fmtRate(v)}`;
        case "minCleanAccuracy":
          return `minCleanAccuracy ${fmtPct(v)}`;
        default:
          return `${l.name} ${fmtInt(v)}`;
      }
    })
    .join(", ");
}

export function comparisonNote(c: Comparison): string {
  const test =
    c.method === "mcnemar-exact"
      ? `McNemar exact ${fmtP(c.pValue)}, paired on the same ${fmtInt(c.aN)} samples`
      : c.method === "fisher-exact"
        ? `Fisher exact ${fmtP(c.pValue)}, unpaired: the candidates were evaluated on different samples`
        : `normal test of the aggregated accuracy at adversarial share ${fmtShare(c.share ?? 1)} with a conservative standard error, ${fmtP(c.pValue)}; ` +
          (c.paired ? `robust part paired on the same ${fmtInt(c.aN)} samples` : "robust part on different samples");
  return `${c.significant ? "statistically significant" : "not statistically significant"} (${test})`;
}

export function rationaleOk(
  s: Scenario,
  winner: Assessment,
  runnerUp: Assessment | null,
  comparison: Comparison | null,
  counts: { considered: number; feasible: number; ranked: number },
  limits: readonly ActiveLimit[],
  withModel: boolean,
  warningCount: number,
  /** With an adversarial share below 1: how the choice changes over shares (shareSentence). */
  shareText?: string,
): string {
  const ra = winner.summary.robustAccuracy!;
  const label = candidateLabel(winner.ref, withModel);
  const agg = winner.summary.aggregatedAccuracy;
  const attacker = `Against a ${knowledgeLabel(s.knowledge)} attacker with ${budgetText(s.norm, s.budget)}`;
  const sentences = [
    agg
      ? `${attacker}, on inputs of which a share r = ${fmtShare(agg.share)} is adversarial, ${label} (${sizeText(winner)}) has the highest guaranteed aggregated accuracy (1 − r)·clean + r·robust: ` +
        `at least ${fmtPct(agg.interval.low)} (lower 95 % bound; measured ${fmtPct(agg.value)} from clean ${fmtPct(winner.summary.cleanAccuracy.value)} of ${fmtInt(winner.candidate.clean.n)} images ` +
        `and robust ${fmtPct(ra.value)}, ${fmtInt(ra.robust)} of ${fmtInt(ra.n)} samples${budgetNote(winner)}).`
      : `${attacker}, ${label} (${sizeText(winner)}) has the highest guaranteed robust accuracy: ` +
        `at least ${fmtPct(ra.interval.low)} (lower 95 % bound; measured ${fmtPct(ra.value)}, ${fmtInt(ra.robust)} of ${fmtInt(ra.n)} samples${budgetNote(winner)}).`,
  ];
  if (runnerUp && comparison) {
    const margin = winner.score! - runnerUp.score!;
    const other = candidateLabel(runnerUp.ref, withModel);
    sentences.push(
      margin <= SCORE_TIE
        ? `It ties on that bound with the runner-up, ${other}, and wins as the smaller model; their difference is ${comparisonNote(comparison)}.`
        : `It leads the runner-up, ${other}, by ${fmtPoints(margin)} of that bound; the difference is ${comparisonNote(comparison)}.`,
    );
  } else {
    sentences.push("It is the only candidate meeting the limits with admissible evidence for this scenario.");
  }
  if (shareText) sentences.push(shareText);
  sentences.push(
    limits.length === 0
      ? `No size limit or minimum clean accuracy was given, so all ${counts.considered} candidates were eligible; ${counts.ranked} had admissible evidence and were ranked.`
      : `${counts.feasible} of ${counts.considered} candidates met the limits (${limitsText(limits)}); ${counts.ranked} had admissible evidence and were ranked.`,
  );
  if (warningCount > 0) sentences.push(warningCount === 1 ? "Read the warning before relying on it." : `Read the ${warningCount} warnings before relying on it.`);
  return sentences.join(" ");
}

/** Consecutive ranges of adversarial shares, each with the candidate whose lower bound is highest there (share.ts, upperEnvelope). */
export interface ShareRange {
  from: number;
  to: number;
  assessment: Assessment;
}

/** At most this many ranges are named; beyond, the ones around the recommendation. */
const SHARE_RANGES_SHOWN = 5;

/**
 * How the choice changes over adversarial shares: the ranges of the upper envelope of the
 * candidates' lower-bound lines, with the exact crossing shares, and where the point estimates
 * alone would switch between neighbours (the aggregate's point estimate is linear in r too).
 */
export function shareSentence(share: number, winner: Assessment, ranges: readonly ShareRange[], withModel: boolean): string {
  const name = (a: Assessment): string => candidateLabel(a.ref, withModel);
  if (ranges.length === 1) {
    return `At every adversarial share from 0 to 1 ${name(ranges[0]!.assessment)} has the highest lower bound: the choice does not depend on the share.`;
  }
  const mine = ranges.findIndex((g) => g.assessment.candidate === winner.candidate);
  const centre = mine >= 0 ? mine : Math.max(0, ranges.findIndex((g) => g.from <= share && share <= g.to));
  const first = Math.min(Math.max(0, centre - Math.floor(SHARE_RANGES_SHOWN / 2)), Math.max(0, ranges.length - SHARE_RANGES_SHOWN));
  const shown = ranges.slice(first, first + SHARE_RANGES_SHOWN);
  const parts = shown.map((g) => {
    const range = g.from === 0 ? `r ≤ ${fmtShare(g.to)}` : g.to === 1 ? `r ≥ ${fmtShare(g.from)}` : `${fmtShare(g.from)} ≤ r ≤ ${fmtShare(g.to)}`;
    const here = g.assessment.candidate === winner.candidate ? ` (the recommendation at r = ${fmtShare(share)})` : "";
    return `${name(g.assessment)} for ${range}${here}`;
  });
  const before = first;
  const after = ranges.length - first - shown.length;
  if (before > 0) parts.unshift(`${before} other candidate${before === 1 ? "" : "s"} for r ≤ ${fmtShare(shown[0]!.from)}`);
  if (after > 0) parts.push(`${after} other candidate${after === 1 ? "" : "s"} for r ≥ ${fmtShare(shown.at(-1)!.to)}`);
  const point = (a: Assessment): { clean: number; robust: number } => ({ clean: cleanEstimate(a.candidate.clean).value, robust: a.estimate!.value });
  const crossings = shown.slice(1).map((g, i) => pointCrossing(point(shown[i]!.assessment), point(g.assessment))).filter((x): x is number => x !== null);
  const pointText = crossings.length === 0 ? "" : `; their point estimates alone cross at r = ${crossings.map(fmtShare).join(", ")}`;
  return `Over adversarial shares from 0 to 1 the highest lower bound changes where the candidates' straight lines cross: ${parts.join(", ")}${pointText}.`;
}

export function rationaleNoEvidence(s: Scenario, unscored: readonly Assessment[], considered: number): string {
  const reasons = [...new Set(unscored.map((a) => a.noEvidenceReason ?? ""))].filter(Boolean);
  return (
    `${unscored.length} of ${considered} candidates meet the limits, but none has admissible evidence for a ${knowledgeLabel(s.knowledge)} attacker with ${budgetText(s.norm, s.budget)}: ` +
    `${reasons.join("; ")}. Measure this norm at this knowledge level (or a stronger one) to get a recommendation.`
  );
}

export function marginWarning(winner: Assessment, runnerUp: Assessment, comparison: Comparison, withModel: boolean): Warning | null {
  if (comparison.significant) return null;
  const margin = winner.score! - runnerUp.score!;
  return {
    code: "margin-not-significant",
    message:
      `The lead of ${candidateLabel(winner.ref, withModel)} over the runner-up ${candidateLabel(runnerUp.ref, withModel)} ` +
      `(${fmtPoints(margin)} of the lower bound) is ${comparisonNote(comparison)}; both are defensible choices.`,
    candidate: winner.ref,
    evaluationIds: [...(winner.summary.robustAccuracy?.evaluationIds ?? []), ...(runnerUp.summary.robustAccuracy?.evaluationIds ?? [])],
  };
}

/** How many unscored candidates the no-evidence warning names. */
export const NAMED_UNSCORED = 6;

export function noEvidenceWarning(unscored: readonly Assessment[], withModel: boolean, total = unscored.length): Warning | null {
  if (total === 0) return null;
  // Only the first six are named (a question may leave dozens unscored): `unscored` may hold just
  // those (recommend.ts assesses no more when the answer does not list them), `total` counts all.
  const names = unscored.slice(0, NAMED_UNSCORED).map((a) => candidateLabel(a.ref, withModel));
  const shown = total > NAMED_UNSCORED ? `${names.join(", ")} and ${total - NAMED_UNSCORED} more` : names.join(", ");
  return {
    code: "no-evidence",
    // The reasons are listed per candidate under `unscored`; the first one here says the kind.
    message: `${total} candidate(s) meeting the limits had no admissible evidence and were not ranked: ${shown}. ${firstReason(unscored[0]!)}`,
  };
}

/** The kind of failure the first unscored candidate's reason names (lattice.ts words it with failureKind). */
function unsoundKind(a: Assessment): string {
  const m = /failed the engine's (sanity checks and indicators of attack failure|indicators of attack failure|sanity checks)/.exec(a.noEvidenceReason ?? "");
  return m?.[1] ?? "sanity checks";
}

function firstReason(a: Assessment): string {
  return a.unsound
    ? `The first's evidence failed the engine's ${unsoundKind(a)}; each candidate's reason is under unscored, and allowUnsoundEvidence scores such evidence, with a warning.`
    : `The first: ${a.noEvidenceReason ?? "no admissible evidence"}.`;
}
