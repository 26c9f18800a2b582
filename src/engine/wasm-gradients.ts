// Gradients for the wasm backend, written as forward convolutions and matrix products.
//
// The wasm backend has no `Conv2DBackpropFilter` kernel (so conv nets cannot train on it out of
// the box), its `Conv2DBackpropInput` runs at about a quarter of the speed of its forward
// `Conv2D`, and its `MaxPoolGrad` is slow and drops the gradient of windows whose maximum is
// negative (see maxPoolInputGradient). The convolution gradients can be expressed with kernels
// wasm does well (XNNPACK's Conv2D, transpose, pad) and the max-pool gradient is one pass over
// the heap (wasm-heap-kernels.ts), so `registerWasmGradients()` overrides the gradient configs of
// `Conv2D` and `MaxPool` in tfjs's (global) gradient registry. Where XNNPACK handles the
// forward-convolution form poorly — stride-1 input gradients (few output channels, half the
// multiply-adds on zero padding) and single-channel filter gradients — the gradient is one GEMM
// with an im2col gather or col2im scatter-add done by SIMD loops (wasm-simd.ts).
// It also overrides `BatchMatMul`'s: wasm's BatchMatMul is 7-10x slower with a transposed
// operand than without (dense layers' backward pass), so the transposes are materialised first.
//
// The registry is global, so the registered functions only take the new route while the active
// backend is "wasm" and the attributes are ones handled here (NHWC, dilation 1); otherwise they
// call the stock gradient captured at registration time, so cpu and tfjs-node results are
// exactly those of tfjs itself.
//
// `fused.conv2d` with a *linear* activation (a conv layer without activation, as before batch
// normalisation in ResNet-8 and VGG-11) computes its gradient in a closure that calls the
// `Conv2DBackpropInput` and `Conv2DBackpropFilter` kernels directly, past the registry: so the
// same forward convolutions are also registered as those two wasm kernels (registerConvKernels;
// wasm has no filter-gradient kernel at all). That closure computes the filter gradient even when
// only the input's is wanted (attacks): slower, not wrong.
// Not covered: `fused.matMul` with a linear activation keeps tfjs's transposed matMuls (only
// slow); depthwise convolutions have no backprop kernels on wasm.
import { tf } from "./tf.js";
import { CONV_FILTER_GRAD, filterGradAvailable, registerFilterGrad, type FilterGradAttrs } from "./wasm-filter-grad.js";
import { COL2IM, MAX_POOL_GRAD, col2imAvailable, registerHeapKernels, type Col2ImAttrs } from "./wasm-heap-kernels.js";

type Tensor = tf.Tensor;
type Tensor4D = tf.Tensor4D;

/** The backend for which the registered gradients take the convolution route. */
const TARGET_BACKEND = "wasm";

let stockConv2D: tf.GradConfig | undefined;
let stockMaxPool: tf.GradConfig | undefined;
let stockBatchMatMul: tf.GradConfig | undefined;
let stockBatchNorm: tf.GradConfig | undefined;

