// Random pruning (ShrinkBench's RandomPruning, a layer-wise strategy): every layer keeps exactly
// its share (floor or ceil of n_l / rate, see layerKeepCounts) of its weights, chosen at random. Seeded: the same ctx.seed gives the
// same masks; Math.random is never used.
import type { LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { PruningError } from "./errors.js";
import { layerMasks, readKernels } from "./select.js";
import { mulberry32 } from "../random.js";

export function randomMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  if (!Number.isSafeInteger(ctx.seed)) throw new PruningError(`random pruning needs an integer seed, got ${ctx.seed}`);
  const kernels = readKernels(model);
  // One stream over the layers in model order; random scores, top share per layer kept.
  // (Float32 scores can tie; ties go to the lower index, so the count stays exact.)
  const next = mulberry32(Math.imul(Math.floor(ctx.seed / 2 ** 32), 0x9e3779b1) ^ (ctx.seed >>> 0) ^ 0x5eed);
  const scores = kernels.map((k) => {
    const s = new Float32Array(k.values.length);
    for (let i = 0; i < s.length; i++) s[i] = next();
    return s;
  });
  return layerMasks(kernels, scores, rate);
}
