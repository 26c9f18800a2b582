// Pruning masks: for each prunable layer (by layer name), 0/1 values in the kernel's own layout.
import { tf, type LayersModel } from "./tf.js";
import { prunableWeights } from "./models.js";

export type Masks = Map<string, Float32Array>;

/** The layer a prunable kernel belongs to ("conv1/kernel_3" → "conv1"). */
export function layerOf(variable: tf.LayerVariable): string {
  return variable.originalName.split("/")[0] ?? variable.originalName;
}

/** Multiplies every masked kernel by its mask, so pruned weights become exactly zero. */
export function applyMasks(model: LayersModel, masks: Masks): void {
  for (const v of prunableWeights(model)) {
    const mask = masks.get(layerOf(v));
    if (!mask) continue;
    tf.tidy(() => {
      const value = v.read();
      // where() rather than multiplying: w * 0 is -0 for negative w, and stored bytes (hence the
      // weight hash) should not depend on the sign of a pruned weight.
      v.write(tf.where(tf.tensor(mask, value.shape, "bool"), value, tf.zerosLike(value)));
    });
  }
}
