// Multiply-accumulates per input, estimated from a built model's layers without running it: the
// compute cap on uploads (ADVISOR_UPLOAD_MAX_MACS) rejects a model before its forward pass over
// the test split. The estimate errs high, never low, for the layers it knows:
//   - a layer with kernels (Dense, Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose):
//     for each kernel, (output positions) × (kernel elements); a transposed conv is counted at its
//     output resolution, which over-counts by the stride's square;
//   - everything else (pooling, activations, UpSampling2D, additions, normalisation): the larger of
//     its input and output element counts;
//   - a nested model: the sum over its own layers.
import type { LayersModel } from "../engine/tf.js";

type Layer = LayersModel["layers"][number];
type Shape = (number | null)[];

const product = (xs: readonly (number | null)[]): number => xs.reduce<number>((a, b) => a * (b ?? 1), 1);

function outputShapes(layer: Layer): Shape[] {
  const s = layer.outputShape as Shape | Shape[];
  return Array.isArray(s[0]) ? (s as Shape[]) : [s as Shape];
}

function inputShapes(layer: Layer): Shape[] {
  const input = layer.input as { shape: Shape } | { shape: Shape }[];
  return Array.isArray(input) ? input.map((t) => t.shape) : [input.shape];
}

/** The layer's own MACs for one input (batch dimension dropped). */
export function layerMacs(layer: Layer): number {
  const nested = (layer as Partial<LayersModel>).layers;
  if (Array.isArray(nested)) return nested.reduce((s, l) => s + layerMacs(l), 0);
  const outs = outputShapes(layer);
  const outElements = outs.reduce((s, shape) => s + product(shape.slice(1)), 0);
  const kernels = layer.weights.filter((w) => /kernel$/i.test(w.originalName.split("/").at(-1) ?? ""));
  if (kernels.length > 0) {
    // Output positions: every output dimension but batch and channels.
    const positions = product((outs[0] ?? []).slice(1, -1));
    return kernels.reduce((s, k) => s + positions * product(k.shape), 0);
  }
  // Layers without kernels touch each input and output element about once (pooling reads its
  // window once per output, which is its input again).
  const inElements = inputShapes(layer).reduce((sum, shape) => sum + product(shape.slice(1)), 0);
  return Math.max(inElements, outElements);
}

export function modelMacs(model: LayersModel): number {
  return model.layers.reduce((s, l) => s + layerMacs(l), 0);
}
