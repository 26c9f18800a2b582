// `advisor train` and `advisor prune`: the engine's two model-producing steps as commands.
// Output directories appear only when complete (saveModel writes to a temporary sibling first).
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { initBackend } from "../engine/backend.js";
import { DEFAULT_DATA_DIR, loadIdxDirectory, head, splitValidation, type DataSplits, type Dataset } from "../engine/data.js";
import { createModel, parseArchitecture } from "../engine/models.js";
import { loadModel, saveModel, type ModelMetadata } from "../engine/model-io.js";
import { evaluate, train, type Evaluation, type TrainResult } from "../engine/train.js";
import { parseRate, parseStrategy, pruneModel, measureSparsity } from "../engine/pruning/index.js";
import { tf, type LayersModel } from "../engine/tf.js";
import { packageVersion } from "../paths.js";
import { UsageError } from "./errors.js";
import { asUsage, intOption, numberOption } from "./options.js";
import { progressBar } from "./progress.js";

interface DataFlags {
  data: string;
  trainLimit?: number;
  testLimit?: number;
}
interface TrainLoopFlags {
  epochs: number;
  batchSize: number;
  lr: number;
  patience: number;
  validation: number;
  seed: number;
  json?: boolean;
}

function addDataOptions(cmd: Command): Command {
  return cmd
    .option("--data <dir>", "directory with the four MNIST-format IDX files", DEFAULT_DATA_DIR)
    .option("--train-limit <n>", "use only the first n training images (quick runs)", intOption("--train-limit", 1))
    .option("--test-limit <n>", "use only the first n test images", intOption("--test-limit", 1));
}

function addTrainLoopOptions(cmd: Command, epochsFlag: string, defaultEpochs: number): Command {
  return cmd
    .option(`${epochsFlag} <n>`, "maximum epochs", intOption(epochsFlag, 0, 10_000), defaultEpochs)
    .option("--batch-size <n>", "mini-batch size", intOption("--batch-size", 1, 65_536), 128)
    .option("--lr <x>", "Adam learning rate", numberOption("--lr", (n) => n > 0 && n < 1, "in (0, 1)"), 1e-3)
    .option("--patience <n>", "early stopping: epochs without better validation accuracy", intOption("--patience", 1), 3)
    .option("--validation <fraction>", "share of training data held out", numberOption("--validation", (n) => n > 0 && n < 0.5, "in (0, 0.5)"), 0.1)
    .option("--seed <n>", "seed for initialisation, shuffling and pruning", intOption("--seed", 0, 2 ** 31 - 1), 1)
    .option("--json", "print the result as one JSON object on stdout");
}

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

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a dense model from the zoo on an IDX data set and save it (TF.js layers format + metadata)")
    .requiredOption("--arch <name>", "lenet300 | lenet5 | convnet", asUsage(parseArchitecture))
    .requiredOption("--out <dir>", "directory to create for the model");
  addDataOptions(cmd);
  addTrainLoopOptions(cmd, "--epochs", 20);
  cmd.action(async (flags: DataFlags & TrainLoopFlags & { arch: ReturnType<typeof parseArchitecture>; out: string }) => {
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
  });
}

interface PruneFlags extends DataFlags, TrainLoopFlags {
  model: string;
  strategy: ReturnType<typeof parseStrategy>;
  rate: number;
  finetuneEpochs: number;
  gradientBatches: number;
  out: string;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command("prune")
    .description("prune a saved model with one strategy to a compression rate, fine-tune with the mask held fixed, and save it")
    .requiredOption("--model <dir>", "the dense (or already pruned) model directory")
    .requiredOption("--strategy <name>", "global-magnitude | layer-magnitude | global-gradient | layer-gradient | random | structured-l1", asUsage(parseStrategy))
    .requiredOption("--rate <c>", "compression rate: prunable params before / non-zero after (>= 1)", asUsage(parseRate))
    .requiredOption("--out <dir>", "directory to create for the pruned model")
    .option("--gradient-batches <n>", "training batches used to score gradient strategies", intOption("--gradient-batches", 1, 1000), 4);
  addDataOptions(cmd);
  addTrainLoopOptions(cmd, "--finetune-epochs", 2);
  cmd.action(async (flags: PruneFlags) => {
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
  });
}
