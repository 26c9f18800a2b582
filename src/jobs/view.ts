// A job as the API (and `advisor refresh --json`) shows it: no runner internals, no server paths.
import type { components } from "../api/schema.gen.js";
import type { Job } from "./store.js";

type Schemas = components["schemas"];

export function jobView(j: Job, now = Date.now()): Schemas["Job"] {
  const { dir: _datasetDir, ...dataset } = j.grid.dataset;
  const grid: Record<string, unknown> = { ...j.grid, dataset };
  if (j.grid.model) grid.model = { id: j.grid.model.id, architecture: j.grid.model.architecture };
  delete grid.architectures;
  const eta = j.etaAt === null ? null : { seconds: Math.max(0, Math.round((Date.parse(j.etaAt) - now) / 1000)), at: j.etaAt };
  return {
    id: j.id,
    kind: j.kind,
    state: j.state,
    modelId: j.modelId,
    gridHash: j.gridHash,
    grid,
    cells: { done: j.cellsDone, total: j.cellsTotal },
    current: j.currentCell === null ? null : { cell: j.currentCell, detail: j.currentDetail },
    eta,
    errors: j.errors,
    matrixVersion: j.publishedVersion,
    workers: j.workers,
    attempts: j.attempts,
    requestedBy: j.requestedBy,
    note: j.note,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    updatedAt: j.updatedAt,
    finishedAt: j.finishedAt,
    replace: j.replace,
    // Rows of the store's vocabulary (strategy, norm, knowledge), as the matrix holds them.
    kept: j.kept as Schemas["KeptRow"][],
  };
}

