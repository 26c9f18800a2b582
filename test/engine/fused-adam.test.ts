// The fused Adam step on wasm (src/engine/fused-adam.ts) against tfjs's own AdamOptimizer on the
// same backend: the same weights, moments and bias-correction state, bit for bit, over several
// steps; other optimizers pass through unchanged.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tf } from "../../src/engine/tf.js";
import { initBackend } from "../../src/engine/backend.js";
import { applyGradients } from "../../src/engine/fused-adam.js";
import { mulberry32 } from "../../src/engine/random.js";

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

before(async () => {
  assert.equal((await initBackend("wasm")).name, "wasm");
});

after(() => tf.disposeVariables());

// Sizes with and without a remainder past the last multiple of 4 (the JavaScript tail).
const SHAPES = [[5, 5, 1, 6], [6], [401, 3], [7], [1]];

function variables(tag: string): tf.Variable[] {
  return SHAPES.map((shape, i) => tf.variable(tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), 10 + i), shape), true, `${tag}_${i}`));
}

async function values(ts: tf.Tensor[]): Promise<number[][]> {
  return Promise.all(ts.map(async (t) => Array.from(await t.data())));
}

describe("fused Adam on wasm", () => {
  test("weights, moments and accumulated betas equal tfjs's AdamOptimizer bit for bit over 6 steps", async () => {
    const stock = variables("stock");
    const fused = variables("fused");
    const a = tf.train.adam(3e-3, 0.85, 0.995);
    const b = tf.train.adam(3e-3, 0.85, 0.995);
    for (let step = 0; step < 6; step++) {
      // Gradients of mixed scales, exact zeros included (the moments' edge case).
      const gs = SHAPES.map((shape, i) => tf.tensor(randomArray(shape.reduce((x, y) => x * y, 1), 100 * step + i, 10 ** (i - 2)).map((v, k) => (k % 5 === 0 ? 0 : v)), shape));
      a.applyGradients(stock.map((v, i) => ({ name: v.name, tensor: gs[i]! })));
      applyGradients(b, fused.map((v, i) => ({ name: v.name, tensor: gs[i]! })));
      tf.dispose(gs);
    }
    assert.deepEqual(await values(fused), await values(stock), "weights");
    const [wa, wb] = [await a.getWeights(), await b.getWeights()];
    assert.deepEqual(wb.map((w) => w.name.replace("fused", "stock")), wa.map((w) => w.name), "optimizer state names");
    assert.deepEqual(await values(wb.map((w) => w.tensor)), await values(wa.map((w) => w.tensor)), "iterations, accumulated betas and moments");
    a.dispose();
    b.dispose();
    tf.dispose([...stock, ...fused]);
  });

  test("another optimizer goes through its own applyGradients", async () => {
    const [v] = variables("sgd");
    const sgd = tf.train.sgd(0.5);
    const g = tf.ones(v!.shape);
    const before = await v!.data();
    applyGradients(sgd, [{ name: v!.name, tensor: g }]);
    const afterValues = await v!.data();
    assert.ok(afterValues.every((x, i) => Math.abs(x - (before[i]! - 0.5)) < 1e-6), "w − 0.5·1");
    tf.dispose([v!, g]);
    sgd.dispose();
  });
});
