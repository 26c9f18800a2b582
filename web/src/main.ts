// The page: ask a scenario, see the answer, its curves and the strategy × rate heatmap with each
// cell's evidence, the command lines that ask the same, the models and the refresh jobs. All of
// it from the service's own /v1 API (api.ts). The scenario lives in the URL's fragment
// (#scenario=…), so a link reopens the same question; a first visit asks the README's example.
import "./style.css";
import { answerView } from "./answer.js";
import { api, apiKey, ApiError, type CurvePlot, type Job, type ModelSummary, type Recommendation, type Scenario, type CandidateSummary } from "./api.js";
import type { Series } from "./curves.js";
import { byId, h, show } from "./dom.js";
import { cellSummary, evidenceHeading, rowView } from "./evidence.js";
import { buildScenarioForm, type ScenarioForm } from "./form.js";
import { budget, candidateKey, candidateName, KNOWLEDGE_LABEL, NORM_LABEL, sameSchedule, scoreName } from "./format.js";
import type { Cell, HeatmapView } from "./heatmap.js";
import { ACTIVE, jobsTable, modelsTable, poll } from "./models.js";
import { cliCommand, curlCommand } from "./reproduce.js";

// The chart code (Observable Plot, most of the script) loads while the first question is asked.
type Charts = typeof import("./charts.js");
const chartsLoading: Promise<Charts> = import("./charts.js");

const DEFAULT_SCENARIO: Scenario = { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } };

interface Shown {
  scenario: Scenario;
  asked: Recommendation;
  series: Series[];
  cells: Cell[];
  chosen: string | null;
}

let form: ScenarioForm;
let models: ModelSummary[] = [];
let shown: Shown | null = null;
let heatmap: HeatmapView | null = null;
let asking = 0;
let evidenceSeq = 0;
let firstRender = true;

function scenarioFromHash(): Scenario | null {
  const m = /^#scenario=(.+)$/.exec(location.hash);
  if (!m) return null;
  try {
    const s = JSON.parse(decodeURIComponent(m[1]!)) as unknown;
    return s && typeof s === "object" && !Array.isArray(s) ? (s as Scenario) : null;
  } catch {
    return null;
  }
}

function status(text: string): void {
  byId("status").textContent = text;
}

function widthOf(id: string): number {
  return Math.floor(byId(id).getBoundingClientRect().width) || 640;
}

/** A failure the user can act on: a field to fix, a key to enter, or the service's message. */
function report(err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(0, { detail: err instanceof Error ? err.message : String(err) });
  if (e.status === 401 || e.status === 403) {
    const panel = byId<HTMLDetailsElement>("key-panel");
    panel.open = true;
    byId("key-status").textContent = e.status === 401 ? "This service needs an API key to answer: enter one here." : "The service refused this API key: enter another one.";
    byId("api-key").focus();
    status(`Not answered: ${e.message}`);
    return;
  }
  if (e.status === 400 && e.field && e.field !== "body") {
    form.showError(e.field, e.message);
    status(`Not answered: ${e.message}`);
    return;
  }
  status(`Not answered${e.status ? ` (HTTP ${e.status})` : ""}: ${e.message}`);
}

/** The model whose strategies and rates the heatmap shows: the recommendation's, else the closest one's. */
function focusModel(a: Recommendation): string | null {
  return a.recommendation?.modelId ?? a.infeasible?.nearest.candidate.modelId ?? a.unscored?.[0]?.candidate.modelId ?? null;
}

/** The scenario without its limits, for one model: every candidate of it gets its score. */
function unlimited(s: Scenario, modelId: string): Scenario {
  const { sizeLimit: _l, minCleanAccuracy: _m, ...rest } = s;
  return { ...rest, modelId };
}

function pickCurve(
  curves: readonly CurvePlot[],
  c: { modelId: string; strategy: string; rate: number; schedule?: string; robustAccuracy?: { evaluationIds: (number | string)[] } | null },
): CurvePlot | null {
  // A strategy and rate may be in the matrix in both schedules: the curve of the candidate's own.
  const mine = curves.filter((x) => x.modelId === c.modelId && x.strategy === c.strategy && x.rate === c.rate && sameSchedule(x, c));
  const used = c.robustAccuracy?.evaluationIds.map(String) ?? [];
  return mine.find((x) => used.includes(String(x.evaluationId))) ?? mine[0] ?? null;
}

