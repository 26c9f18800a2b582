// `advisor matrix plan` (what a build will cost) and `advisor matrix calibrate` (the per-cell cost
// table it prices cells with). The model: src/matrix/cost.ts; the table: src/matrix/calibration.ts.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CalibrationError, DEFAULT_CALIBRATION_FILE, displayPath, loadCalibration } from "../matrix/calibration.js";
import { COST_KINDS, estimatePlan, type PlanEstimate } from "../matrix/cost.js";
import { loadGrid, notApplicable, type Grid } from "../matrix/grid.js";
import { DEFAULT_MODELS_DIR } from "../matrix/builder.js";
import { UsageError } from "./errors.js";
import type { MatrixCalibrateFlags, MatrixPlanFlags } from "./matrix.js";

const hours = (seconds: number): string => (seconds / 3600).toFixed(2);

/** "5.5 h", "42 min", "30 s". */
export function wallTime(seconds: number): string {
  if (seconds >= 5400) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 90) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds)} s`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The estimate as the plan prints it. */
export function formatPlan(e: PlanEstimate, gridLabel: string): string[] {
  const lines = [
    `plan of ${gridLabel}: ${e.cells} cells, ${e.samples} samples per cell`,
    `calibrated from: ${e.source}`,
    `${e.workers} worker${e.workers === 1 ? "" : "s"} per machine, ${e.shards.length} shard${e.shards.length === 1 ? "" : "s"} (one machine each); while two or more cells run on a machine each takes ${e.slowdown}× as long`,
    "",
    ...table(
      ["kind", "cells", "core-hours (one core, alone)"],
      [...COST_KINDS.map((k) => [k, String(e.byKind[k].cells), hours(e.byKind[k].seconds)]), ["all", String(e.cells), hours(COST_KINDS.reduce((a, k) => a + e.byKind[k].seconds, 0))]],
    ),
    "",
    ...table(
      ["shard", "cells", "rebuilt", "core-hours", "wall time"],
      e.shards.map((s) => [`${s.index}/${s.count}`, String(s.cells), String(s.rebuilt), hours(s.busySeconds), wallTime(s.wallSeconds)]),
    ),
    "",
  ];
  if (e.shards.length > 1) {
    lines.push(`wall time: ${wallTime(e.wallSeconds)} with every shard on its own machine at once (the slowest shard); ${wallTime(e.sequentialSeconds)} one after another`);
  } else {
    lines.push(`wall time: ${wallTime(e.wallSeconds)}`);
  }
  lines.push(`core-hours: ${hours(e.busySeconds)} (workers busy, rebuilt dependencies and slowdown included)`);
  for (const n of e.notes) lines.push(`note: ${n}`);
  return lines;
}

async function calibrationOf(file: string, measuredWorkers: number | undefined) {
  try {
    return await loadCalibration(file, measuredWorkers === undefined ? {} : { measuredWorkers });
  } catch (err) {
    if (err instanceof CalibrationError) throw new UsageError(err.message);
    throw err;
  }
}

export async function planAction(flags: MatrixPlanFlags): Promise<void> {
  const grid: Grid = await loadGrid(flags.grid);
  const calibration = await calibrationOf(flags.calibration ?? DEFAULT_CALIBRATION_FILE, flags.measuredWorkers);
  // After every input loaded, so a bad flag's error stays the only line.
  const skipped = notApplicable(grid);
  if (skipped) process.stderr.write(`note: ${skipped}\n`);
  const modelsDir = path.resolve(flags.modelsDir ?? DEFAULT_MODELS_DIR);
  const estimate = estimatePlan(grid, calibration, {
    workers: flags.workers ?? os.availableParallelism(),
    shards: flags.shards,
    // Where the train cell looks for the dense model (cells.ts, denseDir; that module loads the
    // engine, which a plan does not need). A grid naming its model never trains (cost.ts).
    denseExists: (architecture, seed) => existsSync(path.join(modelsDir, `${architecture}-${grid.dataset.name}-s${seed}`, "metadata.json")),
  });
  if (flags.json) process.stdout.write(JSON.stringify(estimate) + "\n");
  else process.stdout.write(formatPlan(estimate, `${displayPath(flags.grid)}${grid.description ? ` (${grid.description})` : ""}`).join("\n") + "\n");
}

export async function calibrateAction(flags: MatrixCalibrateFlags): Promise<void> {
  const table = await calibrationOf(flags.from, flags.measuredWorkers);
  const text = JSON.stringify(table, null, 2) + "\n";
  if (flags.out) {
    await writeFile(flags.out, text);
    process.stderr.write(`wrote ${table.entries.length} costs to ${flags.out}, calibrated from: ${table.source}\n`);
  } else process.stdout.write(text);
}
