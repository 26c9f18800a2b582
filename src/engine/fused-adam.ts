// tfjs's Adam update, one kernel per variable on the wasm backend.
//
// AdamOptimizer.applyGradients runs about fourteen kernels per variable (moments, bias
// corrections, square root, update), each a pass over the variable plus a dispatch: 1.9 ms of a
// ~24 ms LeNet-5 step and 3.1 ms of a ~9 ms LeNet-300-100 step. `applyGradients` here does the
// same update with one SIMD kernel per variable (wasm-heap-kernels.ts, ADAM_STEP), in tfjs's
// operation order with float32 rounding at every step, so the weights and moments it produces are
// bit-identical to tfjs's own (test/engine/fused-adam.test.ts). It keeps the optimizer's state in
// the optimizer itself — the moment variables, accBeta1/accBeta2, the iteration count — so the
// optimizer can be used, saved or disposed as usual afterwards. Any other optimizer or backend
// goes through optimizer.applyGradients.
import { tf } from "./tf.js";
import { ADAM_STEP, type AdamStepAttrs } from "./wasm-heap-kernels.js";

/** The AdamOptimizer fields used here (protected in tfjs's typings; tfjs 4.x). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  incrementIterations(): void;
}

function isAdamState(o: unknown): o is AdamState {
  const a = o as Partial<AdamState>;
  return (
    typeof a.learningRate === "number" && typeof a.beta1 === "number" && typeof a.beta2 === "number" && typeof a.epsilon === "number" &&
    a.accBeta1 instanceof tf.Variable && a.accBeta2 instanceof tf.Variable &&
    Array.isArray(a.accumulatedFirstMoment) && Array.isArray(a.accumulatedSecondMoment) && typeof a.incrementIterations === "function"
  );
}

/** optimizer.applyGradients(grads), with Adam on wasm fused into one kernel per variable. */
export function applyGradients(optimizer: tf.Optimizer, grads: Array<{ name: string; tensor: tf.Tensor }>): void {
  if (!(optimizer instanceof tf.AdamOptimizer) || tf.getBackend() !== "wasm" || tf.getKernel(ADAM_STEP, "wasm") === undefined || !isAdamState(optimizer)) {
    optimizer.applyGradients(grads);
    return;
  }
  const s: AdamState = optimizer;
  tf.tidy(() => {
    // As tfjs: sub(1, accBeta) on float32 tensors, then the moments and the update.
    const f = Math.fround;
    const c1 = f(1 - s.accBeta1.dataSync()[0]!);
    const c2 = f(1 - s.accBeta2.dataSync()[0]!);
    const attrs: AdamStepAttrs = {
      beta1: s.beta1,
      oneMinusBeta1: 1 - s.beta1,
      beta2: s.beta2,
      oneMinusBeta2: 1 - s.beta2,
      c1,
      c2,
      epsilon: s.epsilon,
      negLearningRate: -s.learningRate,
    };
    grads.forEach(({ name, tensor }, i) => {
      const value = tf.engine().registeredVariables[name];
      if (value === undefined) throw new Error(`applyGradients: no variable named ${name}`);
      s.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      s.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const m = s.accumulatedFirstMoment[i].variable;
      const v = s.accumulatedSecondMoment[i].variable;
      const [w2, m2, v2] = tf.engine().runKernel(ADAM_STEP, { w: value, m, v, g: tensor }, { ...attrs }) as tf.Tensor[];
      m.assign(m2!);
      v.assign(v2!);
      value.assign(w2!);
    });
    s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
    s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
  });
  s.incrementIterations();
}
