// Public surface of the pruning module.
export {
  STRATEGIES,
  parseStrategy,
  parseRate,
  validateRate,
  strategyFor,
  InvalidRateError,
  PruningError,
  UnknownStrategyError,
  type StrategyName,
  type PruneContext,
  type PruningStrategy,
} from "./strategy.js";
export { measureSparsity, VALUE_BYTES, INDEX_BYTES, type SparsityReport } from "./accounting.js";
export { pruneModel, type PruneResult } from "./prune.js";
export { planStructured, chain as filterChain, type StructuredPlan } from "./structured.js";
export { magnitudeScores } from "./magnitude.js";
export { gradientScores, kernelGradients } from "./gradient.js";
export { mulberry32 } from "../random.js";
export { keepCount, readKernels, type Kernel } from "./select.js";
export { dropReport, type DropReport } from "./dropped.js";
export { kernelKeepCounts, kernelLayers, KernelGranularityError } from "./kernel.js";
