// The paper's pruning set: every granularity (unstructured, kernel, filter) × rule (random-local,
// magnitude-local, magnitude-global) — exact counts, whole units, removed units really dead (also
// after fine-tuning with the masks), and droppedBytes equal to a model rebuilt without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { createModel } from "../../src/engine/models.js";
import type { Masks } from "../../src/engine/masks.js";
import { dropReport, kernelKeepCounts, KernelGranularityError, planStructured, pruneModel, readKernels, strategyFor, type Kernel } from "../../src/engine/pruning/index.js";
import { layerKeepCounts, keepCount } from "../../src/engine/pruning/counts.js";
import { trainLoop } from "../../src/engine/pipeline.js";
import { initBackend } from "../../src/engine/backend.js";
import { GRANULARITIES, PRUNING_RULES, STRATEGY_ALIASES, canonicalStrategy } from "../../src/vocabulary.js";

await initBackend();
const RATES = [2, 8, 32];

function model(architecture: "lenet5" | "lenet300" | "convnet", seed = 3): LayersModel {
  return createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed });
}

const count = (m: Float32Array): number => m.reduce((a, v) => a + v, 0);
const total = (masks: Masks): number => [...masks.values()].reduce((s, m) => s + count(m), 0);

/** Per kernel (i, o) of a [..., Cin, Cout] layer: whether its mask entries are all 1 (kept); throws if mixed. */
function keptKernels(k: Kernel, mask: Float32Array): boolean[] {
  const units = (k.shape[k.shape.length - 2] as number) * (k.shape[k.shape.length - 1] as number);
  const state = new Array<number | undefined>(units).fill(undefined);
  mask.forEach((v, idx) => {
    const u = idx % units;
    if (state[u] === undefined) state[u] = v;
    else assert.equal(v, state[u], `${k.layer}: kernel ${u} is partly pruned`);
  });
  return state.map((v) => v === 1);
}

/** Mean |w| of every kernel (i, o). */
function kernelMeans(k: Kernel): number[] {
  const units = (k.shape[k.shape.length - 2] as number) * (k.shape[k.shape.length - 1] as number);
  const sums = new Array<number>(units).fill(0);
  k.values.forEach((w, idx) => (sums[idx % units]! += Math.abs(w)));
  return sums.map((s) => s / (k.values.length / units));
}

/** Output units whose incoming mask entries are all zero. */
function deadUnits(k: Kernel, mask: Float32Array): boolean[] {
  const units = k.shape[k.shape.length - 1] as number;
  const dead = new Array<boolean>(units).fill(true);
  mask.forEach((v, i) => {
    if (v !== 0) dead[i % units] = false;
  });
  return dead;
}

/** Mean |w| of each output unit's incoming weights. */
function unitMeans(k: Kernel): number[] {
  const units = k.shape[k.shape.length - 1] as number;
  const sums = new Array<number>(units).fill(0);
  k.values.forEach((w, idx) => (sums[idx % units]! += Math.abs(w)));
  return sums.map((s) => s / (k.values.length / units));
}

/** Exactly the weights from a live input to a live unit survive (inputs map to the previous layer's units mod its count). */
function assertCascade(kernels: Kernel[], masks: Masks, what: string): boolean[][] {
  const deads: boolean[][] = [];
  kernels.forEach((k, l) => {
    const units = k.shape[k.shape.length - 1] as number;
    const inputs = k.shape[k.shape.length - 2] as number;
    const mask = masks.get(k.layer)!;
    const dead = deadUnits(k, mask);
    const prev = deads[l - 1];
    for (let i = 0; i < mask.length; i++) {
      const input = Math.floor(i / units) % inputs;
      const inputDead = prev ? prev[input % prev.length]! : false;
      if (mask[i] !== (dead[i % units] || inputDead ? 0 : 1)) assert.fail(`${what} ${k.layer}[${i}]: mask ${mask[i]}`);
    }
    deads.push(dead);
  });
  assert.ok(deads.at(-1)!.every((d) => !d), `${what}: the classifier keeps every class`);
  return deads;
}

