// Fast Minimum-Norm attack (FMN; Pintor, Roli, Brendel, Biggio, NeurIPS 2021) for L0, L2 and L∞,
// as a minimization attack: per sample, the smallest adversarial perturbation found.
//
// One algorithm for all norms: normalised gradient steps on the logit difference
// max_{j≠y} z_j − z_y, each followed by a projection onto an Lp ball of radius ε (per sample)
// and the [0, 1] box, where ε adapts every step —
//   - while the current point is adversarial: ε ← min(ε·(1−γ), best norm so far) (shrink);
//   - before any adversarial point was found: ε ← ||δ|| + |loss| / ||∇loss||_dual, the
//     first-order distance to the boundary (L0: ε grows by max(1, ⌊γ·ε⌋) instead);
//   - after one was found, while not adversarial: ε ← ε·(1+γ) (grow back).
// Step size α and γ follow cosine annealing from (α0, γ0) to (α0/100, γ_final). The attack starts
// at δ = 0 with ε = ∞ (L0: ε = 1), as the paper does without a warm start. Projections: L∞ clips
// each feature to ±ε; L2 scales δ onto the ball; L0 keeps the ε features whose box-clipped
// perturbation is worth most (Euclidean projection onto the L0 ball ∩ box, see projectL0).
//
// Two additions to the paper's algorithm, both needed for exact answers on (locally) linear
// models and both harmless elsewhere:
//   - The first-order ε estimate is overshot by the factor (1 + γ). On a linear model the
//     estimate is exact, so without it every step lands exactly on the decision boundary and
//     float round-off decides, step after step, whether the point counts as adversarial.
//   - Multi-targeted runs (`targets`, the multi-targeted loss of Gowal et al. 2019, as in
//     AutoAttack's FAB-T/APGD-T): the untargeted loss follows whichever class is ahead at the
//     start, and that class's boundary need not be the nearest one (on random 5- and 10-class
//     linear models it is not for ~6 % of samples, which FMN then overestimates by up to ~20 %).
//     So besides the untargeted run, one run per each of the next `targets` most likely other
//     classes ascends z_t − z_y (success is still any misclassification). All runs share one
//     batch (rows tiled), so the cost is (1 + targets) times that of one run.
// The returned point per sample is the smallest-norm iterate (over all runs) that the attacked
// model misclassified, or the unchanged input when there was none.
import { tf, type LayersModel } from "../tf.js";
import type { AttackBatch, GradientAccess, MinimizationAttack, Norm } from "./types.js";
import {
  addInBox,
  batchNorm,
  clipToBox,
  dualNorm,
  bestOfTargetModes,
  logitsOf,
  lossGradient,
  misclassified,
  normalizeL2,
  projectL0,
  projectL2,
  projectLinf,
  takeRows,
  type AttackLoss,
  wherePerSample,
} from "./gradients.js";

export interface FmnOptions {
  /** Iterations (default 100). */
  steps?: number;
  /**
   * Initial step size α0 of the L2-normalised gradient step (default 1 for L2/L∞, 30 for L0).
   * L0 wants large steps: the top-k projection keeps the features whose *box-clipped* change
   * is worth most, and it can only rank them by what they can really change (gradient × room
   * to the box edge) once the step pushes them to the edge; with small steps it ranks by
   * gradient alone and, on linear models, needed up to 2 pixels more than the optimum.
   */
  alphaInit?: number;
  /** Final step size after cosine annealing (default alphaInit / 100). */
  alphaFinal?: number;
  /** Initial relative ε update γ0 (default 0.05). */
  gammaInit?: number;
  /** Final γ after cosine annealing (default 0.001). */
  gammaFinal?: number;
  /**
   * Targeted runs besides the untargeted one, towards the 2nd, 3rd, … most likely other classes
   * at the clean input (the untargeted run already heads for the most likely one). Default 1;
   * capped at classes − 2; 0 = the paper's untargeted FMN only.
   */
  targets?: number;
  /**
   * Loss whose gradient gives the step direction (default "margin", the paper's logit
   * difference). "ce" steps along the cross-entropy gradient instead, which is not zero when the
   * true class and the best other class both have a zero input gradient (a pruned model whose
   * classifier columns for those classes are gone) while a third class still moves. Its
   * first-order ε estimate (before any adversarial point) is the linearised distance to
   * CE = ln 2, and ε grows by the factor (1 + γ) per step once CE is past ln 2 (the margin's value
   * is no guide there: it can be constant). Targeted rows use the targeted margin either way.
   */
  loss?: AttackLoss;
}

