// The CIFAR-sized networks of the zoo (issue 19, item 3): ResNet-8 and VGG-11 on 32×32×3 inputs.
// Output shape, parameter counts against an independent count from the architectures'
// descriptions (layer by layer, by hand), regular layer names, the width factor, and masks on a
// residual network (pruned weights exactly zero through the adds).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { tf } from "../../src/engine/tf.js";
import { initBackend } from "../../src/engine/backend.js";
import { ArchitectureInputError, createModel, prunableWeights } from "../../src/engine/models.js";
import { ARCHITECTURES } from "../../src/engine/architectures.js";
import { GRID_ARCHITECTURES } from "../../src/matrix/grid.js";
import { measureSparsity, pruneModel } from "../../src/engine/pruning/index.js";
import { saveModel } from "../../src/engine/model-io.js";
import { prunableLayersOf } from "../../src/models/layers.js";
import { modelMacs } from "../../src/models/macs.js";

await initBackend();

const filters = (base: number, width: number): number => Math.max(1, Math.round(base * width));
/** 3×3 conv without bias + batch norm (γ, β, moving mean, moving variance). */
const convBn = (k: number, cin: number, cout: number): { params: number; kernel: number } => ({ params: k * k * cin * cout + 4 * cout, kernel: k * k * cin * cout });

/** ResNet-8 (He et al. 2016, n = 1): stem, three one-block stages (16, 32, 64), 1×1 projections where the shape changes, dense 10. */
function resnet8Count(width: number): { total: number; prunable: number } {
  const parts = [convBn(3, 3, filters(16, width))];
  let cin = filters(16, width);
  for (const base of [16, 32, 64]) {
    const cout = filters(base, width);
    parts.push(convBn(3, cin, cout), convBn(3, cout, cout));
    if (base !== 16 || cin !== cout) parts.push(convBn(1, cin, cout));
    cin = cout;
  }
  const fc = cin * 10;
  return { total: parts.reduce((s, p) => s + p.params, 0) + fc + 10, prunable: parts.reduce((s, p) => s + p.kernel, 0) + fc };
}

/** VGG-11 (configuration A) for CIFAR: 64, 128, 256, 256, 512, 512, 512, 512, each 3×3 + BN; dense 10 on 512. */
function vgg11Count(width: number): { total: number; prunable: number } {
  let cin = 3;
  let total = 0;
  let prunable = 0;
  for (const base of [64, 128, 256, 256, 512, 512, 512, 512]) {
    const p = convBn(3, cin, filters(base, width));
    total += p.params;
    prunable += p.kernel;
    cin = filters(base, width);
  }
  return { total: total + cin * 10 + 10, prunable: prunable + cin * 10 };
}

test("the zoo and the grid list the CIFAR networks", () => {
  for (const a of ["resnet8", "vgg11"]) {
    assert.ok((ARCHITECTURES as readonly string[]).includes(a));
    assert.ok((GRID_ARCHITECTURES as readonly string[]).includes(a));
  }
});

test("parameter counts at width 1 are the documented ones and match the independent count", () => {
  assert.deepEqual(resnet8Count(1), { total: 78_714, prunable: 77_360 });
  assert.deepEqual(vgg11Count(1), { total: 9_233_866, prunable: 9_222_848 });
});

