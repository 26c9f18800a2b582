// How long a refresh takes, estimated before it runs: what a refresh without a grid is told
// (issue 16, item 3: no body no longer runs the 151-cell default grid; the 400 names the choices
// with their cells and estimated time).
//
// The estimate is `advisor matrix plan`'s (src/matrix/cost.ts): the refresh grid's cells priced
// with the shipped calibration (db/calibration.json, measured per cell kind, architecture, norm,
// knowledge level and sample count), run through the builder's scheduling on the job's workers.
// The model is an upload whose size the table does not know: LeNet-5's costs stand for it (the
// same default grid took 0.5× as long on LeNet-300-100 and 1.4× on the ConvNet); its train cell
// only loads it. Not modelled: other load on the machine. The job itself reports a measured ETA
// once its first cell finished (GET /v1/jobs/{id}, `eta`).
import { asRefreshGrid, loadGrid, planCells, refreshGrid, type Grid, type RefreshGrid } from "../matrix/grid.js";
import { estimatePlan, type Calibration } from "../matrix/cost.js";
import { DEFAULT_CALIBRATION_FILE, loadCalibration } from "../matrix/calibration.js";

let shipped: Promise<Calibration> | undefined;
/** The shipped calibration, read once. */
function calibration(): Promise<Calibration> {
  if (!shipped) {
    shipped = loadCalibration(DEFAULT_CALIBRATION_FILE);
    shipped.catch(() => (shipped = undefined));
  }
  return shipped;
}

/** Estimated wall seconds of a refresh grid's build on `workers` job workers. */
export async function estimateSeconds(grid: Grid, workers = 1): Promise<number> {
  return Math.round(estimatePlan(grid, await calibration(), { workers, shards: 1, denseExists: () => true }).wallSeconds);
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

async function choice(grid: "default" | RefreshGrid, g: Grid, description: string, workers: number): Promise<RefreshChoice> {
  const cells = planCells(g).length;
  const estimatedSeconds = await estimateSeconds(g, workers);
  return { grid, description, cells, samples: g.samples, estimatedSeconds, estimate: formatDuration(estimatedSeconds) };
}

/** The choices a refresh without a grid is offered: the server's default grid and an example grid object, each with cells and estimated time. */
export async function refreshChoices(defaultGridFile: string, workers = 1): Promise<RefreshChoice[]> {
  const base = await loadGrid(defaultGridFile);
  const dataset = { name: base.dataset.name, dir: base.dataset.dir };
  const asRefresh = asRefreshGrid(base);
  const example = exampleGrid(base);
  return Promise.all([
    choice("default", refreshGrid(asRefresh, PLACEHOLDER_MODEL, dataset), `the server's default grid (${base.description ?? defaultGridFile})`, workers),
    choice(example, refreshGrid(example, PLACEHOLDER_MODEL, dataset, asRefresh), "a grid object, e.g. this one (any grid file's fields; settings left out come from the default grid)", workers),
  ]);
}

/** The one-paragraph explanation of a refresh without a grid. */
export function choicesText(choices: readonly RefreshChoice[], how: { defaultHow: string; objectHow: string }, workers = 1): string {
  const [d, o] = choices;
  return (
    `a refresh needs an explicit grid: ${how.defaultHow} runs the server's default grid — ${d!.cells} cells of ${d!.samples} samples, ${d!.estimate}; ` +
    `${how.objectHow} runs your own — e.g. one strategy at 1× and 4×, L∞, ${o!.samples} samples: ${o!.cells} cells, ${o!.estimate}. ` +
    `Estimates for a LeNet-5-sized model on ${workers} build worker${workers === 1 ? "" : "s"}, as \`advisor matrix plan\` makes them, calibrated from the shipped matrix's measured cells (db/calibration.json)`
  );
}
