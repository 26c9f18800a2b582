// The wasm backend's registered gradients (src/engine/wasm-gradients.ts) against the cpu
// backend's own kernels: Conv2D filter and input gradients, MaxPool's and BatchMatMul's
// gradients, and one LeNet-5 training step. Reference values are computed by switching to the cpu backend; data
// moves between backends as plain arrays.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { tf } from "../../src/engine/tf.js";
import { backendInfo, initBackend } from "../../src/engine/backend.js";
import { createModel } from "../../src/engine/models.js";
import { CONV_FILTER_GRAD } from "../../src/engine/wasm-filter-grad.js";
import { assertClose, onCpu, sgdStep, type SgdStep } from "../helpers/wasm-vs-cpu.js";

type Arr = Float32Array;

/** Deterministic data independent of any backend (mulberry32). */
function randomArray(n: number, seed: number, levels?: number): Arr {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    // With `levels`, values are quantised so that ties (equal maxima) are frequent.
    out[i] = levels === undefined ? u * 2 - 1 : Math.floor(u * levels);
  }
  return out;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

type Pad = "same" | "valid" | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: [number, number];
  strides: number | [number, number];
  pad: Pad;
}

/** Runs fn under tf.profile; returns its result and the names of the kernels it ran. */
async function withKernels<T extends tf.Tensor | tf.Tensor[]>(fn: () => T): Promise<{ result: T; kernels: Set<string> }> {
  let result: T | undefined;
  const info = await tf.profile(() => {
    result = fn();
    return result;
  });
  return { result: result!, kernels: new Set(info.kernelNames) };
}

/** The tfjs kernels that only tfjs's stock gradients use. */
const STOCK_CONV_GRAD = ["Conv2DBackpropInput", "Conv2DBackpropFilter"];

/**
 * Gradients of sum(conv2d(x, w) * r) with respect to x and w on the active backend, and whether
 * tfjs's stock backprop kernels ran (they must on cpu, the reference, and must not on wasm).
 */
async function convGrads(c: ConvCase, x: Arr, w: Arr, r: Arr, rShape: number[]): Promise<{ dx: Arr; dw: Arr; stock: boolean; direct: boolean }> {
  const xs = tf.tensor4d(x, [c.n, c.h, c.w, c.cin]);
  const ws = tf.tensor4d(w, [c.k[0], c.k[1], c.cin, c.cout]);
  const rs = tf.tensor(r, rShape);
  const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), rs));
  const { result, kernels } = await withKernels(() => tf.grads(f)([xs, ws]));
  const [dx, dw] = result;
  const out = {
    dx: (await dx!.data()) as Arr,
    dw: (await dw!.data()) as Arr,
    stock: STOCK_CONV_GRAD.every((k) => kernels.has(k)),
    direct: kernels.has(CONV_FILTER_GRAD),
  };
  tf.dispose([xs, ws, rs, dx!, dw!]);
  return out;
}

before(async () => {
  const info = await initBackend("wasm");
  assert.equal(info.name, "wasm");
});

after(() => {
  tf.disposeVariables();
});

describe("backend selection", () => {
  test("initBackend is idempotent and backendInfo reports it", async () => {
    const a = await initBackend("wasm");
    const b = await initBackend(""); // automatic: keeps the current choice
    assert.equal(a, b);
    assert.equal(backendInfo(), a);
    assert.equal(tf.getBackend(), "wasm");
    assert.equal(a.label, "wasm", "results record the backend by this label");
    assert.match(a.tfjsVersion, /^\d+\.\d+\.\d+/);
  });

  test("an unknown or unavailable forced backend is a clear one-line error", async () => {
    await assert.rejects(initBackend("gpu"), /ADVISOR_BACKEND="gpu" is not a backend/);
    const installed = (specifier: string): boolean => {
      try {
        import.meta.resolve(specifier);
        return true;
      } catch {
        return false;
      }
    };
    if (!installed("@tensorflow/tfjs-node") && !installed("@tensorflow/tfjs-node-gpu")) {
      // Both packages that provide the "tensorflow" backend are named, the GPU one first.
      await assert.rejects(
        initBackend("tensorflow"),
        /^BackendError: ADVISOR_BACKEND=tensorflow but @tensorflow\/tfjs-node-gpu and @tensorflow\/tfjs-node are not installed$/,
      );
    }
    assert.equal(tf.getBackend(), "wasm");
    assert.equal(backendInfo().name, "wasm");
  });
});

