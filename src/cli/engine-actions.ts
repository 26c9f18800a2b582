// The actions of `advisor train` and `advisor prune` (see engine-commands.ts for the options):
// the engine's pipeline steps (src/engine/pipeline.ts) with a progress bar and a summary.
// Output directories appear only when complete (saveModel writes to a temporary sibling first).
import { existsSync } from "node:fs";
import path from "node:path";
import { initBackend } from "../engine/backend.js";
import { head, shapeText, type DataSplits } from "../engine/data.js";
import { loadDatasetDirectory } from "../engine/dataset-formats.js";
import { loadModel, saveModel } from "../engine/model-io.js";
import { pruneAndFinetune, trainDense, type TrainLoopSettings } from "../engine/pipeline.js";
import { UsageError } from "./errors.js";
import { progressBar, type Progress } from "./progress.js";
import type { DataFlags, PruneFlags, TrainFlags, TrainLoopFlags } from "./engine-commands.js";

async function loadData(flags: DataFlags): Promise<DataSplits> {
  const splits = await loadDatasetDirectory(flags.data);
  return { train: head(splits.train, flags.trainLimit), test: head(splits.test, flags.testLimit) };
}

function refuseExisting(out: string): void {
  if (existsSync(out)) throw new UsageError(`--out ${out} already exists (choose another directory or remove it)`);
}

/** Training settings from the flags, reporting progress on a bar created at the first batch. */
function settingsWithProgress(flags: TrainLoopFlags, epochs: number): { settings: TrainLoopSettings; stop: () => void } {
  let bar: Progress | undefined;
  const settings: TrainLoopSettings = {
    epochs,
    batchSize: flags.batchSize,
    learningRate: flags.lr,
    patience: flags.patience,
    validation: flags.validation,
    seed: flags.seed,
    onBatch: (p) => {
      bar ??= progressBar(Math.max(1, epochs * p.batches), "epoch {epoch} |{bar}| {percentage}% loss {loss} acc {acc} | ETA {eta_formatted}");
      bar.update((p.epoch - 1) * p.batches + p.batch, { epoch: p.epoch, loss: p.loss.toFixed(3), acc: p.accuracy.toFixed(3) });
    },
    onEpoch: (e) =>
      bar?.line(
        `epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${(100 * e.accuracy).toFixed(2)}% | validation loss ${e.validationLoss.toFixed(4)} acc ${(100 * e.validationAccuracy).toFixed(2)}% | ${e.seconds.toFixed(1)} s`,
      ),
  };
  return { settings, stop: () => bar?.stop() };
}

function report(json: boolean | undefined, summary: Record<string, unknown>, lines: string[]): void {
  if (json) process.stdout.write(JSON.stringify(summary) + "\n");
  else process.stdout.write(lines.join("\n") + "\n");
}

const pct = (v: number | undefined): string => (v === undefined ? "unknown" : `${(100 * v).toFixed(2)}%`);

export async function trainAction(flags: TrainFlags): Promise<void> {
  refuseExisting(flags.out);
  const backend = await initBackend();
  const data = await loadData(flags);
  const t0 = performance.now();
  const { settings, stop } = settingsWithProgress(flags, flags.epochs);
  const dense = await trainDense({ architecture: flags.arch, train: data.train, test: data.test, backend: backend.label, settings }).finally(stop);
  const meta = await saveModel(dense.model, flags.out, dense.metadata);
  const seconds = (performance.now() - t0) / 1000;
  const { result, test } = dense;
  report(flags.json, { ...meta, out: path.resolve(flags.out), seconds }, [
    `${flags.arch} on ${data.train.name}: test accuracy ${pct(test.accuracy)} on ${test.count} images`,
    `epochs run ${result.history.length} (best ${result.bestEpoch}${result.stoppedEarly ? ", stopped early" : ""}), ${seconds.toFixed(1)} s on ${backend.label}`,
    `saved to ${flags.out} (weights sha256 ${meta.weightsSha256})`,
  ]);
  dense.model.dispose();
}

export async function pruneAction(flags: PruneFlags): Promise<void> {
  refuseExisting(flags.out);
  const backend = await initBackend();
  const { model, metadata } = await loadModel(flags.model);
  const data = await loadData(flags);
  if (metadata.inputShape.join("x") !== shapeText(data.train) || data.train.numClasses !== metadata.numClasses) {
    throw new UsageError(
      `the model expects ${metadata.inputShape.join("x")} images in ${metadata.numClasses} classes but ${flags.data} holds ${shapeText(data.train)} images in ${data.train.numClasses} classes`,
    );
  }
  const t0 = performance.now();
  const { settings, stop } = settingsWithProgress(flags, flags.finetuneEpochs);
  const pruned = await pruneAndFinetune({
    model,
    parent: metadata,
    strategy: flags.strategy,
    rate: flags.rate,
    train: data.train,
    test: data.test,
    backend: backend.label,
    gradientBatches: flags.gradientBatches,
    settings,
  }).finally(stop);
  const meta = await saveModel(model, flags.out, pruned.metadata);
  const seconds = (performance.now() - t0) / 1000;
  const s = pruned.sparsity;
  report(flags.json, { ...meta, out: path.resolve(flags.out), seconds, parentCleanAccuracy: metadata.cleanAccuracy }, [
    `${flags.strategy} at ${flags.rate}x: ${s.nonZeroPrunable} of ${s.prunableParams} prunable weights left (achieved ${s.compression.toFixed(2)}x), ${s.sparseBytes} bytes sparse` +
      (pruned.metadata.pruning?.droppedBytes === undefined ? "" : `, ${pruned.metadata.pruning.droppedBytes} bytes dense with the removable filters dropped (of ${s.denseBytes})`),
    `test accuracy ${pct(pruned.test.accuracy)} on ${pruned.test.count} images (dense: ${pct(metadata.cleanAccuracy)})`,
    `fine-tuned ${pruned.result.history.length} epoch(s) in ${seconds.toFixed(1)} s on ${backend.label}; saved to ${flags.out}`,
  ]);
  model.dispose();
}
