// Strategy × compression rate of one model, coloured by the advisor's score at the asked budget
// (the lower 95 % bound of robust accuracy; of the aggregated accuracy at an adversarial share
// below 1), cells outside the scenario's limits greyed, cells without admissible evidence blank,
// the recommendation outlined. Each cell is a button: click it, or move with the arrow keys and
// press Enter, to see its evidence.
//
// Where the numbers come from: the scenario's answer (with every alternative and the unscored
// candidates) says which candidates are within the limits; the same question without the limits,
// for the model shown, gives every candidate's score. Why a cell is outside the limits is worded
// by the advisor's own rules (src/advisor/limits.ts).
import * as Plot from "@observablehq/plot";
import { activeLimits, failedLimits, shortfall } from "../../src/advisor/limits.js";
import { canonicalCandidateStrategy, type Candidate } from "../../src/advisor/types.js";
import type { CandidateSummary, Recommendation, Scenario } from "./api.js";
import { h } from "./dom.js";
import { candidateKey, candidateName, interval, pct, rate, scoreName, strategyRow } from "./format.js";
import { resolve } from "./schema.js";

export type CellStatus = "recommendation" | "ranked" | "unscored" | "outside-limits";

export interface Cell {
  key: string;
  strategy: string;
  /** The heatmap row: the strategy, or "<strategy> (cumulative)" for the cumulative schedule's variants. */
  row: string;
  rate: number;
  candidate: CandidateSummary;
  status: CellStatus;
  /** Rank among the scenario's ranked candidates (all models). */
  rank: number | null;
  /** Why it is not ranked: the unscored reason, or the limits it fails. */
  reason: string | null;
}

function asCandidate(c: CandidateSummary): Candidate {
  // Answers name strategies by their stored names; the schema's enum also lists the aliases requests may use.
  return { ...c, strategy: canonicalCandidateStrategy(c.strategy)!, clean: { correct: c.cleanAccuracy.correct, n: c.cleanAccuracy.n }, evaluations: [] };
}

/**
 * The cells of one model: `all` answers the scenario without its limits for that model (every
 * candidate, include=all-alternatives,unscored), `asked` the scenario itself (same include).
 */
export function heatmapCells(asked: Recommendation, all: Recommendation, scenario: Scenario): Cell[] {
  const ranks = new Map(asked.alternatives.map((a) => [candidateKey(a.candidate), a.rank]));
  const unscored = new Map((asked.unscored ?? []).map((u) => [candidateKey(u.candidate), u.reason]));
  const winner = asked.recommendation ? candidateKey(asked.recommendation) : null;
  const limits = activeLimits(scenario);
  const everything = [...all.alternatives.map((a) => ({ c: a.candidate, reason: null as string | null })), ...(all.unscored ?? []).map((u) => ({ c: u.candidate, reason: u.reason }))];
  return everything.map(({ c }) => {
    const key = candidateKey(c);
    const rank = ranks.get(key) ?? null;
    let status: CellStatus;
    let reason: string | null = null;
    if (key === winner) status = "recommendation";
    else if (rank !== null) status = "ranked";
    else if (unscored.has(key)) {
      status = "unscored";
      reason = unscored.get(key)!;
    } else {
      status = "outside-limits";
      const failed = failedLimits(asCandidate(c), limits);
      reason = failed.length > 0 ? failed.map((l) => shortfall(asCandidate(c), l).text).join("; ") : "not within the scenario's limits";
    }
    return { key, strategy: c.strategy, row: strategyRow(c), rate: c.rate, candidate: c, status, rank, reason };
  });
}

export function cellLabel(c: Cell): string {
  const name = candidateName(c.candidate);
  const r = c.candidate.robustAccuracy;
  const agg = c.candidate.aggregatedAccuracy;
  const value = r
    ? `score ${pct(c.candidate.score)}, robust accuracy ${pct(r.value)} (95 %: ${interval(r.interval)})${agg ? `, with ${pct(agg.share, 0)} attacked ${pct(agg.value)}` : ""}`
    : "no admissible evidence";
  const status =
    c.status === "recommendation" ? "the recommendation" : c.status === "ranked" ? `rank ${c.rank}` : c.status === "unscored" ? "not scored" : "outside the limits";
  return `${name}: ${value}; ${status}`;
}

