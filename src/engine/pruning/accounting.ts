// What a (pruned) model really holds: counts the non-zero values in its weights — not in masks —
// and the bytes needed to store it sparse.
//
// Sparse storage format (sparseBytes), simple and exact:
// - every prunable kernel (Conv2D / Dense kernel) as a coordinate list: each non-zero value as a
//   float32 (4 B) plus its flat index into the kernel as an int32 (4 B) → 8 B per non-zero weight;
// - every other parameter (biases, any other weights) dense, 4 B each, zero or not.
// So sparseBytes = 8 · nonZeroPrunable + 4 · (totalParams − prunableParams). Shapes and layer
// names (a few bytes of metadata) are not counted. Break-even with dense storage is at c = 2.
import type { LayersModel } from "../tf.js";
import { prunableWeights } from "../models.js";
import { layerOf } from "../masks.js";

export const VALUE_BYTES = 4;
export const INDEX_BYTES = 4;

export interface SparsityReport {
  prunableParams: number;
  nonZeroPrunable: number;
  /** Every weight of the model (trainable or not), biases included. */
  totalParams: number;
  nonZeroParams: number;
  /** prunableParams ÷ nonZeroPrunable (ShrinkBench's compression); Infinity when nothing prunable survives. */
  compression: number;
  /** Bytes to store the model sparse (format above). */
  sparseBytes: number;
  /** 4 B × totalParams. */
  denseBytes: number;
  perLayer: { layer: string; params: number; nonZero: number }[];
}

function countNonZero(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) n++;
  return n;
}

export function measureSparsity(model: LayersModel): SparsityReport {
  const prunable = new Set(prunableWeights(model));
  const perLayer: SparsityReport["perLayer"] = [];
  let prunableParams = 0;
  let nonZeroPrunable = 0;
  let totalParams = 0;
  let nonZeroParams = 0;
  for (const v of model.weights) {
    const value = v.read();
    const size = value.size;
    const nonZero = countNonZero(value.dataSync() as Float32Array);
    totalParams += size;
    nonZeroParams += nonZero;
    if (prunable.has(v)) {
      prunableParams += size;
      nonZeroPrunable += nonZero;
      perLayer.push({ layer: layerOf(v), params: size, nonZero });
    }
  }
  return {
    prunableParams,
    nonZeroPrunable,
    totalParams,
    nonZeroParams,
    compression: prunableParams / nonZeroPrunable,
    sparseBytes: (VALUE_BYTES + INDEX_BYTES) * nonZeroPrunable + VALUE_BYTES * (totalParams - prunableParams),
    denseBytes: VALUE_BYTES * totalParams,
    perLayer,
  };
}