test("every granularity × rule has a name; the four of today's strategies are aliases and prune identically", () => {
  for (const g of GRANULARITIES) for (const r of PRUNING_RULES) assert.ok(canonicalStrategy(`${g}/${r}`), `${g}/${r}`);
  const m = model("lenet5");
  for (const [alias, name] of Object.entries(STRATEGY_ALIASES)) {
    const s = strategyFor(alias);
    assert.equal(s.name, name, alias);
    const a = s.masks(m, 8, { seed: 1 });
    const b = strategyFor(name).masks(m, 8, { seed: 1 });
    for (const [layer, mask] of a) assert.deepEqual(mask, b.get(layer), `${alias} = ${name} (${layer})`);
  }
  assert.equal(strategyFor("filter/random-local").structured, true);
  assert.equal(strategyFor("filter/magnitude-global").structured, true);
  assert.equal(strategyFor("kernel/magnitude-global").structured, false, "a dense convolution still computes a pruned kernel's zeros");
});

test("unstructured: magnitude-global keeps exactly round(total / c), the local rules every layer its share", () => {
  const m = model("lenet5");
  const kernels = readKernels(m);
  const sizes = kernels.map((k) => k.values.length);
  const all = sizes.reduce((a, b) => a + b, 0);
  for (const rate of RATES) {
    assert.equal(total(strategyFor("unstructured/magnitude-global").masks(m, rate, { seed: 1 })), keepCount(all, rate));
    for (const rule of ["random-local", "magnitude-local"]) {
      const masks = strategyFor(`unstructured/${rule}`).masks(m, rate, { seed: 1 });
      assert.deepEqual(kernels.map((k) => count(masks.get(k.layer)!)), layerKeepCounts(sizes, rate), `${rule} @${rate}`);
    }
  }
});

for (const rule of ["random-local", "magnitude-local"] as const) {
  test(`kernel/${rule}: whole kernels, every layer keeps clamp(round(U / c), 1, U) of them${rule === "magnitude-local" ? ", the largest L1" : ", seeded"}`, () => {
    const m = model("lenet5");
    const kernels = readKernels(m);
    const units = kernels.map((k) => (k.shape[k.shape.length - 2] as number) * (k.shape[k.shape.length - 1] as number));
    for (const rate of RATES) {
      const masks = strategyFor(`kernel/${rule}`).masks(m, rate, { seed: 4 });
      const expected = kernelKeepCounts(units.map((u) => ({ units: u })), rate);
      kernels.forEach((k, l) => {
        const kept = keptKernels(k, masks.get(k.layer)!);
        assert.equal(kept.filter(Boolean).length, expected[l], `${k.layer} @${rate}`);
        assert.equal(expected[l], Math.min(units[l]!, Math.max(1, Math.round(units[l]! / rate))));
        if (rule === "magnitude-local") {
          const means = kernelMeans(k);
          const keptMin = Math.min(...means.filter((_, u) => kept[u]));
          const prunedMax = Math.max(...means.filter((_, u) => !kept[u]), -Infinity);
          assert.ok(keptMin >= prunedMax, `${k.layer} @${rate}: kept ${keptMin} < pruned ${prunedMax}`);
        }
      });
    }
    if (rule === "random-local") {
      const a = strategyFor("kernel/random-local").masks(m, 8, { seed: 4 });
      const b = strategyFor("kernel/random-local").masks(m, 8, { seed: 4 });
      const c = strategyFor("kernel/random-local").masks(m, 8, { seed: 5 });
      assert.deepEqual([...a.values()], [...b.values()], "same seed, same masks");
      assert.notDeepEqual([...a.values()], [...c.values()], "another seed, other masks");
    }
  });
}

