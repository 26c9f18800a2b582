// structured-l1: whole filters / neurons, dead inputs of the next layer, nearest achievable rate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { createModel } from "../../src/engine/models.js";
import type { Masks } from "../../src/engine/masks.js";
import { planStructured, pruneModel, readKernels, strategyFor, type Kernel } from "../../src/engine/pruning/index.js";

const RATES = [2, 4, 8, 16, 32, 64];

/**
 * Non-zero prunable params for given kept units of the hidden layers, written out by hand per
 * architecture (independent of the implementation's bookkeeping).
 */
const ARCHS = {
  lenet300: { hidden: [300, 100], total: 266_200, count: ([a, b]: number[]) => 784 * a! + a! * b! + b! * 10 },
  lenet5: {
    hidden: [6, 16, 120, 84],
    total: 61_470,
    // conv1 25·1·a, conv2 25·a·b, fc1 (5·5 positions × b channels)·c, fc2 c·d, fc3 d·10.
    count: ([a, b, c, d]: number[]) => 25 * a! + 25 * a! * b! + 25 * b! * c! + c! * d! + d! * 10,
  },
} as const;

function model(architecture: keyof typeof ARCHS, seed = 7): LayersModel {
  return createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed });
}

/** Units whose whole column (all incoming weights) is zero in the mask. */
function deadUnits(mask: Float32Array, units: number): boolean[] {
  const dead = new Array<boolean>(units).fill(true);
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) dead[i % units] = false;
  return dead;
}

function l1PerUnit(k: Kernel): number[] {
  return tf.tidy(() => Array.from(tf.sum(tf.abs(tf.tensor(k.values, k.shape)), k.shape.slice(0, -1).map((_, i) => i)).dataSync()));
}

function assertWholeUnits(kernels: Kernel[], masks: Masks, keptPerLayer: number[], what: string): void {
  let prevDead: boolean[] | undefined;
  kernels.forEach((k, l) => {
    const units = k.shape[k.shape.length - 1] as number;
    const inputs = k.shape[k.shape.length - 2] as number;
    const mask = masks.get(k.layer) as Float32Array;
    const dead = deadUnits(mask, units);
    assert.equal(dead.filter((d) => !d).length, keptPerLayer[l], `${what} ${k.layer}: kept units`);
    if (l === kernels.length - 1) assert.ok(dead.every((d) => !d), `${what}: the classifier keeps every class`);
    // Exactly the weights from a live input to a live unit survive; inputs map to units of the
    // previous prunable layer by index mod its unit count (NHWC flatten: channel fastest).
    for (let i = 0; i < mask.length; i++) {
      const o = i % units;
      const input = Math.floor(i / units) % inputs;
      const inputDead = prevDead ? (prevDead[input % prevDead.length] as boolean) : false;
      assert.equal(mask[i], dead[o] || inputDead ? 0 : 1, `${what} ${k.layer}[${i}]`);
    }
    // Ranked by L1 norm of incoming weights.
    if (l < kernels.length - 1) {
      const l1 = l1PerUnit(k);
      const keptMin = Math.min(...l1.filter((_, o) => !dead[o]));
      const prunedMax = Math.max(...l1.filter((_, o) => dead[o]));
      assert.ok(keptMin >= prunedMax - 1e-4, `${what} ${k.layer}: kept L1 ${keptMin} < pruned L1 ${prunedMax}`);
    }
    prevDead = dead;
  });
}