describe("Conv2D gradient on wasm equals the cpu kernels", () => {
  const cases: ConvCase[] = [
    { n: 2, h: 7, w: 7, cin: 1, cout: 2, k: [3, 3], strides: 1, pad: "same" },
    { n: 2, h: 8, w: 8, cin: 3, cout: 6, k: [5, 5], strides: 1, pad: "valid" },
    { n: 2, h: 9, w: 9, cin: 3, cout: 6, k: [3, 3], strides: 2, pad: "same" },
    { n: 2, h: 10, w: 11, cin: 6, cout: 16, k: [5, 5], strides: 2, pad: "valid" },
    { n: 2, h: 8, w: 10, cin: 6, cout: 16, k: [5, 5], strides: 2, pad: "same" },
    { n: 3, h: 14, w: 14, cin: 6, cout: 16, k: [5, 5], strides: 1, pad: "valid" }, // lenet5 conv2
    { n: 2, h: 12, w: 12, cin: 1, cout: 6, k: [5, 5], strides: 1, pad: "same" }, // lenet5 conv1
    { n: 2, h: 11, w: 9, cin: 1, cout: 2, k: [3, 3], strides: 2, pad: "valid" },
    { n: 1, h: 9, w: 8, cin: 3, cout: 6, k: [3, 5], strides: [2, 1], pad: "same" },
    { n: 2, h: 9, w: 10, cin: 3, cout: 2, k: [3, 3], strides: 2, pad: 1 },
    { n: 1, h: 7, w: 8, cin: 6, cout: 6, k: [3, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
    // Stride 1 takes the matrix-product + col2im route: kernel rows and columns clipped at every
    // border ("same", a non-square kernel, channels not a multiple of 4).
    { n: 2, h: 9, w: 7, cin: 5, cout: 5, k: [5, 3], strides: 1, pad: "same" },
    { n: 1, h: 5, w: 4, cin: 2, cout: 3, k: [5, 5], strides: 1, pad: "same" }, // kernel wider than half the input
    // One input channel, stride 1 (conv1's case): kernels clipped at the borders.
    { n: 2, h: 6, w: 9, cin: 1, cout: 3, k: [2, 4], strides: 1, pad: "valid" },
    { n: 1, h: 5, w: 3, cin: 1, cout: 2, k: [5, 5], strides: 1, pad: "same" }, // taps entirely outside some rows/columns
    { n: 1, h: 6, w: 7, cin: 1, cout: 2, k: [3, 3], strides: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
    // 1,200 output pixels, an odd kh·kw, nine output channels; then 9 pixels.
    { n: 3, h: 20, w: 20, cin: 1, cout: 9, k: [3, 3], strides: 1, pad: "same" },
    { n: 1, h: 5, w: 5, cin: 1, cout: 3, k: [3, 3], strides: 1, pad: "valid" },
    // Every stride-1 filter gradient is the direct outer-product kernel (wasm-filter-grad.ts):
    // two blocks of output channels (16 + 4), a (j, c) run of 28 in blocks of two; 7 output
    // channels (one garbage lane read past each pixel); 5 channels and asymmetric padding.
    { n: 3, h: 9, w: 8, cin: 7, cout: 20, k: [3, 4], strides: 1, pad: "same" },
    { n: 2, h: 7, w: 7, cin: 3, cout: 7, k: [2, 2], strides: 1, pad: "valid" },
    { n: 2, h: 6, w: 6, cin: 1, cout: 5, k: [3, 3], strides: 1, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
  ];
  for (const [i, c] of cases.entries()) {
    const label = `x ${c.n}x${c.h}x${c.w}x${c.cin}, k ${c.k.join("x")}, cout ${c.cout}, strides ${String(c.strides)}, pad ${JSON.stringify(c.pad)}`;
    test(label, async () => {
      const x = randomArray(c.n * c.h * c.w * c.cin, 100 + i);
      const w = randomArray(c.k[0] * c.k[1] * c.cin * c.cout, 200 + i);
      const yShape = tf.tidy(() => tf.conv2d(tf.zeros([c.n, c.h, c.w, c.cin]) as tf.Tensor4D, tf.zeros([c.k[0], c.k[1], c.cin, c.cout]) as tf.Tensor4D, c.strides, c.pad).shape);
      const r = randomArray(size(yShape), 300 + i);
      const wasm = await convGrads(c, x, w, r, yShape);
      const cpu = await onCpu(() => convGrads(c, x, w, r, yShape));
      assert.equal(wasm.stock, false, "wasm uses the registered gradient");
      assert.equal(cpu.stock, true, "cpu uses tfjs's own backprop kernels");
      const stride1 = c.strides === 1 || (Array.isArray(c.strides) && c.strides[0] === 1 && c.strides[1] === 1);
      assert.equal(wasm.direct, stride1, "the direct filter-gradient kernel runs exactly for stride 1");
      assertClose(wasm.dx, cpu.dx, "input gradient");
      assertClose(wasm.dw, cpu.dw, "filter gradient");
    });
  }

  test("dilated convolutions are refused with tfjs's own message", () => {
    const x = tf.ones([1, 8, 8, 1]);
    const w = tf.ones([3, 3, 1, 1]);
    assert.throws(
      () => tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, "same", "NHWC", 2)))(x),
      /dilation rates greater than 1/,
    );
    tf.dispose([x, w]);
  });
});

describe("MaxPool gradient on wasm equals the cpu kernel (ties go to the first maximum)", () => {
  // `ties`: inputs quantised to 3 levels, so windows often have equal maxima. Continuous inputs
  // include windows whose maximum is negative (wasm's stock MaxPoolGrad drops those).
  const cases: Array<{ shape: [number, number, number, number]; f: number; s: number; pad: "same" | "valid"; ties: boolean }> = [
    { shape: [2, 8, 8, 3], f: 2, s: 2, pad: "valid", ties: true },
    { shape: [2, 7, 9, 2], f: 2, s: 2, pad: "valid", ties: true },
    { shape: [1, 9, 9, 4], f: 3, s: 3, pad: "valid", ties: true },
    { shape: [2, 6, 8, 3], f: 2, s: 2, pad: "same", ties: true },
    { shape: [2, 8, 8, 3], f: 2, s: 2, pad: "valid", ties: false },
    { shape: [1, 7, 7, 2], f: 2, s: 2, pad: "same", ties: true }, // padded (stock wasm kernel is wrong here)
    { shape: [2, 8, 7, 3], f: 3, s: 3, pad: "same", ties: true },
    { shape: [1, 6, 6, 2], f: 3, s: 1, pad: "valid", ties: false }, // overlapping
    { shape: [2, 7, 8, 2], f: 3, s: 2, pad: "same", ties: true }, // overlapping and padded
    { shape: [1, 9, 7, 2], f: 2, s: 1, pad: "same", ties: true },
    // 2x2 stride 2 over at least 4 channels: the SIMD loop (src/engine/wasm-simd.ts), whose last
    // 4-channel group overlaps the one before when the channels are not a multiple of 4.
    { shape: [2, 8, 8, 6], f: 2, s: 2, pad: "valid", ties: true },
    { shape: [2, 8, 8, 6], f: 2, s: 2, pad: "valid", ties: false },
    { shape: [2, 7, 9, 5], f: 2, s: 2, pad: "valid", ties: true }, // a row and a column no window reaches
    { shape: [3, 6, 4, 16], f: 2, s: 2, pad: "same", ties: true },
    { shape: [1, 4, 6, 8], f: 2, s: 2, pad: "valid", ties: false },
  ];
  for (const [i, c] of cases.entries()) {
    test(`x ${c.shape.join("x")}, pool ${c.f} stride ${c.s} ${c.pad}${c.ties ? ", with ties" : ""}`, async () => {
      const x = randomArray(size(c.shape), 400 + i, c.ties ? 3 : undefined);
      const run = async (): Promise<{ dx: Arr; stock: boolean }> => {
        const xs = tf.tensor4d(x, c.shape);
        const yShape = tf.tidy(() => tf.maxPool(xs, c.f, c.s, c.pad).shape);
        const r = tf.tensor(randomArray(size(yShape), 500 + i), yShape);
        const { result: dx, kernels } = await withKernels(() =>
          tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad), r)))(xs),
        );
        const out = { dx: (await dx.data()) as Arr, stock: kernels.has("MaxPoolGrad") };
        tf.dispose([xs, r, dx]);
        return out;
      };
      const wasm = await run();
      const cpu = await onCpu(run);
      assert.equal(wasm.stock, false, "wasm uses the registered gradient");
      assert.equal(cpu.stock, true, "cpu uses tfjs's own MaxPoolGrad");
      // Windows that do not overlap only copy dy: bit-equal. Overlapping ones add in another order.
      if (c.f <= c.s) assert.deepEqual(Array.from(wasm.dx), Array.from(cpu.dx), "maxPool gradient");
      else assertClose(wasm.dx, cpu.dx, "maxPool gradient", 1e-6);
    });
  }

  test("windows of −∞ and NaN: the gradient goes to the first value above −∞, none when there is none", async () => {
    const shape: [number, number, number, number] = [1, 4, 4, 4];
    const x = randomArray(size(shape), 450, 3);
    for (let i = 0; i < x.length; i++) if (i % 5 === 0) x[i] = -Infinity;
    for (let i = 0; i < x.length; i++) if (i % 7 === 0) x[i] = NaN;
    // One window (channel 1 of the top-left window) entirely −∞/NaN.
    for (const [r, c] of [[0, 0], [0, 1], [1, 0], [1, 1]]) x[(r! * 4 + c!) * 4 + 1] = r === c ? NaN : -Infinity;
    const run = async (): Promise<Arr> => {
      const xs = tf.tensor4d(x, shape);
      const r = tf.tensor(randomArray(16, 451), [1, 2, 2, 4]);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid"), r)))(xs);
      const out = (await dx.data()) as Arr;
      tf.dispose([xs, r, dx]);
      return out;
    };
    const wasm = await run();
    const cpu = await onCpu(run);
    assert.deepEqual(Array.from(wasm), Array.from(cpu));
  });
});