test("kernel/magnitude-global: one ranking by mean |w|, a layer's last kernel kept, the prefix nearest to c", () => {
  const m = model("lenet5");
  const kernels = readKernels(m);
  const all = kernels.reduce((s, k) => s + k.values.length, 0);
  // Independent: every reachable prefix of the ascending order (skipping each layer's last kernel).
  const order = kernels.flatMap((k, l) => {
    const means = kernelMeans(k);
    return means.map((score, u) => ({ l, u, score, size: k.values.length / means.length }));
  });
  order.sort((a, b) => a.score - b.score);
  for (const rate of RATES) {
    const masks = strategyFor("kernel/magnitude-global").masks(m, rate, { seed: 1 });
    const kept = kernels.map((k) => keptKernels(k, masks.get(k.layer)!));
    const left = kernels.map((_, l) => kept[l]!.length);
    let nonZero = all;
    const reachable = [all];
    for (const o of order) {
      if (left[o.l]! <= 1) continue;
      left[o.l]!--;
      nonZero -= o.size;
      reachable.push(nonZero);
    }
    const got = total(masks);
    assert.ok(reachable.includes(got), `@${rate}: ${got} is not a prefix`);
    const best = reachable.reduce((mn, n) => Math.min(mn, Math.abs(all / n - rate)), Infinity);
    assert.equal(Math.abs(all / got - rate), best, `@${rate}: ${all / got} is not the nearest`);
    // The kept kernels outrank the removed ones (each layer's best kernel may be kept below the line).
    const removedMax = order.filter((o) => !kept[o.l]![o.u]).reduce((mx, o) => Math.max(mx, o.score), -Infinity);
    const keptPerLayer = kept.map((k) => k.filter(Boolean).length);
    for (const o of order) {
      if (kept[o.l]![o.u] && keptPerLayer[o.l]! > 1 && o.score < removedMax) assert.fail(`@${rate}: kept ${o.score} < removed ${removedMax}`);
    }
  }
});

test("filter/random-local: the plan's kept counts per layer, whole filters with the next layer's inputs, seeded", () => {
  for (const arch of ["lenet5", "lenet300"] as const) {
    const m = model(arch);
    const kernels = readKernels(m);
    for (const rate of RATES) {
      const plan = planStructured(m, rate);
      const masks = strategyFor("filter/random-local").masks(m, rate, { seed: 9 });
      const deads = assertCascade(kernels, masks, `${arch} @${rate}`);
      assert.deepEqual(
        deads.map((d) => d.filter((x) => !x).length),
        plan.layers.map((l) => l.kept),
        `${arch} @${rate}: kept units`,
      );
      assert.equal(total(masks), plan.nonZero, `${arch} @${rate}: the plan's count`);
    }
    const a = strategyFor("filter/random-local").masks(m, 8, { seed: 9 });
    const l1 = strategyFor("filter/magnitude-local").masks(m, 8, { seed: 9 });
    assert.notDeepEqual([...a.values()], [...l1.values()], `${arch}: random is not the L1 choice`);
  }
});

