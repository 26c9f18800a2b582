// The wasm backend's Conv2DBackpropFilter / Conv2DBackpropInput kernels and batch-norm gradient
// (src/engine/wasm-gradients.ts) against the cpu backend's. tfjs's fused conv2d with a linear
// activation — every conv layer followed by batch normalisation, as in ResNet-8 and VGG-11 —
// computes its gradient by calling those kernels directly; wasm had no filter-gradient kernel, so
// such models could neither train nor be attacked on it. Reference values come from the cpu
// backend; data moves between backends as plain arrays.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tf } from "../../src/engine/tf.js";
import { initBackend } from "../../src/engine/backend.js";
import { createModel } from "../../src/engine/models.js";
import type { Architecture } from "../../src/engine/architectures.js";
import { mulberry32 } from "../../src/engine/random.js";
import { assertClose, onCpu, sgdStep, type SgdStep } from "../helpers/wasm-vs-cpu.js";

type Arr = Float32Array;

function randomArray(n: number, seed: number): Arr {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

before(async () => {
  assert.equal((await initBackend("wasm")).name, "wasm");
});

after(() => tf.disposeVariables());

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: number;
  pad: "same" | "valid";
  bias: boolean;
}

describe("fused conv2d with a linear activation: gradients on wasm equal cpu's", () => {
  const cases: Case[] = [
    { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: 1, pad: "same", bias: false },
    { x: [2, 9, 9, 4], k: [3, 3], cout: 6, strides: 2, pad: "same", bias: false }, // ResNet-8's stage entry
    { x: [2, 8, 8, 4], k: [1, 1], cout: 6, strides: 2, pad: "same", bias: false }, // its projection shortcut
    { x: [3, 10, 11, 2], k: [5, 5], cout: 3, strides: 2, pad: "valid", bias: true },
  ];
  for (const c of cases) {
    test(`x ${c.x.join("x")}, k ${c.k.join("x")}, cout ${c.cout}, stride ${c.strides}, ${c.pad}${c.bias ? ", bias" : ""}`, async () => {
      const xv = randomArray(c.x.reduce((a, b) => a * b, 1), 1);
      const wShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.cout];
      const wv = randomArray(wShape.reduce((a, b) => a * b, 1), 2);
      const bv = randomArray(c.cout, 3);
      const run = async (): Promise<{ grads: Arr[]; kernels: Set<string> }> => {
        const x = tf.tensor4d(xv, c.x);
        const w = tf.tensor4d(wv, wShape);
        const b = tf.tensor1d(bv);
        const r = tf.tidy(() => tf.fused.conv2d({ x, filter: w, strides: c.strides, pad: c.pad, ...(c.bias ? { bias: b } : {}) }));
        const rv = randomArray(r.size, 4);
        const rs = tf.tensor(rv, r.shape);
        const f = (...args: tf.Tensor[]): tf.Tensor =>
          tf.sum(tf.mul(tf.fused.conv2d({ x: args[0] as tf.Tensor4D, filter: args[1] as tf.Tensor4D, strides: c.strides, pad: c.pad, activation: "linear", ...(c.bias ? { bias: args[2]! } : {}) }), rs));
        let grads: tf.Tensor[] = [];
        const info = await tf.profile(() => {
          grads = tf.grads(f)(c.bias ? [x, w, b] : [x, w]);
          return grads;
        });
        const out = { grads: await Promise.all(grads.map(async (g) => (await g.data()) as Arr)), kernels: new Set(info.kernelNames) };
        tf.dispose([x, w, b, r, rs, ...grads]);
        return out;
      };
      const before = tf.memory().numTensors;
      const wasm = await run();
      assert.equal(tf.memory().numTensors, before, "no tensor leaks from the kernels");
      assert.ok(wasm.kernels.has("Conv2DBackpropFilter") && wasm.kernels.has("Conv2DBackpropInput"), "the fused gradient ran the backprop kernels on wasm");
      const cpu = await onCpu(run);
      for (const [i, name] of ["dx", "dW", "db"].entries()) if (i < 2 || c.bias) assertClose(wasm.grads[i]!, cpu.grads[i]!, name);
    });
  }
});

test("batch normalisation in training mode: input, scale and offset gradients on wasm equal cpu's", async () => {
  const shape: [number, number, number, number] = [4, 5, 5, 3];
  const xv = randomArray(4 * 5 * 5 * 3, 5);
  const gv = randomArray(3, 6).map((v) => v + 1.5);
  const ov = randomArray(3, 7);
  const rv = randomArray(4 * 5 * 5 * 3, 8);
  const run = async (): Promise<Arr[]> => {
    const x = tf.tensor4d(xv, shape);
    const g = tf.tensor1d(gv);
    const o = tf.tensor1d(ov);
    const r = tf.tensor4d(rv, shape);
    // As tfjs-layers' BatchNormalization trains: the batch's own moments, which depend on x.
    const f = (a: tf.Tensor, s: tf.Tensor, off: tf.Tensor): tf.Tensor => {
      const m = tf.moments(a, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm(a, m.mean, m.variance, off as tf.Tensor1D, s as tf.Tensor1D, 1e-5), r));
    };
    const grads = tf.grads(f)([x, g, o]);
    const out = await Promise.all(grads.map(async (t) => (await t.data()) as Arr));
    tf.dispose([x, g, o, r, ...grads]);
    return out;
  };
  const wasm = await run();
  const cpu = await onCpu(run);
  for (const [i, name] of ["dx", "dscale", "doffset"].entries()) assertClose(wasm[i]!, cpu[i]!, name);
});

describe("one training step of the CIFAR networks (narrow widths) on wasm equals cpu's", () => {
  for (const [architecture, width] of [["resnet8", 0.25], ["vgg11", 0.125]] as [Architecture, number][]) {
    test(`${architecture} at width ${width}`, async () => {
      const batch = 4;
      const xs = randomArray(batch * 32 * 32 * 3, 9).map((v) => (v + 1) / 2);
      const labels = Array.from({ length: batch }, (_, i) => (i * 3) % 10);
      const step = (weights: Arr[] | undefined): Promise<SgdStep> =>
        sgdStep(
          () => createModel({ architecture, inputShape: [32, 32, 3], numClasses: 10, seed: 1, width }),
          { xs, shape: [batch, 32, 32, 3], labels, classes: 10 },
          { learningRate: 0.05, training: true },
          weights,
        );
      const wasm = await step(undefined);
      const cpu = await onCpu(() => step(wasm.weights));
      assert.ok(Math.abs(wasm.loss0 - cpu.loss0) < 1e-4, `loss before: ${wasm.loss0} vs ${cpu.loss0}`);
      assert.ok(Math.abs(wasm.loss1 - cpu.loss1) < 1e-3, `loss after: ${wasm.loss1} vs ${cpu.loss1}`);
      assert.ok(wasm.loss1 < wasm.loss0, "the step decreases the loss");
      for (const [i, g] of wasm.grads.entries()) assertClose(g, cpu.grads[i]!, `gradient ${i}`, 1e-3);
    });
  }
});
