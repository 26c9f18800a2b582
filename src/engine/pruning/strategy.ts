// Pruning strategies, in the style of ShrinkBench: a strategy is a small object whose one job is to
// return masks (0/1 per prunable weight, keyed by layer name). Applying them and measuring the
// result is someone else's job (prune.ts, accounting.ts).
//
// Everything here is synchronous: scores are read back with dataSync, which every backend the
// engine uses (cpu, wasm, tfjs-node) supports.
import type { tf, LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import { globalMagnitudeMasks, layerMagnitudeMasks } from "./magnitude.js";
import { globalGradientMasks, layerGradientMasks } from "./gradient.js";
import { randomMasks } from "./random.js";
import { filterGlobalMasks, filterRandomMasks, structuredL1Masks } from "./structured.js";
import { kernelMagnitudeGlobalMasks, kernelMagnitudeLocalMasks, kernelRandomMasks } from "./kernel.js";
import { onesMasks } from "./select.js";
import { granularityOf, parseStrategy, validateRate, type StrategyName } from "./names.js";

export { InvalidRateError, PruningError, UnknownStrategyError } from "./errors.js";
export { STRATEGIES, parseRate, parseStrategy, validateRate, type StrategyName } from "./names.js";

export interface PruneContext {
  /** Seeds every random choice (only the random rules make any). */
  seed: number;
  /** Data for the gradient strategies: inputs in [0,1] and integer class labels. */
  gradientBatches?: { x: tf.Tensor4D; y: tf.Tensor1D }[];
}

export interface PruningStrategy {
  name: StrategyName;
  /**
   * True when whole filters / neurons go (filter granularity: real compute savings in a dense
   * deployment), false for single weights and for kernels (a dense convolution still computes a
   * pruned kernel's zeros; what kernel pruning really saves is in droppedBytes, see dropped.ts).
   */
  structured: boolean;
  /** Masks for every prunable layer. Does not modify the model. `rate` is the compression rate c >= 1. */
  masks(model: LayersModel, rate: number, ctx: PruneContext): Masks;
}

type MaskFn = (model: LayersModel, rate: number, ctx: PruneContext) => Masks;

const IMPLEMENTATIONS: Record<StrategyName, MaskFn> = {
  "global-magnitude": globalMagnitudeMasks,
  "layer-magnitude": layerMagnitudeMasks,
  "global-gradient": globalGradientMasks,
  "layer-gradient": layerGradientMasks,
  random: randomMasks,
  "structured-l1": structuredL1Masks,
  "kernel/random-local": kernelRandomMasks,
  "kernel/magnitude-local": kernelMagnitudeLocalMasks,
  "kernel/magnitude-global": kernelMagnitudeGlobalMasks,
  "filter/random-local": filterRandomMasks,
  "filter/magnitude-global": filterGlobalMasks,
};

/** The strategy of that name. Its `masks` validates the rate; rate 1 always gives all-ones masks. */
export function strategyFor(name: StrategyName | string): PruningStrategy {
  const strategyName = parseStrategy(name);
  const maskFn = IMPLEMENTATIONS[strategyName];
  return {
    name: strategyName,
    structured: granularityOf(strategyName) === "filter",
    masks(model, rate, ctx) {
      const c = validateRate(rate);
      if (c === 1) return onesMasks(model);
      return maskFn(model, c, ctx);
    },
  };
}
