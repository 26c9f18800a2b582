// What a refresh of a model runs: the grid (the default grid file or one given, validated with the
// grid schema of src/matrix/grid.ts) with the registered model as its given dense model, on the
// data set the model was registered for (its directory from the configured data sets,
// ADVISOR_DATASETS — never a path from the request). Shared by POST /v1/models/{id}/refresh and
// `advisor refresh`. No TensorFlow here.
import path from "node:path";
import { BuildLedger } from "../matrix/build-state.js";
import { MODEL_LABEL, asRefreshGrid, gridHash, loadGrid, planCells, refreshGrid, type Grid, type RefreshGrid } from "../matrix/grid.js";
import type { Database } from "../matrix/sqlite.js";
import type { MatrixStore } from "../matrix/store.js";
import { hasKernels, infeasiblePairs } from "../engine/pruning/feasibility.js";
import { granularityOf } from "../vocabulary.js";
import { detectFormat, testSplitCount } from "../engine/dataset-formats.js";
import { prunableLayersIn } from "../models/layers.js";
import { findModel, isModelId, type RegisteredModel } from "../models/storage.js";
import { defaultRefreshGridPath } from "../paths.js";

export const DEFAULT_REFRESH_GRID = defaultRefreshGridPath;

/** A refresh that cannot be prepared; `status` is the HTTP status it maps to, `field` what is to blame. */
export class RefreshError extends Error {
  override name = "RefreshError";
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface PreparedRefresh {
  model: RegisteredModel;
  grid: Grid;
  gridHash: string;
  /** Cells of the plan. */
  cells: number;
}

export interface PrepareOptions {
  db: Database;
  dbFile: string;
  modelId: string;
  /**
   * A validated refresh grid (its settings left out are the default grid's), or "default": the
   * grid of `defaultGridFile`. Required: a refresh never runs the default grid unasked (it takes hours).
   */
  grid: RefreshGrid | "default";
  defaultGridFile?: string;
  /** Data set name → directory, any format (ADVISOR_DATASETS). */
  datasets: ReadonlyMap<string, string>;
  /** Where the model id comes from, for error messages (`id` for the URL, `<model-id>` for the CLI). */
  idField?: string;
}

export async function prepareRefresh(o: PrepareOptions): Promise<PreparedRefresh> {
  const idField = o.idField ?? "id";
  const model = isModelId(o.modelId) ? await findModel(o.db, o.modelId) : null;
  if (!model) {
    throw new RefreshError(404, `no model has id ${JSON.stringify(o.modelId)} (a model id is the sha256 of its weights, as POST /v1/models answers it)`, idField);
  }
  if (model.modelDir === null) {
    throw new RefreshError(409, `model ${model.id} is known from an imported matrix without its files; upload it (POST /v1/models) to refresh it`, idField);
  }
  const datasetDir = o.datasets.get(model.dataset);
  if (datasetDir === undefined) {
    throw new RefreshError(
      409,
      `model ${model.id} is registered for data set ${model.dataset}, which this server does not know (known: ${[...o.datasets.keys()].join(", ")}; configure it with ADVISOR_DATASETS)`,
      idField,
    );
  }
  const given = o.grid === "default" ? undefined : o.grid;
  if (given?.dataset !== undefined && given.dataset.name !== model.dataset) {
    throw new RefreshError(400, `grid.dataset.name: model ${model.id.slice(0, 12)}… is registered for data set ${model.dataset}, not ${given.dataset.name}; a refresh measures it on its own data set`, "grid.dataset.name");
  }
  // The default grid: run as it is, or the settings (training, fine-tuning, attacks) a given grid leaves out.
  const base = asRefreshGrid(await loadGrid(o.defaultGridFile ?? DEFAULT_REFRESH_GRID));
  const asked: RefreshGrid = given ?? base;
  // The directory's files say its format; every cell evaluates the first `samples` test images:
  // say so now rather than fail every cell later.
  const unreadable = (err: unknown): never => {
    throw new RefreshError(409, `data set ${model.dataset} cannot be read from its configured directory: ${(err as Error).message}`, idField);
  };
  const format = await detectFormat(datasetDir).catch(unreadable);
  const available = await testSplitCount(datasetDir, format).catch(unreadable);
  if (asked.samples > available) {
    const why = `asks for ${asked.samples} samples per cell, but the test split of data set ${model.dataset} holds ${available} images`;
    throw given
      ? new RefreshError(400, `grid.samples: the grid ${why}`, "grid.samples")
      : new RefreshError(409, `the server's default grid ${why}: send a grid with samples <= ${available}`, "grid.samples");
  }
  // A rate that would empty a layer fails its prune cell — and the whole job, after every other
  // cell ran: say so now. (Unreadable layer sizes: nothing to check here; the cell would tell.)
  const modelDir = path.resolve(path.dirname(path.resolve(o.dbFile)), model.modelDir);
  const layers = await prunableLayersIn(modelDir);
  // An MLP has no convolution kernels: kernel/* does not apply to it. The refresh measures the
  // grid's other strategies rather than fail (the default grid lists kernel/* for the CNNs).
  const r: RefreshGrid = layers && !hasKernels(layers) ? { ...asked, strategies: asked.strategies.filter((s) => granularityOf(s) !== "kernel") } : asked;
  const infeasible = layers ? infeasiblePairs(layers, r.strategies, r.rates) : [];
  if (infeasible.length > 0) {
    const bad = [...new Set(infeasible.map((x) => x.rate))].sort((a, b) => a - b);
    const pairs = infeasible.map((x) => `${x.strategy} at ${x.rate}×`).join(", ");
    const why = `cannot prune model ${model.id.slice(0, 12)}… to ${pairs}: ${infeasible[0]!.reason}; leave out rate(s) ${bad.join(", ")} (or those strategies)`;
    throw given ? new RefreshError(400, `grid.rates: the grid ${why}`, "grid.rates") : new RefreshError(409, `the server's default grid ${why}: send a grid without them`, "grid.rates");
  }
  // Cell keys carry the label; an odd one (from an import) is made safe, the model id is what counts.
  const label = MODEL_LABEL.test(model.architecture) ? model.architecture : model.architecture.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64) || "model";
  const what = `refresh of model ${model.id.slice(0, 12)}… (${model.architecture}, ${model.dataset})`;
  const grid = refreshGrid(
    { ...r, description: given?.description ? `${what}: ${given.description}` : what },
    { id: model.id, architecture: label, dir: modelDir },
    { name: model.dataset, dir: path.resolve(datasetDir), format },
    base,
  );
  return { model, grid, gridHash: gridHash(grid), cells: planCells(grid).length };
}

/** The published version holding every row of `grid` (its build done and published), or null. */
export async function measuredVersion(store: MatrixStore, hash: string, grid: Grid): Promise<number | null> {
  const ledger = new BuildLedger(store.db);
  const build = await ledger.build(hash);
  if (!build || build.matrixVersion === null) return null;
  const v = await store.version(build.matrixVersion);
  if (!v || v.publishedAt === null) return null;
  return (await ledger.pending(hash, planCells(grid))).length === 0 ? v.id : null;
}