interface Wanted {
  role: Series["role"];
  modelId: string;
  strategy: string;
  rate: number;
  schedule?: "cumulative";
}

/** The curves to draw: the recommendation, the runner-up and the dense model of the heatmap's model (each once). */
function wantedCurves(asked: Recommendation, model: string): Wanted[] {
  const out: Wanted[] = [];
  const add = (role: Series["role"], c: { modelId: string; strategy: string; rate: number; schedule?: string }) => {
    if (!out.some((w) => candidateKey(w) === candidateKey(c))) {
      out.push({ role, modelId: c.modelId, strategy: c.strategy, rate: c.rate, ...(c.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}) });
    }
  };
  if (asked.recommendation) add("recommendation", asked.recommendation);
  const runnerUp = asked.alternatives.find((a) => a.rank === 2)?.candidate;
  if (runnerUp) add("runner-up", runnerUp);
  add("dense", { modelId: model, strategy: "dense", rate: 1 });
  return out;
}

async function fetchCurves(s: Scenario, asked: Recommendation, wanted: readonly Wanted[]): Promise<CurvePlot[]> {
  // The curves at the knowledge level the advisor used (a stronger one when the asked level was not measured).
  const knowledge = asked.recommendation?.robustAccuracy?.knowledgeUsed ?? s.knowledge;
  const byModel = new Map<string, string[]>();
  for (const w of wanted) byModel.set(w.modelId, [...(byModel.get(w.modelId) ?? []), `${w.strategy}@${w.rate}`]);
  const answers = await Promise.all([...byModel].map(([model, candidates]) => api.curves({ model, norm: s.norm, knowledge, candidates })));
  return answers.flatMap((a) => a.curves);
}

function buildSeries(wanted: readonly Wanted[], curves: readonly CurvePlot[], asked: Recommendation, all: Recommendation | null): Series[] {
  const summaries = new Map<string, CandidateSummary>();
  for (const c of [...(all?.alternatives.map((a) => a.candidate) ?? []), ...(all?.unscored ?? []).map((u) => u.candidate), ...asked.alternatives.map((a) => a.candidate)]) summaries.set(candidateKey(c), c);
  const series: Series[] = [];
  for (const w of wanted) {
    const summary = summaries.get(candidateKey(w)) ?? null;
    const curve = pickCurve(curves, { ...w, robustAccuracy: summary?.robustAccuracy ?? null });
    if (!curve) continue;
    const name = candidateName(curve);
    const label = w.role === "recommendation" ? `${name} (recommended)` : w.role === "runner-up" ? `${name} (runner-up)` : name;
    series.push({ role: w.role, label, curve, atBudget: summary?.robustAccuracy ?? null });
  }
  return series;
}

function drawCharts(charts: Charts): void {
  if (!shown) return;
  const s = shown.scenario;
  const knowledge = shown.asked.recommendation?.robustAccuracy?.knowledgeUsed ?? s.knowledge;
  // Both widths before anything is drawn: one layout, not one per chart.
  const widths = { curves: widthOf("curves-chart"), heatmap: widthOf("heatmap-chart") };
  const curvesEl = byId("curves-chart");
  if (shown.series.length > 0) {
    show(curvesEl, charts.curvesView(shown.series, { norm: s.norm, knowledge, budget: s.budget, width: widths.curves }));
    show(byId("curves-table"), charts.curvesTable(shown.series, s.norm));
  } else {
    show(curvesEl, h("p", { class: "empty" }, "No curve to show for this question."));
    show(byId("curves-table"));
  }
  byId("curves-caption").textContent =
    `${NORM_LABEL[s.norm]} budgets, ${KNOWLEDGE_LABEL[knowledge]} attacker${knowledge !== s.knowledge ? ` (the ${s.knowledge} level was not measured; the advisor used ${knowledge})` : ""}. ` +
    "Lines: the measured robust accuracy; bands: its 95 % interval; diamonds: the advisor's conservative value at the asked budget.";
  curvesEl.dataset.state = "ready";

  const heatEl = byId("heatmap-chart");
  if (shown.cells.length > 0) {
    const model = shown.cells[0]!.candidate;
    heatmap = charts.heatmapView(shown.cells, { width: widths.heatmap, scenario: s, onChoose: (cell) => void showEvidence(cell) });
    show(heatEl, heatmap.element);
    byId("heatmap-caption").textContent =
      `${model.architecture} (${model.modelId.slice(0, 12)}), ${budget(s.norm, s.budget)}, ${KNOWLEDGE_LABEL[s.knowledge]} attacker. ` +
      `Numbers: the ${scoreName(s)}, in %.`;
    heatEl.dataset.state = "ready";
  } else {
    heatmap = null;
    show(heatEl, h("p", { class: "empty" }, "No candidate to show."));
    heatEl.dataset.state = "ready";
  }
}

