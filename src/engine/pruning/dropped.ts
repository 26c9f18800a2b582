// What a structured variant really deploys: the bytes of the DENSE model (4 B per parameter) with
// every removable unit physically dropped — the smaller network a user would rebuild and ship.
//
// A unit (filter / neuron o of a prunable layer that is not the classifier) is removable when
// nothing downstream reads it: every weight of the next prunable layer reading it (conv → conv:
// input channel o; → flatten → dense: the rows r with r mod C = o; dense → dense: row o) is zero.
// Dropping it takes its incoming kernel slice, its bias and those zero reading weights with it and
// leaves the network's function exactly as it was (its output only ever met zero weights).
// - Filter granularity: every removed filter is removable (the pruning zeroes the next layer's
//   inputs from it), so droppedBytes is the model rebuilt with the kept filter counts.
// - Kernel granularity: a filter goes only when ALL the next layer's kernels reading its channel
//   were pruned (an input channel left fully empty). A filter whose own kernels were all pruned
//   but whose (constant, relu(bias)) output is still read is NOT dropped: removing it would change
//   the function unless its constant were folded into the next layer, which with 'same' padding is
//   not exact at the borders. So droppedBytes counts what is really removable, often little.
// Models whose prunable layers cannot be chained through channel-preserving layers (batch
// normalisation, residual adds: resnet8, vgg11) get no droppedBytes (undefined), rather than a
// figure that assumes a mapping the engine does not check.
import type { LayersModel } from "../tf.js";
import { VALUE_BYTES } from "./accounting.js";
import { PruningError } from "./errors.js";
import { chain } from "./structured.js";

export interface DropReport {
  /** 4 B × the parameters of the model with the removable units dropped. */
  droppedBytes: number;
  /** Per prunable layer (model order): its output units, and how many are left after the drop. */
  layers: { layer: string; units: number; kept: number }[];
}

/** See the header; undefined when the model's layers cannot be chained. */
export function dropReport(model: LayersModel): DropReport | undefined {
  let layers;
  try {
    layers = chain(model);
  } catch (err) {
    if (err instanceof PruningError) return undefined;
    throw err;
  }
  const kept = layers.map((l, i) => {
    const next = layers[i + 1];
    if (!next) return l.units;
    const read = new Uint8Array(l.units);
    next.kernel.values.forEach((w, idx) => {
      if (w !== 0) read[(Math.floor(idx / next.units) % next.inputs) % l.units] = 1;
    });
    return read.reduce((a, b) => a + b, 0);
  });
  let params = model.countParams();
  layers.forEach((l, i) => {
    const full = model.getLayer(l.kernel.layer).countParams();
    const biasPerUnit = (full - l.kernel.values.length) / l.units;
    const liveInputs = l.prevUnits === undefined ? l.inputs : (l.inputs / l.prevUnits) * (kept[i - 1] as number);
    params += l.spatial * liveInputs * (kept[i] as number) + biasPerUnit * (kept[i] as number) - full;
  });
  return { droppedBytes: VALUE_BYTES * params, layers: layers.map((l, i) => ({ layer: l.kernel.layer, units: l.units, kept: kept[i] as number })) };
}
