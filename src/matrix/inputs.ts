// What the store takes in: models, variants and evaluations as the builder and the importers
// describe them, built from the engine's results, and the content hash that identifies a
// measurement (the same cell measured the same way hashes the same, in any database).
import type { CleanCount, Knowledge, Norm, Strategy } from "../vocabulary.js";
import type { ModelMetadata } from "../engine/model-io.js";
import type { SparsityReport } from "../engine/pruning/accounting.js";
import type { RobustnessResult } from "../engine/evaluation/robustness.js";
import { packageVersion } from "../paths.js";
import { canonicalJson, sha256Hex } from "./blobs.js";
import type { StoredAttack, StoredIndicators } from "./row.js";

export interface ModelInput {
  /** sha256 (hex) of the dense model's weights. */
  id: string;
  architecture: string;
  dataset: string;
  inputShape: number[];
  numClasses: number;
  seed: number;
  /** Clean accuracy on the whole test split when the model was written, if measured. */
  clean: CleanCount | null;
  backend: string;
  codeVersion: string;
  createdAt: string;
  /** Relative to the database's folder or the repository. */
  modelDir?: string | null;
  metadata?: Record<string, unknown>;
}

export interface VariantInput {
  modelId: string;
  strategy: Strategy;
  requestedRate: number;
  achievedRate: number;
  prunableParams: number;
  nonZeroPrunable: number;
  totalParams: number;
  nonZeroParams: number;
  sparseBytes: number;
  denseBytes: number;
  /** Kernel and filter strategies: bytes of the dense model with the removable units dropped (engine/pruning/dropped.ts); absent: not measured. */
  droppedBytes?: number | null;
  structured: boolean;
  weightsSha256: string;
  /** Clean accuracy of the variant on the whole test split. */
  clean: CleanCount;
  finetuneEpochs: number;
  seed: number;
  /** How the rate was reached (src/matrix/grid.ts, "Schedules"); absent: one-shot. */
  schedule?: "one-shot" | "cumulative";
  backend: string;
  codeVersion: string;
  createdAt: string;
}

export interface EvaluationInput {
  variantId: number;
  matrixVersion: number;
  norm: Norm;
  knowledge: Knowledge;
  /** Grid budgets, ascending and unique, valid for the norm. */
  budgets: number[];
  /** Split of the model's data set the sample indices point into (default "test"). */
  datasetSplit?: string;
  sampleIndices: ArrayLike<number>;
  /** Per-sample minimal adversarial distance (0 = clean error, Infinity = never beaten). */
  distances: Float32Array;
  /** Evaluated samples correct without attack; must equal the number of distances > 0. */
  cleanCorrect: number;
  attacks: StoredAttack[];
  maskingSuspected: boolean;
  sanity?: Record<string, unknown>;
  /** The indicators of attack failure (engine/evaluation/indicators.ts); absent or null: not measured. */
  indicators?: StoredIndicators | null;
  seed: number;
  batchSize?: number | null;
  queryBudget?: number | null;
  queries?: number | null;
  surrogateSha256?: string | null;
  backend: string;
  codeVersion: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
}

/** A model row from the engine's metadata.json (the dense model). */
export function modelInputFromMetadata(meta: ModelMetadata, modelDir?: string | null): ModelInput {
  const clean = meta.cleanAccuracy !== undefined && meta.testCount !== undefined ? { correct: Math.round(meta.cleanAccuracy * meta.testCount), n: meta.testCount } : null;
  return {
    id: meta.weightsSha256,
    architecture: meta.architecture,
    dataset: meta.dataset,
    inputShape: [...meta.inputShape],
    numClasses: meta.numClasses,
    seed: meta.seed,
    clean,
    backend: meta.backend,
    codeVersion: meta.codeVersion,
    createdAt: meta.createdAt,
    modelDir: modelDir ?? null,
    metadata: JSON.parse(JSON.stringify(meta)) as Record<string, unknown>,
  };
}

