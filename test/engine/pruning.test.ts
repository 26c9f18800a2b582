// Unstructured strategies, rate validation, accounting. Structured pruning: pruning-structured.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { createModel, prunableWeights, type Architecture } from "../../src/engine/models.js";
import type { Masks } from "../../src/engine/masks.js";
import {
  INDEX_BYTES,
  InvalidRateError,
  PruningError,
  STRATEGIES,
  UnknownStrategyError,
  VALUE_BYTES,
  gradientScores,
  kernelGradients,
  magnitudeScores,
  measureSparsity,
  mulberry32,
  parseRate,
  parseStrategy,
  pruneModel,
  readKernels,
  strategyFor,
  validateRate,
  type PruneContext,
  type StrategyName,
} from "../../src/engine/pruning/index.js";

const RATES = [2, 4, 8, 16, 32, 64];
/** Prunable kernel sizes, by hand: lenet300 784·300 + 300·100 + 100·10; lenet5 5·5·1·6 + 5·5·6·16 + 400·120 + 120·84 + 84·10. */
const PRUNABLE: Record<"lenet300" | "lenet5", number> = { lenet300: 266_200, lenet5: 61_470 };

function model(architecture: Architecture, seed = 7): LayersModel {
  return createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed });
}

function batches(count: number, size: number, seed: number): NonNullable<PruneContext["gradientBatches"]> {
  const next = mulberry32(seed);
  return Array.from({ length: count }, (_, b) => ({
    x: tf.randomUniform([size, 28, 28, 1], 0, 1, "float32", seed * 100 + b) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: size }, () => Math.floor(next() * 10)), "int32"),
  }));
}

function nonZero(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

function assertWellFormed(m: LayersModel, masks: Masks): void {
  const kernels = readKernels(m);
  assert.deepEqual([...masks.keys()], kernels.map((k) => k.layer));
  for (const k of kernels) {
    const mask = masks.get(k.layer) as Float32Array;
    assert.equal(mask.length, k.values.length, k.layer);
    assert.ok(mask.every((v) => v === 0 || v === 1), `${k.layer}: mask must be 0/1`);
  }
}

/** Every kept score >= every pruned score, over the given layers. */
function assertThreshold(masks: Masks, layers: string[], scores: Map<string, Float32Array>, what: string): void {
  let minKept = Infinity;
  let maxPruned = -Infinity;
  for (const layer of layers) {
    const mask = masks.get(layer) as Float32Array;
    const s = scores.get(layer) as Float32Array;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 1) minKept = Math.min(minKept, s[i] as number);
      else maxPruned = Math.max(maxPruned, s[i] as number);
    }
  }
  assert.ok(minKept >= maxPruned, `${what}: kept score ${minKept} < pruned score ${maxPruned}`);
}

const GLOBAL: StrategyName[] = ["global-magnitude", "global-gradient"];
const LAYERWISE: StrategyName[] = ["layer-magnitude", "layer-gradient", "random"];

