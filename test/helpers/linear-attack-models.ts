// Linear classifiers with known minimal adversarial distances, for known-answer tests of the
// white-box attacks (the same constructions as test/engine/attacks-whitebox.test.ts). For x of
// class y under logits z = Wᵀx + b, ignoring the [0, 1] box:
//   L2:  min_j (z_y − z_j) / ‖w_y − w_j‖₂        L∞:  min_j (z_y − z_j) / ‖w_y − w_j‖₁
// (misclassification is the union of the half-spaces z_j ≥ z_y, so the minimum over j is exact).
// Inputs keep the box inactive: pixels near 0.5 and distances well below the room to 0 and 1.
import assert from "node:assert/strict";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { mulberry32 } from "../../src/engine/random.js";
import { verify } from "../../src/engine/attacks/verify.js";
import type { Attack, GradientAccess } from "../../src/engine/attacks/types.js";

export const H = 8;
export const W = 8;
export const D = H * W;

export interface Linear {
  model: LayersModel;
  /** Weights [D][K] and biases [K], float64 copies for the analytic answers. */
  w: Float64Array[];
  b: Float64Array;
  classes: number;
}

/** A flatten + dense model with the given weights (w[i][k]: pixel i, class k). */
export function linearModel(w: Float64Array[], b: Float64Array): Linear {
  const classes = b.length;
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [H, W, 1] }));
  model.add(tf.layers.dense({ units: classes }));
  const kernel = tf.tensor2d(Float32Array.from(w.flatMap((row) => Array.from(row))), [D, classes]);
  const bias = tf.tensor1d(Float32Array.from(b));
  model.layers[1]!.setWeights([kernel, bias]);
  kernel.dispose();
  bias.dispose();
  return { model, w, b, classes };
}

/** Random weights in [−1, 1]; biases centre the logits at x = 0.5 plus a random class offset in ±offset/2. */
export function randomLinear(classes: number, seed: number, offset = 0.2): Linear {
  const rng = mulberry32(seed);
  const w = Array.from({ length: D }, () => Float64Array.from({ length: classes }, () => rng() * 2 - 1));
  const b = Float64Array.from({ length: classes }, (_, k) => -0.5 * w.reduce((s, row) => s + row[k]!, 0) + (rng() - 0.5) * offset);
  return linearModel(w, b);
}

/**
 * A zero-margin-gradient trap: the classifier columns of classes 0 and 1 are pruned to zero, so
 * their logits are their biases (b_0 = 1 > b_1 = 0.5); classes 2… have random weights and sit
 * near −1 at x ≈ 0.5. Every sample is class 0 with class 1 the runner-up, so the margin
 * max_{j≠y} z_j − z_y = b_1 − b_0 has input gradient exactly 0, yet classes 2… can overtake class 0
 * (cross-entropy's gradient Σ_j p_j w_j sees them). Class 1 can never win.
 */
export function trapLinear(classes: number, seed: number): Linear {
  const rng = mulberry32(seed);
  const w = Array.from({ length: D }, () => Float64Array.from({ length: classes }, (_, k) => (k < 2 ? 0 : rng() * 2 - 1)));
  const b = Float64Array.from({ length: classes }, (_, k) =>
    k === 0 ? 1 : k === 1 ? 0.5 : -0.5 * w.reduce((s, row) => s + row[k]!, 0) - 1 + (rng() - 0.5) * 0.4,
  );
  return linearModel(w, b);
}

