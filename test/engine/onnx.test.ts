// The attacks' passes through onnxruntime (src/engine/onnx/): the exported forward and vjp graphs
// give TF.js's logits and input gradients within float tolerance — on the zoo's architectures, on
// pruned weights, on max-pool windows with ties (the gradient goes to the window's first maximum,
// as TF.js's), on a ragged pool; models it cannot export stay on TF.js, bit for bit; a model is
// only routed while compiled; and an evaluation records the path in its backend label.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { initBackend } from "../../src/engine/backend.js";
import { createModel } from "../../src/engine/models.js";
import { mulberry32 } from "../../src/engine/random.js";
import { lossGradient, sampleLoss } from "../../src/engine/attacks/gradients.js";
import { exportOnnx } from "../../src/engine/onnx/export.js";
import { applyModel, compileModel, ORT_SLICE_ROWS } from "../../src/engine/onnx/compiled.js";
import { loadOrt, ortUnavailableReason } from "../../src/engine/onnx/runtime.js";
import { evaluateRobustness } from "../../src/engine/evaluation/robustness.js";
import { objectiveGradient, resolve as resolveCw, toTanhSpace } from "../../src/engine/attacks/cw.js";
import { dlrTargetedLoss, lossAndGradient } from "../../src/engine/attacks/apgd.js";
import { pgdLinf } from "../../src/engine/attacks/pgd.js";
import { squareLinf } from "../../src/engine/attacks/square.js";

before(async () => {
  await initBackend("wasm");
});
after(() => tf.disposeVariables());

function images(n: number, shape: [number, number, number], seed: number): tf.Tensor4D {
  const rng = mulberry32(seed);
  return tf.tensor4d(Float32Array.from({ length: n * shape[0] * shape[1] * shape[2] }, () => rng()), [n, ...shape]);
}

/** Logits and the cross-entropy input gradient, through `apply`. */
function passes(apply: (x: tf.Tensor4D) => tf.Tensor2D, x: tf.Tensor4D, y: tf.Tensor1D): { logits: Float32Array; grad: Float32Array } {
  return tf.tidy(() => {
    const grad = tf.grad((xi: tf.Tensor) => tf.sum(sampleLoss(apply(xi as tf.Tensor4D), y, "ce")))(x);
    return { logits: apply(x).dataSync() as Float32Array, grad: grad.dataSync() as Float32Array };
  });
}

/** Max |a − b| must stay under tol · (1 + max |b|). */
function assertNear(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  assert.ok(diff <= tol * (1 + scale), `${what}: max difference ${diff} (scale ${scale})`);
}

function compareWithTfjs(model: LayersModel, x: tf.Tensor4D, label: string): void {
  const y = tf.tensor1d(Array.from({ length: x.shape[0] }, (_, i) => i % 10), "int32");
  const ref = passes((xi) => model.apply(xi, { training: false }) as tf.Tensor2D, x, y);
  const { engine, release } = compileModel(model);
  try {
    assert.equal(engine.name, "onnxruntime", `${label}: ${engine.detail}`);
    const got = passes((xi) => applyModel(model, xi), x, y);
    assertNear(got.logits, ref.logits, 1e-5, `${label} logits`);
    assertNear(got.grad, ref.grad, 1e-5, `${label} input gradient`);
  } finally {
    release();
    y.dispose();
  }
}

/** Zeroes all but every `keep`-th weight of each kernel: an unstructured pruned model. */
function prune(model: LayersModel, keep: number): void {
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const k = ws[0]!.dataSync().slice();
    for (let i = 0; i < k.length; i++) if (i % keep !== 0) k[i] = 0;
    layer.setWeights([tf.tensor(k, ws[0]!.shape), ...ws.slice(1)]);
  }
}