for (const arch of ["lenet300", "lenet5"] as const) {
  test(`${arch}: unstructured strategies keep exactly the stated number of weights at rates ${RATES.join(", ")}`, () => {
    const m = model(arch);
    // lenet5's conv gradients are slow on the cpu backend: one tiny batch is enough to test selection.
    const ctx: PruneContext = { seed: 3, gradientBatches: arch === "lenet5" ? batches(1, 2, 11) : batches(2, 16, 11) };
    const kernels = readKernels(m);
    const layers = kernels.map((k) => k.layer);
    const sizes = new Map(kernels.map((k) => [k.layer, k.values.length]));
    const total = kernels.reduce((s, k) => s + k.values.length, 0);
    assert.equal(total, PRUNABLE[arch]);
    const scoreMaps: Record<string, Map<string, Float32Array>> = {
      magnitude: new Map(magnitudeScores(kernels).map((s, i) => [layers[i] as string, s])),
      gradient: new Map(gradientScores(m, kernels, ctx).map((s, i) => [layers[i] as string, s])),
    };
    const before = measureSparsity(m);
    for (const name of [...GLOBAL, ...LAYERWISE]) {
      const strategy = strategyFor(name);
      assert.equal(strategy.structured, false);
      for (const rate of RATES) {
        const masks = strategy.masks(m, rate, ctx);
        assertWellFormed(m, masks);
        const kept = layers.map((l) => nonZero(masks.get(l) as Float32Array));
        const keptTotal = kept.reduce((a, b) => a + b, 0);
        const scores = name.endsWith("gradient") ? scoreMaps.gradient : scoreMaps.magnitude;
        // Every unstructured strategy keeps exactly round(total / c).
        assert.equal(keptTotal, Math.round(total / rate), `${name} @${rate}`);
        if (GLOBAL.includes(name)) {
          assertThreshold(masks, layers, scores as Map<string, Float32Array>, `${name} @${rate}`);
        } else {
          layers.forEach((l, i) => {
            const n = sizes.get(l) as number;
            // The same fraction in every layer, up to one weight: floor or ceil of n_l / c.
            assert.ok(kept[i] === Math.floor(n / rate) || kept[i] === Math.ceil(n / rate), `${name} @${rate} ${l}: ${kept[i]}`);
            if (name !== "random") assertThreshold(masks, [l], scores as Map<string, Float32Array>, `${name} @${rate} ${l}`);
          });
        }
      }
    }
    // masks() never touches the model.
    assert.deepEqual(measureSparsity(m), before);
    assert.equal(before.nonZeroPrunable, total);
  });
}

test("global strategies use one threshold across layers: layers end up pruned by different fractions", () => {
  const m = model("lenet300");
  const masks = strategyFor("global-magnitude").masks(m, 8, { seed: 1 });
  const fractions = [...masks.values()].map((mask) => nonZero(mask) / mask.length);
  // Glorot: fc1 (fan 784+300) has the smallest weights, fc3 (100+10) the largest.
  assert.ok((fractions[0] as number) < (fractions[2] as number), fractions.join(", "));
});

test("ties are broken deterministically, so exactly round(total/c) survive even when all scores are equal", () => {
  const m = model("lenet300", 2);
  for (const v of prunableWeights(m)) v.write(tf.onesLike(v.read()));
  const masks = strategyFor("global-magnitude").masks(m, 3, { seed: 1 });
  const kept = [...masks.values()].reduce((s, mask) => s + nonZero(mask), 0);
  assert.equal(kept, Math.round(266_200 / 3));
  // Lower index wins: fc1 (first in model order) keeps its first round(total/3) weights.
  const fc1 = masks.get("fc1") as Float32Array;
  assert.equal(nonZero(fc1.subarray(0, kept)), kept);
  const again = strategyFor("global-magnitude").masks(m, 3, { seed: 1 });
  assert.deepEqual(again, masks);
});

test("gradient strategies use the batches: they pick other weights than magnitude, and other batches pick others again", () => {
  const m = model("lenet300", 5);
  const ctxA: PruneContext = { seed: 1, gradientBatches: batches(2, 16, 21) };
  const ctxB: PruneContext = { seed: 1, gradientBatches: batches(2, 16, 22) };
  const diff = (a: Masks, b: Masks): number => {
    let d = 0;
    for (const [l, mask] of a) {
      const other = b.get(l) as Float32Array;
      for (let i = 0; i < mask.length; i++) if (mask[i] !== other[i]) d++;
    }
    return d;
  };
  for (const [grad, mag] of [["global-gradient", "global-magnitude"], ["layer-gradient", "layer-magnitude"]] as const) {
    const g = strategyFor(grad).masks(m, 4, ctxA);
    const g2 = strategyFor(grad).masks(m, 4, ctxB);
    const mm = strategyFor(mag).masks(m, 4, ctxA);
    assert.ok(diff(g, mm) > 0.1 * 266_200, `${grad} vs ${mag}: ${diff(g, mm)} differ`);
    assert.ok(diff(g, g2) > 0, `${grad}: other batches, same masks`);
    assert.deepEqual(strategyFor(grad).masks(m, 4, ctxA), g, "deterministic for the same batches");
  }
});

