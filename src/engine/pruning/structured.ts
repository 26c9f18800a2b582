// Structured pruning by L1 norm (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): whole
// conv filters (output channels) and dense neurons (output units) go, ranked by the L1 norm of
// their incoming weights (the kernel slice [.., .., .., o] or column [.., o]).
//
// Rules:
// - The last prunable layer (the classifier, producing the logits) keeps all its outputs:
//   removing one would delete a class. Its inputs still shrink when the layer before it loses units.
// - Removing output unit o of layer L also kills the matching INPUT weights of the next prunable
//   layer; they are zeroed in that layer's mask and counted. Conv → conv: input channel o.
//   Conv → (pool) → flatten → dense: flatten is NHWC, so dense input row r belongs to channel
//   r mod C. Dense → dense: input row o. Only channel-preserving layers (pooling, flatten,
//   activation, dropout) may sit between two prunable layers; anything else is refused.
// - Every other prunable layer keeps k_l = clamp(round(q · units_l), 1, units_l) units for ONE
//   keep-fraction q shared by all layers (at least one unit, so the network stays connected).
//   Units are ranked on the original weights, layer by layer independently (ties: lower index kept).
// - q is chosen by enumerating every distinct (k_l) configuration the shared fraction can produce
//   (between consecutive rounding breakpoints) and taking the one whose compression
//   (prunable params ÷ surviving mask entries) is nearest to the requested rate (absolute
//   difference; on a tie the less pruned one). So the achieved compression is the nearest
//   achievable under this rule, usually not the requested one exactly; planStructured reports it.
//
// The same machinery serves the paper's other filter rules (names `filter/<rule>`; structured-l1
// is filter/magnitude-local):
// - filter/random-local: the kept counts of the plan above, the units chosen at random (seeded);
// - filter/magnitude-global: one ranking over the units of every unprotected layer by MEAN |w| of
//   their incoming weights (L1 ÷ KH·KW·Cin), the paper's normalisation for its global structured
//   rules (its code divides each filter's L1 by the filter's size): the L1 sum would favour
//   removing the neurons of layers with small fan-in and keep wide conv filters regardless of
//   their weights. Units go in ascending order (ties: model order, then index), skipping a layer's
//   last unit; every removal also kills the next layer's matching inputs (counted exactly, as in
//   the plan), and the prefix whose compression is nearest to c is taken (a tie: the less pruned).
// Dead units (all incoming weights already zero: pruned at the previous rate of a cumulative
// schedule) go first under every rule — their L1 is 0, and random scores put them below every draw.
import type { LayersModel } from "../tf.js";
import type { Masks } from "../masks.js";
import type { PruneContext } from "./strategy.js";
import { PruningError } from "./errors.js";
import { keepTop, readKernels, type Kernel } from "./select.js";
import { DEAD, pruningRng } from "./random.js";

const PASSTHROUGH = new Set([
  "InputLayer",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalMaxPooling2D",
  "GlobalAveragePooling2D",
  "Flatten",
  "Activation",
  "ReLU",
  "Dropout",
]);

export interface UnitLayer {
  kernel: Kernel;
  /** Output units (filters / neurons): the kernel's last dimension. */
  units: number;
  /** Input index count: Cin for conv, rows for dense. */
  inputs: number;
  /** KH·KW for conv, 1 for dense. */
  spatial: number;
  /** Input index i comes from unit (i mod units of the previous prunable layer); undefined for the first. */
  prevUnits: number | undefined;
  /** The last prunable layer: all outputs kept. */
  protected: boolean;
}

