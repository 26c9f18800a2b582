// The one place where success is decided: distances and box membership are measured here on
// the proposed inputs, and the target model (or the black-box predict function) labels them.
import { tf } from "../tf.js";
import type { Norm, PredictFn } from "./types.js";

/** Distance tolerance for float round-off (L2, L∞). L0 counts features that changed at all. */
export const DISTANCE_TOLERANCE = 1e-5;
/** A feature counts as changed in L0 when it moved by more than this. */
export const L0_CHANGE_THRESHOLD = 1e-7;

/** Per-sample distance ||adv − x|| under `norm`, as a plain array. */
export function distances(x: tf.Tensor4D, adv: tf.Tensor4D, norm: Norm): Float32Array {
  return tf.tidy(() => {
    const d = tf.sub(adv, x).reshape([x.shape[0], -1]);
    let out: tf.Tensor;
    switch (norm) {
      case "linf":
        out = tf.max(tf.abs(d), 1);
        break;
      case "l2":
        out = tf.sqrt(tf.sum(tf.square(d), 1));
        break;
      case "l0":
        out = tf.sum(tf.cast(tf.greater(tf.abs(d), L0_CHANGE_THRESHOLD), "float32"), 1);
        break;
    }
    return out.dataSync() as Float32Array;
  });
}

/** Per sample: is every feature of adv inside [0, 1]? */
export function inBox(adv: tf.Tensor4D): boolean[] {
  return tf.tidy(() => {
    const flat = adv.reshape([adv.shape[0], -1]);
    const ok = tf.logicalAnd(tf.greaterEqual(tf.min(flat, 1), 0), tf.lessEqual(tf.max(flat, 1), 1));
    return Array.from(ok.dataSync(), (v) => v === 1);
  });
}

export interface Verdict {
  /** Measured distance of the proposal (whatever the attack claimed). */
  distance: Float32Array;
  /** Misclassified by the target, inside the box, and (for fixed-budget attacks) within budget. */
  success: boolean[];
}

/**
 * Judges proposals `adv` for clean `x` with labels `y` against the target's `predict`.
 * With a budget, success also requires distance <= budget (+ tolerance for L2/L∞; exact for L0).
 */
export function verify(predict: PredictFn, x: tf.Tensor4D, y: tf.Tensor1D, adv: tf.Tensor4D, norm: Norm, budget?: number): Verdict {
  if (adv.shape.join() !== x.shape.join()) throw new Error(`attack returned shape ${adv.shape.join("x")}, expected ${x.shape.join("x")}`);
  const distance = distances(x, adv, norm);
  const box = inBox(adv);
  const wrong = tf.tidy(() => Array.from(tf.notEqual(tf.argMax(predict(adv), 1), y).dataSync(), (v) => v === 1));
  const limit = budget === undefined ? Infinity : norm === "l0" ? budget : budget + DISTANCE_TOLERANCE;
  const success = wrong.map((w, i) => w && box[i]! && distance[i]! <= limit);
  return { distance, success };
}
