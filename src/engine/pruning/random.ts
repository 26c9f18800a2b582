// Random pruning (ShrinkBench's RandomPruning, a layer-wise strategy): every layer keeps exactly
// its share (floor or ceil of n_l / rate, see layerKeepCounts) of its weights, chosen at random. Seeded: the same ctx.seed gives the
// same masks; Math.random is never used.
//
// Weights that are already exactly zero go first (score -1, below every random score in [0, 1)),
// so a cumulative schedule (pruning the fine-tuned variant of the previous rate) keeps what was
// pruned pruned, as the paper's random pruning does. A dense model has no zero weights, so one-shot
// masks are those of before.
import type { LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { PruningError } from "./errors.js";
import { layerMasks, readKernels } from "./select.js";
import { mulberry32, type Rng } from "../random.js";

/** The random stream of a pruning seed (one stream over the layers in model order). */
export function pruningRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) throw new PruningError(`random pruning needs an integer seed, got ${seed}`);
  return mulberry32(Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b1) ^ (seed >>> 0) ^ 0x5eed);
}

/** Score of a dead unit (all its weights zero) under a random rule: below every draw. */
export const DEAD = -1;

export function randomMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  const kernels = readKernels(model);
  const next = pruningRng(ctx.seed);
  // Random scores, top share per layer kept. (Float32 scores can tie; ties go to the lower index,
  // so the count stays exact.) A draw is taken for every weight, dead or not, so the stream of a
  // model with zeros is the same as without.
  const scores = kernels.map((k) => {
    const s = new Float32Array(k.values.length);
    for (let i = 0; i < s.length; i++) {
      const r = next();
      s[i] = k.values[i] === 0 ? DEAD : r;
    }
    return s;
  });
  return layerMasks(kernels, scores, rate);
}
