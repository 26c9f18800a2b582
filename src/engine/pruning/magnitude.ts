// Magnitude pruning (ShrinkBench's GlobalMagWeight / LayerMagWeight): score = |w|.
import type { LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { globalMasks, layerMasks, readKernels, type Kernel } from "./select.js";

/** |w| for every prunable kernel, in model order. */
export function magnitudeScores(kernels: Kernel[]): Float32Array[] {
  return kernels.map((k) => k.values.map(Math.abs));
}

/** One threshold over all prunable |w|: exactly round(total / rate) weights survive. */
export function globalMagnitudeMasks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const kernels = readKernels(model);
  return globalMasks(kernels, magnitudeScores(kernels), rate);
}

/** Every layer keeps its share (floor or ceil of n_l / rate, see layerKeepCounts) of largest |w|. */
export function layerMagnitudeMasks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const kernels = readKernels(model);
  return layerMasks(kernels, magnitudeScores(kernels), rate);
}
