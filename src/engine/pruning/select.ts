// Shared helpers: reading prunable kernels, exact top-k selection, global and layer-wise masks.
import type { LayersModel } from "../tf.js";
import { prunableWeights } from "../models.js";
import { layerOf, type Masks } from "../masks.js";
import { keepCount, layerKeepCounts } from "./counts.js";
import { PruningError } from "./errors.js";

export { keepCount, layerKeepCounts };

export interface Kernel {
  /** Layer name (the key of its mask). */
  layer: string;
  shape: number[];
  /** A copy of the kernel's values, in the kernel's own layout. */
  values: Float32Array;
}

/** Copies of every prunable kernel, in model order. */
export function readKernels(model: LayersModel): Kernel[] {
  return prunableWeights(model).map((v) => ({
    layer: layerOf(v),
    shape: [...v.shape] as number[],
    values: Float32Array.from(v.read().dataSync() as Float32Array),
  }));
}

/** All-ones masks (nothing pruned). */
export function onesMasks(model: LayersModel): Masks {
  const masks: Masks = new Map();
  for (const k of readKernels(model)) masks.set(k.layer, new Float32Array(k.values.length).fill(1));
  return masks;
}


/**
 * A 0/1 mask keeping exactly `k` entries: those with the largest scores. Ties at the threshold are
 * broken by index (the lower index is kept), so exactly k survive whatever the scores.
 */
export function keepTop(scores: Float32Array, k: number): Float32Array {
  const n = scores.length;
  const mask = new Float32Array(n);
  if (k >= n) return mask.fill(1);
  if (k <= 0) return mask;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`pruning score ${i} is NaN (diverged weights or gradients?)`);
  }
  const sorted = Float32Array.from(scores).sort();
  const threshold = sorted[n - k] as number;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if ((scores[i] as number) > threshold) {
      mask[i] = 1;
      kept++;
    }
  }
  for (let i = 0; i < n && kept < k; i++) {
    if (scores[i] === threshold) {
      mask[i] = 1;
      kept++;
    }
  }
  return mask;
}

/**
 * Global selection: one ranking over all layers' scores, exactly round(total / rate) survive.
 * Ties are broken by position in the concatenation (model order, then index in the kernel).
 */
export function globalMasks(kernels: Kernel[], scores: Float32Array[], rate: number): Masks {
  const total = kernels.reduce((s, k) => s + k.values.length, 0);
  const keep = keepCount(total, rate);
  if (keep < 1) throw new PruningError(`compression rate ${rate} would remove all ${total} prunable weights`);
  const all = new Float32Array(total);
  let offset = 0;
  for (const s of scores) {
    all.set(s, offset);
    offset += s.length;
  }
  const mask = keepTop(all, keep);
  const masks: Masks = new Map();
  offset = 0;
  kernels.forEach((k) => {
    masks.set(k.layer, mask.slice(offset, offset + k.values.length));
    offset += k.values.length;
  });
  return masks;
}


/** Layer-wise selection: every layer keeps its share (layerKeepCounts) of its own weights. */
export function layerMasks(kernels: Kernel[], scores: Float32Array[], rate: number): Masks {
  const masks: Masks = new Map();
  const counts = layerKeepCounts(kernels.map((k) => k.values.length), rate);
  kernels.forEach((k, i) => {
    const keep = counts[i] as number;
    if (keep < 1) throw new PruningError(`compression rate ${rate} would remove every weight of layer "${k.layer}" (${k.values.length} weights) in layer-wise pruning`);
    masks.set(k.layer, keepTop(scores[i] as Float32Array, keep));
  });
  return masks;
}