test("gradient accumulation: the plain mean of the per-batch gradients; scores are |w · gradient|", () => {
  const m = model("lenet300", 6);
  const [b1, b2] = batches(2, 8, 31);
  const both = kernelGradients(m, [b1!, b2!]);
  const g1 = kernelGradients(m, [b1!]);
  const g2 = kernelGradients(m, [b2!]);
  both.forEach((g, i) => {
    for (let j = 0; j < g.length; j += 97) {
      assert.ok(Math.abs((g[j] as number) - ((g1[i]![j] as number) + (g2[i]![j] as number)) / 2) < 1e-6);
    }
  });
  // Against tfjs's own gradient of the mean loss over both batches (same size, so the same thing).
  const x = tf.concat([b1!.x, b2!.x]);
  const y = tf.oneHot(tf.concat([b1!.y, b2!.y]), 10);
  const vars = prunableWeights(m).map((v) => v.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar, vars);
  const ref = grads[vars[2]!.name]!.dataSync();
  const fc3 = both[2] as Float32Array;
  for (let j = 0; j < fc3.length; j++) assert.ok(Math.abs((fc3[j] as number) - (ref[j] as number)) < 1e-5);
  const kernels = readKernels(m);
  const scores = gradientScores(m, kernels, { seed: 0, gradientBatches: [b1!, b2!] });
  const w = kernels[2]!.values;
  for (let j = 0; j < fc3.length; j++) assert.equal(scores[2]![j], Math.fround(Math.abs(w[j]! * fc3[j]!)));
});

test("gradient strategies without batches fail clearly", () => {
  const m = model("lenet300");
  for (const name of ["global-gradient", "layer-gradient"] as const) {
    assert.throws(() => strategyFor(name).masks(m, 4, { seed: 1 }), (e: Error) => e instanceof PruningError && /gradientBatches/.test(e.message));
    assert.throws(() => strategyFor(name).masks(m, 4, { seed: 1, gradientBatches: [] }), PruningError);
  }
});

test("random is reproducible with a seed and differs across seeds", () => {
  const m = model("lenet5");
  const a = strategyFor("random").masks(m, 8, { seed: 42 });
  assert.deepEqual(strategyFor("random").masks(m, 8, { seed: 42 }), a);
  assert.deepEqual(strategyFor("random").masks(model("lenet5", 99), 8, { seed: 42 }), a, "depends on the seed only, not the weights");
  for (const other of [43, 42 + 2 ** 32, -42]) {
    const b = strategyFor("random").masks(m, 8, { seed: other });
    assert.notDeepEqual(b, a, `seed ${other}`);
  }
  assert.throws(() => strategyFor("random").masks(m, 8, { seed: 0.5 }), PruningError);
});

test("rate 1 prunes nothing, for every strategy", () => {
  for (const name of STRATEGIES) {
    const m = model("lenet5");
    const { masks, report, requestedRate } = pruneModel(m, name, 1, { seed: 1 });
    assert.equal(requestedRate, 1);
    for (const mask of masks.values()) assert.ok(mask.every((v) => v === 1), name);
    assert.equal(report.compression, 1, name);
    assert.equal(report.nonZeroPrunable, PRUNABLE.lenet5);
  }
});