test("filter/magnitude-global: one ranking by mean |w| over the unprotected layers, cascade counted, the prefix nearest to c", () => {
  for (const arch of ["lenet5", "lenet300"] as const) {
    const m = model(arch);
    const kernels = readKernels(m);
    const prunable = kernels.reduce((s, k) => s + k.values.length, 0);
    const order = kernels.slice(0, -1).flatMap((k, l) => unitMeans(k).map((score, u) => ({ l, u, score })));
    order.sort((a, b) => a.score - b.score);
    // Non-zero weights with `kept` units per layer (spatial · live inputs · kept), written out independently.
    const nonZeroOf = (kept: number[]): number =>
      kernels.reduce((s, k, l) => {
        const units = k.shape[k.shape.length - 1] as number;
        const inputs = k.shape[k.shape.length - 2] as number;
        const spatial = k.values.length / (units * inputs);
        const prevUnits = l === 0 ? undefined : (kernels[l - 1]!.shape.at(-1) as number);
        const live = prevUnits === undefined ? inputs : (inputs / prevUnits) * kept[l - 1]!;
        return s + spatial * live * kept[l]!;
      }, 0);
    for (const rate of RATES) {
      const masks = strategyFor("filter/magnitude-global").masks(m, rate, { seed: 1 });
      const deads = assertCascade(kernels, masks, `${arch} @${rate}`);
      const keptCounts = deads.map((d) => d.filter((x) => !x).length);
      assert.equal(total(masks), nonZeroOf(keptCounts), `${arch} @${rate}: counted`);
      const kept = kernels.map((k) => k.shape.at(-1) as number);
      const reachable = [nonZeroOf(kept)];
      for (const o of order) {
        if (kept[o.l]! <= 1) continue;
        kept[o.l]!--;
        reachable.push(nonZeroOf(kept));
      }
      const best = Math.min(...reachable.map((n) => Math.abs(prunable / n - rate)));
      assert.equal(Math.abs(prunable / total(masks) - rate), best, `${arch} @${rate}: not the nearest`);
      const removedMax = Math.max(...order.filter((o) => deads[o.l]![o.u]).map((o) => o.score));
      for (const o of order) if (!deads[o.l]![o.u] && keptCounts[o.l]! > 1) assert.ok(o.score >= removedMax, `${arch} @${rate}: kept unit below a removed one`);
    }
  }
});

test("kernel/* does not apply to an MLP: one clear error", () => {
  const m = model("lenet300");
  for (const rule of PRUNING_RULES) {
    assert.throws(() => strategyFor(`kernel/${rule}`).masks(m, 4, { seed: 1 }), (err: unknown) => err instanceof KernelGranularityError && /only dense layers/.test((err as Error).message));
  }
});

// ───────────────────────── really dead, also after fine-tuning ─────────────────────────

function tinyData(n: number, seed: number): import("../../src/engine/data.js").Dataset {
  const images = tf.tidy(() => tf.randomUniform([n * 28 * 28], 0, 1, "float32", seed).dataSync() as Float32Array);
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
  return { name: "tiny", images: Float32Array.from(images), labels, count: n, height: 28, width: 28, channels: 1, numClasses: 10 };
}

for (const g of ["kernel", "filter"] as const) {
  test(`${g}/*: pruned weights are zero in the model and stay zero through fine-tuning with the masks`, async () => {
    for (const rule of PRUNING_RULES) {
      const m = model("lenet5", 11);
      const { masks } = pruneModel(m, `${g}/${rule}`, 8, { seed: 2 });
      await trainLoop(m, tinyData(64, 3), { epochs: 1, batchSize: 32, learningRate: 1e-2, patience: 1, validation: 0.25, seed: 1 }, masks);
      for (const k of readKernels(m)) {
        const mask = masks.get(k.layer)!;
        let moved = 0;
        k.values.forEach((w, i) => {
          if (mask[i] === 0 && w !== 0) assert.fail(`${g}/${rule} ${k.layer}[${i}] = ${w} after fine-tuning`);
          if (mask[i] === 1 && w !== 0) moved++;
        });
        assert.ok(moved > 0, `${g}/${rule} ${k.layer}: kept weights are live`);
      }
      m.dispose();
    }
  });
}

test("filter/*: a removed filter's bias no longer matters (its output only meets zero weights)", () => {
  for (const rule of PRUNING_RULES) {
    const m = model("lenet5", 8);
    const { masks } = pruneModel(m, `filter/${rule}`, 8, { seed: 1 });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 5);
    const before = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    for (const k of readKernels(m).slice(0, -1)) {
      const dead = deadUnits(k, masks.get(k.layer)!);

      const layer = m.getLayer(k.layer);
      const [w, b] = layer.getWeights() as [tf.Tensor, tf.Tensor];
      const bias = Float32Array.from(b.dataSync());
      dead.forEach((d, o) => d && (bias[o] = 5 + o));
      layer.setWeights([w, tf.tensor(bias, b.shape)]);
    }
    const after = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    after.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - before[i]![j]!) < 1e-4, `filter/${rule} logit ${i},${j}: ${before[i]![j]} → ${v}`)));
    m.dispose();
  }
});

