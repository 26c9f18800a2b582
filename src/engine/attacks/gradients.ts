// Shared pieces of the white-box attacks: per-sample losses and their gradient w.r.t. the input,
// per-sample norms, and projections onto L∞ / L2 / L0 balls intersected with the [0, 1] box.
// Everything works on batches [n, H, W, C]; per-sample quantities are [n] tensors.
import { tf, type LayersModel } from "../tf.js";
import type { AttackTrace, Norm } from "./types.js";
import { L0_CHANGE_THRESHOLD } from "./verify.js";
import { applyModel, compiledLossGradient } from "../onnx/compiled.js";

/**
 * Per-sample attack losses, both increasing as the sample gets closer to misclassification:
 * - `ce`: softmax cross-entropy, logsumexp(z) − z_y;
 * - `margin`: the best other logit minus the true one, max_{j≠y} z_j − z_y (Carlini-Wagner's
 *   margin without the cap; positive exactly when the sample is misclassified).
 */
export type AttackLoss = "ce" | "margin";

/**
 * The per-sample loss [n] of logits [n, K] for labels [n]. With `target` ([n] int32, −1 = none),
 * rows with a target use the targeted margin z_t − z_y instead (the multi-targeted loss of
 * Gowal et al. 2019: the row still succeeds on any misclassification, but is pushed towards t).
 */
export function sampleLoss(logits: tf.Tensor2D, y: tf.Tensor1D, kind: AttackLoss, target?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    // Cast explicitly: wasm's OneHot writes int32 data whatever dtype is asked for.
    const isTrue = tf.cast(tf.oneHot(tf.cast(y, "int32"), classes), "bool");
    const trueLogit = tf.sum(tf.where(isTrue, logits, tf.zerosLike(logits)), 1);
    let loss: tf.Tensor;
    if (kind === "ce") {
      loss = tf.sub(tf.logSumExp(logits, 1), trueLogit);
    } else {
      const others = tf.where(isTrue, tf.fill(logits.shape, -Infinity), logits);
      loss = tf.sub(tf.max(others, 1), trueLogit);
    }
    if (target === undefined) return loss as tf.Tensor1D;
    const t = tf.cast(target, "int32");
    const isTarget = tf.cast(tf.oneHot(tf.maximum(t, tf.scalar(0, "int32")), classes), "bool");
    const targetLogit = tf.sum(tf.where(isTarget, logits, tf.zerosLike(logits)), 1);
    return tf.where(tf.less(t, 0), loss, tf.sub(targetLogit, trueLogit)) as tf.Tensor1D;
  });
}

/**
 * The `count` most likely classes other than y per sample, by `logits` [n, K]: [n, count] int32.
 * count must be <= K − 1.
 */
export function likelyOtherClasses(logits: tf.Tensor2D, y: tf.Tensor1D, count: number): tf.Tensor2D {
  return tf.tidy(() => {
    const isTrue = tf.cast(tf.oneHot(tf.cast(y, "int32"), logits.shape[1]), "bool");
    const others = tf.where(isTrue, tf.fill(logits.shape, -Infinity), logits);
    return tf.topk(others, count, true).indices as tf.Tensor2D;
  });
}

export interface LossGradient {
  /** d(sum of per-sample losses)/dx, i.e. each sample's own loss gradient [n, H, W, C]. */
  grad: tf.Tensor4D;
  /** The model's logits at x [n, K] (from the same forward pass). */
  logits: tf.Tensor2D;
  /** The per-sample loss at x [n]. */
  loss: tf.Tensor1D;
}

/**
 * One forward and one backward pass: the per-sample loss of `model` at `x` and its gradient
 * w.r.t. the input. The model is applied in inference mode. The returned tensors belong to the
 * caller's scope (dispose them, or call this inside tf.tidy).
 */
