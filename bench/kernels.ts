// Times the wasm backend's stock gradient kernels against the formulations registered by
// src/engine/wasm-gradients.ts, on LeNet-5's layers at batch 128. One JSON object per line:
//   {"layer":"conv2","grad":"input","impl":"stock","kernel":"Conv2DBackpropInput","ms":…}
// Run: node --import tsx bench/kernels.ts [--batch 128] [--seconds 0.5]
// `ms` is the median time of one call, `minMs` the fastest (less sensitive to other load on the
// machine); "stock" conv filter gradients do not exist on wasm (ms null). The last rows time whole
// LeNet-5 steps: an input-gradient step with the stock and the registered gradients, and a
// training step (registered only: the stock one cannot run on wasm).
import { parseArgs } from "node:util";
import { tf } from "../src/engine/tf.js";
import { initBackend } from "../src/engine/backend.js";
import { createModel } from "../src/engine/models.js";
import { CONV_FILTER_GRAD } from "../src/engine/wasm-filter-grad.js";
import {
  conv2dFilterGradient,
  conv2dInputGradient,
  matMulPlain,
  maxPoolInputGradient,
  registerWasmGradients,
  unregisterWasmGradients,
} from "../src/engine/wasm-gradients.js";

const { values } = parseArgs({
  options: { batch: { type: "string", default: "128" }, seconds: { type: "string", default: "0.5" } },
});
const batch = Number(values.batch);
const seconds = Number(values.seconds);

const info = await initBackend("wasm");
const round = (ms: number): number => Math.round(ms * 100) / 100;

function time(fn: () => tf.Tensor): { ms: number; minMs: number } {
  const run = (): number => {
    const t0 = performance.now();
    const out = fn();
    out.dataSync();
    const ms = performance.now() - t0;
    out.dispose();
    return ms;
  };
  run();
  const samples: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (samples.length < 3 || (performance.now() < until && samples.length < 200)) samples.push(run());
  samples.sort((a, b) => a - b);
  return { ms: round(samples[Math.floor(samples.length / 2)] ?? NaN), minMs: round(samples[0] ?? NaN) };
}

function emit(row: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ backend: info.name, batch, ...row }) + "\n");
}


interface ConvCase {
  layer: string;
  x: [number, number, number, number];
  k: number;
  cout: number;
  pad: "same" | "valid";
}
const convs: ConvCase[] = [
  { layer: "conv1", x: [batch, 28, 28, 1], k: 5, cout: 6, pad: "same" },
  { layer: "conv2", x: [batch, 14, 14, 6], k: 5, cout: 16, pad: "valid" },
];

for (const c of convs) {
  const x = tf.randomNormal(c.x, 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([c.k, c.k, c.x[3], c.cout], 0, 1, "float32", 2) as tf.Tensor4D;
  const y = tf.conv2d(x, w, 1, c.pad);
  const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3) as tf.Tensor4D;
  const attrs: tf.Conv2DAttrs = { strides: 1, pad: c.pad, dataFormat: "NHWC", dilations: 1 };
  emit({ layer: c.layer, grad: "forward", impl: "stock", kernel: "Conv2D", ...time(() => tf.conv2d(x, w, 1, c.pad)) });
  emit({
    layer: c.layer,
    grad: "input",
    impl: "stock",
    kernel: "Conv2DBackpropInput",
    ...time(() => tf.conv2dTranspose(dy, w, c.x, 1, c.pad)),
  });
  // Both layers are stride 1: the registered input gradient is a GEMM plus a col2im scatter-add,
  // and the filter gradient the direct SIMD kernel (wasm-filter-grad.ts). Caveat: dy and w are the same tensors on
  // every repetition, and tfjs-wasm's matMul keeps XNNPACK's packing of its second operand per
  // tensor, so a matMul route's re-packing (paid every training step, on fresh tensors) is not
  // timed here; bench/train-profile.ts --kernels times it in situ.
  emit({ layer: c.layer, grad: "input", impl: "registered", kernel: "BatchMatMul+AdvisorCol2Im", ...time(() => tf.tidy(() => conv2dInputGradient(c.x, dy, w, attrs))) });
  emit({ layer: c.layer, grad: "filter", impl: "stock", kernel: "Conv2DBackpropFilter", ms: null, note: "not registered for wasm" });
  emit({
    layer: c.layer,
    grad: "filter",
    impl: "registered",
    kernel: CONV_FILTER_GRAD,
    ...time(() => tf.tidy(() => conv2dFilterGradient(x, dy, w.shape, attrs))),
  });
  tf.dispose([x, w, y, dy]);
}

const pools: Array<{ layer: string; x: [number, number, number, number] }> = [
  { layer: "pool1", x: [batch, 28, 28, 6] },
  { layer: "pool2", x: [batch, 10, 10, 16] },
];
for (const p of pools) {
  const x = tf.randomNormal(p.x, 0, 1, "float32", 4) as tf.Tensor4D;
  const y = tf.maxPool(x, 2, 2, "valid");
  const dy = tf.randomNormal(y.shape, 0, 1, "float32", 5) as tf.Tensor4D;
  const stock = (): tf.Tensor =>
    tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: "valid" }) as tf.Tensor;
  emit({ layer: p.layer, grad: "input", impl: "stock", kernel: "MaxPoolGrad", ...time(stock) });
  emit({ layer: p.layer, grad: "input", impl: "registered", kernel: "AdvisorMaxPoolGrad", ...time(() => tf.tidy(() => maxPoolInputGradient(x, dy, { filterSize: 2, strides: 2, pad: "valid" }))) });
  tf.dispose([x, y, dy]);
}

{
  // fc1 (400 -> 120): dx = dy·Wᵀ and dW = xᵀ·dy.
  const x = tf.randomNormal([batch, 400], 0, 1, "float32", 8);
  const w = tf.randomNormal([400, 120], 0, 1, "float32", 9);
  const dy = tf.randomNormal([batch, 120], 0, 1, "float32", 10);
  emit({ layer: "fc1", grad: "input", impl: "stock", kernel: "BatchMatMul(transposeB)", ...time(() => tf.matMul(dy, w, false, true)) });
  emit({ layer: "fc1", grad: "input", impl: "registered", kernel: "Transpose+BatchMatMul", ...time(() => tf.tidy(() => matMulPlain(dy, w, false, true))) });
  emit({ layer: "fc1", grad: "filter", impl: "stock", kernel: "BatchMatMul(transposeA)", ...time(() => tf.matMul(x, dy, true, false)) });
  emit({ layer: "fc1", grad: "filter", impl: "registered", kernel: "Transpose+BatchMatMul", ...time(() => tf.tidy(() => matMulPlain(x, dy, true, false))) });
  tf.dispose([x, w, dy]);
}

{
  const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 6);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32", 7), 10);
  const loss = (input: tf.Tensor): tf.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(input) as tf.Tensor) as tf.Scalar;
  const inputGrad = tf.grad(loss);
  unregisterWasmGradients();
  emit({ layer: "lenet5", grad: "input-gradient step", impl: "stock", ...time(() => inputGrad(x)) });
  registerWasmGradients();
  emit({ layer: "lenet5", grad: "input-gradient step", impl: "registered", ...time(() => inputGrad(x)) });
  const optimizer = tf.train.sgd(0.01);
  emit({
    layer: "lenet5",
    grad: "train step",
    impl: "registered",
    ...time(() => optimizer.minimize(() => loss(x), true) ?? tf.scalar(0)),
  });
  optimizer.dispose();
  tf.dispose([x, y]);
  model.dispose();
}