export interface HeatmapView {
  element: HTMLElement;
  /** Marks a cell as chosen (aria-pressed) and moves the keyboard stop to it. */
  choose(key: string, focus?: boolean): void;
}

const GREY = "#c9c9c9";
const BLANK = "#ffffff";

/**
 * Rows in the API's order of strategies (dense first), any the schema does not list after them;
 * a strategy's cumulative-schedule row right below its one-shot row.
 */
function strategyOrder(cells: readonly Cell[]): string[] {
  let known: string[] = [];
  try {
    known = resolve({ $ref: "#/components/schemas/Strategy" }).enum ?? [];
  } catch {
    known = [];
  }
  const present = new Set(cells.map((c) => c.strategy));
  const strategies = [...known.filter((s) => present.has(s)), ...[...present].filter((s) => !known.includes(s)).sort()];
  const rows = new Set(cells.map((c) => c.row));
  return strategies.flatMap((s) => [s, strategyRow({ strategy: s, schedule: "cumulative" })].filter((r) => rows.has(r)));
}

export function heatmapView(given: readonly Cell[], o: { width: number; scenario: Scenario; onChoose: (cell: Cell) => void }): HeatmapView {
  // In reading order (strategy rows, then rates), so a screen reader meets the cells as they are laid out.
  const order = strategyOrder(given);
  const cells = [...given].sort((a, b) => order.indexOf(a.row) - order.indexOf(b.row) || a.rate - b.rate);
  const scored = cells.map((c) => c.candidate.score).filter((s): s is number => s !== null);
  const lo = scored.length > 0 ? Math.min(...scored) : 0;
  const hi = scored.length > 0 ? Math.max(...scored) : 1;
  const domain: [number, number] = hi - lo < 0.02 ? [Math.max(0, lo - 0.05), Math.min(1, hi + 0.05)] : [lo, hi];
  const colorOptions = { type: "linear" as const, scheme: "ylgnbu" as const, domain, label: `${scoreName(o.scenario)} at ε`, tickFormat: (v: number) => `${Math.round(v * 100)}%` };
  const color = Plot.scale({ color: colorOptions });
  const shade = (c: Cell): number => (c.candidate.score === null ? 0 : (c.candidate.score - domain[0]) / (domain[1] - domain[0] || 1));
  const fill = (c: Cell): string => (c.status === "outside-limits" ? GREY : c.candidate.score === null ? BLANK : String(color.apply(c.candidate.score)));
  const text = (c: Cell): string => (c.candidate.score === null ? "n/a" : (c.candidate.score * 100).toFixed(0));
  const ink = (c: Cell): string => (c.status !== "outside-limits" && c.candidate.score !== null && shade(c) > 0.55 ? "white" : "#222");
  const strategies = strategyOrder(cells);
  const rates = [...new Set(cells.map((c) => c.rate))].sort((a, b) => a - b);
  const winner = cells.filter((c) => c.status === "recommendation");
  const width = Math.max(300, o.width);

  const chart = Plot.plot({
    width,
    height: 40 + 34 * strategies.length,
    // Room for the longest row label ("filter/magnitude-global (cumulative)"), within half the width.
    marginLeft: Math.min(Math.floor(width / 2), Math.max(width < 480 ? 104 : 124, 6 * Math.max(...strategies.map((r) => r.length)) + 12)),
    marginTop: 30,
    ariaLabel: `Strategies by compression rate, coloured by the ${scoreName(o.scenario)} at the asked budget`,
    x: { type: "band", domain: rates, label: "compression rate", axis: "top", tickFormat: (r: number) => rate(r) },
    y: { type: "band", domain: strategies, label: null },
    color: { type: "identity" },
    marks: [
      Plot.cell(cells, {
        x: "rate",
        y: "row",
        fill,
        inset: 1,
        stroke: (c: Cell) => (c.status === "unscored" ? "#888" : "none"),
        strokeDasharray: "3,2",
        title: (c: Cell) => `${cellLabel(c)}${c.reason ? `\n${c.reason}` : ""}`,
        className: "heat-cells",
        // Tag each cell with its candidate, so the page can make it a button.
        render(index, scales, values, dimensions, context, next) {
          const g = next!(index, scales, values, dimensions, context)!;
          const rects = g.querySelectorAll("rect");
          index.forEach((i, k) => rects[k]?.setAttribute("data-cell", cells[i]!.key));
          return g;
        },
      }),
      Plot.text(cells, { x: "rate", y: "row", text, fill: ink, fontSize: 11, pointerEvents: "none", ariaHidden: "true", className: "heat-text" }),
      Plot.cell(winner, { x: "rate", y: "row", fill: "none", stroke: "#000", strokeWidth: 3, inset: 0.5, pointerEvents: "none", ariaHidden: "true", className: "heat-winner" }),
    ],
  });

  // A group of buttons, not a picture: an img role would make its cells presentational.
  chart.setAttribute("role", "group");
  const byKey = new Map(cells.map((c) => [c.key, c]));
  const rects = [...chart.querySelectorAll<SVGRectElement>("rect[data-cell]")];
  const pos = (k: string): [number, number] => {
    const c = byKey.get(k)!;
    return [strategies.indexOf(c.row), rates.indexOf(c.rate)];
  };
  const at = new Map(rects.map((r) => [pos(r.dataset.cell!).join(","), r]));
  for (const r of rects) {
    const cell = byKey.get(r.dataset.cell!)!;
    r.setAttribute("role", "button");
    r.setAttribute("tabindex", "-1");
    r.setAttribute("aria-pressed", "false");
    r.setAttribute("aria-label", `${cellLabel(cell)}. Show its evidence.`);
    r.setAttribute("data-status", cell.status);
    r.addEventListener("click", () => choose(cell.key, true));
    r.addEventListener("keydown", (ev) => onKey(ev, cell.key));
  }

  function rove(to: SVGRectElement, focus: boolean): void {
    for (const r of rects) r.setAttribute("tabindex", r === to ? "0" : "-1");
    if (focus) to.focus();
  }

  function choose(key: string, focus = false): void {
    const target = rects.find((r) => r.dataset.cell === key);
    if (!target) return;
    for (const r of rects) r.setAttribute("aria-pressed", r === target ? "true" : "false");
    rove(target, focus);
    o.onChoose(byKey.get(key)!);
  }

  // Arrow keys move across the grid (skipping holes such as dense's missing rates), Home/End to the row's ends.
  function onKey(ev: KeyboardEvent, key: string): void {
    const [row, col] = pos(key);
    const find = (dr: number, dc: number): SVGRectElement | undefined => {
      for (let r = row + dr, c = col + dc; r >= 0 && r < strategies.length && c >= 0 && c < rates.length; r += dr, c += dc) {
        const hit = at.get(`${r},${c}`);
        if (hit) return hit;
        // Moving down or up into a row without this rate: the nearest rate of that row.
        if (dc === 0) {
          const inRow = rects.filter((x) => pos(x.dataset.cell!)[0] === r);
          if (inRow.length > 0) return inRow.reduce((best, x) => (Math.abs(pos(x.dataset.cell!)[1] - col) < Math.abs(pos(best.dataset.cell!)[1] - col) ? x : best));
        }
      }
      return undefined;
    };
    const rowCells = () => rects.filter((x) => pos(x.dataset.cell!)[0] === row);
    let next: SVGRectElement | undefined;
    switch (ev.key) {
      case "ArrowRight":
        next = find(0, 1);
        break;
      case "ArrowLeft":
        next = find(0, -1);
        break;
      case "ArrowDown":
        next = find(1, 0);
        break;
      case "ArrowUp":
        next = find(-1, 0);
        break;
      case "Home":
        next = rowCells()[0];
        break;
      case "End":
        next = rowCells().at(-1);
        break;
      case "Enter":
      case " ":
        ev.preventDefault();
        choose(key, true);
        return;
      default:
        return;
    }
    ev.preventDefault();
    if (next) rove(next, true);
  }

  if (rects[0]) rects[0].setAttribute("tabindex", "0");
  const legend = h(
    "div",
    { class: "heat-legend" },
    Plot.legend({ color: colorOptions, width: Math.min(320, width) }),
    h(
      "ul",
      { class: "swatches" },
      h("li", {}, h("span", { class: "swatch outside", "aria-hidden": "true" }), "outside the limits"),
      h("li", {}, h("span", { class: "swatch blank", "aria-hidden": "true" }), "no admissible evidence (n/a)"),
      h("li", {}, h("span", { class: "swatch winner", "aria-hidden": "true" }), "the recommendation"),
    ),
  );
  const element = h("div", { class: "heatmap" }, legend, chart);
  return { element, choose };
}