interface FmnParams {
  norm: Norm;
  steps: number;
  alphaInit: number;
  alphaFinal: number;
  gammaInit: number;
  gammaFinal: number;
  loss: AttackLoss;
}

const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The FMN loop on one batch (rows may repeat with different targets). Returns, per row, the
 * smallest misclassified point found (x itself when none) and its norm (Infinity when none).
 */
async function fmnCore(
  model: LayersModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  target: tf.Tensor1D | undefined,
  p: FmnParams,
): Promise<{ adv: tf.Tensor4D; norm: tf.Tensor1D }> {
  const { norm, steps } = p;
  const n = x.shape[0];
  const features = x.size / n;

  // State, all per row: δ, ε, the best (smallest) adversarial norm and point, found-flag.
  let delta: tf.Tensor4D = tf.zerosLike(x);
  let eps: tf.Tensor1D = tf.fill([n], norm === "l0" ? 1 : Infinity) as tf.Tensor1D;
  let bestNorm: tf.Tensor1D = tf.fill([n], Infinity) as tf.Tensor1D;
  let bestAdv: tf.Tensor4D = x.clone();
  let found: tf.Tensor1D = tf.zeros([n], "bool");
  // Largest useful ε: the norm of the farthest point of the box (L0: every feature).
  const worst: tf.Tensor1D = tf.tidy(() =>
    norm === "l0" ? (tf.fill([n], features) as tf.Tensor1D) : batchNorm(tf.maximum(x, tf.sub(1, x)), norm),
  );
  // L0: the largest ε of the batch, on the host (bounds the top-k work of the projection).
  let kMax = 1;

  /** Records x + d (its logits given) as the best when misclassified and smaller. */
  const track = (d: tf.Tensor4D, logits: tf.Tensor2D) => {
    const wrong = misclassified(logits, y);
    const dNorm = batchNorm(d, norm);
    const better = tf.logicalAnd(wrong, tf.less(dNorm, bestNorm));
    return {
      wrong,
      dNorm,
      bn: tf.where(better, dNorm, bestNorm) as tf.Tensor1D,
      ba: wherePerSample(better, addInBox(x, d), bestAdv),
      f: tf.logicalOr(found, wrong) as tf.Tensor1D,
    };
  };
  const swap = (next: { delta?: tf.Tensor4D; eps?: tf.Tensor1D; bn: tf.Tensor1D; ba: tf.Tensor4D; f: tf.Tensor1D }): void => {
    if (next.delta) {
      delta.dispose();
      delta = next.delta;
    }
    if (next.eps) {
      eps.dispose();
      eps = next.eps;
    }
    bestNorm.dispose();
    bestAdv.dispose();
    found.dispose();
    bestNorm = next.bn;
    bestAdv = next.ba;
    found = next.f;
  };

  try {
    for (let i = 0; i < steps; i++) {
      const cosine = (1 + Math.cos((Math.PI * i) / steps)) / 2;
      const alpha = p.alphaFinal + (p.alphaInit - p.alphaFinal) * cosine;
      const gamma = p.gammaFinal + (p.gammaInit - p.gammaFinal) * cosine;
      // An upper bound on this step's largest L0 ε (it grows by at most this much), for the top-k.
      const kBound = Math.min(features, Math.max(kMax + 1, Math.floor(kMax * (1 + gamma))));
      const next = tf.tidy(() => {
        const adv = addInBox(x, delta);
        const { grad, logits, loss } = lossGradient(model, adv, y, p.loss, target);
        const t = track(delta, logits);
        let e: tf.Tensor1D;
        if (norm === "l0") {
          const shrink = tf.minimum(tf.minimum(tf.sub(eps, 1), tf.floor(tf.mul(eps, 1 - gamma))), t.bn);
          const grow = tf.maximum(tf.add(eps, 1), tf.floor(tf.mul(eps, 1 + gamma)));
          e = tf.maximum(tf.where(t.wrong, shrink, grow), 1) as tf.Tensor1D;
        } else {
          // The margin is < 0 while not adversarial: |loss| / ||∇loss||_dual is the linearised distance.
          // Cross-entropy: the linearised distance to CE = ln 2 (p_y = 1/2, sufficient for a
          // misclassification with two classes in play); 0 once past it, so ε grows by γ per step.
          // Targeted rows ascend the targeted margin either way.
          let gap: tf.Tensor = tf.abs(loss);
          if (p.loss === "ce") {
            const ceGap = tf.relu(tf.sub(Math.LN2, loss));
            gap = target === undefined ? ceGap : tf.where(tf.less(target, 0), ceGap, gap);
          }
          const toBoundary = tf.div(gap, tf.maximum(dualNorm(grad, norm === "linf" ? "linf" : "l2"), 1e-12));
          e = tf.where(
            t.wrong,
            tf.minimum(tf.mul(eps, 1 - gamma), t.bn),
            tf.where(found, tf.mul(eps, 1 + gamma), tf.mul(tf.add(t.dNorm, toBoundary), 1 + gamma)),
          ) as tf.Tensor1D;
        }
        e = tf.minimum(e, worst) as tf.Tensor1D;
        const moved = tf.add(delta, tf.mul(alpha, normalizeL2(grad))) as tf.Tensor4D;
        let d: tf.Tensor4D;
        if (norm === "linf") d = projectLinf(x, moved, e);
        // CE: clip to the box before scaling onto the ball (the CE gradient keeps pushing features
        // that are already at the box edge; scaled first, those out-of-box parts would shrink the
        // rest of the step to nothing). The margin run keeps its original order (same results as before).
        else if (norm === "l2") d = projectL2(x, p.loss === "ce" ? clipToBox(x, moved) : moved, e);
        else d = projectL0(x, moved, e, kBound);
        return { delta: d, eps: e, bn: t.bn, ba: t.ba, f: t.f, kMax: norm === "l0" ? tf.max(e) : tf.scalar(0) };
      });
      const km = next.kMax;
      if (norm === "l0") kMax = Math.max(1, Math.ceil((await km.data())[0] ?? 1));
      km.dispose();
      swap(next);
      if (i % 10 === 9) await breathe();
    }
    // The last step's point has not been checked yet.
    const last = tf.tidy(() => track(delta, logitsOf(model, addInBox(x, delta))));
    last.wrong.dispose();
    last.dNorm.dispose();
    swap(last);
    const out = { adv: bestAdv, norm: bestNorm };
    bestAdv = x.clone(); // the finally block disposes these stand-ins
    bestNorm = tf.zeros([1]);
    return out;
  } finally {
    for (const t of [delta, eps, bestNorm, bestAdv, found, worst]) t.dispose();
  }
}