describe("BatchMatMul gradient on wasm equals the cpu kernels", () => {
  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [2, 4, 6], b: [2, 6, 3], ta: false, tb: false },
    { a: [2, 6, 4], b: [2, 3, 6], ta: true, tb: true },
  ];
  for (const [i, c] of cases.entries()) {
    test(`a ${c.a.join("x")}${c.ta ? "ᵀ" : ""} · b ${c.b.join("x")}${c.tb ? "ᵀ" : ""}`, async () => {
      const a = randomArray(size(c.a), 600 + i);
      const b = randomArray(size(c.b), 700 + i);
      const run = async (): Promise<{ da: Arr; db: Arr }> => {
        const at = tf.tensor(a, c.a);
        const bt = tf.tensor(b, c.b);
        const yShape = tf.tidy(() => tf.matMul(at, bt, c.ta, c.tb).shape);
        const r = tf.tensor(randomArray(size(yShape), 800 + i), yShape);
        const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.matMul(x, y, c.ta, c.tb), r));
        const [da, db] = tf.grads(f)([at, bt]);
        const out = { da: (await da!.data()) as Arr, db: (await db!.data()) as Arr };
        tf.dispose([at, bt, r, da!, db!]);
        return out;
      };
      const wasm = await run();
      const cpu = await onCpu(run);
      assertClose(wasm.da, cpu.da, "gradient of a");
      assertClose(wasm.db, cpu.db, "gradient of b");
    });
  }
});

