// The fused conv/dense layers that training uses on wasm (src/engine/fused-layers.ts) and the
// heap kernels behind their gradients (src/engine/wasm-heap-kernels.ts), against tfjs-layers'
// own model.apply on the cpu backend: same outputs, same loss, same gradients, within float
// tolerance (the fused kernels add the bias inside the convolution and sum the bias gradient in
// another order, so bits may differ).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { initBackend } from "../../src/engine/backend.js";
import { createModel } from "../../src/engine/models.js";
import type { Architecture } from "../../src/engine/architectures.js";
import { fusedApply } from "../../src/engine/fused-layers.js";
import { BIAS_ACT_GRAD } from "../../src/engine/wasm-heap-kernels.js";
import { CONV_FORWARD } from "../../src/engine/wasm-conv-forward.js";
import { crossEntropy } from "../../src/engine/train.js";
import { mulberry32 } from "../../src/engine/random.js";
import { assertClose, onCpu } from "../helpers/wasm-vs-cpu.js";

type Arr = Float32Array;

function randomArray(n: number, seed: number): Arr {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

before(async () => {
  assert.equal((await initBackend("wasm")).name, "wasm");
});

after(() => tf.disposeVariables());

interface Step {
  weights: Arr[];
  logits: Arr;
  loss: number;
  grads: Arr[];
  kernels: Set<string>;
}

/**
 * Logits, loss and every trainable weight's gradient of one batch, with `forward` as the model's
 * forward pass; the model's weights are replaced by `weights` when given.
 */
async function gradientsOf(
  make: () => LayersModel,
  forward: (m: LayersModel, x: tf.Tensor) => tf.Tensor,
  input: { xs: Arr; shape: [number, number, number, number]; labels: number[] },
  weights?: Arr[],
): Promise<Step> {
  const model = make();
  if (weights !== undefined) model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape)));
  const initial = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Arr));
  const x = tf.tensor4d(input.xs, input.shape);
  const y = tf.tensor1d(input.labels, "int32");
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let logits: tf.Tensor | undefined;
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  const info = await tf.profile(() => {
    result = tf.variableGrads(() => {
      const out = forward(model, x);
      logits = tf.keep(out);
      return crossEntropy(out, y, 10);
    }, vars);
    return [result.value, ...Object.values(result.grads)];
  });
  const out: Step = {
    weights: initial,
    logits: (await logits!.data()) as Arr,
    loss: (await result!.value.data())[0]!,
    grads: await Promise.all(vars.map(async (v) => (await result!.grads[v.name]!.data()) as Arr)),
    kernels: new Set(info.kernelNames),
  };
  tf.dispose([x, y, logits!, result!.value, ...Object.values(result!.grads)]);
  model.dispose();
  return out;
}

const fused = (m: LayersModel, x: tf.Tensor): tf.Tensor => {
  const out = fusedApply(m, x);
  assert.ok(out !== undefined, "fusedApply takes the model");
  return out;
};
const layers = (m: LayersModel, x: tf.Tensor): tf.Tensor => m.apply(x, { training: true }) as tf.Tensor;

describe("fused layers on wasm equal tfjs-layers on cpu (logits, loss, gradients)", () => {
  for (const architecture of ["lenet5", "lenet300", "convnet"] as Architecture[]) {
    test(architecture, async () => {
      const batch = 12;
      const xs = randomArray(batch * 28 * 28, 11).map((v) => (v + 1) / 2);
      const labels = Array.from({ length: batch }, (_, i) => (i * 7) % 10);
      const make = (): LayersModel => createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
      const input = { xs, shape: [batch, 28, 28, 1] as [number, number, number, number], labels };
      const before = tf.memory().numTensors;
      const wasm = await gradientsOf(make, fused, input);
      assert.equal(tf.memory().numTensors, before, "no tensor leaks");
      assert.ok(wasm.kernels.has("AdvisorDenseBiasAct"), "the fused dense kernel ran");
      if (architecture !== "lenet300") assert.ok(wasm.kernels.has("AdvisorConv2DBiasAct"), "the fused conv kernel ran");
      assert.ok(!wasm.kernels.has("Relu") && !wasm.kernels.has("Step"), "no separate ReLU kernels");
      const cpu = await onCpu(() => gradientsOf(make, layers, input, wasm.weights));
      assertClose(wasm.logits, cpu.logits, "logits", 1e-5);
      assert.ok(Math.abs(wasm.loss - cpu.loss) < 1e-5, `loss: ${wasm.loss} vs ${cpu.loss}`);
      assert.equal(wasm.grads.length, cpu.grads.length);
      for (const [i, g] of wasm.grads.entries()) assertClose(g, cpu.grads[i]!, `gradient ${i}`);
    });
  }
});