// ───────────────────────── physically dropped ─────────────────────────

/**
 * A Sequential conv/pool/flatten/dense model rebuilt with only the listed output units of each
 * prunable layer (the classifier keeps all), the surviving weights copied — written here from the
 * layer configs, independently of dropped.ts.
 */
function rebuild(m: LayersModel, keep: Map<string, number[]>): LayersModel {
  const out = tf.sequential();
  let prevKeep: number[] | undefined;
  let prevUnits = 0;
  let flattenPositions: number | undefined;
  const first = (i: number): { inputShape?: number[] } => (i === 0 ? { inputShape: m.inputs[0]!.shape.slice(1) as number[] } : {});
  m.layers.forEach((layer, i) => {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (cls === "Conv2D" || cls === "Dense") {
      const [w, b] = layer.getWeights() as [tf.Tensor, tf.Tensor];
      const units = w.shape.at(-1) as number;
      const k = keep.get(layer.name) ?? Array.from({ length: units }, (_, o) => o);
      let rows: number[] | undefined = prevKeep;
      if (cls === "Dense" && prevKeep && flattenPositions !== undefined) {
        rows = [];
        for (let p = 0; p < flattenPositions; p++) for (const c of prevKeep) rows.push(p * prevUnits + c);
      }
      // Copied out through plain arrays: on wasm a gathered 1-D tensor written into a bias
      // variable trips the fused kernels' rank check (tfjs-backend-wasm 4.22).
      const kernel = tf.tidy(() => {
        const g = tf.gather(rows ? tf.gather(w, rows, w.rank - 2) : w, k, w.rank - 1);
        return tf.tensor(g.dataSync(), g.shape);
      });
      const bias = tf.tensor1d(k.map((o) => b.dataSync()[o]!));
      const common = { activation: cfg.activation as "relu" | "linear", name: layer.name, ...first(i) };
      out.add(
        cls === "Conv2D"
          ? tf.layers.conv2d({ ...common, filters: k.length, kernelSize: cfg.kernelSize as number[], strides: cfg.strides as number[], padding: cfg.padding as "same" | "valid" })
          : tf.layers.dense({ ...common, units: k.length }),
      );
      out.layers.at(-1)!.setWeights([kernel, bias]);
      prevKeep = k;
      prevUnits = units;
      flattenPositions = undefined;
    } else if (cls === "MaxPooling2D") {
      out.add(tf.layers.maxPooling2d({ poolSize: cfg.poolSize as [number, number], strides: cfg.strides as [number, number], name: layer.name, ...first(i) }));
    } else if (cls === "Flatten") {
      out.add(tf.layers.flatten({ name: layer.name, ...first(i) }));
      if (prevKeep) flattenPositions = (layer.outputShape as number[])[1]! / prevUnits;
    } else {
      assert.fail(`rebuild: unexpected layer ${cls}`);
    }
  });
  return out;
}

/** Units nothing reads: every weight of the next prunable layer from them is zero (read from the model's weights). */
function unread(m: LayersModel): Map<string, number[]> {
  const kernels = readKernels(m);
  const keep = new Map<string, number[]>();
  kernels.slice(0, -1).forEach((k, l) => {
    const units = k.shape.at(-1) as number;
    const next = kernels[l + 1]!;
    const nUnits = next.shape.at(-1) as number;
    const nInputs = next.shape.at(-2) as number;
    const read = new Array<boolean>(units).fill(false);
    next.values.forEach((w, idx) => {
      if (w !== 0) read[(Math.floor(idx / nUnits) % nInputs) % units] = true;
    });
    keep.set(
      k.layer,
      read.flatMap((r, o) => (r ? [o] : [])),
    );
  });
  return keep;
}

