// The answer: the recommendation with its numbers, the rationale, the warnings and the next
// alternatives (ranks 2–5, as the API's lean answer lists them) — or why there is none.
import type { Alternative, CandidateSummary, Recommendation } from "./api.js";
import { h } from "./dom.js";
import { budget, bytes, candidateName, int, interval, KNOWLEDGE_LABEL, pct, rate, scoreName } from "./format.js";

/** How many alternatives the lean answer shows after the recommendation (ranks 2–5). */
export const SHOWN_ALTERNATIVES = 4;

function robustText(c: CandidateSummary): string {
  const r = c.robustAccuracy;
  if (!r) return "no admissible evidence";
  const at = r.budgetUsed === r.budget ? "" : `, measured at ε = ${r.budgetUsed} (${r.budgetRule})`;
  const level = r.knowledgeUsed === r.knowledgeRequested ? "" : `, ${KNOWLEDGE_LABEL[r.knowledgeUsed]} evidence`;
  return `${pct(r.value)} (95 %: ${interval(r.interval)}; ${int(r.robust)} of ${int(r.n)} samples${at}${level})`;
}

function facts(c: CandidateSummary, s: Recommendation["scenario"]): HTMLElement {
  const row = (term: string, value: string) => [h("dt", {}, term), h("dd", {}, value)];
  const agg = c.aggregatedAccuracy;
  return h(
    "dl",
    { class: "facts" },
    row("Robust accuracy at ε", robustText(c)),
    agg ? row(`Accuracy with ${pct(agg.share, 0)} of inputs attacked`, `${pct(agg.value)} (95 %: ${interval(agg.interval)})`) : null,
    row(`Score (${scoreName(s)})`, pct(c.score)),
    row("Clean accuracy", `${pct(c.cleanAccuracy.value)} (95 %: ${interval(c.cleanAccuracy.interval)})`),
    row("Non-zero parameters", int(c.nonZeroParams)),
    row("Size stored sparse", bytes(c.sparseBytes)),
    row("Compression achieved", rate(Math.round(c.achievedRate * 100) / 100)),
    row("Model", `${c.architecture} (${c.dataset}), ${c.modelId.slice(0, 12)}`),
  );
}

function alternativesTable(alts: readonly Alternative[], ranked: number): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "alternatives" },
      h("caption", {}, `Next alternatives (ranks 2–${1 + alts.length} of ${ranked} ranked)`),
      h("thead", {}, h("tr", {}, ["Rank", "Candidate", "Robust accuracy", "Score", "Behind by", "Significant", "Clean", "Parameters"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        alts.map((a) =>
          h(
            "tr",
            {},
            h("td", {}, a.rank),
            h("th", { scope: "row" }, candidateName(a.candidate)),
            h("td", {}, a.candidate.robustAccuracy ? `${pct(a.candidate.robustAccuracy.value)} (${interval(a.candidate.robustAccuracy.interval)})` : "–"),
            h("td", {}, pct(a.score)),
            h("td", {}, `${(a.margin * 100).toFixed(1)} pts`),
            h("td", {}, a.significant === null ? "–" : a.significant ? "yes" : "no"),
            h("td", {}, pct(a.candidate.cleanAccuracy.value)),
            h("td", {}, int(a.candidate.nonZeroParams)),
          ),
        ),
      ),
    ),
  );
}

/** The answer's view. `answer` must come with include=all-alternatives (rank 1 first). */
export function answerView(answer: Recommendation): HTMLElement {
  const s = answer.scenario;
  const winner = answer.recommendation;
  const head = winner
    ? h(
        "p",
        { class: "verdict", id: "winner", "data-model-id": winner.modelId, "data-strategy": winner.strategy, "data-rate": winner.rate },
        "Recommended: ",
        h("strong", {}, candidateName(winner)),
        ` — against a ${KNOWLEDGE_LABEL[s.knowledge]} attacker with ${budget(s.norm, s.budget)}.`,
      )
    : h("p", { class: "verdict none", id: "winner", "data-status": answer.status }, answer.status === "infeasible" ? "No candidate meets the limits." : "No candidate has admissible evidence.");
  const alts = answer.alternatives.slice(1, 1 + SHOWN_ALTERNATIVES);
  return h(
    "div",
    { class: "answer", "data-status": answer.status },
    head,
    winner ? facts(winner, s) : null,
    answer.shareSweep && answer.shareSweep.length > 0
      ? h(
          "p",
          { class: "sweep" },
          "Best over the adversarial share: ",
          answer.shareSweep.map((g, i) => `${i > 0 ? "; " : ""}${g.from.toFixed(2)}–${g.to.toFixed(2)}: ${candidateName(g.candidate)}`).join(""),
          ".",
        )
      : null,
    h("h3", {}, "Why"),
    h("p", { class: "rationale" }, answer.rationale),
    answer.warnings.length > 0
      ? [
          h("h3", {}, `Warnings (${answer.warnings.length})`),
          h(
            "ul",
            { class: "warnings" },
            answer.warnings.map((w) => h("li", { "data-code": w.code }, h("strong", {}, w.code), " — ", w.message)),
          ),
        ]
      : null,
    alts.length > 0 ? alternativesTable(alts, answer.counts.ranked) : null,
    h(
      "p",
      { class: "meta" },
      `Matrix version ${answer.matrixVersion}: ${answer.counts.considered} candidates considered, ${answer.counts.feasible} within the limits, ${answer.counts.ranked} ranked.`,
    ),
  );
}
