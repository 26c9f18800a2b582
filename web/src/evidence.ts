// A candidate's evidence: the matrix rows behind its number (GET /v1/matrix/rows/{id} for the
// rows the advisor used; for a candidate without a score, its rows for the norm and knowledge
// level from GET /v1/matrix), each with its samples, the attacks that ran and what they beat,
// and the engine's sanity report. Fields of a row this page does not know yet (indicators a
// newer engine stores, say) are listed too, as they come.
import type { MatrixRow } from "./api.js";
import { h } from "./dom.js";
import { bytes, candidateName, int, interval, KNOWLEDGE_LABEL, NORM_LABEL, pct, rate } from "./format.js";
import type { Cell } from "./heatmap.js";

/** Fields shown in their own way, or too bulky to show (the per-sample blobs). */
const SHOWN = new Set<string>([
  "id", "matrixVersion", "variantId", "modelId", "architecture", "dataset", "inputShape", "numClasses", "modelSeed", "modelClean", "modelDir",
  "modelBackend", "modelCodeVersion", "modelCreatedAt", "modelMetadata", "strategy", "requestedRate", "achievedRate", "prunableParams",
  "nonZeroPrunable", "totalParams", "nonZeroParams", "sparseBytes", "denseBytes", "structured", "weightsSha256", "cleanAccuracy",
  "finetuneEpochs", "variantSeed", "variantBackend", "variantCodeVersion", "createdAt", "norm", "knowledge", "budgets", "curve", "n",
  "cleanCorrect", "datasetSplit", "sampleHash", "sampleIndices", "distances", "attacks", "maskingSuspected", "sanity", "seed", "batchSize",
  "queryBudget", "queries", "surrogateSha256", "backend", "codeVersion", "startedAt", "finishedAt", "seconds",
]);

const KEY_PARAMS = ["steps", "restarts", "targets", "queries", "queryBudget", "loss"];

function paramsText(p: Record<string, unknown>): string {
  return KEY_PARAMS.filter((k) => p[k] !== undefined).map((k) => `${k} ${String(p[k])}`).join(", ");
}

function check(name: string, v: unknown): HTMLElement | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const pass = typeof o.pass === "boolean" ? o.pass : typeof o.flagged === "boolean" ? !o.flagged : null;
  if (pass === null && o.checked === false) return h("li", { "data-check": name }, `${name}: not checked`);
  if (pass === null) return null;
  let detail = "";
  if (name === "unbounded" && typeof o.successRate === "number") detail = ` — the unbounded attack beat ${pct(o.successRate)} of ${String(o.n ?? "?")} (needs ${pct(Number(o.threshold ?? 0.99))})`;
  if (name === "masking") detail = o.flagged ? " — weaker-knowledge attacks beat samples the white-box attacks could not" : "";
  if (name === "cleanAccuracy" && typeof o.acc0 === "number") detail = ` — accuracy at ε = 0 is ${pct(o.acc0)}, clean ${pct(Number(o.expected))}`;
  return h("li", { "data-check": name, class: pass ? "pass" : "fail" }, h("span", { class: "mark", "aria-hidden": "true" }, pass ? "✓ " : "✗ "), `${name}: ${pass ? "passed" : "failed"}${detail}`);
}

function sanityList(sanity: Record<string, unknown>): HTMLElement {
  const items = Object.entries(sanity)
    .filter(([k]) => k !== "pass")
    .map(([k, v]) => check(k, v))
    .filter((x): x is HTMLElement => x !== null);
  const overall = typeof sanity.pass === "boolean" ? (sanity.pass ? "all checks passed" : "a check failed") : "";
  return h("div", { class: "sanity" }, h("h5", {}, `Sanity report${overall ? `: ${overall}` : ""}`), h("ul", {}, items));
}

function attacksTable(row: MatrixRow): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "attacks" },
      h("caption", {}, `Attacks of row ${row.id} (${row.attacks.length})`),
      h("thead", {}, h("tr", {}, ["Attack", "Kind", "Knowledge", "Beaten / attempted", "Budgets", "Settings"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        row.attacks.map((a) =>
          h(
            "tr",
            { "data-attack": a.name },
            h("th", { scope: "row" }, a.name, a.sanity ? h("span", { class: "tag" }, " unbounded check") : null),
            h("td", {}, a.kind),
            h("td", {}, a.knowledge),
            h("td", {}, `${int(a.beaten)} / ${int(a.attempted)}`),
            h("td", {}, a.budgets.length > 0 ? a.budgets.join(", ") : "–"),
            h("td", {}, paramsText(a.params)),
          ),
        ),
      ),
    ),
  );
}

function extras(row: MatrixRow): HTMLElement | null {
  const rest = Object.entries(row as unknown as Record<string, unknown>).filter(([k]) => !SHOWN.has(k));
  if (rest.length === 0) return null;
  return h(
    "div",
    { class: "extras" },
    h("h5", {}, "More from the row"),
    h("dl", {}, rest.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, h("pre", {}, JSON.stringify(v, null, 2)))])),
  );
}

export function rowView(row: MatrixRow): HTMLElement {
  const clean = row.n > 0 ? row.cleanCorrect / row.n : 0;
  return h(
    "article",
    { class: "row", "data-row-id": row.id },
    h("h4", {}, `Row ${row.id}: ${NORM_LABEL[row.norm]}, ${KNOWLEDGE_LABEL[row.knowledge]} (matrix version ${row.matrixVersion})`),
    h(
      "p",
      {},
      `${int(row.n)} samples of the ${row.dataset} ${row.datasetSplit} split (${int(row.cleanCorrect)} classified correctly, ${pct(clean)}), sample hash ${row.sampleHash.slice(0, 12)}; `,
      `seed ${row.seed}, ${row.backend} backend, ${row.seconds.toFixed(0)} s, finished ${row.finishedAt}.`,
      row.maskingSuspected ? h("strong", { class: "flag" }, " Gradient masking suspected.") : null,
    ),
    attacksTable(row),
    sanityList(row.sanity),
    extras(row),
  );
}

export function cellSummary(cell: Cell): HTMLElement {
  const c = cell.candidate;
  const r = c.robustAccuracy;
  const status =
    cell.status === "recommendation" ? "The recommendation." : cell.status === "ranked" ? `Rank ${cell.rank} of the scenario's ranking.` : cell.status === "unscored" ? "Not scored: " : "Outside the scenario's limits: ";
  return h(
    "div",
    { class: "cell-summary" },
    h("p", {}, h("strong", {}, status), cell.reason ?? ""),
    h(
      "p",
      {},
      r
        ? `Robust accuracy at ε = ${r.budget}: ${pct(r.value)} (95 %: ${interval(r.interval)}; ${int(r.robust)} of ${int(r.n)} samples, ${r.knowledgeUsed} evidence, measured at ε = ${r.budgetUsed}). `
        : "No admissible robust-accuracy figure. ",
      `Clean accuracy ${pct(c.cleanAccuracy.value)}; ${int(c.nonZeroParams)} non-zero parameters, ${bytes(c.sparseBytes)} sparse, ${rate(Math.round(c.achievedRate * 100) / 100)} achieved.`,
    ),
  );
}

export function evidenceHeading(cell: Cell): string {
  return `Evidence for ${candidateName(cell.candidate)}`;
}
