// Robust accuracy against the budget for the recommendation, the runner-up and the dense model,
// each with its 95 % band (the stored rows' Wilson intervals at the measured budgets), and the
// asked budget marked: a rule at ε and, on it, the advisor's own conservative value per curve.
import * as Plot from "@observablehq/plot";
import type { CurvePlot, Knowledge, Norm, RobustAccuracy } from "./api.js";
import { h } from "./dom.js";
import { interval, KNOWLEDGE_LABEL, NORM_LABEL, NORM_UNITS, pct, tick } from "./format.js";

export type Role = "recommendation" | "runner-up" | "dense";

export interface Series {
  role: Role;
  label: string;
  curve: CurvePlot;
  /** The advisor's value at the asked budget (null when it has no admissible evidence). */
  atBudget: RobustAccuracy | null;
}

const COLORS: Record<Role, string> = { recommendation: "#1f6fb4", "runner-up": "#d9640b", dense: "#555555" };
const DASH: Record<Role, string | undefined> = { recommendation: undefined, "runner-up": "6,3", dense: "2,3" };

interface Point {
  label: string;
  budget: number;
  accuracy: number;
  low: number;
  high: number;
}

export function curvesView(series: readonly Series[], o: { norm: Norm; knowledge: Knowledge; budget: number; width: number }): Element {
  const labels = series.map((s) => s.label);
  const marks: Plot.Markish[] = [Plot.ruleY([0], { stroke: "#999" })];
  for (const s of series) {
    const points: Point[] = s.curve.points.map((p) => ({ label: s.label, budget: p.budget, accuracy: p.accuracy, low: p.low, high: p.high }));
    const title = (d: Point) => `${d.label}\nε = ${d.budget}: ${pct(d.accuracy)} (95 %: ${interval(d)})`;
    marks.push(
      Plot.areaY(points, { x: "budget", y1: "low", y2: "high", fill: () => s.label, fillOpacity: 0.14, className: "curve-band" }),
      Plot.lineY(points, { x: "budget", y: "accuracy", stroke: () => s.label, strokeWidth: 2, strokeDasharray: DASH[s.role], className: "curve-line" }),
      Plot.dot(points, { x: "budget", y: "accuracy", fill: () => s.label, r: 2.5, title, className: "curve-points" }),
    );
  }
  const markers = series
    .filter((s): s is Series & { atBudget: RobustAccuracy } => s.atBudget !== null)
    .map((s) => ({ label: s.label, budget: o.budget, value: s.atBudget.value, r: s.atBudget }));
  marks.push(
    Plot.ruleX([o.budget], { stroke: "currentColor", strokeDasharray: "4,3", className: "budget-rule" }),
    Plot.text([o.budget], { x: (d: number) => d, frameAnchor: "top", dy: -4, text: () => `asked ε = ${o.budget}`, textAnchor: "start", dx: 4, className: "budget-label" }),
    Plot.dot(markers, {
      x: "budget",
      y: "value",
      stroke: "label",
      fill: "white",
      strokeWidth: 2,
      r: 5,
      symbol: "diamond",
      title: (d: (typeof markers)[number]) => `${d.label}: the advisor's value at ε = ${o.budget} is ${pct(d.value)} (95 %: ${interval(d.r.interval)}, measured at ε = ${d.r.budgetUsed})`,
      className: "budget-marker",
    }),
  );
  const measured = [...new Set(series.flatMap((s) => s.curve.points.map((p) => p.budget)))].sort((a, b) => a - b);
  const chart = Plot.plot({
    width: Math.max(300, o.width),
    height: Math.round(Math.min(360, Math.max(240, o.width * 0.5))),
    marginTop: 24,
    marginLeft: 48,
    ariaLabel: `Robust accuracy against ${NORM_LABEL[o.norm]} budget, ${KNOWLEDGE_LABEL[o.knowledge]} attacker`,
    ariaDescription: series.map((s) => `${s.label}${s.atBudget ? `: ${pct(s.atBudget.value)} at ε = ${o.budget}` : ""}`).join("; "),
    // L0 budgets grow geometrically (1, 2, 4, … 64 features): a symlog axis ticked at the measured budgets.
    x: { label: `budget ε (${NORM_LABEL[o.norm]}, ${NORM_UNITS[o.norm]})`, tickFormat: tick, ...(o.norm === "l0" ? { type: "symlog" as const, ticks: measured } : {}) },
    y: { label: "robust accuracy", domain: [0, 1], tickFormat: (v: number) => `${Math.round(v * 100)}%`, grid: true },
    color: { domain: labels, range: series.map((s) => COLORS[s.role]), legend: true },
    marks,
  });
  return chart;
}

/** The same numbers as a table (for screen readers and for copying). */
export function curvesTable(series: readonly Series[], norm: Norm): HTMLElement {
  const budgets = [...new Set(series.flatMap((s) => s.curve.points.map((p) => p.budget)))].sort((a, b) => a - b);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "curve-table" },
      h("caption", {}, `Robust accuracy (95 % interval) at each measured ${NORM_LABEL[norm]} budget`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "ε"), series.map((s) => h("th", { scope: "col" }, s.label)))),
      h(
        "tbody",
        {},
        budgets.map((b) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, String(b)),
            series.map((s) => {
              const p = s.curve.points.find((x) => x.budget === b);
              return h("td", {}, p ? `${pct(p.accuracy)} (${interval(p)})` : "–");
            }),
          ),
        ),
      ),
    ),
  );
}