export function lossGradient(model: LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, kind: AttackLoss, target?: tf.Tensor1D): LossGradient {
  // A model compiled for onnxruntime computes all three in one pass (onnx/compiled.ts).
  const fused = compiledLossGradient(model, x, y, kind, target);
  if (fused) return fused;
  let logitsKept: tf.Tensor2D | undefined;
  let lossKept: tf.Tensor1D | undefined;
  const grad = tf.grad((xi: tf.Tensor) => {
    const logits = applyModel(model, xi as tf.Tensor4D);
    const loss = sampleLoss(logits, y, kind, target);
    // tf.grad runs this function in its own scope; keep what the caller needs beyond it.
    logitsKept = tf.keep(logits);
    lossKept = tf.keep(loss);
    return tf.sum(loss);
  })(x) as tf.Tensor4D;
  // Hand the kept tensors over to the caller's scope (a kept tensor is never disposed by tidy).
  const logits = logitsKept!.clone();
  const loss = lossKept!.clone();
  logitsKept!.dispose();
  lossKept!.dispose();
  return { grad, logits, loss };
}

/** Logits of `model` at `x`, inference mode. */
export function logitsOf(model: LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return applyModel(model, x);
}

/**
 * Relative safety margin for an attack's own "is it misclassified yet?" checks: the best other
 * logit must beat the true one by MARGIN · (1 + max |z|). The logits an attack sees come from the
 * forward pass inside tf.grad, where tfjs computes dense/conv + bias + activation unfused; the
 * target's predict() uses the fused kernels. The two differ in the last bits, so a point found
 * exactly on the decision boundary (minimum-norm attacks converge there) may count as
 * misclassified here and not in verify(). The margin costs a negligible distance.
 */
export const MISCLASSIFICATION_MARGIN = 1e-5;

/** Per sample: is some other class's logit above the true one by the safety margin? [n] bool. */
export function misclassified(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const margin = sampleLoss(logits, y, "margin");
    const scale = tf.add(1, tf.max(tf.abs(logits), 1));
    return tf.greater(margin, tf.mul(scale, MISCLASSIFICATION_MARGIN)) as tf.Tensor1D;
  });
}

/** [n] → [n, 1, 1, 1] for broadcasting against a batch of images. */
export function perSample(v: tf.Tensor1D | tf.Tensor, rank = 4): tf.Tensor {
  return tf.reshape(v, [v.shape[0]!, ...new Array<number>(rank - 1).fill(1)]);
}

/**
 * [n] → one value per feature, shaped like `like` ([n, H, W, C]). Why not broadcasting: on the
 * wasm backend Minimum, Maximum and Select (tf.where) broadcast a [n, 1, 1, 1] operand through a
 * generic path (or a Tile) that is 50-100x slower than the same op on equal shapes — it was 3/4
 * of an FMN step — while Multiply broadcasts fast. Multiplying by ones is exact (±0, ±Infinity
 * and NaN included), so the values are those of the broadcast.
 */
export function expandPerSample(v: tf.Tensor, like: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const ones = tf.ones(like.shape);
    if (v.dtype === "bool") return tf.cast(tf.mul(perSample(tf.cast(v, "float32"), like.rank), ones), "bool");
    return tf.mul(perSample(v, like.rank), ones);
  });
}

/** tf.where with one condition per sample ([n]) choosing between two batches of images. */
export function wherePerSample<T extends tf.Tensor>(condition: tf.Tensor, a: T, b: T): T {
  return tf.tidy(() => tf.where(expandPerSample(condition, a), a, b) as T);
}

/** Per-sample norm [n] of a batch of perturbations (L0 counts features that moved by more than L0_CHANGE_THRESHOLD, as verify does). */
export function batchNorm(delta: tf.Tensor, norm: Norm): tf.Tensor1D {
  return tf.tidy(() => {
    const d = tf.reshape(delta, [delta.shape[0]!, -1]);
    switch (norm) {
      case "linf":
        return tf.max(tf.abs(d), 1) as tf.Tensor1D;
      case "l2":
        return tf.sqrt(tf.sum(tf.square(d), 1)) as tf.Tensor1D;
      case "l0":
        return tf.sum(tf.cast(tf.greater(tf.abs(d), L0_CHANGE_THRESHOLD), "float32"), 1) as tf.Tensor1D;
    }
  });
}