/** FMN minimizing the `norm` distance. */
export function fmn(norm: Norm, opts: FmnOptions = {}): MinimizationAttack<GradientAccess> {
  const steps = opts.steps ?? 100;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`FMN steps must be a positive integer, got ${steps}`);
  const alphaInit = opts.alphaInit ?? (norm === "l0" ? 30 : 1);
  const alphaFinal = opts.alphaFinal ?? alphaInit / 100;
  const gammaInit = opts.gammaInit ?? 0.05;
  const gammaFinal = opts.gammaFinal ?? 0.001;
  for (const [k, v] of Object.entries({ alphaInit, alphaFinal, gammaInit, gammaFinal })) {
    if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`FMN ${k} must be a positive number, got ${v}`);
  }
  if (!(gammaInit < 1 && gammaFinal < 1)) throw new RangeError("FMN gamma must be < 1");
  const targets = opts.targets ?? 1;
  if (!(Number.isInteger(targets) && targets >= 0)) throw new RangeError(`FMN targets must be a non-negative integer, got ${targets}`);
  const loss = opts.loss ?? "margin";
  const p: FmnParams = { norm, steps, alphaInit, alphaFinal, gammaInit, gammaFinal, loss };

  return {
    kind: "minimization",
    name: `fmn-${norm}${loss === "ce" ? "-ce" : ""}`,
    norm,
    access: "gradient",
    params: {
      steps,
      alphaInit,
      alphaFinal,
      gammaInit,
      gammaFinal,
      targets,
      loss,
      init: "zero",
      overshoot: "1+gamma",
      seeding: "deterministic (no randomness)",
    },
    async run(access: GradientAccess, batch: AttackBatch): Promise<tf.Tensor4D> {
      const { x, y } = batch;
      const model = access.model;
      const n = x.shape[0];
      if (n === 0) return x.clone();
      const classes = tf.tidy(() => logitsOf(model, takeRows(x, [0])).shape[1]);
      const t = Math.min(targets, classes - 2);
      return bestOfTargetModes(model, x, y, t, (xs, ys, target) => fmnCore(model, xs, ys, target, p), batch.trace);
    },
  };
}