for (const [architecture, width, count] of [
  ["resnet8", 1, resnet8Count(1)],
  ["resnet8", 0.25, resnet8Count(0.25)],
  ["vgg11", 1, vgg11Count(1)],
  ["vgg11", 0.125, vgg11Count(0.125)],
] as const) {
  test(`${architecture} at width ${width}: output [n, 10] of finite logits, ${count.total} parameters (${count.prunable} prunable), regular layer names`, () => {
    const model = createModel({ architecture, inputShape: [32, 32, 3], numClasses: 10, seed: 3, width });
    assert.deepEqual(model.inputs[0]!.shape, [null, 32, 32, 3]);
    assert.deepEqual(model.outputs[0]!.shape, [null, 10]);
    const y = tf.tidy(() => model.predict(tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 1)) as tf.Tensor);
    assert.deepEqual(y.shape, [2, 10]);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    y.dispose();
    assert.equal(model.countParams(), count.total);
    const s = measureSparsity(model);
    assert.equal(s.totalParams, count.total);
    assert.equal(s.prunableParams, count.prunable);
    // Regular names: unique; every kernel of a Conv2D is `…conv…`, the classifier `fc` comes last.
    const names = model.layers.map((l) => l.name);
    assert.equal(new Set(names).size, names.length, "unique layer names");
    const prunable = prunableWeights(model).map((w) => w.originalName.split("/")[0]!);
    assert.ok(prunable.slice(0, -1).every((n) => /conv/.test(n)), prunable.join(", "));
    assert.equal(prunable.at(-1), "fc");
    for (const l of model.layers) if (l.getClassName() === "BatchNormalization") assert.match(l.name, /bn/);
    model.dispose();
  });
}

test("multiply-accumulates per 32×32×3 image: ResNet-8 ≈ 12.7 M, VGG-11 ≈ 153 M (the upload cap counts them so)", () => {
  for (const [architecture, low, high] of [["resnet8", 12e6, 13.5e6], ["vgg11", 150e6, 160e6]] as const) {
    const model = createModel({ architecture, inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    const macs = modelMacs(model);
    assert.ok(macs > low && macs < high, `${architecture}: ${macs}`);
    model.dispose();
  }
});

test("vgg11 refuses images smaller than 32×32 in one line; a bad width is refused", () => {
  assert.throws(() => createModel({ architecture: "vgg11", inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), (e: unknown) => e instanceof ArchitectureInputError && /vgg11 needs images of at least 32x32 .*got 28x28/.test(e.message));
  assert.throws(() => createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 1, width: 0 }), /width must be a positive number/);
  // ResNet-8 pools globally: other sizes work too.
  const m = createModel({ architecture: "resnet8", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  assert.deepEqual(m.outputs[0]!.shape, [null, 10]);
  m.dispose();
});

test("the same seed gives the same weights", () => {
  const a = createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 5, width: 0.5 });
  const b = createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 5, width: 0.5 });
  const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
  const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(wa, wb);
  a.dispose();
  b.dispose();
});

test("masks on ResNet-8: pruned kernels are exactly zero, the residual adds still compute, compression as asked", () => {
  for (const strategy of ["global-magnitude", "layer-magnitude", "random"]) {
    const model = createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 2 });
    const { masks, report } = pruneModel(model, strategy, 8, { seed: 1 });
    assert.ok(Math.abs(report.compression - 8) < 0.01, `${strategy}: ${report.compression}`);
    for (const w of prunableWeights(model)) {
      const mask = masks.get(w.originalName.split("/")[0]!);
      assert.ok(mask, `a mask for ${w.originalName}`);
      const values = w.read().dataSync();
      for (let i = 0; i < values.length; i++) if (mask[i] === 0) assert.equal(values[i], 0);
    }
    const y = tf.tidy(() => model.predict(tf.ones([1, 32, 32, 3])) as tf.Tensor);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    y.dispose();
    model.dispose();
  }
});

test("a saved ResNet-8's model.json names the same prunable layers and sizes as the engine (functional topology)", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-arch-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const model = createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 1, width: 0.5 });
  const out = path.join(dir, "resnet8");
  await saveModel(model, out, { architecture: "resnet8", dataset: "x", inputShape: [32, 32, 3], numClasses: 10, seed: 1, backend: "wasm", codeVersion: "test", createdAt: new Date().toISOString() });
  const fromJson = prunableLayersOf(JSON.parse(await readFile(path.join(out, "model.json"), "utf8")));
  assert.deepEqual(
    fromJson,
    prunableWeights(model).map((w) => ({ layer: w.originalName.split("/")[0]!, weights: (w.shape as number[]).reduce((a, b) => a * b, 1), kind: w.shape.length === 4 ? "conv" : "dense" })),
  );
  model.dispose();
});
