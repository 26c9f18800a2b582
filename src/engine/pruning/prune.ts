// Prune a model in place: masks from the strategy, applied, then measured on the weights.
import type { LayersModel } from "../tf.js";
import { applyMasks, type Masks } from "../masks.js";
import { parseStrategy, strategyFor, validateRate, type PruneContext, type StrategyName } from "./strategy.js";
import { measureSparsity, type SparsityReport } from "./accounting.js";

export interface PruneResult {
  strategy: StrategyName;
  masks: Masks;
  /** Measured after applying the masks; report.compression is the achieved rate. */
  report: SparsityReport;
  requestedRate: number;
}

/** Modifies the model's kernels (pruned weights become exactly 0). Keep `masks` to hold them fixed while fine-tuning. */
export function pruneModel(model: LayersModel, strategyName: StrategyName | string, rate: number, ctx: PruneContext): PruneResult {
  const strategy = strategyFor(parseStrategy(strategyName));
  const requestedRate = validateRate(rate);
  const masks = strategy.masks(model, requestedRate, ctx);
  applyMasks(model, masks);
  return { strategy: strategy.name, masks, report: measureSparsity(model), requestedRate };
}