/** Dual norm [n] of a batch of gradients: L1 for L∞, L2 for L2. */
export function dualNorm(g: tf.Tensor, norm: "l2" | "linf"): tf.Tensor1D {
  return tf.tidy(() => {
    const d = tf.reshape(g, [g.shape[0]!, -1]);
    return (norm === "linf" ? tf.sum(tf.abs(d), 1) : tf.sqrt(tf.sum(tf.square(d), 1))) as tf.Tensor1D;
  });
}

/** g / ||g||₂ per sample (zero gradients stay zero). */
export function normalizeL2(g: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(g, perSample(tf.maximum(dualNorm(g, "l2"), 1e-12))) as tf.Tensor4D);
}

/** g / ||g||₁ per sample (zero gradients stay zero). */
export function normalizeL1(g: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(g, perSample(tf.maximum(dualNorm(g, "linf"), 1e-12))) as tf.Tensor4D);
}

/** The perturbation that keeps x + delta inside [0, 1]: clip(x + delta, 0, 1) − x. Shrinks every |delta_i|, so no norm grows. */
export function clipToBox(x: tf.Tensor4D, delta: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.clipByValue(tf.add(x, delta), 0, 1), x) as tf.Tensor4D);
}

/**
 * The input x + delta, clipped to [0, 1]. δ from the projections below is already box-feasible,
 * but x + (clip(x + δ) − x) can land one float step outside [0, 1]; every point an attack
 * evaluates or proposes goes through here, so proposals are inside the box exactly.
 */
export function addInBox(x: tf.Tensor4D, delta: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(x, delta), 0, 1) as tf.Tensor4D);
}

type Radius = number | tf.Tensor1D;

/** Projects delta onto the L∞ ball of radius eps (a number, or one radius per sample) and then into the box. */
export function projectLinf(x: tf.Tensor4D, delta: tf.Tensor4D, eps: Radius): tf.Tensor4D {
  return tf.tidy(() => {
    if (typeof eps === "number") return clipToBox(x, tf.clipByValue(delta, -eps, eps) as tf.Tensor4D);
    const e = expandPerSample(eps, delta);
    const clipped = tf.minimum(tf.maximum(delta, tf.neg(e)), e) as tf.Tensor4D;
    return clipToBox(x, clipped);
  });
}

/** Projects delta onto the L2 ball of radius eps (scales it down when longer) and then into the box. */
export function projectL2(x: tf.Tensor4D, delta: tf.Tensor4D, eps: Radius): tf.Tensor4D {
  return tf.tidy(() => {
    const n = dualNorm(delta, "l2");
    const e = typeof eps === "number" ? tf.scalar(eps) : eps;
    const factor = tf.minimum(1, tf.div(e, tf.maximum(n, 1e-12)));
    return clipToBox(x, tf.mul(delta, perSample(factor)) as tf.Tensor4D);
  });
}

/**
 * Euclidean projection of delta onto {at most k features changed} ∩ box (Croce & Hein 2019):
 * every feature is first clipped to the box (δc); keeping feature i instead of zeroing it
 * reduces the squared distance to delta by δ_i² − (δ_i − δc_i)², so the k features with the
 * largest such gain keep δc and all others are reset to 0. Exactly at most k features change
 * (ties are broken by tf.topk, never by a threshold). `k` is an integer or one integer per
 * sample ([n], float or int); `kMax` must be >= every k (it bounds the top-k work).
 */
