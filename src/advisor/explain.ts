// Plain-language rationale and the warnings that are about the answer as a whole (the ones about
// one candidate's evidence come from assess.ts and lattice.ts).
import { SCORE_TIE, type Assessment } from "./assess.js";
import { budgetText, candidateLabel, fmtBudget, fmtInt, fmtP, fmtPct, fmtPoints, fmtRate, knowledgeLabel } from "./format.js";
import type { ActiveLimit } from "./limits.js";
import type { Comparison, Scenario, Warning } from "./types.js";

function sizeText(a: Assessment): string {
  const c = a.candidate;
  const size = `${fmtInt(c.nonZeroParams)} non-zero parameters, ${fmtInt(c.sparseBytes)} bytes sparse`;
  return c.strategy === "dense" ? size : `achieved ${fmtRate(c.achievedRate)}, ${size}`;
}

/** "; taken at the next measured budget up, 0.1, measured against a white-box attacker" — empty when nothing to say. */
export function budgetNote(a: Assessment): string {
  const ra = a.summary.robustAccuracy;
  if (!ra) return "";
  const notes: string[] = [];
  if (ra.budgetRule === "next-up" || ra.budgetRule === "below-grid") notes.push(`taken at the next measured budget up, ${fmtBudget(ra.budgetUsed)}`);
  if (ra.budgetRule === "beyond-range") notes.push("extrapolated beyond the measured budgets");
  if (ra.knowledgeUsed !== ra.knowledgeRequested) notes.push(`measured against a ${ra.knowledgeUsed} attacker`);
  return notes.length ? `; ${notes.join(", ")}` : "";
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
  const test = c.method === "mcnemar-exact" ? `McNemar exact ${fmtP(c.pValue)}, paired on the same ${fmtInt(c.aN)} samples` : `Fisher exact ${fmtP(c.pValue)}, unpaired: the candidates were evaluated on different samples`;
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
): string {
  const ra = winner.summary.robustAccuracy!;
  const label = candidateLabel(winner.ref, withModel);
  const sentences = [
    `Against a ${knowledgeLabel(s.knowledge)} attacker with ${budgetText(s.norm, s.budget)}, ${label} (${sizeText(winner)}) has the highest guaranteed robust accuracy: ` +
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
  sentences.push(
    limits.length === 0
      ? `No size limit or minimum clean accuracy was given, so all ${counts.considered} candidates were eligible; ${counts.ranked} had admissible evidence and were ranked.`
      : `${counts.feasible} of ${counts.considered} candidates met the limits (${limitsText(limits)}); ${counts.ranked} had admissible evidence and were ranked.`,
  );
  if (warningCount > 0) sentences.push(warningCount === 1 ? "Read the warning before relying on it." : `Read the ${warningCount} warnings before relying on it.`);
  return sentences.join(" ");
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

export function noEvidenceWarning(unscored: readonly Assessment[], withModel: boolean): Warning | null {
  if (unscored.length === 0) return null;
  const names = unscored.map((a) => candidateLabel(a.ref, withModel));
  const shown = names.length > 6 ? `${names.slice(0, 6).join(", ")} and ${names.length - 6} more` : names.join(", ");
  return {
    code: "no-evidence",
    // The reasons are listed per candidate under `unscored`; the first one here says the kind.
    message: `${unscored.length} candidate(s) meeting the limits had no admissible evidence and were not ranked: ${shown}. ${firstReason(unscored[0]!)}`,
  };
}

function firstReason(a: Assessment): string {
  return a.unsound
    ? "The first's evidence failed the engine's sanity checks; each candidate's reason is under unscored, and allowUnsoundEvidence scores such evidence, with a warning."
    : `The first: ${a.noEvidenceReason ?? "no admissible evidence"}.`;
}