async function showEvidence(cell: Cell): Promise<void> {
  if (!shown) return;
  shown.chosen = cell.key;
  const n = ++evidenceSeq;
  const el = byId("evidence");
  el.dataset.state = "loading";
  el.setAttribute("aria-busy", "true");
  const rowsEl = h("div", { class: "rows" }, h("p", {}, "Loading its rows…"));
  show(el, h("h3", { id: "evidence-heading" }, evidenceHeading(cell)), cellSummary(cell), rowsEl);
  const s = shown.scenario;
  try {
    const ids = cell.candidate.robustAccuracy?.evaluationIds ?? [];
    const rows =
      ids.length > 0
        ? await Promise.all(ids.map((id) => api.row(id)))
        : (await api.rows({ model: cell.candidate.modelId, strategy: cell.candidate.strategy, rate: cell.candidate.rate, norm: s.norm, knowledge: s.knowledge })).rows.filter(
            // The rows endpoint filters by strategy and rate, not schedule: keep the cell's own.
            (r) => sameSchedule(r, cell.candidate),
          );
    if (n !== evidenceSeq) return;
    show(rowsEl, rows.length > 0 ? rows.map(rowView) : h("p", {}, `No ${NORM_LABEL[s.norm]} rows at the ${s.knowledge} level for this candidate.`));
    byId("evidence-status").textContent = `${evidenceHeading(cell)}: ${rows.length} row${rows.length === 1 ? "" : "s"} below the heatmap.`;
  } catch (err) {
    if (n !== evidenceSeq) return;
    show(rowsEl, h("p", { class: "form-error" }, `Its rows could not be loaded: ${err instanceof Error ? err.message : String(err)}`));
  }
  el.removeAttribute("aria-busy");
  el.dataset.state = "ready";
}

function showReproduction(s: Scenario): void {
  const origin = location.origin;
  byId("curl").textContent = curlCommand(s, origin, apiKey.get() !== null);
  byId("cli").textContent = cliCommand(s, origin);
  byId("reproduce-note").textContent =
    apiKey.get() !== null
      ? "curl reads the key from $ADVISOR_API_KEY. `advisor recommend --url` sends no key: where reads need one, run it with --db on the service's database instead."
      : "Both ask for the lean answer (without the page's ?include=all-alternatives,unscored).";
}

async function ask(s: Scenario, o: { focus: boolean }): Promise<void> {
  const n = ++asking;
  form.clearErrors();
  const results = byId("results");
  results.setAttribute("aria-busy", "true");
  for (const id of ["results", "curves-chart", "heatmap-chart", "evidence"]) byId(id).dataset.state = "loading";
  status("Asking…");
  try {
    const asked = await api.recommend(s, ["all-alternatives", "unscored"]);
    if (n !== asking) return;
    history.replaceState(null, "", `#scenario=${encodeURIComponent(JSON.stringify(s))}`);
    const answering = performance.now();
    show(byId("answer"), answerView(asked));
    performance.measure("advisor:draw-answer", { start: answering, end: performance.now() });
    showReproduction(s);
    const model = focusModel(asked);
    const wanted = model ? wantedCurves(asked, model) : [];
    const [all, curves, charts] = await Promise.all([model ? api.recommend(unlimited(s, model), ["all-alternatives", "unscored"]) : null, fetchCurves(s, asked, wanted), chartsLoading]);
    if (n !== asking) return;
    const series = buildSeries(wanted, curves, asked, all);
    const cells = all ? charts.heatmapCells(asked, all, s) : [];
    shown = { scenario: s, asked, series, cells, chosen: null };
    const drawing = performance.now();
    drawCharts(charts);
    // How long drawing the charts takes (read by bench/web.ts).
    performance.measure("advisor:draw-charts", { start: drawing, end: performance.now() });
    const first = cells.find((c) => c.status === "recommendation") ?? cells[0];
    if (first && heatmap) heatmap.choose(first.key);
    else {
      show(byId("evidence"));
      byId("evidence").dataset.state = "ready";
    }
    const w = asked.recommendation;
    status(w ? `Answered: ${candidateName(w)} (matrix version ${asked.matrixVersion}).` : `Answered: ${asked.status === "infeasible" ? "no candidate meets the limits" : "no candidate has admissible evidence"}.`);
    byId("results").dataset.state = "ready";
    if (o.focus) results.focus();
    if (firstRender) {
      firstRender = false;
      performance.mark("advisor:first-render");
    }
  } catch (err) {
    if (n === asking) {
      report(err);
      for (const id of ["results", "curves-chart", "heatmap-chart", "evidence"]) byId(id).dataset.state = "error";
    }
  } finally {
    if (n === asking) results.removeAttribute("aria-busy");
  }
}