export function projectL0(x: tf.Tensor4D, delta: tf.Tensor4D, k: number | tf.Tensor1D, kMax: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n] = x.shape;
    const features = x.size / n;
    const dc = clipToBox(x, delta);
    const limit = Math.min(Math.max(0, Math.floor(kMax)), features);
    if (limit === 0) return tf.zerosLike(delta);
    if (limit === features && typeof k === "number" && k >= features) return dc;
    const flatD = tf.reshape(delta, [n, features]);
    const flatC = tf.reshape(dc, [n, features]);
    const gain = tf.sub(tf.square(flatD), tf.square(tf.sub(flatD, flatC)));
    const { indices } = tf.topk(gain, limit, true); // [n, limit], distinct per row
    // Rank r of a row is kept when r < k of that row.
    const ranks = tf.range(0, limit, 1, "float32").reshape([1, limit]);
    const kCol = typeof k === "number" ? tf.scalar(Math.floor(k)) : tf.reshape(tf.floor(tf.cast(k, "float32")), [n, 1]);
    const keep = tf.mul(tf.cast(tf.less(ranks, kCol), "float32"), tf.ones([n, 1])); // [n, limit]
    // Row index of every kept slot, built on the host (wasm's Tile is slow, see expandPerSample).
    const rowIds = new Int32Array(n * limit);
    for (let r = 0; r < n; r++) rowIds.fill(r, r * limit, (r + 1) * limit);
    const rows = tf.tensor2d(rowIds, [n, limit], "int32");
    const coords = tf.stack([rows, indices], 2).reshape([n * limit, 2]);
    const mask = tf.scatterND(coords, keep.reshape([n * limit]), [n, features]);
    return tf.mul(dc, tf.reshape(mask, x.shape)) as tf.Tensor4D;
  });
}

/**
 * Rows of `base` with some replaced: row rows[i] becomes row i of `update`. Returns a new
 * tensor (inputs untouched). `rows` are distinct indices into base.
 */
export function replaceRows<T extends tf.Tensor>(base: T, rows: ArrayLike<number>, update: T): T {
  return tf.tidy(() => {
    const n = base.shape[0]!;
    const source = new Int32Array(n);
    for (let i = 0; i < n; i++) source[i] = i;
    for (let i = 0; i < rows.length; i++) source[rows[i]!] = n + i;
    return tf.gather(tf.concat([base, update], 0), tf.tensor1d(source, "int32")) as T;
  });
}

/** Rows `rows` of t (a new tensor). */
export function takeRows<T extends tf.Tensor>(t: T, rows: ArrayLike<number>): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(Int32Array.from(rows), "int32")) as T);
}

/**
 * One batch back in row order from the pieces an early-stopping attack collected: each piece holds
 * the points of the rows it names (together every row 0..n-1 once). A new tensor; pieces untouched.
 */
export function inRowOrder(pieces: readonly { rows: readonly number[]; adv: tf.Tensor4D }[], n: number): tf.Tensor4D {
  return tf.tidy(() => {
    const order = pieces.flatMap((d) => d.rows);
    const all = pieces.length === 1 ? pieces[0]!.adv : tf.concat(pieces.map((d) => d.adv));
    const inverse = new Int32Array(n);
    order.forEach((row, k) => (inverse[row] = k));
    return tf.gather(all, tf.tensor1d(inverse, "int32")) as tf.Tensor4D;
  });
}

/** A seed for tf's seeded random ops from the batch seed and a stream number (restart, purpose). */
export function subSeed(seed: number, stream: number): number {
  // Mix with an odd multiplier so nearby (seed, stream) pairs give unrelated streams.
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
}

// ── indicators of attack failure (see AttackTrace in types.ts) ──

/** The share of a run's steps, at its end, that make up its tail (incomplete optimisation). */
export const INCOMPLETE_TAIL_SHARE = 0.1;
/** A run whose best loss rose by more than this share of its whole rise during its tail had not settled. */
export const INCOMPLETE_RISE_SHARE = 0.05;

/** Steps in the tail of a run of `steps` steps (at least one). */
export function tailLength(steps: number): number {
  return Math.max(1, Math.round(INCOMPLETE_TAIL_SHARE * steps));
}