describe("onnxruntime passes", () => {
  test("onnxruntime-node loads (it is an optional dependency, installed by npm ci here)", () => {
    assert.ok(loadOrt(), ortUnavailableReason());
  });

  for (const architecture of ["lenet300", "lenet5", "convnet"] as const) {
    test(`${architecture}: logits and input gradients equal TF.js's within float tolerance, dense and pruned 8x`, () => {
      const model = createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
      const x = images(12, [28, 28, 1], 11);
      compareWithTfjs(model, x, `${architecture} dense`);
      prune(model, 8);
      compareWithTfjs(model, x, `${architecture} pruned`);
      x.dispose();
    });
  }

  test("a batch larger than one onnxruntime call (ORT_SLICE_ROWS) runs in slices: the same logits and gradients row for row", () => {
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 6 });
    const x = images(2 * ORT_SLICE_ROWS + 5, [28, 28, 1], 12);
    compareWithTfjs(model, x, "lenet5 sliced");
    x.dispose();
  });

  test("lossGradient in one onnxruntime pass: the same loss, logits and input gradient as TF.js's for CE and margin, with and without targets", () => {
    const model = createModel({ architecture: "convnet", inputShape: [28, 28, 1], numClasses: 10, seed: 7 });
    const n = ORT_SLICE_ROWS + 7;
    const x = images(n, [28, 28, 1], 13);
    const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 3) % 10), "int32");
    // Every other row targeted (−1 = none); some targets equal the label (zero loss and gradient).
    const target = tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1 : (i * 7) % 10)), "int32");
    for (const kind of ["ce", "margin"] as const) {
      for (const t of [undefined, target]) {
        const label = `${kind}${t ? " targeted" : ""}`;
        const ref = tf.tidy(() => {
          const r = lossGradient(model, x, y, kind, t);
          return [r.loss.dataSync(), r.logits.dataSync(), r.grad.dataSync()] as Float32Array[];
        });
        const { release } = compileModel(model);
        const got = tf.tidy(() => {
          const r = lossGradient(model, x, y, kind, t);
          return [r.loss.dataSync(), r.logits.dataSync(), r.grad.dataSync()] as Float32Array[];
        });
        release();
        assertNear(got[0]!, ref[0]!, 1e-5, `${label} loss`);
        assertNear(got[1]!, ref[1]!, 1e-5, `${label} logits`);
        assertNear(got[2]!, ref[2]!, 1e-5, `${label} gradient`);
      }
    }
    tf.dispose([x, y, target]);
  });

  test("C&W's objective gradient through the fused loss gradient equals TF.js's autodiff of its closure (margin floored at −κ, targets, CE)", () => {
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 8 });
    const n = 24;
    const x = images(n, [28, 28, 1], 14);
    const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 10), "int32");
    const target = tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? (i + 4) % 10 : -1)), "int32");
    const c = tf.tensor1d(Array.from({ length: n }, (_, i) => 0.1 * (1 + (i % 5))));
    for (const [loss, confidence, t] of [["margin", 0, undefined], ["margin", 2, target], ["ce", 0, undefined]] as const) {
      const o = resolveCw({ loss, confidence });
      const w0 = toTanhSpace(x, o.tanhInset);
      const t0 = tf.tanh(w0) as tf.Tensor4D;
      // A step away from x, with some pixels pushed past the box (their gradient must be zero).
      const w = tf.add(w0, tf.mul(images(n, [28, 28, 1], 15), 3)) as tf.Tensor4D;
      const run = (): Float32Array[] => tf.tidy(() => {
        const r = objectiveGradient(model, x, t0, y, t, w, c, o);
        return [r.objective.dataSync(), r.grad.dataSync(), r.logits.dataSync(), r.point.dataSync()] as Float32Array[];
      });
      const ref = run();
      const { release } = compileModel(model);
      const got = run();
      release();
      const label = `${loss} κ=${confidence}${t ? " targeted" : ""}`;
      assert.ok(ref[1]!.some((v) => v === 0) && ref[1]!.some((v) => v !== 0), `${label}: the case has clipped and free pixels`);
      for (const [k, what] of ["objective", "gradient", "logits", "point"].entries()) assertNear(got[k]!, ref[k]!, 1e-5, `${label} ${what}`);
      tf.dispose([w0, t0, w]);
    }
    tf.dispose([x, y, target, c]);
  });

  test("APGD's targeted DLR in one onnxruntime pass: the same loss, logits and gradient as TF.js's", () => {
    const model = createModel({ architecture: "convnet", inputShape: [28, 28, 1], numClasses: 10, seed: 9 });
    const n = 30;
    const x = images(n, [28, 28, 1], 16);
    const y = Int32Array.from({ length: n }, (_, i) => i % 10);
    const t = Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % 10);
    const run = (): Float32Array[] => tf.tidy(() => {
      const r = lossAndGradient(model, x, dlrTargetedLoss(y, t, 10));
      return [r.loss.dataSync(), r.logits.dataSync(), r.grad.dataSync()] as Float32Array[];
    });
    const ref = run();
    const { release } = compileModel(model);
    const got = run();
    release();
    for (const [k, what] of ["loss", "logits", "gradient"].entries()) assertNear(got[k]!, ref[k]!, 1e-5, `DLR-T ${what}`);
    x.dispose();
  });

  test("max-pool windows with ties send the gradient to their first maximum, as TF.js does", () => {
    // A blank image and positive conv biases: every window of the first pool holds one value four
    // times (bias only), so a rule other than "first maximum" would move or multiply the gradient.
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 4 });
    for (const layer of model.layers) {
      const ws = layer.getWeights();
      if (ws.length === 2) layer.setWeights([ws[0]!, tf.fill(ws[1]!.shape, 0.05)]);
    }
    const x = tf.concat([tf.zeros([2, 28, 28, 1]), images(2, [28, 28, 1], 5)]) as tf.Tensor4D;
    compareWithTfjs(model, x, "lenet5 ties");
    x.dispose();
  });

  test("a ragged pool (odd size) and a valid convolution: the ignored row and column get zero gradient, as in TF.js", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [11, 11, 2], filters: 3, kernelSize: 3, padding: "valid", activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: "ones" }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: "same", activation: "linear", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    const x = images(5, [11, 11, 2], 6);
    compareWithTfjs(model, x, "ragged");
    x.dispose();
  });

  test("a model it cannot export stays on TF.js with the reason, and its logits are TF.js's bit for bit", () => {
    const model = createModel({ architecture: "resnet8", inputShape: [8, 8, 3], numClasses: 10, seed: 1, width: 0.25 });
    const result = exportOnnx(model);
    assert.equal(result.ok, false);
    const { engine, release } = compileModel(model);
    assert.equal(engine.name, "tfjs");
    assert.match(engine.detail, /not exportable to ONNX: .*BatchNormalization/);
    const x = images(3, [8, 8, 3], 2);
    assert.deepEqual(applyModel(model, x).dataSync(), (model.apply(x, { training: false }) as tf.Tensor).dataSync());
    release();
    x.dispose();
  });

  test("a model is routed through onnxruntime only while compiled (nested compiles share it)", () => {
    const model = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
    const x = images(4, [28, 28, 1], 3);
    const tfjs = (model.apply(x, { training: false }) as tf.Tensor).dataSync();
    const outer = compileModel(model);
    const inner = compileModel(model);
    inner.release();
    const during = applyModel(model, x).dataSync();
    assert.notDeepEqual(during, tfjs, "still compiled after the inner release: onnxruntime's rounding differs from TF.js's");
    assertNear(during as Float32Array, tfjs as Float32Array, 1e-5, "logits");
    outer.release();
    assert.deepEqual(applyModel(model, x).dataSync(), tfjs);
    x.dispose();
  });

  test("an evaluation records the path of its attacks' passes in the backend label, and releases the model", async () => {
    const model = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
    const x = images(6, [28, 28, 1], 4);
    const labels = Array.from((model.apply(x) as tf.Tensor2D).argMax(1).dataSync());
    const result = await evaluateRobustness({
      target: model,
      samples: { x: x.dataSync() as Float32Array, labels, indices: labels.map((_, i) => i), shape: [28, 28, 1] },
      norm: "linf",
      knowledge: "white-box",
      budgets: [0, 0.1],
      attacks: { "white-box": [pgdLinf({ steps: 5 })], "black-box": [squareLinf()] },
      queryBudget: 50,
    });
    assert.equal(result.backend.label, "wasm+onnxruntime");
    assert.match(result.backend.passes ?? "", /onnxruntime-node 1\.30\.0, cpu, 1 thread/);
    assert.equal(result.cleanCorrect, 6);
    const tfjs = (model.apply(x, { training: false }) as tf.Tensor).dataSync();
    assert.deepEqual(applyModel(model, x).dataSync(), tfjs, "released after the evaluation");
    x.dispose();
  });
});