describe("fusedApply declines what it cannot reproduce", () => {
  test("a model with batch normalisation (resnet8) falls back to model.apply", () => {
    const model = createModel({ architecture: "resnet8", inputShape: [32, 32, 3], numClasses: 10, seed: 1, width: 0.25 });
    const x = tf.zeros([1, 32, 32, 3]);
    assert.equal(fusedApply(model, x), undefined);
    tf.dispose(x);
    model.dispose();
  });
  test("the cpu backend falls back to model.apply", async () => {
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const taken = await onCpu(async () => {
      const x = tf.zeros([1, 28, 28, 1]);
      const out = fusedApply(model, x);
      tf.dispose(x);
      return out !== undefined;
    });
    assert.equal(taken, false);
    model.dispose();
  });
});

describe("the bias/ReLU gradient heap kernel equals dy·step(y) and its sum over all but the last axis", () => {
  for (const [shape, activation] of [
    [[3, 5, 7, 6], "relu"],
    [[9, 16], "relu"],
    [[4, 10], "linear"],
  ] as Array<[number[], "relu" | "linear"]>) {
    test(`${shape.join("x")}, ${activation}`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      // A third of y is exactly 0 (a ReLU output), the ReLU gradient's edge case.
      const yv = randomArray(n, 21).map((v, i) => (i % 3 === 0 ? 0 : v));
      const dyv = randomArray(n, 22);
      const dy = tf.tensor(dyv, shape);
      const y = tf.tensor(yv, shape);
      const [g, db] = tf.engine().runKernel(BIAS_ACT_GRAD, { dy, y }, { activation }) as tf.Tensor[];
      const got = { g: (await g!.data()) as Arr, db: (await db!.data()) as Arr };
      tf.dispose([dy, y, g!, db!]);
      const want = await onCpu(async () => {
        const dyc = tf.tensor(dyv, shape);
        const yc = tf.tensor(yv, shape);
        const gc = activation === "relu" ? tf.mul(dyc, tf.step(yc)) : dyc;
        const dbc = tf.sum(gc, shape.slice(0, -1).map((_, i) => i));
        const out = { g: (await gc.data()) as Arr, db: (await dbc.data()) as Arr };
        tf.dispose([dyc, yc, gc, dbc]);
        return out;
      });
      assert.deepEqual(Array.from(got.g, (v) => v + 0), Array.from(want.g, (v) => v + 0), "g (−0 and +0 alike)");
      assertClose(got.db, want.db, "db", 1e-6);
    });
  }
});

describe("the direct stride-1 convolution forward kernel equals cpu's fused conv2d (bias, activation)", () => {
  // Output channels in one partial vector (6: LeNet-5's conv1, 3, 1), two blocks (20 = 16 + 4)
  // and 16; output widths that leave a partial block of pixels; padding, none, asymmetric.
  const cases: Array<{ x: [number, number, number, number]; k: [number, number]; co: number; pad: "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]]; act: "relu" | "linear" }> = [
    { x: [3, 12, 12, 1], k: [5, 5], co: 6, pad: "same", act: "relu" },
    { x: [2, 9, 10, 6], k: [5, 5], co: 16, pad: "valid", act: "relu" },
    { x: [2, 7, 9, 3], k: [3, 2], co: 20, pad: "same", act: "linear" },
    { x: [1, 6, 7, 2], k: [3, 3], co: 3, pad: [[0, 0], [2, 0], [0, 1], [0, 0]], act: "relu" },
    { x: [2, 5, 6, 5], k: [2, 3], co: 1, pad: "valid", act: "linear" },
  ];
  for (const [i, c] of cases.entries()) {
    test(`x ${c.x.join("x")}, k ${c.k.join("x")}, cout ${c.co}, ${JSON.stringify(c.pad)}, ${c.act}`, async () => {
      const xv = randomArray(c.x.reduce((a, b) => a * b, 1), 40 + i);
      const wv = randomArray(c.k[0] * c.k[1] * c.x[3] * c.co, 50 + i);
      const bv = randomArray(c.co, 60 + i);
      const run = async (direct: boolean): Promise<Arr> => {
        const x = tf.tensor4d(xv, c.x);
        const w = tf.tensor4d(wv, [c.k[0], c.k[1], c.x[3], c.co]);
        const b = tf.tensor1d(bv);
        const info = tf.backend_util.computeConv2DInfo(c.x, w.shape, 1, 1, c.pad);
        const attrs = {
          n: c.x[0], inH: c.x[1], inW: c.x[2], ci: c.x[3], oh: info.outHeight, ow: info.outWidth, kh: c.k[0], kw: c.k[1], co: c.co,
          top: info.padInfo.top, left: info.padInfo.left, relu: c.act === "relu",
        };
        const y = direct
          ? (tf.engine().runKernel(CONV_FORWARD, { x, filter: w, bias: b }, attrs) as tf.Tensor)
          : tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: c.pad, activation: c.act });
        const out = (await y.data()) as Arr;
        tf.dispose([x, w, b, y]);
        return out;
      };
      const got = await run(true);
      const want = await onCpu(() => run(false));
      assertClose(got, want, "output", 1e-5);
    });
  }
});