function pair(v: number | [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : v;
}

function isOnes(v: number | [number, number] | undefined): boolean {
  if (v === undefined) return true;
  const [a, b] = pair(v);
  return a === 1 && b === 1;
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor.
 * `h` and `w` are [before, after].
 */
export function padOrCrop(x: Tensor4D, h: [number, number], w: [number, number], value = 0): Tensor4D {
  const [n, height, width, c] = x.shape;
  let y = x;
  const pads: Array<[number, number]> = [
    [0, 0],
    [Math.max(0, h[0]), Math.max(0, h[1])],
    [Math.max(0, w[0]), Math.max(0, w[1])],
    [0, 0],
  ];
  if (pads.some(([a, b]) => a > 0 || b > 0)) y = tf.pad(y, pads, value);
  const cropTop = Math.max(0, -h[0]);
  const cropLeft = Math.max(0, -w[0]);
  const outH = height + h[0] + h[1];
  const outW = width + w[0] + w[1];
  if (outH <= 0 || outW <= 0) throw new Error(`padOrCrop: empty result (${outH}x${outW})`);
  if (cropTop > 0 || cropLeft > 0 || h[1] < 0 || w[1] < 0) {
    y = tf.slice(y, [0, cropTop, cropLeft, 0], [n, outH, outW, c]);
  }
  return y;
}

type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/**
 * A stride-1 "valid" conv2d of x padded (positive amounts) or cropped (negative amounts) on its
 * spatial axes by h = [before, after] and w = [before, after]. The padding is passed to the conv
 * kernel as explicit padding rather than materialised with tf.pad, which is slow on wasm.
 */
function convPadded(x: Tensor4D, filter: Tensor4D, h: [number, number], w: [number, number], dilations: [number, number]): Tensor4D {
  const cropped = padOrCrop(x, [Math.min(0, h[0]), Math.min(0, h[1])], [Math.min(0, w[0]), Math.min(0, w[1])]);
  const pad: Explicit = [
    [0, 0],
    [Math.max(0, h[0]), Math.max(0, h[1])],
    [Math.max(0, w[0]), Math.max(0, w[1])],
    [0, 0],
  ];
  const anyPad = pad.some(([a, b]) => a > 0 || b > 0);
  return tf.conv2d(cropped, filter, 1, anyPad ? pad : "valid", "NHWC", dilations);
}

/** Inserts `sh - 1` zero rows after every row and `sw - 1` zero columns after every column. */
function dilate(x: Tensor4D, sh: number, sw: number): Tensor4D {
  const [n, h, w, c] = x.shape;
  let y: Tensor4D = x;
  if (sh > 1) {
    const t = tf.pad(tf.reshape(y, [n, h, 1, w * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
    y = tf.reshape(t, [n, h * sh, w, c]);
  }
  if (sw > 1) {
    const t = tf.pad(tf.reshape(y, [n * h * sh, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
    y = tf.reshape(t, [n, h * sh, w * sw, c]);
  }
  return y;
}

interface ConvGeometry {
  /** Input height/width. */
  inH: number;
  inW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Output height/width (that of dy). */
  outH: number;
  outW: number;
  /** Padding the forward pass applied before the first row / column. */
  top: number;
  left: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: tf.Conv2DAttrs): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return {
    inH: info.inHeight,
    inW: info.inWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * dL/dW of y = conv2d(x, W) as one forward convolution: the padded input, batch and channel axes
 * swapped ([Cin, H, W, N]), convolved (valid, dilation = forward stride) with the output gradient
 * laid out as a kernel ([Ho, Wo, N, Cout]) gives [Cin, KH, KW, Cout].
 */
export function conv2dFilterGradient(x: Tensor4D, dy: Tensor4D, filterShape: number[], attrs: tf.Conv2DAttrs): Tensor4D {
  const g = geometry(x.shape, filterShape, attrs);
  if (g.sh === 1 && g.sw === 1 && filterGradAvailable()) {
    const [n, , , ci] = x.shape;
    const [kh, kw, , co] = filterShape as [number, number, number, number];
    const a: FilterGradAttrs = { n, inH: g.inH, inW: g.inW, ci, oh: g.outH, ow: g.outW, kh, kw, co, top: g.top, left: g.left };
    return tf.engine().runKernel(CONV_FILTER_GRAD, { x, dy }, { ...a }) as Tensor4D;
  }
  // Strided convolutions, and any backend without wasm SIMD: one forward convolution.
  // Exactly the rows/columns the forward pass read: padding at the start, and at the end either
  // padding ("same") or dropping the rows a strided "valid" conv never reached.
  const needH = (g.outH - 1) * g.sh + g.kh;
  const needW = (g.outW - 1) * g.sw + g.kw;
  const xt = tf.transpose(x, [3, 1, 2, 0]);
  const dyt = tf.transpose(dy, [1, 2, 0, 3]);
  const h: [number, number] = [g.top, needH - g.inH - g.top];
  const w: [number, number] = [g.left, needW - g.inW - g.left];
  const out = convPadded(xt, dyt, h, w, [g.sh, g.sw]); // [Cin, KH, KW, Cout]
  return tf.transpose(out, [1, 2, 0, 3]);
}

/**
 * dL/dx of y = conv2d(x, W) as one forward convolution: the output gradient, dilated by the
 * stride and padded by (kernel - 1 - forward padding), convolved (valid, stride 1) with the
 * kernel flipped spatially and its in/out channel axes swapped.
 */
export function conv2dInputGradient(xShape: number[], dy: Tensor4D, filter: Tensor4D, attrs: tf.Conv2DAttrs): Tensor4D {
  const g = geometry(xShape, filter.shape, attrs);
  if (g.sh === 1 && g.sw === 1 && useCol2Im(xShape[0]!, g, filter.shape) && col2imAvailable()) return conv2dInputGradientCol2Im(xShape, dy, filter, g);
  const d = dilate(dy, g.sh, g.sw); // [N, Ho*sh, Wo*sw, Cout]; trailing zeros cropped below
  const beforeH = g.kh - 1 - g.top;
  const beforeW = g.kw - 1 - g.left;
  // The padded gradient must be exactly inH + kh - 1 rows so the valid conv yields inH rows.
  const afterH = g.inH + g.kh - 1 - beforeH - d.shape[1];
  const afterW = g.inW + g.kw - 1 - beforeW - d.shape[2];
  const wf = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
  return convPadded(d, wf, [beforeH, afterH], [beforeW, afterW], [1, 1]);
}

/**
 * Whether the matrix-product route is taken: its im2col columns, n·outH·outW × kh·kw·cin floats,
 * are held in memory at once, so big layers (VGG-11's first convolutions at batch 128 would need
 * 300 MB) keep the forward-convolution route.
 */
function useCol2Im(n: number, g: ConvGeometry, filterShape: number[]): boolean {
  const [kh, kw, cin] = filterShape as [number, number, number, number];
  return n * g.outH * g.outW * kh * kw * cin <= COL2IM_MAX_FLOATS;
}
const COL2IM_MAX_FLOATS = 2 ** 23;

/**
 * dL/dx of a stride-1 convolution as a matrix product and a scatter-add: the im2col columns
 * dy[(n, h, w), cout] · W[(i, j, cin), cout]ᵀ, added back onto the input positions they came from
 * (wasm-heap-kernels.ts, COL2IM). The forward-convolution route convolves the output gradient
 * padded by kernel − 1 on every side — for LeNet-5's conv2 twice the multiply-adds, into only
 * 6 (conv1: 1) output channels, which XNNPACK handles poorly; this route does the exact
 * multiply-adds in one GEMM. CPU time at batch 128 (load ~7): conv2 5.4 -> 2.9 ms, conv1 (an
 * attack's input gradient) 8.0 -> 3.4 ms.
 */
function conv2dInputGradientCol2Im(xShape: number[], dy: Tensor4D, filter: Tensor4D, g: ConvGeometry): Tensor4D {
  const [n, , , cin] = xShape as [number, number, number, number];
  const [kh, kw, , cout] = filter.shape;
  const cols = tf.matMul(tf.reshape(dy, [n * g.outH * g.outW, cout]), tf.transpose(tf.reshape(filter, [kh * kw * cin, cout])));
  const attrs: Col2ImAttrs = { n, inH: g.inH, inW: g.inW, ci: cin, oh: g.outH, ow: g.outW, kh, kw, top: g.top, left: g.left };
  return tf.engine().runKernel(COL2IM, { cols }, { ...attrs }) as Tensor4D;
}

/**
 * dL/dx of y = maxPool(x): the gradient of each window goes to its first maximum in row-major
 * order, as on the cpu backend and in TensorFlow; padding never wins. One pass over the wasm
 * heap (wasm-heap-kernels.ts), on the wasm backend only.
 *
 * wasm's own MaxPoolGrad is not used at all: besides being slow, it gives ties to the *last*
 * maximum and drops the gradient of every window whose maximum is negative (tfjs 4.22; it looks
 * like a FLT_MIN-initialised maximum), which also breaks "same" padding at the borders.
 */
export function maxPoolInputGradient(x: Tensor4D, dy: Tensor4D, attrs: tf.MaxPoolAttrs): Tensor4D {
  return tf.engine().runKernel(MAX_POOL_GRAD, { x, dy }, { ...attrs }) as Tensor4D;
}

function convHandled(attrs: tf.Conv2DAttrs, x: Tensor, dy: Tensor): boolean {
  return (
    tf.getBackend() === TARGET_BACKEND &&
    (attrs.dataFormat ?? "NHWC") === "NHWC" &&
    isOnes(attrs.dilations) &&
    x.rank === 4 &&
    dy.rank === 4
  );
}

function poolHandled(x: Tensor): boolean {
  return tf.getBackend() === TARGET_BACKEND && x.rank === 4;
}

/** Swaps the last two axes. */
function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/** matMul with the transposes done by a Transpose kernel, not inside wasm's BatchMatMul. */
export function matMulPlain(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
  return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
}

function single(dy: Tensor | Tensor[]): Tensor {
  if (Array.isArray(dy)) throw new Error("expected one output gradient");
  return dy;
}

/**
 * Runs `fn` on kernel inputs as tensors and returns its result as the kernel's output. The inputs
 * are wrapped without a copy (their data gains a reference the wrappers' disposal takes back);
 * the result's data gains a reference before the result is disposed, which the output tensor the
 * engine makes from it then owns. tfjs ops run here record no tape (the engine is inside a kernel).
 */
function asKernel(backend: tf.KernelBackend, inputs: tf.TensorInfo[], fn: (...xs: Tensor4D[]) => Tensor): tf.TensorInfo {
  const engine = tf.engine();
  const result = tf.tidy(() => {
    const wrapped = inputs.map((t) => {
      backend.incRef(t.dataId);
      return engine.makeTensorFromTensorInfo(t, backend) as Tensor4D;
    });
    return fn(...wrapped);
  });
  backend.incRef(result.dataId);
  const out: tf.TensorInfo = { dataId: result.dataId, shape: result.shape, dtype: result.dtype };
  result.dispose();
  return out;
}

let stockBackpropInput: tf.KernelConfig | undefined;

/**
 * The convolution backprop kernels as forward convolutions on wasm. `Conv2DBackpropFilter` is
 * missing there; `Conv2DBackpropInput` exists but is about 4x slower than the forward route.
 * Both are reached past the gradient registry by tfjs's fused conv2d with a linear activation
 * (see the file comment). NCHW input gradients keep the stock kernel; NCHW filter gradients are
 * refused (wasm's convolutions are NHWC only).
 */
function registerConvKernels(): void {
  if (tf.getKernel(tf.Conv2DBackpropFilter, TARGET_BACKEND) === undefined) {
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: TARGET_BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
        const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
        if (a.dataFormat === "NCHW") throw new Error("Conv2DBackpropFilter on wasm: only NHWC is supported");
        const conv: tf.Conv2DAttrs = { strides: a.strides, pad: a.pad, dataFormat: "NHWC", dilations: 1, dimRoundingMode: a.dimRoundingMode };
        return asKernel(backend as tf.KernelBackend, [x, dy], (xt, dyt) => conv2dFilterGradient(xt!, dyt!, a.filterShape, conv));
      },
    });
  }
  if (stockBackpropInput !== undefined) return;
  const stock = tf.getKernel(tf.Conv2DBackpropInput, TARGET_BACKEND);
  if (stock === undefined) return; // the wasm backend is not loaded: nothing to speed up
  stockBackpropInput = stock;
  tf.unregisterKernel(tf.Conv2DBackpropInput, TARGET_BACKEND);
  tf.registerKernel({
    kernelName: tf.Conv2DBackpropInput,
    backendName: TARGET_BACKEND,
    kernelFunc: (args) => {
      const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
      if (a.dataFormat === "NCHW") return stock.kernelFunc(args);
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const conv: tf.Conv2DAttrs = { strides: a.strides, pad: a.pad, dataFormat: "NHWC", dilations: 1, dimRoundingMode: a.dimRoundingMode };
      return asKernel(args.backend as tf.KernelBackend, [dy, filter], (dyt, ft) => conv2dInputGradient([...a.inputShape], dyt!, ft!, conv));
    },
  });
}

/**
 * Overrides the `Conv2D`, `MaxPool` and `BatchMatMul` gradients and adds the missing
 * `Conv2DBackpropFilter` kernel (see the file comment). Idempotent. Call it when the wasm
 * backend is selected; the overrides are inert on other backends.
 */
export function registerWasmGradients(): void {
  registerConvKernels();
  registerHeapKernels();
  registerFilterGrad();
  if (stockConv2D !== undefined) return;
  const conv = tf.getGradient(tf.Conv2D);
  const pool = tf.getGradient(tf.MaxPool);
  const matMul = tf.getGradient(tf.BatchMatMul);
  const batchNorm = tf.getGradient(tf.FusedBatchNorm);
  if (conv === undefined || pool === undefined || matMul === undefined || batchNorm === undefined) {
    throw new Error("tfjs gradient registry has no Conv2D/MaxPool/BatchMatMul/FusedBatchNorm gradient");
  }
  stockConv2D = conv;
  stockMaxPool = pool;
  stockBatchMatMul = matMul;
  stockBatchNorm = batchNorm;

  // tfjs's own gradient, except that dL/dx broadcasts the per-channel factor instead of tiling it
  // to the input's shape first (Tile was a sixth of a ResNet-8 training step on wasm).
  tf.registerGradient({
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ["x", "mean", "variance", "scale"],
    gradFunc: (dy, saved, rawAttrs) => {
      const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
      const g = single(dy);
      const stock = batchNorm.gradFunc(dy, saved, rawAttrs);
      if (tf.getBackend() !== TARGET_BACKEND || mean.rank !== 1 || x.shape[x.rank - 1] !== mean.shape[0]) return stock;
      const { varianceEpsilon } = rawAttrs as unknown as tf.FusedBatchNormAttrs;
      return {
        ...stock,
        x: () => {
          const factor = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
          return tf.mul(g, scale === undefined ? factor : tf.mul(factor, scale));
        },
      };
    },
  });

  tf.registerGradient({
    kernelName: tf.Conv2D,
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, rawAttrs) => {
      const attrs = rawAttrs as unknown as tf.Conv2DAttrs;
      const [x, filter] = saved as [Tensor4D, Tensor4D];
      const g = single(dy);
      if (!convHandled(attrs, x, g)) return conv.gradFunc(dy, saved, rawAttrs);
      const dy4 = g as Tensor4D;
      return {
        x: () => conv2dInputGradient(x.shape, dy4, filter, attrs),
        filter: () => conv2dFilterGradient(x, dy4, filter.shape, attrs),
      };
    },
  });

  tf.registerGradient({
    kernelName: tf.MaxPool,
    inputsToSave: ["x"],
    outputsToSave: [true],
    gradFunc: (dy, saved, rawAttrs) => {
      const attrs = rawAttrs as unknown as tf.MaxPoolAttrs;
      const [x] = saved as [Tensor4D];
      if (!poolHandled(x)) return pool.gradFunc(dy, saved, rawAttrs);
      const g = single(dy) as Tensor4D;
      return { x: () => maxPoolInputGradient(x, g, attrs) };
    },
  });

  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved, rawAttrs) => {
      if (tf.getBackend() !== TARGET_BACKEND) return matMul.gradFunc(dy, saved, rawAttrs);
      const { transposeA, transposeB } = rawAttrs as unknown as tf.BatchMatMulAttrs;
      const [a, b] = saved as [Tensor, Tensor];
      const g = single(dy);
      // The same four cases as tfjs's own gradient, with plain matMuls.
      if (!transposeA && !transposeB) return { a: () => matMulPlain(g, b, false, true), b: () => matMulPlain(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => matMulPlain(g, b, false, false), b: () => matMulPlain(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => matMulPlain(b, g, false, true), b: () => matMulPlain(a, g, false, false) };
      return { a: () => matMulPlain(b, g, true, true), b: () => matMulPlain(g, a, true, true) };
    },
  });
}

/** Puts tfjs's own gradients back (for benchmarks comparing the two). */
export function unregisterWasmGradients(): void {
  if (stockConv2D === undefined || stockMaxPool === undefined || stockBatchMatMul === undefined) return;
  tf.registerGradient(stockConv2D);
  tf.registerGradient(stockMaxPool);
  tf.registerGradient(stockBatchMatMul);
  if (stockBatchNorm !== undefined) tf.registerGradient(stockBatchNorm);
  stockBatchNorm = undefined;
  if (stockBackpropInput !== undefined) {
    tf.unregisterKernel(tf.Conv2DBackpropInput, TARGET_BACKEND);
    tf.registerKernel(stockBackpropInput);
    stockBackpropInput = undefined;
  }
  stockConv2D = undefined;
  stockMaxPool = undefined;
  stockBatchMatMul = undefined;
}

export function wasmGradientsRegistered(): boolean {
  return stockConv2D !== undefined;
}