/** The prunable layers as a chain of units (throws PruningError when channels cannot be mapped, see the rules above). */
export function chain(model: LayersModel): UnitLayer[] {
  const kernels = new Map(readKernels(model).map((k) => [k.layer, k]));
  const out: UnitLayer[] = [];
  let between: string[] = [];
  let prevConvChannelsFirst = false;
  for (const layer of model.layers) {
    const kernel = kernels.get(layer.name);
    if (!kernel) {
      if (out.length > 0) between.push(layer.getClassName());
      continue;
    }
    const isConv = layer.getClassName() === "Conv2D";
    const prev = out[out.length - 1];
    if (prev) {
      const bad = between.filter((c) => !PASSTHROUGH.has(c));
      if (bad.length > 0) {
        throw new PruningError(`filter pruning: cannot map channels through ${bad.join(", ")} between prunable layers (before "${layer.name}")`);
      }
      if (!isConv && prevConvChannelsFirst) throw new PruningError("filter pruning: channelsFirst convolutions are not supported");
    }
    const units = kernel.shape[kernel.shape.length - 1] as number;
    const inputs = kernel.shape[kernel.shape.length - 2] as number;
    const spatial = isConv ? (kernel.shape[0] as number) * (kernel.shape[1] as number) : 1;
    if (prev && inputs % prev.units !== 0) {
      throw new PruningError(`filter pruning: "${layer.name}" has ${inputs} inputs, not a multiple of the ${prev.units} units before it`);
    }
    if (prev && isConv && inputs !== prev.units) {
      throw new PruningError(`filter pruning: "${layer.name}" has ${inputs} input channels but ${prev.units} come in`);
    }
    out.push({ kernel, units, inputs, spatial, prevUnits: prev?.units, protected: false });
    prevConvChannelsFirst = isConv && (layer.getConfig() as { dataFormat?: string }).dataFormat === "channelsFirst";
    between = [];
  }
  if (out.length === 0) throw new PruningError("filter pruning: the model has no prunable layers");
  (out[out.length - 1] as UnitLayer).protected = true;
  return out;
}

function keptUnits(layers: UnitLayer[], q: number): number[] {
  return layers.map((l) => (l.protected ? l.units : Math.min(l.units, Math.max(1, Math.round(q * l.units)))));
}

export function nonZeroFor(layers: UnitLayer[], kept: number[]): number {
  let total = 0;
  layers.forEach((l, i) => {
    const liveInputs = l.prevUnits === undefined ? l.inputs : (l.inputs / l.prevUnits) * (kept[i - 1] as number);
    total += l.spatial * liveInputs * (kept[i] as number);
  });
  return total;
}

export interface StructuredPlan {
  requestedRate: number;
  /** The shared keep-fraction q that produced this configuration. */
  keepFraction: number;
  layers: { layer: string; units: number; kept: number; protected: boolean }[];
  prunableParams: number;
  /** Surviving mask entries. */
  nonZero: number;
  /** prunableParams ÷ nonZero: the nearest achievable to requestedRate under the rule above. */
  compression: number;
}

/** Chooses how many units each layer keeps (see the rules at the top of this file). */
export function planStructured(model: LayersModel, rate: number): StructuredPlan {
  return planFor(chain(model), rate);
}

function planFor(layers: UnitLayer[], rate: number): StructuredPlan {
  const prunableParams = layers.reduce((s, l) => s + l.kernel.values.length, 0);
  // round(q·u) changes only at q = (j + 0.5) / u; one candidate per interval between breakpoints.
  const breaks = new Set<number>();
  for (const l of layers) if (!l.protected) for (let j = 0; j < l.units; j++) breaks.add((j + 0.5) / l.units);
  const sorted = [...breaks].sort((a, b) => a - b);
  const candidates = [1];
  if (sorted.length > 0) {
    candidates.push((sorted[0] as number) / 2);
    for (let i = 1; i < sorted.length; i++) candidates.push(((sorted[i - 1] as number) + (sorted[i] as number)) / 2);
  }
  let best: { q: number; kept: number[]; nonZero: number; compression: number } | undefined;
  for (const q of candidates) {
    const kept = keptUnits(layers, q);
    const nonZero = nonZeroFor(layers, kept);
    const compression = prunableParams / nonZero;
    const d = Math.abs(compression - rate);
    const bestD = best ? Math.abs(best.compression - rate) : Infinity;
    if (!best || d < bestD || (d === bestD && nonZero > best.nonZero)) best = { q, kept, nonZero, compression };
  }
  const b = best as NonNullable<typeof best>;
  return {
    requestedRate: rate,
    keepFraction: b.q,
    layers: layers.map((l, i) => ({ layer: l.kernel.layer, units: l.units, kept: b.kept[i] as number, protected: l.protected })),
    prunableParams,
    nonZero: b.nonZero,
    compression: b.compression,
  };
}

/** L1 norm of each output unit's incoming weights (sum of |w| over all but the last axis). */
export function unitL1(kernel: Kernel): Float32Array {
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const l1 = new Float32Array(units);
  // Accumulate in float64 (large fan-ins), store as float32 for keepTop.
  const acc = new Float64Array(units);
  kernel.values.forEach((w, i) => (acc[i % units] = (acc[i % units] as number) + Math.abs(w)));
  l1.set(acc);
  return l1;
}