describe("one LeNet-5 training step", () => {
  test("loss, gradients and updated loss on wasm match cpu", async () => {
    const batch = 16;
    const xs = randomArray(batch * 28 * 28, 7).map((v) => (v + 1) / 2);
    const labels = Array.from({ length: batch }, (_, i) => (i * 7) % 10);

    const step = (weights: Arr[] | undefined): Promise<SgdStep> =>
      sgdStep(
        () => createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 }),
        { xs, shape: [batch, 28, 28, 1], labels, classes: 10 },
        { learningRate: 0.1 },
        weights,
      );

    const wasm = await step(undefined);
    const cpu = await onCpu(() => step(wasm.weights));
    assert.ok(Math.abs(wasm.loss0 - cpu.loss0) < 1e-4, `loss before: ${wasm.loss0} vs ${cpu.loss0}`);
    assert.ok(Math.abs(wasm.loss1 - cpu.loss1) < 1e-4, `loss after: ${wasm.loss1} vs ${cpu.loss1}`);
    assert.ok(wasm.loss1 < wasm.loss0, "the step decreases the loss");
    assert.equal(wasm.grads.length, cpu.grads.length);
    for (const [i, g] of wasm.grads.entries()) assertClose(g, cpu.grads[i]!, `gradient ${i}`);
  });
});
