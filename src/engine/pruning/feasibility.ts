// Which (strategy, rate) pairs a model cannot be pruned to, from its prunable layer sizes alone
// (no TensorFlow): global selections need round(total / rate) >= 1 weight; layer-wise ones
// (SELECTION in names.ts) need every layer to keep at least one weight after
// the largest-remainder apportionment (a layer emptied entirely would cut the network). The
// pruning itself throws PruningError in exactly these cases; checking first lets a refresh say so
// before hours of other cells, instead of failing at the end. The kernel and filter strategies
// always have an achievable rate (the nearest one, see kernel.ts and structured.ts), so they are
// never infeasible here (kernel/* on a model without convolutions is: see hasKernels).
import { keepCount, layerKeepCounts } from "./counts.js";
import { SELECTION, type StrategyName } from "./names.js";

export interface PrunableLayer {
  layer: string;
  /** Prunable weights of the layer (its kernel's size). */
  weights: number;
  /** Conv2D or Dense, when known (kernel/* needs at least one convolution). */
  kind?: "conv" | "dense";
}

/** Whether kernel-granularity pruning applies: the model has a convolution (an MLP's kernels would be single weights). */
export function hasKernels(layers: readonly PrunableLayer[]): boolean {
  return layers.some((l) => l.kind === "conv");
}

export interface Infeasible {
  strategy: StrategyName;
  rate: number;
  reason: string;
}

export function infeasiblePairs(layers: readonly PrunableLayer[], strategies: readonly StrategyName[], rates: readonly number[]): Infeasible[] {
  const total = layers.reduce((a, l) => a + l.weights, 0);
  const out: Infeasible[] = [];
  for (const rate of rates) {
    if (rate <= 1) continue;
    const counts = layerKeepCounts(layers.map((l) => l.weights), rate);
    const emptied = layers.findIndex((_, i) => counts[i]! < 1);
    for (const strategy of strategies) {
      if (SELECTION[strategy] === "global" && keepCount(total, rate) < 1) {
        out.push({ strategy, rate, reason: `at ${rate}× no weight of the ${total} prunable ones would be left` });
      } else if (SELECTION[strategy] === "layer" && emptied >= 0) {
        const l = layers[emptied]!;
        out.push({ strategy, rate, reason: `layer-wise pruning at ${rate}× would remove every weight of layer "${l.layer}" (${l.weights} weights)` });
      }
    }
  }
  return out;
}