export function logits(m: Linear, x: Float64Array): Float64Array {
  const z = Float64Array.from(m.b);
  for (let i = 0; i < D; i++) for (let k = 0; k < m.classes; k++) z[k]! += m.w[i]![k]! * x[i]!;
  return z;
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/**
 * Minimal distance of x (class y) to misclassification under L2 / L∞, ignoring the box, and
 * whether the minimising perturbation stays inside the box (then the box changes nothing).
 * Classes whose weights equal y's (no direction reaches them) are skipped.
 */
export function analytic(m: Linear, x: Float64Array, y: number, norm: "l2" | "linf"): { distance: number; boxInactive: boolean } {
  const z = logits(m, x);
  let best = Infinity;
  let bestClass = -1;
  let bestNorm = 1;
  for (let j = 0; j < m.classes; j++) {
    if (j === y) continue;
    let n = 0;
    for (let i = 0; i < D; i++) {
      const c = m.w[i]![y]! - m.w[i]![j]!;
      n += norm === "l2" ? c * c : Math.abs(c);
    }
    if (n === 0) continue;
    if (norm === "l2") n = Math.sqrt(n);
    const d = (z[y]! - z[j]!) / n;
    if (d < best) [best, bestClass, bestNorm] = [d, j, n];
  }
  let boxInactive = true;
  for (let i = 0; i < D; i++) {
    const c = m.w[i]![bestClass]! - m.w[i]![y]!;
    const step = norm === "l2" ? (best * c) / bestNorm : best * Math.sign(c);
    const v = x[i]! + step;
    if (v < 0.01 || v > 0.99) boxInactive = false;
  }
  return { distance: best, boxInactive };
}

export function analyticDistance(m: Linear, x: Float64Array, y: number, norm: "l2" | "linf"): number {
  const a = analytic(m, x, y, norm);
  assert.ok(a.boxInactive, "the box must not be active for the known answer to hold");
  return a.distance;
}

export interface Samples {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  xs: Float64Array[];
  labels: number[];
}

/**
 * n inputs with pixels uniform in 0.5 ± spread, labelled with the model's own prediction. With
 * `edges`, that share of the pixels is exactly 0 or 1 instead (as in real images).
 */
export function samples(m: Linear, n: number, seed: number, spread = 0.2, edges = 0): Samples {
  const rng = mulberry32(seed);
  const xs: Float64Array[] = [];
  const labels: number[] = [];
  const pixel = (): number => (rng() < edges ? Math.round(rng()) : 0.5 + (rng() * 2 - 1) * spread);
  for (let s = 0; s < n; s++) {
    // Through float32, so the analytic answers use exactly the values the model sees.
    const x = Float64Array.from(Float32Array.from({ length: D }, pixel));
    xs.push(x);
    labels.push(argmax(logits(m, x)));
  }
  const flat = new Float32Array(n * D);
  xs.forEach((x, s) => flat.set(x, s * D));
  return { x: tf.tensor4d(flat, [n, H, W, 1]), y: tf.tensor1d(labels, "int32"), xs, labels };
}

export function disposeAll(m: { model: LayersModel }, s: { x: tf.Tensor; y: tf.Tensor }): void {
  m.model.dispose();
  s.x.dispose();
  s.y.dispose();
}

export interface Outcome {
  distance: Float32Array;
  success: boolean[];
  inBox: boolean;
  adv: Float32Array;
  /** Wall time of the attack's run (ms). */
  ms: number;
}

/** Runs an attack once, checks its shape and that it leaves no tensor behind, and verifies the result (verify.ts, the target's predict). */
export async function attackOnce(attack: Attack, model: LayersModel, s: { x: tf.Tensor4D; y: tf.Tensor1D }, seed: number, budget?: number): Promise<Outcome> {
  const access: GradientAccess = { kind: "gradient", model };
  const batch = { x: s.x, y: s.y, seed };
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  let adv: tf.Tensor4D;
  if (attack.kind === "fixed-budget") {
    assert.ok(budget !== undefined);
    adv = await (attack.run as (a: GradientAccess, b: typeof batch, e: number) => Promise<tf.Tensor4D>)(access, batch, budget);
  } else {
    adv = await (attack.run as (a: GradientAccess, b: typeof batch) => Promise<tf.Tensor4D>)(access, batch);
  }
  const ms = performance.now() - t0;
  assert.equal(tf.memory().numTensors, before + 1, `${attack.name}: tensors left behind besides the result`);
  assert.deepEqual(adv.shape, s.x.shape);
  const predict = (x: tf.Tensor4D): tf.Tensor2D => model.predict(x) as tf.Tensor2D;
  const v = verify(predict, s.x, s.y, adv, attack.norm, budget);
  const values = adv.dataSync() as Float32Array;
  const out = { ...v, inBox: values.every((a) => a >= 0 && a <= 1), adv: Float32Array.from(values), ms };
  adv.dispose();
  assert.equal(tf.memory().numTensors, before, `${attack.name}: tensor count not back to where it was`);
  return out;
}

export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