/** A variant row from the engine's measurements of a pruned (or the dense) model. */
export function variantInputFrom(o: {
  modelId: string;
  strategy: Strategy;
  requestedRate: number;
  sparsity: SparsityReport;
  structured: boolean;
  droppedBytes?: number | null;
  weightsSha256: string;
  clean: CleanCount;
  finetuneEpochs: number;
  seed: number;
  schedule?: "one-shot" | "cumulative";
  backend: string;
  codeVersion?: string;
  createdAt?: string;
}): VariantInput {
  const s = o.sparsity;
  return {
    modelId: o.modelId,
    strategy: o.strategy,
    requestedRate: o.requestedRate,
    achievedRate: s.compression,
    prunableParams: s.prunableParams,
    nonZeroPrunable: s.nonZeroPrunable,
    totalParams: s.totalParams,
    nonZeroParams: s.nonZeroParams,
    sparseBytes: s.sparseBytes,
    denseBytes: s.denseBytes,
    ...(o.droppedBytes === undefined || o.droppedBytes === null ? {} : { droppedBytes: o.droppedBytes }),
    ...(o.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
    structured: o.structured,
    weightsSha256: o.weightsSha256,
    clean: o.clean,
    finetuneEpochs: o.finetuneEpochs,
    seed: o.seed,
    backend: o.backend,
    codeVersion: o.codeVersion ?? packageVersion(),
    createdAt: o.createdAt ?? new Date().toISOString(),
  };
}

/** An evaluation row from what evaluateRobustness returned (one norm, one knowledge level). */
export function evaluationInputFromResult(
  result: RobustnessResult,
  ctx: { variantId: number; matrixVersion: number; datasetSplit?: string; codeVersion?: string; finishedAt?: string; startedAt?: string },
): EvaluationInput {
  const finishedAt = ctx.finishedAt ?? new Date().toISOString();
  const startedAt = ctx.startedAt ?? new Date(Date.parse(finishedAt) - Math.round(result.seconds * 1000)).toISOString();
  return {
    variantId: ctx.variantId,
    matrixVersion: ctx.matrixVersion,
    norm: result.norm,
    knowledge: result.knowledge,
    budgets: [...result.budgets],
    datasetSplit: ctx.datasetSplit ?? "test",
    sampleIndices: result.sampleIndices,
    distances: result.distances,
    cleanCorrect: result.cleanCorrect,
    // The stored part of each record (not its distances or query count), sanity only when set.
    attacks: result.perAttack.map(({ sanity, ...a }) => normalizeAttack(sanity ? { ...a, sanity: true } : a)),
    maskingSuspected: result.sanity.masking.flagged,
    sanity: JSON.parse(JSON.stringify(result.sanity)) as Record<string, unknown>,
    indicators: JSON.parse(JSON.stringify(result.indicators)) as StoredIndicators,
    seed: result.seed,
    batchSize: result.batchSize,
    queryBudget: result.queryBudget,
    queries: result.queries,
    surrogateSha256: result.transfer?.surrogateSha256 ?? null,
    backend: result.backend.label,
    codeVersion: ctx.codeVersion ?? packageVersion(),
    startedAt,
    finishedAt,
    seconds: result.seconds,
  };
}

/** One attack record with its keys in the canonical order (stored JSON is the same however the caller ordered them). */
export function normalizeAttack(a: StoredAttack): StoredAttack {
  return {
    name: a.name,
    kind: a.kind,
    knowledge: a.knowledge,
    access: a.access,
    params: { ...a.params },
    budgets: [...a.budgets],
    attempted: a.attempted,
    beaten: a.beaten,
    ...(a.sanity === undefined ? {} : { sanity: a.sanity }),
  };
}

/** The natural key of a variant plus its weights: what makes an evaluation's content comparable across databases. */
export interface VariantIdentity {
  modelId: string;
  strategy: string;
  requestedRate: number;
  seed: number;
  weightsSha256: string;
}

/**
 * sha256 over everything an evaluation measured and its provenance (not its local ids or
 * version): the same measurement imported twice, or into another database, has the same hash.
 */
export function evaluationContentHash(
  variant: VariantIdentity,
  e: Omit<EvaluationInput, "variantId" | "matrixVersion" | "sampleIndices" | "distances">,
  blobs: { sampleHash: string; distancesSha256: string },
): string {
  return sha256Hex(
    canonicalJson([
      variant.modelId,
      variant.strategy,
      variant.requestedRate,
      variant.seed,
      variant.weightsSha256,
      e.norm,
      e.knowledge,
      e.budgets,
      e.datasetSplit ?? "test",
      blobs.sampleHash,
      blobs.distancesSha256,
      e.cleanCorrect,
      e.attacks.map(normalizeAttack),
      e.maskingSuspected,
      e.sanity ?? {},
      e.seed,
      e.batchSize ?? null,
      e.queryBudget ?? null,
      e.queries ?? null,
      e.surrogateSha256 ?? null,
      e.backend,
      e.codeVersion,
      e.startedAt,
      e.finishedAt,
      e.seconds,
      // Only when measured, so rows from before the indicators keep their hash (and a shipped
      // matrix imported again is recognised).
      ...(e.indicators ? [e.indicators] : []),
    ]),
  );
}
