// The actions of `advisor train` and `advisor prune` (see engine-commands.ts for the options).
// Output directories appear only when complete (saveModel writes to a temporary sibling first).
import { existsSync } from "node:fs";
import path from "node:path";
import { initBackend } from "../engine/backend.js";
import { loadIdxDirectory, head, splitValidation, type DataSplits, type Dataset } from "../engine/data.js";
import { createModel } from "../engine/models.js";
import { loadModel, saveModel, type ModelMetadata } from "../engine/model-io.js";
import { evaluate, train, type Evaluation, type TrainResult } from "../engine/train.js";
import { pruneModel, measureSparsity } from "../engine/pruning/index.js";
import { tf, type LayersModel } from "../engine/tf.js";
import { packageVersion } from "../paths.js";
import { UsageError } from "./errors.js";
import { progressBar } from "./progress.js";
import type { DataFlags, PruneFlags, TrainFlags, TrainLoopFlags } from "./engine-commands.js";

async function loadData(flags: DataFlags): Promise<DataSplits> {
  const splits = await loadIdxDirectory(flags.data);
  return { train: head(splits.train, flags.trainLimit), test: head(splits.test, flags.testLimit) };
}

function refuseExisting(out: string): void {
  if (existsSync(out)) throw new UsageError(`--out ${out} already exists (choose another directory or remove it)`);
}

async function trainWithProgress(model: LayersModel, data: Dataset, flags: TrainLoopFlags, epochs: number, masks?: Map<string, Float32Array>): Promise<TrainResult> {
  const { train: trainSet, validation } = splitValidation(data, flags.validation, flags.seed);
  const batches = Math.ceil(trainSet.count / flags.batchSize);
  const bar = progressBar(Math.max(1, epochs * batches), "epoch {epoch} |{bar}| {percentage}% loss {loss} acc {acc} | ETA {eta_formatted}");
  try {
    return await train(model, trainSet, validation, {
      epochs,
      seed: flags.seed,
      batchSize: flags.batchSize,
      learningRate: flags.lr,
      patience: flags.patience,
      masks,
      onBatch: (p) => bar.update((p.epoch - 1) * batches + p.batch, { epoch: p.epoch, loss: p.loss.toFixed(3), acc: p.accuracy.toFixed(3) }),
      onEpoch: (e) =>
        bar.line(
          `epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${(100 * e.accuracy).toFixed(2)}% | validation loss ${e.validationLoss.toFixed(4)} acc ${(100 * e.validationAccuracy).toFixed(2)}% | ${e.seconds.toFixed(1)} s`,
        ),
    });
  } finally {
    bar.stop();
  }
}

/** The metadata fields every trained or fine-tuned model records about the run that made it. */
function runProvenance(flags: TrainLoopFlags, backend: string, test: Evaluation, result: TrainResult): Pick<ModelMetadata, "seed" | "cleanAccuracy" | "testCount" | "backend" | "codeVersion" | "createdAt" | "training"> {
  return {
    seed: flags.seed,
    cleanAccuracy: test.accuracy,
    testCount: test.count,
    backend,
    codeVersion: packageVersion(),
    createdAt: new Date().toISOString(),
    training: { epochs: result.history.length, bestEpoch: result.bestEpoch, batchSize: flags.batchSize, learningRate: flags.lr, validationAccuracy: result.validationAccuracy },
  };
}

function report(json: boolean | undefined, summary: Record<string, unknown>, lines: string[]): void {
  if (json) process.stdout.write(JSON.stringify(summary) + "\n");
  else process.stdout.write(lines.join("\n") + "\n");
}

