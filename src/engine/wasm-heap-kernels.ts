// Kernels for the wasm backend written in plain JavaScript over the backend's WebAssembly heap.
//
// Memory-bound steps of a training step — the max-pool gradient, the ReLU gradient and the bias
// gradient — cost far more as chains of tfjs kernels (argMax, oneHot, transposes, step, sums,
// each a pass over the tensor plus a dispatch) than as one JavaScript loop over the same memory.
// These kernels read their inputs and write their outputs in place on the heap
// (`typedArrayFromHeap`), with no copies. They are registered under names of our own, for the
// wasm backend only; src/engine/wasm-gradients.ts calls them from the gradients it registers.
import { tf } from "./tf.js";
import { isWasmMemory, simdKernels, type SimdKernels } from "./wasm-simd.js";

/** The kernel names registered here (wasm only). */
export const MAX_POOL_GRAD = "AdvisorMaxPoolGrad";
export const BIAS_ACT_GRAD = "AdvisorBiasActGrad";
export const ADAM_STEP = "AdvisorAdamStep";
export const COL2IM = "AdvisorCol2Im";

/** COL2IM's attributes: the input-gradient shape, the kernel, and the forward padding (stride 1). */
export interface Col2ImAttrs {
  n: number;
  inH: number;
  inW: number;
  ci: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  top: number;
  left: number;
}

/** Whether COL2IM has its SIMD loop on the active backend (else conv2dInputGradient keeps its own route). */
export function col2imAvailable(): boolean {
  return tf.getBackend() === "wasm" && tf.getKernel(COL2IM, "wasm") !== undefined && simd(tf.backend() as HeapBackend) !== null;
}

/** ADAM_STEP's attributes: float32 constants, as tfjs's AdamOptimizer turns them into tensors. */
export interface AdamStepAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** 1 − beta1^t and 1 − beta2^t (the bias corrections). */
  c1: number;
  c2: number;
  epsilon: number;
  negLearningRate: number;
}

/** The parts of tfjs-backend-wasm's BackendWasm used here (it does not export its class type). */
interface HeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  /** The Emscripten module; its `asm.memory` is the heap every tensor lives on. */
  wasm?: { asm?: { memory?: unknown } };
}

/** The SIMD loops bound to the backend's heap, or null (no SIMD, or an unexpected backend). */
function simd(backend: HeapBackend): SimdKernels | null {
  const memory = backend.wasm?.asm?.memory;
  return isWasmMemory(memory) ? simdKernels(memory) : null;
}

