// What the wasm-versus-cpu kernel tests share (test/engine/conv-gradient.test.ts,
// test/engine/wasm-conv-kernels.test.ts): run the same computation on the cpu backend, compare
// arrays with a relative tolerance, and one SGD step of a model whose loss, gradients and
// updated loss are compared across the two backends.
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";

type Arr = Float32Array;

/** Runs fn on the cpu backend and comes back to wasm. */
export async function onCpu<T>(fn: () => Promise<T>): Promise<T> {
  await tf.setBackend("cpu");
  try {
    return await fn();
  } finally {
    await tf.setBackend("wasm");
  }
}

/** Every element within tol · max(1, max |expected|) of the reference, and all finite. */
export function assertClose(actual: Arr, expected: Arr, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i] ?? 0));
    maxDiff = Math.max(maxDiff, Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN)));
  }
  assert.ok(Number.isFinite(maxDiff), `${what}: non-finite values`);
  assert.ok(maxDiff <= tol * Math.max(1, maxRef), `${what}: max abs diff ${maxDiff} (max |ref| ${maxRef})`);
}

export interface SgdStep {
  /** The weights the model started from (pass them to the other backend's run). */
  weights: Arr[];
  loss0: number;
  loss1: number;
  grads: Arr[];
}

/**
 * One SGD step of softmax cross-entropy on a fresh model from `makeModel` (its weights replaced
 * by `weights` when given): the loss before, every trainable weight's gradient, the loss after.
 * `training` is passed to model.apply when given (batch normalisation), else apply's default.
 */
export async function sgdStep(
  makeModel: () => LayersModel,
  input: { xs: Arr; shape: [number, number, number, number]; labels: number[]; classes: number },
  o: { learningRate: number; training?: boolean },
  weights?: Arr[],
): Promise<SgdStep> {
  const model = makeModel();
  if (weights !== undefined) model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape)));
  const initial = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Arr));
  const x = tf.tensor4d(input.xs, input.shape);
  const y = tf.oneHot(tf.tensor1d(input.labels, "int32"), input.classes);
  const logits = (): tf.Tensor => (o.training === undefined ? model.apply(x) : model.apply(x, { training: o.training })) as tf.Tensor;
  const lossFn = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, logits()) as tf.Scalar;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const loss0 = (await value.data())[0]!;
  const gradArrays = await Promise.all(vars.map(async (v) => (await grads[v.name]!.data()) as Arr));
  tf.train.sgd(o.learningRate).applyGradients(grads);
  const after = tf.tidy(lossFn);
  const loss1 = (await after.data())[0]!;
  tf.dispose([x, y, value, after, ...Object.values(grads)]);
  model.dispose();
  return { weights: initial, loss0, loss1, grads: gradArrays };
}