async function loadModels(): Promise<void> {
  try {
    const answer = await api.models();
    models = answer.models;
    form.setModels(models);
    show(byId("models-table"), modelsTable(models));
    byId("matrix-version").textContent = `Matrix version ${answer.version}`;
    byId("models-table").dataset.state = "ready";
  } catch (err) {
    show(byId("models-table"), h("p", { class: "form-error" }, `The models could not be loaded: ${err instanceof Error ? err.message : String(err)}`));
  }
}

function followJobs(): void {
  const seen = new Map<number, Job["state"]>();
  poll(async () => {
    let jobs: Job[];
    try {
      jobs = (await api.jobs()).jobs;
    } catch (err) {
      show(byId("jobs-table"), h("p", { class: "form-error" }, `The jobs could not be loaded: ${err instanceof Error ? err.message : String(err)}`));
      return 15_000;
    }
    const published = jobs.filter((j) => j.state === "succeeded" && seen.has(j.id) && seen.get(j.id) !== "succeeded");
    for (const j of jobs) seen.set(j.id, j.state);
    show(byId("jobs-table"), jobsTable(jobs, models));
    byId("jobs-table").dataset.state = "ready";
    if (published.length > 0) {
      const versions = published.map((j) => `job ${j.id} published matrix version ${j.matrixVersion ?? "?"}`).join("; ");
      show(byId("jobs-notice"), `${versions}. `, h("button", { type: "button", onclick: () => void ask(form.read(), { focus: true }) }, "Ask again on the new version"));
      await loadModels();
    }
    return jobs.some((j) => ACTIVE.has(j.state)) ? 3_000 : 15_000;
  });
}

function setupKey(): void {
  const input = byId<HTMLInputElement>("api-key");
  const note = byId("key-status");
  note.textContent = apiKey.get() ? "A key is in use for this tab." : "No key in use: read endpoints answer without one unless the service protects them.";
  byId<HTMLFormElement>("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (key === "") {
      note.textContent = "Enter a key first.";
      input.focus();
      return;
    }
    apiKey.set(key);
    input.value = "";
    note.textContent = "A key is in use for this tab.";
    void loadModels();
    void ask(form.read(), { focus: false });
  });
  byId("forget-key").addEventListener("click", () => {
    apiKey.clear();
    note.textContent = "The key is forgotten.";
  });
}

function setupCopy(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>("button.copy")) {
    b.addEventListener("click", () => {
      const text = byId(b.dataset.copy!).textContent ?? "";
      const done = (ok: boolean) => (b.textContent = ok ? "Copied" : "Select the text and copy it");
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
      else done(false);
    });
  }
}

function redrawOnResize(): void {
  let last = window.innerWidth;
  let timer: number | undefined;
  window.addEventListener("resize", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      if (Math.abs(window.innerWidth - last) < 40 || !shown) return;
      last = window.innerWidth;
      const chosen = shown.chosen;
      void chartsLoading.then((charts) => {
        drawCharts(charts);
        if (chosen && heatmap) {
          for (const r of document.querySelectorAll("#heatmap-chart rect[data-cell]")) r.setAttribute("aria-pressed", String(r.getAttribute("data-cell") === chosen));
        }
      });
    }, 150);
  });
}

async function main(): Promise<void> {
  form = buildScenarioForm(byId<HTMLFormElement>("scenario-form"));
  form.element.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void ask(form.read(), { focus: true });
  });
  setupKey();
  setupCopy();
  redrawOnResize();
  const initial = scenarioFromHash() ?? DEFAULT_SCENARIO;
  form.fill(initial);
  const modelsLoaded = loadModels();
  await ask(initial, { focus: false });
  await modelsLoaded;
  followJobs();
  document.body.dataset.state = "ready";
}

void main();
