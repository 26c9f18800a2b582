// The TF-free feasibility check (src/engine/pruning/feasibility.ts, src/models/layers.ts) against
// the pruning itself: a (strategy, rate) pair is flagged exactly when pruning throws PruningError,
// for every strategy (the gradient ones on a small random batch), and the layer sizes read from
// model.json are those of the engine's prunable weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { saveModel } from "../../src/engine/model-io.js";
import { createModel, prunableWeights, type Architecture } from "../../src/engine/models.js";
import { infeasiblePairs } from "../../src/engine/pruning/feasibility.js";
import { PruningError, STRATEGIES as ALL_STRATEGIES, strategyFor, type StrategyName } from "../../src/engine/pruning/index.js";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { prunableLayersOf } from "../../src/models/layers.js";

const STRATEGIES: readonly StrategyName[] = ALL_STRATEGIES;
const RATES = [2, 4, 8, 16, 32, 64, 128, 256, 512];

/** A conv layer of 18 weights, a dense layer of 216: layer-wise pruning empties the conv from 32× on. */
function tinyModel(): LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ name: "c1", inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ name: "out", units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

/** A small batch for the gradient strategies, so every strategy of the table is checked. */
function gradientBatches(): { x: tf.Tensor4D; y: tf.Tensor1D }[] {
  return [{ x: tf.randomUniform([6, 8, 8, 1], 0, 1, "float32", 3) as tf.Tensor4D, y: tf.tensor1d([0, 1, 2, 0, 1, 2], "int32") }];
}

function pruneThrows(model: LayersModel, strategy: StrategyName, rate: number, batches: { x: tf.Tensor4D; y: tf.Tensor1D }[]): boolean {
  try {
    strategyFor(strategy).masks(model, rate, { seed: 1, gradientBatches: batches });
    return false;
  } catch (err) {
    if (err instanceof PruningError) return true;
    throw err;
  }
}

test("a pair is infeasible exactly when pruning throws, for every strategy and rate", async () => {
  await initBackend();
  const model = tinyModel();
  const layers = prunableWeights(model).map((w) => ({ layer: w.originalName.split("/")[0]!, weights: (w.shape as number[]).reduce((a, b) => a * b, 1) }));
  assert.deepEqual(layers, [{ layer: "c1", weights: 18 }, { layer: "out", weights: 216 }]);
  const flagged = new Set(infeasiblePairs(layers, STRATEGIES, RATES).map((x) => `${x.strategy}@${x.rate}`));
  const thrown = new Set<string>();
  const batches = gradientBatches();
  for (const s of STRATEGIES) for (const r of RATES) if (pruneThrows(model, s, r, batches)) thrown.add(`${s}@${r}`);
  for (const b of batches) tf.dispose([b.x, b.y]);
  assert.deepEqual([...flagged].sort(), [...thrown].sort());
  assert.ok(flagged.has("layer-magnitude@32") && !flagged.has("layer-magnitude@16"), [...flagged].join(" "));
  assert.ok(flagged.has("global-magnitude@512") && !flagged.has("global-magnitude@256"), "round(234 / 512) = 0, round(234 / 256) = 1");
  assert.ok(flagged.has("layer-gradient@32") && flagged.has("global-gradient@512"), "the gradient strategies follow their selection too");
  model.dispose();
});

test("prunable layer sizes from model.json equal the engine's prunable kernels (lenet5, lenet300); odd files give null", async (t) => {
  await initBackend();
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-feasibility-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const arch of ["lenet5", "lenet300"] as Architecture[]) {
    const model = createModel({ architecture: arch, inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const out = path.join(dir, arch);
    await saveModel(model, out, { architecture: arch, dataset: "x", inputShape: [28, 28, 1], numClasses: 10, seed: 1, backend: "wasm", codeVersion: "test", createdAt: new Date().toISOString() });
    const fromJson = prunableLayersOf(JSON.parse(await readFile(path.join(out, "model.json"), "utf8")));
    assert.deepEqual(fromJson?.map((l) => l.weights), prunableWeights(model).map((w) => (w.shape as number[]).reduce((a, b) => a * b, 1)), arch);
    model.dispose();
  }
  assert.equal(prunableLayersOf(null), null);
  assert.equal(prunableLayersOf({ modelTopology: {}, weightsManifest: [] }), null);
  assert.equal(prunableLayersOf({ modelTopology: { config: { layers: [{ class_name: "Dense", config: { name: "d" } }] } }, weightsManifest: [] }), null, "a Dense layer without its kernel");
});
