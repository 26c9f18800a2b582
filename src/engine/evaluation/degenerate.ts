// The degenerate-model indicator's measurement (indicators.ts): classes whose logit cannot depend
// on the input because its classifier column, or every path to it, is pruned away — read from the
// weights (pruning masks are zero weights), no forward pass.
//
// Liveness ("depends on the input") is propagated through the layer graph per channel (the last
// axis): the input is live; a Dense or convolution output channel is live when some non-zero
// weight connects it to a live input channel; pooling, activations, normalisation, dropout and
// padding keep each channel's liveness (a constant channel stays constant); Flatten spreads each
// channel's liveness over its positions; Add-like merges are live where any input is, Concatenate
// joins. Any other layer is live everywhere when any of its inputs is live — the safe answer: a
// function of constants is constant, so the indicator never names a class that can still move.
// Spatial structure is ignored (a channel is live everywhere or nowhere), which can only make it
// name fewer classes. A Dense's or Activation's softmax is read as elementwise: a class whose
// logit is constant is reported even though its probability still moves with the other logits.
import type { LayersModel } from "../tf.js";

/** The minimal view of a tfjs layer this module reads. */
interface LayerView {
  name: string;
  getClassName(): string;
  getWeights(): { shape: number[]; dataSync(): ArrayLike<number> }[];
  getConfig(): Record<string, unknown>;
  inboundNodes: { inboundLayers: LayerView[]; inputShapes: (number | null)[] | (number | null)[][] }[];
  outputShape: (number | null)[] | (number | null)[][];
}

const PER_CHANNEL = new Set([
  "Activation",
  "ReLU",
  "LeakyReLU",
  "PReLU",
  "ELU",
  "ThresholdedReLU",
  "Softmax",
  "MaxPooling1D",
  "MaxPooling2D",
  "MaxPooling3D",
  "AveragePooling1D",
  "AveragePooling2D",
  "AveragePooling3D",
  "GlobalAveragePooling1D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling1D",
  "GlobalMaxPooling2D",
  "BatchNormalization",
  "Dropout",
  "SpatialDropout1D",
  "AlphaDropout",
  "GaussianDropout",
  "GaussianNoise",
  "ZeroPadding2D",
  "Cropping2D",
  "UpSampling2D",
]);
const MERGE_ANY = new Set(["Add", "Average", "Maximum", "Minimum", "Multiply"]);

function lastDim(shape: LayerView["outputShape"]): number {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  return s[s.length - 1] ?? 0;
}

/** Output liveness of the layers with an explicit rule, or undefined to use the safe fallback. */
function ruleFor(layer: LayerView, inputs: Uint8Array[], node: LayerView["inboundNodes"][number]): Uint8Array | undefined {
  const cls = layer.getClassName();
  const [live] = inputs;
  if (live === undefined) return undefined;
  if (PER_CHANNEL.has(cls)) return inputs.length === 1 ? Uint8Array.from(live) : undefined;
  if (cls === "Flatten") {
    const shapes = node.inputShapes;
    const shape = (Array.isArray(shapes[0]) ? shapes[0] : shapes) as (number | null)[];
    const size = shape.slice(1).reduce<number>((a, d) => a * (d ?? NaN), 1);
    if (!Number.isFinite(size) || size % live.length !== 0) return undefined;
    return Uint8Array.from({ length: size }, (_, f) => live[f % live.length]!);
  }
  if (MERGE_ANY.has(cls)) {
    if (inputs.some((l) => l.length !== live.length)) return undefined;
    return Uint8Array.from(live, (_, i) => (inputs.some((l) => l[i] === 1) ? 1 : 0));
  }
  if (cls === "Concatenate") {
    const axis = layer.getConfig().axis;
    if (axis !== -1 && axis !== undefined) return undefined;
    const out = new Uint8Array(inputs.reduce((a, l) => a + l.length, 0));
    let at = 0;
    for (const l of inputs) {
      out.set(l, at);
      at += l.length;
    }
    return out;
  }
  const weights = layer.getWeights();
  if (cls === "Dense" || cls === "Conv1D" || cls === "Conv2D" || cls === "Conv3D") {
    // Kernel [..., in, out]: out channel o is live when a non-zero weight joins it to a live input channel.
    const k = weights[0];
    if (!k) return undefined;
    const cin = k.shape[k.shape.length - 2]!;
    const cout = k.shape[k.shape.length - 1]!;
    if (cin !== live.length) return undefined;
    const w = k.dataSync();
    const out = new Uint8Array(cout);
    for (let base = 0; base < w.length; base += cin * cout) {
      for (let i = 0; i < cin; i++) {
        if (live[i] !== 1) continue;
        const row = base + i * cout;
        for (let o = 0; o < cout; o++) if (w[row + o] !== 0) out[o] = 1;
      }
    }
    return out;
  }
  if (cls === "DepthwiseConv2D") {
    // Kernel [kh, kw, in, multiplier]: output channel i·multiplier + m reads input channel i only.
    const k = weights[0];
    if (!k) return undefined;
    const cin = k.shape[2]!;
    const mult = k.shape[3]!;
    if (cin !== live.length) return undefined;
    const w = k.dataSync();
    const out = new Uint8Array(cin * mult);
    for (let base = 0; base < w.length; base += cin * mult) {
      for (let i = 0; i < cin; i++) for (let m = 0; m < mult; m++) if (live[i] === 1 && w[base + i * mult + m] !== 0) out[i * mult + m] = 1;
    }
    return out;
  }
  return undefined;
}

/** Width of the model's (first) output's last axis: its number of classes. */
export function outputWidth(model: LayersModel): number {
  const shape = model.outputs[0]?.shape ?? [];
  return shape[shape.length - 1] ?? 0;
}

/**
 * The output classes whose logit cannot depend on the input, ascending (empty for a healthy
 * model), or null with the reason when the model's output is not one vector per sample.
 */
export function deadClasses(model: LayersModel): { classes: number[] } | { classes: null; note: string } {
  if (model.outputs.length !== 1) return { classes: null, note: `the model has ${model.outputs.length} outputs` };
  const liveness = new Map<string, Uint8Array>();
  const outOf = (l: LayerView): Uint8Array | undefined => {
    if (l.getClassName() === "InputLayer") {
      let v = liveness.get(l.name);
      if (!v) liveness.set(l.name, (v = new Uint8Array(lastDim(l.outputShape)).fill(1)));
      return v;
    }
    return liveness.get(l.name);
  };
  for (const layer of model.layers as unknown as LayerView[]) {
    if (layer.getClassName() === "InputLayer") {
      outOf(layer);
      continue;
    }
    // The node that joins the layer to this model's graph (a nested model's node 0 is its own,
    // without inbound layers).
    const node = layer.inboundNodes.find((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => outOf(l) !== undefined));
    const inputs = node ? node.inboundLayers.map((l) => outOf(l)!) : [];
    const width = lastDim(layer.outputShape);
    let out = node ? ruleFor(layer, inputs, node) : undefined;
    // The fallback: live everywhere when any input channel is live, or when the inputs are unknown.
    out ??= new Uint8Array(width).fill(inputs.length === 0 || inputs.some((l) => l.includes(1)) ? 1 : 0);
    liveness.set(layer.name, out);
  }
  const source = (model.outputs[0] as unknown as { sourceLayer: LayerView }).sourceLayer;
  const live = liveness.get(source.name);
  if (!live) return { classes: null, note: `the output layer ${source.name} was not reached` };
  const dead: number[] = [];
  live.forEach((v, j) => {
    if (v === 0) dead.push(j);
  });
  return { classes: dead };
}
