// The attacks' passes — logits (forward), a cross-entropy input gradient through tf.grad (as APGD
// and C&W take it) and lossGradient (as PGD, FMN and the greedy L0 attack take it) — on TF.js
// (wasm) and through onnxruntime (src/engine/onnx/), per zoo model and batch size. Prints µs per
// row and the ratio: what an evaluation cell's query and gradient attacks gain.
// Usage: node --import tsx bench/onnx-passes.ts [modelDir ...]   (default: the zoo's three models)
import { initBackend } from "../src/engine/backend.js";
import { loadModel } from "../src/engine/model-io.js";
import { tf, type LayersModel } from "../src/engine/tf.js";
import { lossGradient, sampleLoss } from "../src/engine/attacks/gradients.js";
import { applyModel, compileModel } from "../src/engine/onnx/compiled.js";

const dirs = process.argv.slice(2);
const models = dirs.length > 0 ? dirs : ["lenet300", "lenet5", "convnet"].map((a) => `db/models/${a}-fashion-mnist-s1`);
await initBackend();

function timed(fn: () => void, rows: number): number {
  fn();
  const reps = Math.max(5, Math.round(2000 / rows));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

function measure(model: LayersModel, apply: (x: tf.Tensor4D) => tf.Tensor2D, n: number): { fwd: number; grad: number; loss: number } {
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as [number, number, number];
  const x = tf.randomUniform([n, h, w, c], 0, 1, "float32", 1) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 10), "int32");
  const fwd = timed(() => tf.tidy(() => void apply(x).dataSync()), n);
  const grad = timed(() => tf.tidy(() => void tf.grad((xi: tf.Tensor) => tf.sum(sampleLoss(apply(xi as tf.Tensor4D), y, "ce")))(x).dataSync()), n);
  const loss = timed(() => tf.tidy(() => void lossGradient(model, x, y, "ce").grad.dataSync()), n);
  x.dispose();
  y.dispose();
  return { fwd, grad, loss };
}

const perRow = (ms: number, n: number): string => ((ms / n) * 1000).toFixed(0).padStart(4);
const pair = (label: string, a: number, b: number, n: number): string => `${label} ${perRow(a, n)} → ${perRow(b, n)} µs/row ×${(a / b).toFixed(2)}`;
for (const dir of models) {
  const { model } = await loadModel(dir);
  console.log(`== ${dir} (TF.js → onnxruntime)`);
  for (const n of [10, 100, 500]) {
    const tfjs = measure(model, (x) => model.apply(x, { training: false }) as tf.Tensor2D, n);
    const { engine, release } = compileModel(model);
    if (engine.name !== "onnxruntime") throw new Error(`not compiled: ${engine.detail}`);
    const ort = measure(model, (x) => applyModel(model, x), n);
    release();
    console.log(`  n=${String(n).padStart(3)}  ${pair("forward", tfjs.fwd, ort.fwd, n)} | ${pair("tf.grad", tfjs.grad, ort.grad, n)} | ${pair("lossGradient", tfjs.loss, ort.loss, n)}`);
  }
}
