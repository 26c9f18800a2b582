// The models the matrix holds (clean accuracy, coverage per norm and knowledge level, uploaded
// or not) and the refresh jobs (state, cells done of total, ETA, the cell being computed). Jobs
// are polled: every few seconds while one is queued or running, less often otherwise, not at all
// while the tab is hidden.
import type { Job, ModelSummary } from "./api.js";
import { h } from "./dom.js";
import { duration, int, KNOWLEDGE_LABEL, NORM_LABEL, pct, shortId } from "./format.js";

/** "14:05" in the browser's time zone. */
function clock(iso: string): string {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function coverageText(m: ModelSummary): string {
  if (m.coverage.length === 0) return "no rows yet";
  return m.coverage.map((c) => `${NORM_LABEL[c.norm]} ${KNOWLEDGE_LABEL[c.knowledge]}: ${c.variants} (${c.sound} sound)`).join("; ");
}

export function modelsTable(models: readonly ModelSummary[]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "models" },
      h("caption", {}, `Models (${models.length})`),
      h("thead", {}, h("tr", {}, ["Model", "Data set", "Origin", "State", "Clean accuracy", "Variants", "Rows", "Coverage: variants per norm and knowledge (sound rows)"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        models.map((m) =>
          h(
            "tr",
            { "data-model-id": m.modelId },
            h("th", { scope: "row" }, `${m.architecture} `, h("code", { title: m.modelId }, shortId(m.modelId))),
            h("td", {}, m.dataset),
            h("td", {}, m.uploaded ? "uploaded" : "matrix"),
            h("td", {}, m.state),
            h("td", {}, m.clean ? `${pct(m.clean.correct / m.clean.n)} (${int(m.clean.correct)} of ${int(m.clean.n)})` : "–"),
            h("td", {}, int(m.variants)),
            h("td", {}, int(m.evaluations)),
            h("td", { class: "coverage" }, coverageText(m)),
          ),
        ),
      ),
    ),
  );
}

export function jobsTable(jobs: readonly Job[], models: readonly ModelSummary[]): HTMLElement {
  if (jobs.length === 0) return h("p", { class: "empty" }, "No refresh jobs. An operator starts one with POST /v1/models/{id}/refresh or `advisor refresh`.");
  const arch = new Map(models.map((m) => [m.modelId, m.architecture]));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "jobs" },
      h("caption", {}, "Refresh jobs, newest first"),
      h("thead", {}, h("tr", {}, ["Job", "Model", "State", "Progress", "ETA", "Now", "Result"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        jobs.map((j) => {
          const total = j.cells.total;
          const progressLabel = total === null ? "not started" : `${int(j.cells.done)} of ${int(total)} cells`;
          const result =
            j.state === "succeeded"
              ? `matrix version ${j.matrixVersion ?? "?"}`
              : j.errors.length > 0
                ? `${j.errors.length} error(s): ${j.errors.at(-1)!.error}`
                : (j.note ?? "");
          return h(
            "tr",
            { "data-job-id": j.id, "data-state": j.state },
            h("th", { scope: "row" }, `#${j.id}`),
            h("td", {}, `${arch.get(j.modelId) ?? ""} `, h("code", { title: j.modelId }, shortId(j.modelId))),
            h("td", {}, h("span", { class: `state ${j.state}` }, j.state)),
            h(
              "td",
              {},
              h("progress", { max: total ?? 1, value: total === null ? 0 : j.cells.done, "aria-label": `job ${j.id}: ${progressLabel}` }),
              h("span", { class: "progress-text" }, ` ${progressLabel}`),
            ),
            h("td", {}, j.eta ? `${duration(j.eta.seconds)} (about ${clock(j.eta.at)})` : "–"),
            h("td", { class: "current" }, j.current ? `${j.current.cell}${j.current.detail ? `: ${j.current.detail}` : ""}` : "–"),
            h("td", {}, result),
          );
        }),
      ),
    ),
  );
}

export const ACTIVE = new Set<Job["state"]>(["queued", "running"]);

/** Calls `tick` now and then again after the delay it returns (ms), skipping while the tab is hidden. */
export function poll(tick: () => Promise<number>): void {
  const run = async (): Promise<void> => {
    let delay = 10_000;
    if (document.visibilityState !== "hidden") {
      try {
        delay = await tick();
      } catch {
        delay = 15_000;
      }
    }
    setTimeout(() => void run(), delay);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void tick().catch(() => undefined);
  });
  void run();
}
