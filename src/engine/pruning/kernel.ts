// Kernel-structured pruning (Merkle et al. 2021; Mao et al. 2017's "kernel-level" sparsity): the
// unit removed is a whole k×k kernel — the slice [.., .., i, o] of a conv kernel [KH, KW, Cin, Cout]
// that connects input channel i to filter o. A Dense layer is a 1×1 convolution over a 1×1 map, so
// its kernels are its single weights: in a CNN the dense layers are pruned weight by weight under
// the same rule, and an MLP (dense layers only) has no kernels at all — kernel/* would be
// unstructured pruning under another name, so it does not apply to MLPs (KernelGranularityError;
// the grid planner skips such combinations, see src/matrix/grid.ts).
//
// Counts. Unit u of a layer (u = i·Cout + o) holds the weights u + s·(Cin·Cout), s < KH·KW.
// - random-local, magnitude-local: every layer keeps k_l = clamp(round(U_l / c), 1, U_l) of its
//   U_l kernels (at least one, so the network stays connected) — chosen at random (seeded) or by
//   L1 norm. The achieved compression is Σ size·U ÷ Σ size·k, as close to c as whole kernels allow.
// - magnitude-global: one ranking over every layer's kernels by MEAN |w| (L1 ÷ kernel size), the
//   normalisation the paper's code uses for its global structured rules: a 5×5 conv kernel and a
//   single dense weight are compared per weight, not by sum (which would always remove the single
//   weights first). Kernels go in ascending order (ties: model order, then index), skipping a
//   layer's last kernel; the prefix whose compression is nearest to c is taken (a tie: the less
//   pruned one).
// Dead kernels (all weights already zero, e.g. pruned at the previous rate of a cumulative
// schedule) go first under every rule, so the pruned set only grows along a schedule.
import type { LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { PruningError } from "./errors.js";
import { keepTop, readKernels, type Kernel } from "./select.js";
import { DEAD, pruningRng } from "./random.js";

export class KernelGranularityError extends PruningError {
  override name = "KernelGranularityError";
}

export interface KernelLayer {
  kernel: Kernel;
  /** Kernels of the layer: Cin·Cout (a Dense layer: every weight). */
  units: number;
  /** Weights per kernel: KH·KW (1 for Dense). */
  size: number;
}

export function kernelLayers(model: LayersModel): KernelLayer[] {
  const layers = readKernels(model).map((kernel) => {
    const units = (kernel.shape[kernel.shape.length - 2] as number) * (kernel.shape[kernel.shape.length - 1] as number);
    return { kernel, units, size: kernel.values.length / units };
  });
  if (!layers.some((l) => l.kernel.shape.length === 4)) {
    throw new KernelGranularityError("kernel pruning needs convolution layers: this model has only dense layers, whose kernels are single weights (use unstructured/* instead)");
  }
  return layers;
}

/** Per kernel: L1 norm, and whether all its weights are zero. */
function kernelL1(l: KernelLayer): { l1: Float64Array; dead: Uint8Array } {
  const l1 = new Float64Array(l.units);
  const live = new Uint8Array(l.units);
  const v = l.kernel.values;
  for (let idx = 0; idx < v.length; idx++) {
    const u = idx % l.units;
    const w = v[idx] as number;
    l1[u] = (l1[u] as number) + Math.abs(w);
    if (w !== 0) live[u] = 1;
  }
  return { l1, dead: live.map((x) => 1 - x) };
}

/** Kernels each layer keeps under a local rule: clamp(round(U / c), 1, U). */
export function kernelKeepCounts(layers: readonly Pick<KernelLayer, "units">[], rate: number): number[] {
  return layers.map((l) => Math.min(l.units, Math.max(1, Math.round(l.units / rate))));
}

function expand(l: KernelLayer, alive: Float32Array): Float32Array {
  const mask = new Float32Array(l.kernel.values.length);
  for (let idx = 0; idx < mask.length; idx++) mask[idx] = alive[idx % l.units] as number;
  return mask;
}

function localMasks(layers: KernelLayer[], rate: number, scores: Float32Array[]): Masks {
  const counts = kernelKeepCounts(layers, rate);
  const masks: Masks = new Map();
  layers.forEach((l, i) => masks.set(l.kernel.layer, expand(l, keepTop(scores[i] as Float32Array, counts[i] as number))));
  return masks;
}

export function kernelRandomMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  const layers = kernelLayers(model);
  const next = pruningRng(ctx.seed);
  const scores = layers.map((l) => {
    const { dead } = kernelL1(l);
    const s = new Float32Array(l.units);
    for (let u = 0; u < l.units; u++) {
      const r = next();
      s[u] = dead[u] ? DEAD : r;
    }
    return s;
  });
  return localMasks(layers, rate, scores);
}

export function kernelMagnitudeLocalMasks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const layers = kernelLayers(model);
  // Dead kernels have L1 0, the lowest score: they go first without a special case.
  return localMasks(layers, rate, layers.map((l) => Float32Array.from(kernelL1(l).l1)));
}

export function kernelMagnitudeGlobalMasks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const layers = kernelLayers(model);
  const order: { layer: number; unit: number; score: number }[] = [];
  layers.forEach((l, li) => {
    const { l1 } = kernelL1(l);
    for (let u = 0; u < l.units; u++) order.push({ layer: li, unit: u, score: (l1[u] as number) / l.size });
  });
  // Stable sort: ties keep model order, then index.
  order.sort((a, b) => a.score - b.score);
  const total = layers.reduce((s, l) => s + l.kernel.values.length, 0);
  const left = layers.map((l) => l.units);
  let nonZero = total;
  const removed: { layer: number; unit: number }[] = [];
  let bestLength = 0;
  let bestD = Math.abs(1 - rate);
  for (const o of order) {
    if ((left[o.layer] as number) <= 1) continue;
    left[o.layer] = (left[o.layer] as number) - 1;
    nonZero -= (layers[o.layer] as KernelLayer).size;
    removed.push(o);
    const d = Math.abs(total / nonZero - rate);
    if (d < bestD) {
      bestD = d;
      bestLength = removed.length;
    }
    if (total / nonZero >= rate) break;
  }
  const alive = layers.map((l) => new Float32Array(l.units).fill(1));
  for (const r of removed.slice(0, bestLength)) (alive[r.layer] as Float32Array)[r.unit] = 0;
  const masks: Masks = new Map();
  layers.forEach((l, i) => masks.set(l.kernel.layer, expand(l, alive[i] as Float32Array)));
  return masks;
}
