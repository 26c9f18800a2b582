// How long a refresh takes, estimated before it runs: what a refresh without a grid is told
// (issue 16, item 3: no body no longer runs the 151-cell default grid; the 400 names the choices
// with their cells and estimated time).
//
// The estimate: cells × seconds per cell ÷ worker speed-up, where seconds per cell depends on the
// samples per cell only, interpolated linearly between two builds measured on the 2-core
// development machine (README, "The default matrix"; wasm backend, default attack settings,
// LeNet-5):
//   100 samples  bench/grids/timing-small.yaml, 1 worker: 93.7 cells/hour      → 38.4 s per cell;
//   500 samples  db/grids/default.yaml, lenet5 shard: 151 cells in 4.04 h on 2 workers
//                (2 workers = 1.6× one worker, same README)                       → 154 s per cell.
// Below 100 samples the same line goes on down (a 1-sample cell ≈ 10 s: loading, fine-tuning,
// crafting remain). The worker speed-up is 1.6 for 2 (measured), 0.8 × workers beyond (not
// measured). Not modelled: the architecture (the same default grid took 1.97 h for LeNet-300-100
// and ≈ 5.5 h for the ConvNet, 0.5× and 1.4× LeNet-5), attack steps and queries other than the
// default's, and other load on the machine. The job itself reports a measured ETA once its first
// cell finished (GET /v1/jobs/{id}, `eta`).
import { asRefreshGrid, loadGrid, planCells, refreshGrid, type Grid, type RefreshGrid } from "../matrix/grid.js";

const MEASURED = [
  { samples: 100, secondsPerCell: 3600 / 93.7 },
  { samples: 500, secondsPerCell: (4.04 * 3600 * 1.6) / 151 },
] as const;

/** Estimated seconds of one cell at `samples` per cell (see the header). */
export function secondsPerCell(samples: number): number {
  const [a, b] = MEASURED;
  const slope = (b.secondsPerCell - a.secondsPerCell) / (b.samples - a.samples);
  return Math.max(5, a.secondsPerCell + slope * (samples - a.samples));
}

/** Throughput of `workers` build workers relative to one. */
export function workerSpeedup(workers: number): number {
  return workers <= 1 ? 1 : workers === 2 ? 1.6 : 0.8 * workers;
}

export function estimateSeconds(cells: number, samples: number, workers = 1): number {
  return Math.round((cells * secondsPerCell(samples)) / workerSpeedup(workers));
}

/** "≈ 6.5 h", "≈ 4 min", "≈ 40 s". */
export function formatDuration(seconds: number): string {
  if (seconds >= 5400) return `≈ ${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 90) return `≈ ${Math.round(seconds / 60)} min`;
  return `≈ ${Math.round(seconds)} s`;
}

export interface RefreshChoice {
  /** What to send as `grid`: "default", or a grid object (this one is an example). */
  grid: "default" | RefreshGrid;
  description: string;
  cells: number;
  samples: number;
  estimatedSeconds: number;
  estimate: string;
}

/** A small grid to start from: one strategy at 1× and 4×, L∞ at the default grid's budgets, 100 samples. */
function exampleGrid(base: Grid): RefreshGrid {
  const linf = base.budgets.linf ?? [0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3];
  return { strategies: ["global-magnitude"], rates: [1, 4], norms: ["linf"], knowledge: ["white-box", "black-box"], budgets: { linf }, samples: Math.min(100, base.samples), seeds: [1] } as RefreshGrid;
}

const PLACEHOLDER_MODEL = { id: "0".repeat(64), architecture: "model", dir: "." };

function choice(grid: "default" | RefreshGrid, g: Grid, description: string, workers: number): RefreshChoice {
  const cells = planCells(g).length;
  const estimatedSeconds = estimateSeconds(cells, g.samples, workers);
  return { grid, description, cells, samples: g.samples, estimatedSeconds, estimate: formatDuration(estimatedSeconds) };
}

/** The choices a refresh without a grid is offered: the server's default grid and an example grid object, each with cells and estimated time. */
export async function refreshChoices(defaultGridFile: string, workers = 1): Promise<RefreshChoice[]> {
  const base = await loadGrid(defaultGridFile);
  const dataset = { name: base.dataset.name, dir: base.dataset.dir };
  const asRefresh = asRefreshGrid(base);
  const example = exampleGrid(base);
  return [
    choice("default", refreshGrid(asRefresh, PLACEHOLDER_MODEL, dataset), `the server's default grid (${base.description ?? defaultGridFile})`, workers),
    choice(example, refreshGrid(example, PLACEHOLDER_MODEL, dataset, asRefresh), "a grid object, e.g. this one (any grid file's fields; settings left out come from the default grid)", workers),
  ];
}

/** The one-paragraph explanation of a refresh without a grid. */
export function choicesText(choices: readonly RefreshChoice[], how: { defaultHow: string; objectHow: string }, workers = 1): string {
  const [d, o] = choices;
  return (
    `a refresh needs an explicit grid: ${how.defaultHow} runs the server's default grid — ${d!.cells} cells of ${d!.samples} samples, ${d!.estimate}; ` +
    `${how.objectHow} runs your own — e.g. one strategy at 1× and 4×, L∞, ${o!.samples} samples: ${o!.cells} cells, ${o!.estimate}. ` +
    `Estimates for a LeNet-5-sized model on ${workers} build worker${workers === 1 ? "" : "s"}, from the cells/hour measured in the README (≈ ${Math.round(secondsPerCell(100))} s per cell at 100 samples, ≈ ${Math.round(secondsPerCell(500))} s at 500)`
  );
}