/** Masks of the units left alive (1) per layer: a dead unit's incoming weights and the next layer's inputs from it are 0. */
export function filterMasks(layers: UnitLayer[], alive: Float32Array[]): Masks {
  const masks: Masks = new Map();
  layers.forEach((l, i) => {
    const out = alive[i] as Float32Array;
    const prevAlive = alive[i - 1];
    const mask = new Float32Array(l.kernel.values.length);
    // Layout [..., inputs, units] (conv [KH, KW, Cin, Cout], dense [in, out]): flat = (s·inputs + in)·units + o.
    for (let idx = 0; idx < mask.length; idx++) {
      const o = idx % l.units;
      const input = Math.floor(idx / l.units) % l.inputs;
      const inAlive = prevAlive === undefined || l.prevUnits === undefined ? 1 : (prevAlive[input % l.prevUnits] as number);
      mask[idx] = (out[o] as number) * inAlive;
    }
    masks.set(l.kernel.layer, mask);
  });
  return masks;
}

export function structuredL1Masks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const layers = chain(model);
  const plan = planFor(layers, rate);
  const alive = layers.map((l, i) => (l.protected ? new Float32Array(l.units).fill(1) : keepTop(unitL1(l.kernel), plan.layers[i]?.kept as number)));
  return filterMasks(layers, alive);
}

/** Units whose incoming weights are all zero. */
function deadUnits(kernel: Kernel, units: number): Uint8Array {
  const live = new Uint8Array(units);
  kernel.values.forEach((w, i) => {
    if (w !== 0) live[i % units] = 1;
  });
  return live.map((x) => 1 - x);
}

/** filter/random-local: the plan's kept counts, units drawn at random (dead ones first). */
export function filterRandomMasks(model: LayersModel, rate: number, ctx: PruneContext): Masks {
  const layers = chain(model);
  const plan = planFor(layers, rate);
  const next = pruningRng(ctx.seed);
  const alive = layers.map((l, i) => {
    if (l.protected) return new Float32Array(l.units).fill(1);
    const dead = deadUnits(l.kernel, l.units);
    const scores = new Float32Array(l.units);
    for (let o = 0; o < l.units; o++) {
      const r = next();
      scores[o] = dead[o] ? DEAD : r;
    }
    return keepTop(scores, plan.layers[i]?.kept as number);
  });
  return filterMasks(layers, alive);
}

/** filter/magnitude-global (see the header): the kept counts per layer and the masks. */
export function filterGlobalMasks(model: LayersModel, rate: number, _ctx: PruneContext): Masks {
  const layers = chain(model);
  const order: { layer: number; unit: number; score: number }[] = [];
  layers.forEach((l, li) => {
    if (l.protected) return;
    const l1 = unitL1(l.kernel);
    const size = l.kernel.values.length / l.units;
    for (let o = 0; o < l.units; o++) order.push({ layer: li, unit: o, score: (l1[o] as number) / size });
  });
  order.sort((a, b) => a.score - b.score);
  const prunableParams = layers.reduce((s, l) => s + l.kernel.values.length, 0);
  const kept = layers.map((l) => l.units);
  // Non-zero weights of layer i: spatial · live inputs · kept units; a removal changes layers i and i + 1.
  const term = (i: number): number => {
    const l = layers[i];
    if (!l) return 0;
    const liveInputs = l.prevUnits === undefined ? l.inputs : (l.inputs / l.prevUnits) * (kept[i - 1] as number);
    return l.spatial * liveInputs * (kept[i] as number);
  };
  let nonZero = nonZeroFor(layers, kept);
  const removed: { layer: number; unit: number }[] = [];
  let bestLength = 0;
  let bestD = Math.abs(1 - rate);
  for (const o of order) {
    if ((kept[o.layer] as number) <= 1) continue;
    const before = term(o.layer) + term(o.layer + 1);
    kept[o.layer] = (kept[o.layer] as number) - 1;
    nonZero += term(o.layer) + term(o.layer + 1) - before;
    removed.push(o);
    const d = Math.abs(prunableParams / nonZero - rate);
    if (d < bestD) {
      bestD = d;
      bestLength = removed.length;
    }
    if (prunableParams / nonZero >= rate) break;
  }
  const alive = layers.map((l) => new Float32Array(l.units).fill(1));
  for (const r of removed.slice(0, bestLength)) (alive[r.layer] as Float32Array)[r.unit] = 0;
  return filterMasks(layers, alive);
}