function floats(backend: HeapBackend, t: tf.TensorInfo, what: string): Float32Array {
  if (t.dtype !== "float32") throw new Error(`${what} must be float32, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/**
 * dL/dx of y = maxPool(x), NHWC: the gradient of each window goes to its first maximum in
 * row-major window order, windows clipped to the input (padding never wins) — exactly the cpu
 * backend's maxPoolPositions + MaxPoolGrad (a strict `>` against a maximum starting at −∞, so a
 * window of NaN or −∞ only passes no gradient). Overlapping windows add up their contributions.
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput([...x.shape], "float32");
  // Views are taken after makeOutput: an allocation may grow (and so detach) the heap.
  const dx = floats(backend, out, "dx");
  const xv = floats(backend, x, "x");
  const dyv = floats(backend, dy, "dy");
  const fast = simd(backend);
  if (fast !== null && fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && c >= 4 && oh * 2 <= h && ow * 2 <= w) {
    // Every element a window covers is written; rows or columns no window reaches stay 0.
    if (oh * 2 < h || ow * 2 < w) dx.fill(0);
    const rowBytes = w * c * 4;
    for (let b = 0; b < n; b++) {
      for (let yr = 0; yr < oh; yr++) {
        const r0 = (b * h + 2 * yr) * rowBytes;
        const dyRow = dyv.byteOffset + (b * oh + yr) * ow * c * 4;
        fast.poolRow2x2(xv.byteOffset + r0, xv.byteOffset + r0 + rowBytes, dyRow, dx.byteOffset + r0, dx.byteOffset + r0 + rowBytes, ow, c * 4);
      }
    }
    return out;
  }
  dx.fill(0);
  const rowStride = w * c;
  for (let b = 0; b < n; b++) {
    const xb = b * h * rowStride;
    for (let yr = 0; yr < oh; yr++) {
      const r0 = Math.max(0, yr * sh - top);
      const r1 = Math.min(h, yr * sh - top + fh);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = Math.max(0, yc * sw - left);
        const c1 = Math.min(w, yc * sw - left + fw);
        const o = ((b * oh + yr) * ow + yc) * c;
        for (let d = 0; d < c; d++) {
          let best = -Infinity;
          let at = -1;
          for (let r = r0; r < r1; r++) {
            const row = xb + r * rowStride + d;
            for (let col = c0; col < c1; col++) {
              const i = row + col * c;
              const v = xv[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = dx[at]! + dyv[o + d]!;
        }
      }
    }
  }
  return out;
}

/**
 * The backward pass of y = act(z + bias) with bias on the last axis, act ReLU or linear: outputs
 * g = dL/dz (dy where y > 0 for ReLU, as tfjs's dy · step(z); dy itself for linear) and
 * dL/dbias = g summed over every axis but the last. With SIMD, each lane accumulates its share in
 * float32 (as tfjs's own Sum does) and the lanes are added in double precision; else all in double.
 */
function biasActGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const backend = args.backend as HeapBackend;
  const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const relu = (args.attrs as { activation?: string } | undefined)?.activation === "relu";
  const c = dy.shape[dy.shape.length - 1] ?? 1;
  const gOut = backend.makeOutput([...dy.shape], "float32");
  const dbOut = backend.makeOutput([c], "float32");
  const fast = simd(backend);
  // The SIMD loop sums lanes over whole periods of lcm(c, 4) floats, so lane k is channel k % c.
  const period = (c * 4) / gcd(c, 4);
  const accOut = fast !== null ? backend.makeOutput([period], "float32") : undefined;
  // Views are taken after the allocations (see maxPoolGrad).
  const g = floats(backend, gOut, "g");
  const db = floats(backend, dbOut, "db");
  const dyv = floats(backend, dy, "dy");
  const yv = floats(backend, y, "y");
  const sums = new Float64Array(c);
  let start = 0;
  if (fast !== null && accOut !== undefined) {
    const acc = floats(backend, accOut, "acc");
    acc.fill(0);
    start = dyv.length - (dyv.length % period);
    (relu ? fast.reluBiasGrad : fast.linearBiasGrad)(dyv.byteOffset, yv.byteOffset, g.byteOffset, start * 4, period * 4, acc.byteOffset);
    for (let k = 0; k < period; k++) sums[k % c] = sums[k % c]! + acc[k]!;
    backend.disposeData(accOut.dataId);
  }
  for (let i = start; i < dyv.length; i++) {
    const v = relu && !(yv[i]! > 0) ? 0 : dyv[i]!;
    g[i] = v;
    sums[i % c] = sums[i % c]! + v;
  }
  db.set(sums);
  return [gOut, dbOut];
}

/**
 * One Adam step of one variable: inputs w, m, v, g; outputs w', m', v' (see SimdKernels.adam for
 * the operation order, tfjs's own). The elements past the last multiple of 4 are done in
 * JavaScript with every operation rounded to float32 (Math.fround), which gives the same bits.
 */
function adamStep(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const backend = args.backend as HeapBackend;
  const { w, m, v, g } = args.inputs as { w: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo; g: tf.TensorInfo };
  const a = args.attrs as unknown as AdamStepAttrs;
  const outs = [w, m, v].map((t) => backend.makeOutput([...t.shape], "float32"));
  const [ow, om, ov] = outs.map((t, i) => floats(backend, t, ["w'", "m'", "v'"][i]!)) as [Float32Array, Float32Array, Float32Array];
  const [wv, mv, vv, gv] = [floats(backend, w, "w"), floats(backend, m, "m"), floats(backend, v, "v"), floats(backend, g, "g")];
  const f = Math.fround;
  const [b1, omb1, b2, omb2, c1, c2, eps, nlr] = [a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.c1, a.c2, a.epsilon, a.negLearningRate].map(f) as number[];
  const fast = simd(backend);
  let start = 0;
  if (fast !== null) {
    start = wv.length - (wv.length % 4);
    fast.adam(wv.byteOffset, mv.byteOffset, vv.byteOffset, gv.byteOffset, ow.byteOffset, om.byteOffset, ov.byteOffset, start * 4, b1!, omb1!, b2!, omb2!, c1!, c2!, eps!, nlr!);
  }
  for (let i = start; i < wv.length; i++) {
    const gi = gv[i]!;
    const mi = f(f(mv[i]! * b1!) + f(gi * omb1!));
    const vi = f(f(vv[i]! * b2!) + f(f(gi * gi) * omb2!));
    om[i] = mi;
    ov[i] = vi;
    ow[i] = f(f(f(f(mi / c1!) / f(f(Math.sqrt(f(vi / c2!))) + eps!)) * nlr!) + wv[i]!);
  }
  return outs;
}

/**
 * The input gradient of a stride-1 convolution from its im2col columns
 * cols[(b, h, w), (i, j, c)] = Σ_co dy[b, h, w, co] · W[i, j, c, co]: each column value is added
 * to dx[b, h + i − top, w + j − left, c] when that lies inside the input (col2im).
 */
function col2im(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const { cols } = args.inputs as { cols: tf.TensorInfo };
  const a = args.attrs as unknown as Col2ImAttrs;
  const fast = simd(backend);
  if (fast === null) throw new Error(`${COL2IM} needs WebAssembly SIMD`);
  const k = a.kh * a.kw * a.ci;
  if (cols.shape[0] !== a.n * a.oh * a.ow || cols.shape[1] !== k) throw new Error(`${COL2IM}: columns of shape ${cols.shape.join("x")}`);
  const out = backend.makeOutput([a.n, a.inH, a.inW, a.ci], "float32");
  const dx = floats(backend, out, "dx");
  const cv = floats(backend, cols, "cols");
  dx.fill(0);
  const rowBytes = a.inW * a.ci * 4;
  for (let b = 0; b < a.n; b++) {
    for (let h = 0; h < a.oh; h++) {
      const ilo = Math.max(0, a.top - h);
      const ihi = Math.min(a.kh, a.inH + a.top - h);
      if (ihi <= ilo) continue;
      const src = cv.byteOffset + (b * a.oh + h) * a.ow * k * 4;
      const dst = dx.byteOffset + (b * a.inH + h - a.top + ilo) * rowBytes;
      fast.col2imRow(src, dst, a.ow, ilo, ihi, a.kw, a.ci * 4, rowBytes, a.left, a.inW, k * 4);
    }
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

let registered = false;

/**
 * Registers the kernels for the wasm backend, and replaces its Identity kernel by one that shares
 * the input's data (a reference more) instead of copying it, as the cpu and webgl backends do:
 * tfjs clones every tensor a gradient saves, so the copies cost LeNet-5 training three passes
 * over 600k floats per step (and page faults on fresh heap in the first steps). Tensor data is
 * never written in place (Variable.assign swaps the data, it does not overwrite it), so sharing
 * is safe. Idempotent.
 */
export function registerHeapKernels(): void {
  if (registered) return;
  registered = true;
  const stockIdentity = tf.getKernel(tf.Identity, "wasm");
  if (stockIdentity !== undefined) {
    tf.unregisterKernel(tf.Identity, "wasm");
    tf.registerKernel({
      kernelName: tf.Identity,
      backendName: "wasm",
      kernelFunc: (args) => {
        const { x } = args.inputs as { x: tf.TensorInfo };
        if (x.dtype === "string") return stockIdentity.kernelFunc(args);
        (args.backend as HeapBackend).incRef(x.dataId);
        return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
      },
    });
  }
  if (tf.getKernel(MAX_POOL_GRAD, "wasm") === undefined) {
    tf.registerKernel({ kernelName: MAX_POOL_GRAD, backendName: "wasm", kernelFunc: maxPoolGrad as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(COL2IM, "wasm") === undefined) {
    tf.registerKernel({ kernelName: COL2IM, backendName: "wasm", kernelFunc: col2im as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(ADAM_STEP, "wasm") === undefined) {
    tf.registerKernel({ kernelName: ADAM_STEP, backendName: "wasm", kernelFunc: adamStep as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(BIAS_ACT_GRAD, "wasm") === undefined) {
    tf.registerKernel({ kernelName: BIAS_ACT_GRAD, backendName: "wasm", kernelFunc: biasActGrad as unknown as tf.KernelFunc });
  }
}