/**
 * Whether a run was still improving when it stopped: given the loss at its start, the best loss
 * before its tail and the best loss at its end, the tail's rise is more than INCOMPLETE_RISE_SHARE
 * of the whole run's rise. Measured on the best loss so far (monotone), because PGD's sign steps
 * make the current loss oscillate. Relative to the run's own rise, not to the loss's value: the
 * margin loss of a robust sample sits near 0 and changes sign, so a share of |loss| would be
 * noise. A loss that barely moved (rise <= 1e-6 · (1 + |start|)) has settled; non-finite losses
 * are for the gradient indicator to catch.
 */
export function stillRising(start: number, beforeTail: number, end: number): boolean {
  const rise = end - start;
  if (!(rise > 1e-6 * (1 + Math.abs(start)))) return false;
  return end - beforeTail > INCOMPLETE_RISE_SHARE * rise;
}

/** A trace's `incomplete` entry after one more failed run on the row: a settled run settles it for good. */
export function mergeIncomplete(current: number, rising: boolean): number {
  return current === 0 || !rising ? 0 : 1;
}

/** One run of a minimization attack's core: proposals and their norms (Infinity where none was found). */
export type MinimizationCore = (x: tf.Tensor4D, y: tf.Tensor1D, target: tf.Tensor1D | undefined) => Promise<{ adv: tf.Tensor4D; norm: tf.Tensor1D }>;

/**
 * A minimization attack run untargeted and towards each of the `t` most likely other classes,
 * all in one batch, keeping per sample the mode with the smallest norm (FMN and C&W do this).
 * Rows [m·n, (m+1)·n) run mode m: m = 0 untargeted, m >= 1 towards the (m+1)-th likely class.
 */
export async function bestOfTargetModes(
  model: LayersModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  t: number,
  core: MinimizationCore,
  trace?: AttackTrace,
): Promise<tf.Tensor4D> {
  /** A mode's norm is finite exactly where it kept a misclassified point: what the attack saw. */
  const see = async (norm: tf.Tensor1D, modes: number): Promise<void> => {
    if (!trace) return;
    const v = (await norm.data()) as Float32Array;
    const n = v.length / modes;
    trace.seen = new Uint8Array(n);
    for (let k = 0; k < v.length; k++) if (Number.isFinite(v[k]!)) trace.seen[k % n] = 1;
  };
  if (t <= 0) {
    const r = await core(x, y, undefined);
    await see(r.norm, 1);
    r.norm.dispose();
    return r.adv;
  }
  const n = x.shape[0];
  const modes = t + 1;
  const [xs, ys, target] = tf.tidy(() => {
    const likely = tf.slice(likelyOtherClasses(logitsOf(model, x), y, t + 1), [0, 1], [n, t]); // [n, t]
    const tg = tf.concat([tf.fill([n], -1, "int32"), tf.reshape(tf.transpose(likely), [n * t])]) as tf.Tensor1D;
    return [tf.tile(x, [modes, 1, 1, 1]) as tf.Tensor4D, tf.tile(y, [modes]) as tf.Tensor1D, tg] as const;
  });
  let r: { adv: tf.Tensor4D; norm: tf.Tensor1D };
  try {
    r = await core(xs, ys, target);
  } finally {
    xs.dispose();
    ys.dispose();
    target.dispose();
  }
  await see(r.norm, modes);
  const out = tf.tidy(() => {
    // Per sample, the mode with the smallest adversarial norm (Infinity when none found: mode 0's x).
    const best = tf.cast(tf.argMin(tf.reshape(r.norm, [modes, n]), 0), "int32");
    const rows = tf.add(tf.mul(best, tf.scalar(n, "int32")), tf.range(0, n, 1, "int32"));
    return tf.gather(r.adv, rows) as tf.Tensor4D;
  });
  r.adv.dispose();
  r.norm.dispose();
  return out;
}
