// The zero-gradients indicator's measurement (indicators.ts): per sample, the input gradients of
// both losses the white-box attacks ascend — the margin and the cross-entropy — at the clean input.
// A sample is flagged when both are exactly zero (no gradient attack has a direction: a quantiser,
// shattered gradients, a network pruned dead on that input) or either has a non-finite entry (the
// attack's iterate would turn into NaN). One loss with a zero gradient alone is not flagged: the
// margin's is exactly zero when the true and the best other class have no input gradient (pruned
// classifier columns), and the cross-entropy attacks run for that case; the cross-entropy's
// underflows to zero on very confident samples, where the margin's does not.
// Cost: two forward and backward passes per clean-correct sample, against hundreds per attack.
import { tf, type LayersModel } from "../tf.js";
import { lossGradient } from "../attacks/gradients.js";
import type { GradientFlags } from "./indicators.js";

/**
 * Gradient flags for the samples at `positions` (batches of them as tensors via `batchOf`), in an
 * array over all `n` samples (0 elsewhere).
 */
export function gradientFlags(
  model: LayersModel,
  n: number,
  chunks: readonly number[][],
  batchOf: (positions: number[]) => { x: tf.Tensor4D; y: tf.Tensor1D; dispose(): void },
): GradientFlags {
  const zero = new Uint8Array(n);
  const nonFinite = new Uint8Array(n);
  for (const part of chunks) {
    if (part.length === 0) continue;
    const b = batchOf(part);
    try {
      // Per sample, the sum of |∂loss/∂x| for each loss: 0 exactly when every entry is 0; not
      // finite when some entry is not (Inf and NaN survive the sum).
      const sums = tf.tidy(() =>
        (["margin", "ce"] as const).map((loss) => {
          const { grad } = lossGradient(model, b.x, b.y, loss);
          return tf.sum(tf.abs(tf.reshape(grad, [part.length, -1])), 1).dataSync();
        }),
      );
      part.forEach((p, k) => {
        const m = sums[0]![k]!;
        const c = sums[1]![k]!;
        if (!Number.isFinite(m) || !Number.isFinite(c)) nonFinite[p] = 1;
        else if (m === 0 && c === 0) zero[p] = 1;
      });
    } finally {
      b.dispose();
    }
  }
  return { zero, nonFinite };
}