const CASES: [arch: "lenet5" | "lenet300" | "convnet", strategy: string][] = [
  ...PRUNING_RULES.map((r) => ["lenet5", `filter/${r}`] as ["lenet5", string]),
  ...PRUNING_RULES.map((r) => ["lenet300", `filter/${r}`] as ["lenet300", string]),
  ...PRUNING_RULES.map((r) => ["convnet", `kernel/${r}`] as ["convnet", string]),
];

for (const [arch, strategy] of CASES) {
  test(`${arch} ${strategy}: droppedBytes = the bytes of the model rebuilt without the removable filters, which computes the same logits`, () => {
    const m = model(arch, 5);
    // Kernel pruning at a high rate, so that some input channels lose every kernel.
    const rate = strategy.startsWith("kernel/") ? 32 : 8;
    const { masks, report } = pruneModel(m, strategy, rate, { seed: 3 });
    const drop = dropReport(m)!;
    assert.ok(drop, "the chain is mapped");
    const keep = unread(m);
    if (strategy.startsWith("filter/")) {
      // Every removed filter is removable, and nothing else.
      for (const k of readKernels(m).slice(0, -1)) {
        const dead = deadUnits(k, masks.get(k.layer)!);
        assert.deepEqual(keep.get(k.layer), dead.flatMap((d, o) => (d ? [] : [o])), `${k.layer}: the removable filters are the removed ones`);
      }
    }
    const smaller = rebuild(m, keep);
    assert.equal(drop.droppedBytes, 4 * smaller.countParams(), "droppedBytes = 4 B × the rebuilt model's parameters");
    assert.ok(drop.droppedBytes <= report.denseBytes);
    if (strategy.startsWith("filter/")) assert.ok(drop.droppedBytes < report.denseBytes, "filters were dropped");
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 7);
    const a = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    const b = (smaller.predict(x) as tf.Tensor).arraySync() as number[][];
    a.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-4, `logit ${i},${j}: ${v} vs ${b[i]![j]}`)));
    m.dispose();
    smaller.dispose();
  });
}

test("kernel/*: droppedBytes counts only input channels left fully empty (none at 2x: nothing is dropped)", () => {
  const m = model("convnet", 5);
  pruneModel(m, "kernel/magnitude-local", 2, { seed: 1 });
  const drop = dropReport(m)!;
  assert.equal(drop.droppedBytes, 4 * m.countParams(), "at 2x every channel keeps kernels in the next layer");
  assert.ok(drop.layers.every((l) => l.kept === l.units));
});

test("dropReport: no figure for layers that cannot be chained (batch normalisation between convolutions)", () => {
  const m = createModel({ architecture: "vgg11", inputShape: [32, 32, 3], numClasses: 10, seed: 1, width: 1 / 16 });
  assert.equal(dropReport(m), undefined);
  m.dispose();
});

test("cumulative pruning keeps what was pruned pruned: every granularity × rule at 4x from its own 2x contains the 2x set", () => {
  for (const g of GRANULARITIES) {
    for (const rule of PRUNING_RULES) {
      const name = `${g}/${rule}`;
      const m = model("lenet5", 13);
      const zerosOf = (): Set<string> => new Set(readKernels(m).flatMap((k) => Array.from(k.values).flatMap((w, i) => (w === 0 ? [`${k.layer}:${i}`] : []))));
      // Another pruning seed at each rate, as a chain would draw afresh: dead units must still go first.
      pruneModel(m, name, 2, { seed: 1 });
      const at2 = zerosOf();
      const { report } = pruneModel(m, name, 4, { seed: 2 });
      const at4 = zerosOf();
      assert.ok(at4.size > at2.size, `${name}: 4x prunes more than 2x`);
      for (const z of at2) if (!at4.has(z)) assert.fail(`${name}: ${z} pruned at 2x is alive at 4x`);
      assert.ok(Math.abs(report.compression - 4) / 4 < 0.35, `${name}: achieved ${report.compression} for 4x`);
      m.dispose();
    }
  }
});
