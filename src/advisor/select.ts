// Which candidates of the matrix a question is about: the model filters (modelId, architecture,
// dataset), all of which must match. Several models may be ranked together only when they share
// one data set (robust accuracies on different data sets are not comparable).
import { AdvisorDataError, AdvisorInputError, UnknownModelError, type ModelInfo } from "./errors.js";
import type { Candidate, MatrixSnapshot, Scenario } from "./types.js";

export function modelsOf(cands: readonly Candidate[]): ModelInfo[] {
  // A model id names one model (the hash of its weights), so one architecture and data set.
  const seen = new Map<string, ModelInfo>();
  for (const c of cands) if (!seen.has(c.modelId)) seen.set(c.modelId, { modelId: c.modelId, architecture: c.architecture, dataset: c.dataset });
  return [...seen.values()];
}

function listModels(models: readonly ModelInfo[]): string {
  return models.map((m) => `${m.modelId} (${m.architecture}, ${m.dataset})`).join("; ");
}

export function checkSnapshot(matrix: MatrixSnapshot): void {
  if (typeof matrix !== "object" || matrix === null || !Array.isArray(matrix.candidates)) {
    throw new AdvisorDataError("the matrix snapshot must be an object with a candidates array");
  }
  if (!Number.isFinite(matrix.version)) throw new AdvisorDataError(`the matrix version ${String(matrix.version)} is not a number`);
}

/**
 * The candidates of the model(s) the scenario selects. Throws UnknownModelError (naming the
 * filter that matched nothing) and AdvisorInputError when the selection spans several data sets
 * — or, with `singleModel`, several models.
 */
export function selectCandidates(matrix: MatrixSnapshot, s: Pick<Scenario, "modelId" | "architecture" | "dataset">, singleModel: boolean, prefix = ""): Candidate[] {
  checkSnapshot(matrix);
  const all = matrix.candidates;
  if (all.length === 0) throw new UnknownModelError(`matrix version ${matrix.version} holds no candidates`, undefined, []);
  let pool = all;
  for (const key of ["modelId", "architecture", "dataset"] as const) {
    const want = s[key];
    if (want === undefined) continue;
    const next = pool.filter((c) => c[key] === want);
    if (next.length === 0) {
      const field = prefix ? `${prefix}.${key}` : key;
      const known = [...new Set(all.map((c) => c[key]))].join(", ");
      const also = pool === all ? "" : " together with the other model filters";
      throw new UnknownModelError(`no model matches ${key} "${want}"${also} in matrix version ${matrix.version} (known ${key}s: ${known})`, field, modelsOf(all));
    }
    pool = next;
  }
  const selected = modelsOf(pool);
  const datasets = [...new Set(selected.map((m) => m.dataset))];
  if (datasets.length > 1) {
    throw new AdvisorInputError(
      `the selection spans several data sets (${datasets.join(", ")}), whose robust accuracies are not comparable; choose one with dataset or modelId. Models: ${listModels(selected)}`,
      prefix ? `${prefix}.dataset` : "dataset",
    );
  }
  if (singleModel && new Set(selected.map((m) => m.modelId)).size > 1) {
    throw new AdvisorInputError(`the selection spans several models; choose one with modelId. Models: ${listModels(selected)}`, prefix ? `${prefix}.modelId` : "modelId");
  }
  return pool;
}
