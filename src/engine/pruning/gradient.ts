// Gradient-magnitude pruning (ShrinkBench's GlobalMagGrad / LayerMagGrad): score = |w · ∂L/∂w|,
// a first-order estimate of how much the loss changes when the weight is set to zero.
//
// ∂L/∂w is the plain (signed) gradient of the softmax cross-entropy of the model's logits, averaged
// over ctx.gradientBatches: the mean over batches of each batch's gradient of its mean loss. For
// equal-sized batches that is the gradient of the mean loss over all their samples; signs may
// cancel between batches (as they do within one). Averaging vs summing does not change the ranking.
import { tf, type LayersModel } from "../tf.js";
import { prunableWeights } from "../models.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { PruningError } from "./errors.js";
import { globalMasks, layerMasks, readKernels, type Kernel } from "./select.js";

/** Mean over the batches of ∂(mean softmax cross-entropy)/∂kernel, for every prunable kernel in model order. */
export function kernelGradients(model: LayersModel, batches: PruneContext["gradientBatches"]): Float32Array[] {
  if (!batches || batches.length === 0) {
    throw new PruningError("gradient pruning needs data: pass ctx.gradientBatches (a few batches of inputs and integer labels)");
  }
  const variables = prunableWeights(model).map((v) => v.read() as tf.Variable);
  const sums = variables.map((v) => new Float32Array(v.size));
  const outputShape = model.outputs[0]?.shape;
  const numClasses = outputShape?.[outputShape.length - 1];
  if (typeof numClasses !== "number") throw new PruningError("gradient pruning needs a model with one output of known width (logits)");
  for (const [b, batch] of batches.entries()) {
    if (batch.x.shape[0] !== batch.y.shape[0]) {
      throw new PruningError(`gradient batch ${b}: ${batch.x.shape[0]} inputs but ${batch.y.shape[0]} labels`);
    }
    tf.tidy(() => {
      const oneHot = tf.oneHot(tf.cast(batch.y, "int32"), numClasses);
      const { grads } = tf.variableGrads(() => {
        const logits = model.apply(batch.x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
      }, variables);
      variables.forEach((v, i) => {
        const g = grads[v.name];
        if (!g) throw new PruningError(`no gradient for ${v.name}`);
        const data = g.dataSync();
        const sum = sums[i] as Float32Array;
        for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) + (data[j] as number);
      });
    });
  }
  for (const sum of sums) for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) / batches.length;
  return sums;
}

/** |w · ∂L/∂w| for every prunable kernel, in model order (the kernels must be read from the same model). */
export function gradientScores(model: LayersModel, kernels: Kernel[], ctx: PruneContext): Float32Array[] {
  const grads = kernelGradients(model, ctx.gradientBatches);
  return kernels.map((k, i) => {
    const g = grads[i] as Float32Array;
    return k.values.map((w, j) => Math.abs(w * (g[j] as number)));
  });
}

/** One threshold over all prunable |w · ∂L/∂w|: exactly round(total / rate) weights survive. */
export function globalGradientMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  const kernels = readKernels(model);
  return globalMasks(kernels, gradientScores(model, kernels, ctx), rate);
}

/** Every layer keeps its share (floor or ceil of n_l / rate, see layerKeepCounts) of largest |w · ∂L/∂w|. */
export function layerGradientMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  const kernels = readKernels(model);
  return layerMasks(kernels, gradientScores(model, kernels, ctx), rate);
}
