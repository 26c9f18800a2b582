// Known-answer models for the indicators of attack failure (src/engine/evaluation/indicators.ts):
// a linear classifier behind a quantiser (round(4x)/4, whose input gradient is exactly 0
// everywhere), linear classifiers with pruned classifier columns, and sample sets labelled by a
// model's own predictions (so every sample is clean-correct).
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { mulberry32 } from "../../src/engine/random.js";
import type { SampleSet } from "../../src/engine/evaluation/robustness.js";
import { D, H, linearModel, randomLinear, W, type Linear } from "./linear-attack-models.js";

/** Rounds inputs to steps of 1/4: tf.round's gradient is 0, so no gradient reaches the input. */
export class Quantise extends tf.layers.Layer {
  static className = "Quantise";
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.div(tf.round(tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 4)), 4));
  }
}

/** `inner` (inputs [H, W, 1]) behind the quantiser. */
export function quantised(inner: LayersModel): LayersModel {
  const input = tf.input({ shape: [H, W, 1] });
  return tf.model({ inputs: input, outputs: inner.apply(new Quantise({}).apply(input)) as tf.SymbolicTensor });
}

/** A random linear classifier whose classifier column `dead` is pruned to zero (its logit is its bias). */
export function linearWithDeadColumn(classes: number, dead: number, seed: number): Linear {
  const m = randomLinear(classes, seed);
  m.model.dispose();
  const w = m.w.map((row) => Float64Array.from(row, (v, k) => (k === dead ? 0 : v)));
  return linearModel(w, m.b);
}

/** n images with pixels uniform in 0.5 ± 0.2, labelled by `model`'s predictions (all clean-correct for it). */
export function labelledBy(model: LayersModel, n: number, seed: number): SampleSet {
  const rng = mulberry32(seed);
  const x = Float32Array.from({ length: n * D }, () => 0.5 + (rng() * 2 - 1) * 0.2);
  const labels = tf.tidy(() => Array.from(tf.argMax(model.predict(tf.tensor4d(x, [n, H, W, 1])) as tf.Tensor2D, 1).dataSync()));
  return { x, labels, indices: Array.from({ length: n }, (_, i) => i), shape: [H, W, 1] };
}