export async function trainAction(flags: TrainFlags): Promise<void> {
  refuseExisting(flags.out);
  const backend = await initBackend();
  const data = await loadData(flags);
  const t0 = performance.now();
  const model = createModel({ architecture: flags.arch, inputShape: [data.train.height, data.train.width, 1], numClasses: data.train.numClasses, seed: flags.seed });
  const result = await trainWithProgress(model, data.train, flags, flags.epochs);
  const test = evaluate(model, data.test);
  const meta = await saveModel(model, flags.out, {
    architecture: flags.arch,
    dataset: data.train.name,
    inputShape: [data.train.height, data.train.width, 1],
    numClasses: data.train.numClasses,
    ...runProvenance(flags, backend.name, test, result),
  });
  const seconds = (performance.now() - t0) / 1000;
  report(flags.json, { ...meta, out: path.resolve(flags.out), seconds }, [
    `${flags.arch} on ${data.train.name}: test accuracy ${(100 * test.accuracy).toFixed(2)}% on ${test.count} images`,
    `epochs run ${result.history.length} (best ${result.bestEpoch}${result.stoppedEarly ? ", stopped early" : ""}), ${seconds.toFixed(1)} s on ${backend.name}`,
    `saved to ${flags.out} (weights sha256 ${meta.weightsSha256})`,
  ]);
  model.dispose();
}

export async function pruneAction(flags: PruneFlags): Promise<void> {
  refuseExisting(flags.out);
  const backend = await initBackend();
  const { model, metadata } = await loadModel(flags.model);
  const data = await loadData(flags);
  const [h, w] = metadata.inputShape;
  if (data.train.height !== h || data.train.width !== w || data.train.numClasses !== metadata.numClasses) {
    throw new UsageError(
      `the model expects ${h}x${w} images in ${metadata.numClasses} classes but ${flags.data} holds ${data.train.height}x${data.train.width} images in ${data.train.numClasses} classes`,
    );
  }
  const t0 = performance.now();
  const gradientBatches = Array.from({ length: Math.min(flags.gradientBatches, Math.ceil(data.train.count / flags.batchSize)) }, (_, b) => {
    const size = h * w;
    const start = b * flags.batchSize;
    const n = Math.min(flags.batchSize, data.train.count - start);
    return {
      x: tf.tensor4d(data.train.images.subarray(start * size, (start + n) * size), [n, h, w, 1]),
      y: tf.tensor1d(data.train.labels.subarray(start, start + n), "int32"),
    };
  });
  const pruned = (() => {
    try {
      return pruneModel(model, flags.strategy, flags.rate, { seed: flags.seed, gradientBatches });
    } finally {
      gradientBatches.forEach((b) => (b.x.dispose(), b.y.dispose()));
    }
  })();
  const result = await trainWithProgress(model, data.train, flags, flags.finetuneEpochs, pruned.masks);
  const after = measureSparsity(model);
  const test = evaluate(model, data.test);
  const meta = await saveModel(model, flags.out, {
    architecture: metadata.architecture,
    dataset: metadata.dataset,
    inputShape: metadata.inputShape,
    numClasses: metadata.numClasses,
    ...runProvenance(flags, backend.name, test, result),
    pruning: {
      strategy: flags.strategy,
      requestedRate: flags.rate,
      achievedRate: after.compression,
      prunableParams: after.prunableParams,
      nonZeroPrunable: after.nonZeroPrunable,
      sparseBytes: after.sparseBytes,
      parentWeightsSha256: metadata.weightsSha256,
      finetuneEpochs: result.history.length,
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  report(flags.json, { ...meta, out: path.resolve(flags.out), seconds, parentCleanAccuracy: metadata.cleanAccuracy }, [
    `${flags.strategy} at ${flags.rate}x: ${after.nonZeroPrunable} of ${after.prunableParams} prunable weights left (achieved ${after.compression.toFixed(2)}x), ${after.sparseBytes} bytes sparse`,
    `test accuracy ${(100 * test.accuracy).toFixed(2)}% on ${test.count} images (dense: ${metadata.cleanAccuracy === undefined ? "unknown" : (100 * metadata.cleanAccuracy).toFixed(2) + "%"})`,
    `fine-tuned ${result.history.length} epoch(s) in ${seconds.toFixed(1)} s on ${backend.name}; saved to ${flags.out}`,
  ]);
  model.dispose();
}
