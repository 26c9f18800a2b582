// Engine-level steps of the pipeline, shared by the CLI and the matrix builder: train a dense model
// (seeded) and prune + fine-tune a model with the mask held fixed. No I/O besides what the caller
// asks for; no progress output (callers pass callbacks).
import type { Architecture } from "./architectures.js";
import { inputShapeOf, splitValidation, subset, type Dataset } from "./data.js";
import { mulberry32, permutation } from "./random.js";
import { createModel } from "./models.js";
import type { ModelMetadata } from "./model-io.js";
import { evaluate, train, type BatchProgress, type EpochStats, type Evaluation, type TrainResult } from "./train.js";
import { dropReport, measureSparsity, pruneModel, type SparsityReport } from "./pruning/index.js";
import { canonicalStrategy, granularityOf } from "../vocabulary.js";
import { tf, type LayersModel } from "./tf.js";
import { packageVersion } from "../paths.js";

export interface TrainLoopSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  /** Share of the training data held out for validation. */
  validation: number;
  seed: number;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (e: EpochStats) => void;
}

/** Trains `model` (in place) on `data` with a seeded validation split; `masks` hold pruned weights at 0. */
export async function trainLoop(model: LayersModel, data: Dataset, s: TrainLoopSettings, masks?: Map<string, Float32Array>): Promise<TrainResult> {
  const { train: trainSet, validation } = splitValidation(data, s.validation, s.seed);
  return train(model, trainSet, validation, {
    epochs: s.epochs,
    seed: s.seed,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    patience: s.patience,
    ...(masks ? { masks } : {}),
    ...(s.onBatch ? { onBatch: s.onBatch } : {}),
    ...(s.onEpoch ? { onEpoch: s.onEpoch } : {}),
  });
}

/** The metadata fields every trained or fine-tuned model records about the run that made it. */
export function runProvenance(
  s: Pick<TrainLoopSettings, "seed" | "batchSize" | "learningRate">,
  backend: string,
  test: Evaluation,
  result: TrainResult,
): Pick<ModelMetadata, "seed" | "cleanAccuracy" | "testCount" | "backend" | "codeVersion" | "createdAt" | "training"> {
  return {
    seed: s.seed,
    cleanAccuracy: test.accuracy,
    testCount: test.count,
    backend,
    codeVersion: packageVersion(),
    createdAt: new Date().toISOString(),
    training: { epochs: result.history.length, bestEpoch: result.bestEpoch, batchSize: s.batchSize, learningRate: s.learningRate, validationAccuracy: result.validationAccuracy },
  };
}

export interface DenseResult {
  model: LayersModel;
  result: TrainResult;
  test: Evaluation;
  /** Metadata to save with the model (saveModel fills in the weights hash). */
  metadata: Omit<ModelMetadata, "weightsSha256" | "format">;
}

/** Creates and trains a dense model of the zoo (seeded: same seed, data and backend → same weights). */
export async function trainDense(o: { architecture: Architecture; train: Dataset; test: Dataset; datasetName?: string; backend: string; settings: TrainLoopSettings }): Promise<DenseResult> {
  const inputShape = inputShapeOf(o.train);
  const model = createModel({ architecture: o.architecture, inputShape, numClasses: o.train.numClasses, seed: o.settings.seed });
  const result = await trainLoop(model, o.train, o.settings);
  const test = evaluate(model, o.test);
  return {
    model,
    result,
    test,
    metadata: {
      architecture: o.architecture,
      dataset: o.datasetName ?? o.train.name,
      inputShape,
      numClasses: o.train.numClasses,
      ...runProvenance(o.settings, o.backend, test, result),
    },
  };
}

/** `n` rows of `ds` drawn at random (without replacement) with `seed`, a stream of its own (not the validation split's). */
function drawn(ds: Dataset, n: number, seed: number): Dataset {
  return subset(ds, permutation(ds.count, mulberry32(Math.imul(seed, 0x9e3779b1) ^ 0x67ad)).subarray(0, n));
}

export interface PruneFinetuneResult {
  result: TrainResult;
  sparsity: SparsityReport;
  test: Evaluation;
  metadata: Omit<ModelMetadata, "weightsSha256" | "format">;
}

/**
 * Prunes `model` in place to `rate` with `strategy` (gradient strategies score on `gradientBatches`
 * training batches: the first ones, or with `gradientBatchSeed` batches of training images drawn at
 * random with that seed), fine-tunes with the masks held fixed, measures it.
 */
export async function pruneAndFinetune(o: {
  model: LayersModel;
  parent: ModelMetadata;
  strategy: string;
  rate: number;
  train: Dataset;
  test: Dataset;
  backend: string;
  gradientBatches?: number;
  gradientBatchSeed?: number;
  settings: TrainLoopSettings;
  /** Cumulative schedule: `parent` is the previous rate's fine-tuned variant of the chain rooted at this dense model. */
  cumulative?: { denseWeightsSha256: string };
}): Promise<PruneFinetuneResult> {
  const [h, w, c] = o.parent.inputShape;
  const bs = o.settings.batchSize;
  const batches = o.gradientBatches ?? 4;
  const data = o.gradientBatchSeed === undefined ? o.train : drawn(o.train, Math.min(o.train.count, batches * bs), o.gradientBatchSeed);
  const gradientBatches = Array.from({ length: Math.min(batches, Math.ceil(data.count / bs)) }, (_, b) => {
    const size = h * w * c;
    const start = b * bs;
    const n = Math.min(bs, data.count - start);
    return {
      x: tf.tensor4d(data.images.subarray(start * size, (start + n) * size), [n, h, w, c]),
      y: tf.tensor1d(data.labels.subarray(start, start + n), "int32"),
    };
  });
  let pruned;
  try {
    pruned = pruneModel(o.model, o.strategy, o.rate, { seed: o.settings.seed, gradientBatches });
  } finally {
    gradientBatches.forEach((b) => (b.x.dispose(), b.y.dispose()));
  }
  const result: TrainResult =
    o.settings.epochs > 0 ? await trainLoop(o.model, o.train, o.settings, pruned.masks) : { history: [], bestEpoch: 0, validationAccuracy: 0, stoppedEarly: false };
  const sparsity = measureSparsity(o.model);
  const test = evaluate(o.model, o.test);
  const dropped = droppedBytesFor(o.model, o.strategy);
  return {
    result,
    sparsity,
    test,
    metadata: {
      architecture: o.parent.architecture,
      dataset: o.parent.dataset,
      inputShape: o.parent.inputShape,
      numClasses: o.parent.numClasses,
      ...runProvenance(o.settings, o.backend, test, result),
      pruning: {
        strategy: o.strategy,
        requestedRate: o.rate,
        achievedRate: sparsity.compression,
        prunableParams: sparsity.prunableParams,
        nonZeroPrunable: sparsity.nonZeroPrunable,
        sparseBytes: sparsity.sparseBytes,
        parentWeightsSha256: o.parent.weightsSha256,
        finetuneEpochs: result.history.length,
        ...(dropped === undefined ? {} : { droppedBytes: dropped }),
        ...(o.cumulative ? { schedule: "cumulative" as const, denseWeightsSha256: o.cumulative.denseWeightsSha256 } : {}),
      },
    },
  };
}

/** droppedBytes of a pruned model (pruning/dropped.ts) for kernel and filter strategies; undefined for unstructured ones or unchainable layers. */
export function droppedBytesFor(model: LayersModel, strategy: string): number | undefined {
  const name = canonicalStrategy(strategy);
  if (name === undefined || granularityOf(name) === "unstructured") return undefined;
  return dropReport(model)?.droppedBytes;
}