test("bad rates and unknown strategies fail with clear errors", () => {
  for (const bad of [0.5, 0, -2, Number.NaN, Infinity, -Infinity]) {
    assert.throws(() => validateRate(bad), InvalidRateError, String(bad));
    assert.throws(() => strategyFor("global-magnitude").masks(model("lenet300"), bad, { seed: 1 }), InvalidRateError);
  }
  assert.throws(() => validateRate(0.5), /must be >= 1/);
  assert.throws(() => validateRate(Number.NaN), /must be a number/);
  assert.throws(() => validateRate(Infinity), /must be finite/);
  assert.throws(() => validateRate("4"), InvalidRateError);
  for (const text of ["abc", "", " ", "4x", "0.5", "Infinity"]) assert.throws(() => parseRate(text), InvalidRateError, text);
  assert.equal(parseRate(" 4 "), 4);
  assert.equal(parseRate("2.5"), 2.5);
  assert.equal(validateRate(1), 1);

  for (const name of ["abc", "magnitude", "Global-Magnitude", "dense", ""]) {
    assert.throws(
      () => parseStrategy(name),
      (e: Error) => e instanceof UnknownStrategyError && e.message.includes(`"${name}"`) && STRATEGIES.every((s) => e.message.includes(s)),
    );
    assert.throws(() => strategyFor(name), UnknownStrategyError);
  }
  assert.equal(parseStrategy("layer-gradient"), "layer-gradient");

  // A rejected request leaves the model alone.
  const m = model("lenet300");
  assert.throws(() => pruneModel(m, "nope", 4, { seed: 1 }), UnknownStrategyError);
  assert.throws(() => pruneModel(m, "random", Number.NaN, { seed: 1 }), InvalidRateError);
  assert.equal(measureSparsity(m).compression, 1);

  // Rates so high that a layer (layer-wise) or everything (global) would vanish.
  assert.throws(() => strategyFor("layer-magnitude").masks(m, 5000, { seed: 1 }), (e: Error) => e instanceof PruningError && /fc3/.test(e.message));
  assert.throws(() => strategyFor("global-magnitude").masks(m, 1e7, { seed: 1 }), PruningError);
});

test("pruneModel zeroes the weights; measureSparsity counts them and follows the sparse-bytes formula", () => {
  const m = model("lenet5", 3);
  // Non-zero biases, so that non-prunable parameters show up in the counts.
  const fc1 = m.getLayer("fc1");
  const [kernel, bias] = fc1.getWeights() as [tf.Tensor, tf.Tensor];
  fc1.setWeights([kernel, tf.onesLike(bias)]);
  const dense = measureSparsity(m);
  assert.equal(dense.prunableParams, PRUNABLE.lenet5);
  assert.equal(dense.nonZeroPrunable, PRUNABLE.lenet5);
  assert.equal(dense.totalParams, m.countParams());
  assert.equal(dense.nonZeroParams, PRUNABLE.lenet5 + 120);
  assert.equal(dense.compression, 1);

  const { masks, report, requestedRate } = pruneModel(m, "global-magnitude", 8, { seed: 1 });
  assert.equal(requestedRate, 8);
  const keep = Math.round(PRUNABLE.lenet5 / 8);
  assert.equal(report.prunableParams, PRUNABLE.lenet5);
  assert.equal(report.nonZeroPrunable, keep);
  assert.equal(report.totalParams, m.countParams());
  assert.equal(report.nonZeroParams, keep + 120);
  assert.equal(report.compression, PRUNABLE.lenet5 / keep);
  assert.equal(VALUE_BYTES, 4);
  assert.equal(INDEX_BYTES, 4);
  assert.equal(report.sparseBytes, 8 * keep + 4 * (m.countParams() - PRUNABLE.lenet5));
  assert.equal(report.denseBytes, 4 * m.countParams());
  assert.deepEqual(
    report.perLayer.map((p) => p.layer),
    ["conv1", "conv2", "fc1", "fc2", "fc3"],
  );
  for (const p of report.perLayer) {
    const mask = masks.get(p.layer) as Float32Array;
    assert.equal(p.params, mask.length);
    assert.equal(p.nonZero, nonZero(mask));
  }
  // The weights themselves: zero exactly where the mask is 0, untouched elsewhere.
  for (const v of prunableWeights(m)) {
    const w = v.read().dataSync();
    const mask = masks.get(v.originalName.split("/")[0] as string) as Float32Array;
    for (let i = 0; i < w.length; i++) assert.equal(w[i] === 0, mask[i] === 0);
  }
  // Measured on the weights, not the masks: zero one more weight by hand and it shows.
  const conv1 = m.getLayer("conv1");
  const [k1, b1] = conv1.getWeights() as [tf.Tensor, tf.Tensor];
  const data = Float32Array.from(k1.dataSync());
  const i = data.findIndex((v) => v !== 0);
  data[i] = 0;
  conv1.setWeights([tf.tensor(data, k1.shape), b1]);
  assert.equal(measureSparsity(m).nonZeroPrunable, keep - 1);
});