for (const arch of ["lenet300", "lenet5"] as const) {
  test(`${arch}: structured-l1 removes whole units and reaches the nearest achievable rate (${RATES.join(", ")})`, () => {
    const m = model(arch);
    const spec = ARCHS[arch];
    const kernels = readKernels(m);
    const strategy = strategyFor("structured-l1");
    assert.equal(strategy.structured, true);
    // Every compression the "same keep-fraction per layer" rule can reach, by brute force over q.
    const achievable = new Set<number>();
    for (let step = 1; step <= 40_000; step++) {
      const q = step / 40_000;
      achievable.add(spec.total / spec.count(spec.hidden.map((u) => Math.min(u, Math.max(1, Math.round(q * u))))));
    }
    for (const rate of RATES) {
      const plan = planStructured(m, rate);
      const hiddenKept = plan.layers.filter((l) => !l.protected).map((l) => l.kept);
      assert.deepEqual(plan.layers.map((l) => l.protected), kernels.map((_, i) => i === kernels.length - 1));
      assert.equal(plan.nonZero, spec.count(hiddenKept), `${arch} @${rate}: plan count`);
      assert.equal(plan.compression, spec.total / plan.nonZero);
      const bestDistance = Math.min(...[...achievable].map((c) => Math.abs(c - rate)));
      assert.ok(Math.abs(plan.compression - rate) <= bestDistance + 1e-12, `${arch} @${rate}: got ${plan.compression}, nearest is ${bestDistance} away`);
      assert.ok(Math.abs(plan.compression - rate) / rate < 0.1, `${arch} @${rate}: ${plan.compression} far from the request`);

      const masks = strategy.masks(m, rate, { seed: 1 });
      const kept = [...masks.values()].reduce((s, mask) => s + mask.reduce((a, v) => a + v, 0), 0);
      assert.equal(kept, plan.nonZero, `${arch} @${rate}: mask count`);
      assertWholeUnits(kernels, masks, plan.layers.map((l) => l.kept), `${arch} @${rate}`);
    }
  });

  test(`${arch}: after structured-l1 the removed units are really dead (their biases no longer matter)`, () => {
    const m = model(arch, 8);
    // Non-zero biases everywhere, so that a removed unit still outputs relu(b) != 0.
    for (const layer of m.layers) {
      const ws = layer.getWeights();
      if (ws.length === 2) layer.setWeights([ws[0]!, tf.fill(ws[1]!.shape, 0.5)]);
    }
    const { masks, report } = pruneModel(m, "structured-l1", 8, { seed: 1 });
    assert.equal(report.compression, planStructured(model(arch, 8), 8).compression, "measured = planned");
    assert.equal(report.compression, report.prunableParams / report.nonZeroPrunable);
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 5);
    const before = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    const kernels = readKernels(m);
    let firstAlive: { layer: string; unit: number } | undefined;
    for (const k of kernels.slice(0, -1)) {
      const units = k.shape[k.shape.length - 1] as number;
      const dead = deadUnits(masks.get(k.layer) as Float32Array, units);
      const layer = m.getLayer(k.layer);
      const [w, b] = layer.getWeights() as [tf.Tensor, tf.Tensor];
      const bias = Float32Array.from(b.dataSync());
      dead.forEach((d, o) => {
        if (d) bias[o] = 3 + o;
      });
      layer.setWeights([w, tf.tensor(bias, b.shape)]);
      if (!firstAlive) firstAlive = { layer: k.layer, unit: dead.indexOf(false) };
    }
    const after = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    after.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - before[i]![j]!) < 1e-5, `logit ${i},${j}: ${before[i]![j]} → ${v}`)));
    // Control: a live unit's bias does matter.
    const layer = m.getLayer(firstAlive!.layer);
    const [w, b] = layer.getWeights() as [tf.Tensor, tf.Tensor];
    const bias = Float32Array.from(b.dataSync());
    bias[firstAlive!.unit] = (bias[firstAlive!.unit] as number) + 3;
    layer.setWeights([w, tf.tensor(bias, b.shape)]);
    const changed = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    assert.ok(changed.some((row, i) => row.some((v, j) => Math.abs(v - before[i]![j]!) > 1e-3)));
  });
}

test("structured-l1 refuses models it cannot map channels through", () => {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, name: "c1" }),
      tf.layers.reshape({ targetShape: [4, 36], name: "r" }),
      tf.layers.flatten({ name: "f" }),
      tf.layers.dense({ units: 3, name: "d" }),
    ],
  });
  assert.throws(() => strategyFor("structured-l1").masks(m, 2, { seed: 1 }), /Reshape/);
});
