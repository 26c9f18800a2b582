// A plain sequential TF.js model (Conv2D, MaxPooling2D, Flatten, Dense with ReLU or linear
// activations — the zoo's lenet300, lenet5 and convnet, and uploads of that shape) written as
// ONNX graphs for onnxruntime (runtime.ts):
//   forward: x [N, H, W, C] (NHWC, as TF.js) → logits [N, K];
//   vjp:     x, g [N, K] → dx = gᵀ · ∂logits/∂x [N, H, W, C], the input gradient of any loss whose
//            gradient at the logits is g (the loss itself stays in TF.js: compiled.ts);
//   loss:    per attack loss, x and one-hot labels/targets → logits, loss, dx in one pass.
// A gradient graph recomputes the forward pass and then runs it backwards: a dense layer's input
// gradient is g·Wᵀ (Gemm with transB), a convolution's the transposed convolution with the same
// weights, a ReLU's passes g where its input was > 0 (as TF.js's Relu gradient), a max pool's
// sends g to the first maximum of each window (poolGradient).
//
// Anything else (batch normalisation, residual adds, strides, other activations, a softmax head)
// is not exported: `exportOnnx` returns the reason, and the engine keeps TF.js for that model.
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import type { LayersModel } from "../tf.js";

// onnx-proto is CommonJS (protobufjs static code): its namespace is a property of the default export.
const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface OnnxGraphs {
  forward: Uint8Array;
  vjp: Uint8Array;
  /**
   * Per attack loss (gradients.ts' sampleLoss): x, y1h [N, K] (one-hot labels), t1h [N, K]
   * (one-hot targets, a zero row for none) → logits, loss [N] and dx — the loss computed from the
   * logits inside the graph, so a loss gradient is one pass instead of a forward then a vjp.
   */
  loss: Record<FusedLoss, Uint8Array>;
  /** [H, W, C] of one input. */
  inputShape: [number, number, number];
  classes: number;
}

/** The losses with a fused graph: gradients.ts' sampleLoss kinds, and APGD's targeted DLR (every row targeted). */
export type FusedLoss = "ce" | "margin" | "dlr-t";

export type ExportResult = { ok: true; graphs: OnnxGraphs } | { ok: false; reason: string };

/** Input channels up to which a convolution's input gradient is a ConvTranspose rather than a Conv (see its use). */
const FEW_CHANNELS = 8;

type Attr = number | number[] | string;
type Layout = "nhwc" | "nchw" | "flat";

/** Builds the node lists of both graphs while walking the layers once. */
class GraphWriter {
  readonly forward: Onnx.INodeProto[] = [];
  /** Backward steps, in forward order (emitted reversed). */
  readonly backward: ((g: string) => string)[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private counter = 0;

  name(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  node(op: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): Onnx.INodeProto {
    return onnx.NodeProto.create({
      opType: op,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) =>
        typeof v === "string"
          ? onnx.AttributeProto.create({ name: k, s: new TextEncoder().encode(v), type: onnx.AttributeProto.AttributeType.STRING })
          : Array.isArray(v)
            ? onnx.AttributeProto.create({ name: k, ints: v, type: onnx.AttributeProto.AttributeType.INTS })
            : onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT }),
      ),
    });
  }

  floats(prefix: string, dims: number[], data: Float32Array): string {
    const name = this.name(prefix);
    // Copy: rawData must own exactly these bytes (data may be a view of a larger buffer).
    const bytes = new Uint8Array(Float32Array.from(data).buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: bytes }));
    return name;
  }

  int64s(prefix: string, values: number[], dims = [values.length]): string {
    const name = this.name(prefix);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: INT64, int64Data: values }));
    return name;
  }
}

/**
 * A Conv2D kernel [kh, kw, cin, cout] (TF.js) in ONNX's layout: the forward kernel [cout, cin, kh, kw],
 * or (`inputGradient`) the input-gradient kernel [cin, cout, kh, kw] turned by 180°.
 */
function onnxKernel(k: Float32Array, kh: number, kw: number, cin: number, cout: number, inputGradient = false): Float32Array {
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) {
          const at = inputGradient ? ((c * cout + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j) : ((o * cin + c) * kh + i) * kw + j;
          out[at] = k[((i * kw + j) * cin + c) * cout + o]!;
        }
  return out;
}

/** TF's "same" padding for stride 1: the extra row/column goes at the end. [top, left, bottom, right] */
function samePads(kh: number, kw: number): number[] {
  const [th, tw] = [kh - 1, kw - 1];
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

interface LayerConfig {
  activation?: string;
  padding?: string;
  strides?: number[];
  dilationRate?: number | number[];
  dataFormat?: string;
  useBias?: boolean;
  poolSize?: number[];
  kernelSize?: number[];
}

const ones = (v: number | number[] | undefined): boolean => v === undefined || (Array.isArray(v) ? v.every((d) => d === 1) : v === 1);

/** The ONNX graphs of `model`, or why it cannot be exported (see the header). */
export function exportOnnx(model: LayersModel): ExportResult {
  const inShape = model.inputs[0]?.shape;
  const outShape = model.outputs[0]?.shape;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || !inShape || inShape.length !== 4 || !outShape || outShape.length !== 2) {
    return { ok: false, reason: "not one image input [N, H, W, C] and one logits output [N, K]" };
  }
  const [h0, w0, c0] = inShape.slice(1) as number[];
  const classes = outShape[1]!;
  if (![h0, w0, c0, classes].every((d) => Number.isInteger(d) && d! > 0)) return { ok: false, reason: "input or output size not fixed" };
  const gw = new GraphWriter();
  let cur = "x";
  let layout = "nhwc" as Layout;
  let hwc: [number, number, number] = [h0!, w0!, c0!];

  // The backward steps emit their nodes here when run; reset before each graph that runs them.
  let bwd: Onnx.INodeProto[] = [];
  const zero = gw.floats("zero", [], new Float32Array([0]));
  const toNchw = (): void => {
    if (layout !== "nhwc") return;
    const out = gw.name("nchw");
    gw.forward.push(gw.node("Transpose", [cur], [out], { perm: [0, 3, 1, 2] }));
    gw.backward.push((g) => {
      const gi = gw.name("g_nhwc");
      bwd.push(gw.node("Transpose", [g], [gi], { perm: [0, 2, 3, 1] }));
      return gi;
    });
    cur = out;
    layout = "nchw";
  };
  /** The last ReLU's output and its backward step (a max pool right after it takes that step over). */
  let lastRelu: { out: string; step: number } | undefined;
  const activation = (act: string | undefined, layerName: string): string | undefined => {
    if (act === undefined || act === "linear") return undefined;
    if (act !== "relu") return `${layerName}: activation ${act} (only relu and linear are exported)`;
    const out = gw.name("relu");
    gw.forward.push(gw.node("Relu", [cur], [out]));
    lastRelu = { out, step: gw.backward.length };
    gw.backward.push((g) => {
      // relu(z) > 0 exactly where z > 0; reading the ReLU's output lets onnxruntime fuse it into the layer.
      const pos = gw.name("pos");
      const gi = gw.name("g_relu");
      bwd.push(gw.node("Greater", [out, zero], [pos]), gw.node("Where", [pos, g, zero], [gi]));
      return gi;
    });
    cur = out;
    return undefined;
  };

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as LayerConfig;
    const weights = layer.getWeights().map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
    if (cls === "InputLayer") continue;
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== "channelsLast") return { ok: false, reason: `${layer.name}: data format ${cfg.dataFormat}` };
    if (cls === "Conv2D") {
      if (!ones(cfg.strides) || !ones(cfg.dilationRate)) return { ok: false, reason: `${layer.name}: strides or dilation other than 1` };
      const kernel = weights[0]!;
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      if (layout === "flat" || cin !== hwc[2]) return { ok: false, reason: `${layer.name}: unexpected input` };
      toNchw();
      const pads = cfg.padding === "same" ? samePads(kh, kw) : [0, 0, 0, 0];
      const w = gw.floats("w", [cout, cin, kh, kw], onnxKernel(kernel.data, kh, kw, cin, cout));
      const inputs = cfg.useBias === false ? [cur, w] : [cur, w, gw.floats("b", [cout], weights[1]!.data)];
      const out = gw.name("conv");
      gw.forward.push(gw.node("Conv", inputs, [out], { kernel_shape: [kh, kw], pads }));
      // The input gradient of a stride-1 convolution: ConvTranspose with the same weights (its
      // definition), or equally a Conv of g with the kernel turned by 180° and its channel axes
      // swapped, padded by k − 1 − p. onnxruntime's blocked Conv is the faster of the two when the
      // gradient has many channels, its ConvTranspose (a GEMM and col2im) when it has few — per
      // call on 100 rows (bench/onnx-passes.ts' profile): LeNet-5 conv1 (1 channel) 4.2 → 1.1 ms
      // and conv2 (6) 1.9 → 0.8 ms with ConvTranspose, ConvNet's conv2 (16) 1.4 → 2.5 ms.
      const backward = cin <= FEW_CHANNELS
        ? { op: "ConvTranspose", w, pads }
        : { op: "Conv", w: gw.floats("w_back", [cin, cout, kh, kw], onnxKernel(kernel.data, kh, kw, cin, cout, true)), pads: [kh - 1 - pads[0]!, kw - 1 - pads[1]!, kh - 1 - pads[2]!, kw - 1 - pads[3]!] };
      gw.backward.push((g) => {
        const gi = gw.name("g_conv");
        bwd.push(gw.node(backward.op, [g, backward.w], [gi], { kernel_shape: [kh, kw], pads: backward.pads }));
        return gi;
      });
      cur = out;
      hwc = cfg.padding === "same" ? [hwc[0], hwc[1], cout] : [hwc[0] - kh + 1, hwc[1] - kw + 1, cout];
      const err = activation(cfg.activation, layer.name);
      if (err) return { ok: false, reason: err };
    } else if (cls === "MaxPooling2D") {
      const [ph, pw] = cfg.poolSize ?? [2, 2];
      const [sh, sw] = cfg.strides ?? [ph!, pw!];
      if (ph !== sh || pw !== sw || ph !== pw || (cfg.padding ?? "valid") !== "valid") return { ok: false, reason: `${layer.name}: only square, non-overlapping, valid max pools are exported` };
      if (layout === "flat") return { ok: false, reason: `${layer.name}: pool after flatten` };
      toNchw();
      const p = ph!;
      const [oh, ow, c] = [Math.floor(hwc[0] / p), Math.floor(hwc[1] / p), hwc[2]];
      const input = cur;
      const hw: [number, number] = [hwc[0], hwc[1]];
      const out = gw.name("pool");
      gw.forward.push(gw.node("MaxPool", [input], [out], { kernel_shape: [p, p], strides: [p, p] }));
      if (lastRelu?.out === input && lastRelu.step === gw.backward.length - 1) {
        // ReLU then max pool: the position a window's gradient goes to holds the window's maximum,
        // which is > 0 exactly where the pooled output is — so the ReLU's mask is applied to g at
        // the pooled resolution (a quarter of the elements), before the pool's gradient.
        gw.backward.pop();
        gw.backward.push((g) => {
          const pos = gw.name("pos");
          const gi = gw.name("g_relu");
          bwd.push(gw.node("Greater", [out, zero], [pos]), gw.node("Where", [pos, g, zero], [gi]));
          return poolGradient(gw, bwd, { input, g: gi, p, hw, ohw: [oh, ow], c });
        });
      } else {
        gw.backward.push((g) => poolGradient(gw, bwd, { input, g, p, hw, ohw: [oh, ow], c }));
      }
      cur = out;
      hwc = [oh, ow, c];
    } else if (cls === "Flatten") {
      if (layout === "flat") continue;
      if (layout === "nchw") {
        // TF.js flattens in NHWC order.
        const t = gw.name("nhwc");
        gw.forward.push(gw.node("Transpose", [cur], [t], { perm: [0, 2, 3, 1] }));
        gw.backward.push((g) => {
          const gi = gw.name("g_nchw");
          bwd.push(gw.node("Transpose", [g], [gi], { perm: [0, 3, 1, 2] }));
          return gi;
        });
        cur = t;
      }
      const out = gw.name("flat");
      gw.forward.push(gw.node("Flatten", [cur], [out]));
      const back = gw.int64s("shape", [-1, ...hwc]);
      gw.backward.push((g) => {
        const gi = gw.name("g_unflat");
        bwd.push(gw.node("Reshape", [g, back], [gi]));
        return gi;
      });
      cur = out;
      layout = "flat";
    } else if (cls === "Dense") {
      if (layout !== "flat") return { ok: false, reason: `${layer.name}: dense layer on an image (flatten first)` };
      const kernel = weights[0]!;
      const [units, width] = [kernel.shape[1]!, kernel.shape[0]!];
      const w = gw.floats("w", [width, units], kernel.data);
      const out = gw.name("dense");
      gw.forward.push(gw.node("Gemm", cfg.useBias === false ? [cur, w] : [cur, w, gw.floats("b", [units], weights[1]!.data)], [out]));
      gw.backward.push((g) => {
        const gi = gw.name("g_dense");
        bwd.push(gw.node("Gemm", [g, w], [gi], { transB: 1 }));
        return gi;
      });
      cur = out;
      const err = activation(cfg.activation, layer.name);
      if (err) return { ok: false, reason: err };
    } else {
      return { ok: false, reason: `${layer.name}: layer ${cls} is not exported` };
    }
  }
  if (layout !== "flat") return { ok: false, reason: "the model does not end in a dense layer" };

  const logits = cur;
  const backwardFrom = (g: string): { nodes: Onnx.INodeProto[]; dx: string } => {
    bwd = [];
    let at = g;
    for (const step of [...gw.backward].reverse()) at = step(at);
    return { nodes: bwd, dx: at };
  };
  const vjp = backwardFrom("g");
  const image = tensorInfo("x", ["N", h0!, w0!, c0!]);
  const perClass = (name: string): Onnx.IValueInfoProto => tensorInfo(name, ["N", classes]);
  const dx = tensorInfo("dx", ["N", h0!, w0!, c0!]);
  const encode = (name: string, nodes: Onnx.INodeProto[], inputs: Onnx.IValueInfoProto[], outputs: Onnx.IValueInfoProto[]): Uint8Array =>
    onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        producerName: "pruning-advisor",
        graph: onnx.GraphProto.create({ name, node: nodes, initializer: gw.initializers, input: inputs, output: outputs }),
      }),
    ).finish();
  const lossGraph = (kind: FusedLoss): Uint8Array => {
    const head = lossHead(gw, kind, logits, classes);
    const back = backwardFrom(head.g);
    const nodes = [...gw.forward, ...head.nodes, ...back.nodes, gw.node("Identity", [logits], ["logits"]), gw.node("Identity", [head.loss], ["loss"]), gw.node("Identity", [back.dx], ["dx"])];
    return encode(`loss-${kind}`, nodes, [image, perClass("y1h"), perClass("t1h")], [perClass("logits"), tensorInfo("loss", ["N"]), dx]);
  };
  return {
    ok: true,
    graphs: {
      forward: encode("forward", [...gw.forward, gw.node("Identity", [logits], ["logits"])], [image], [perClass("logits")]),
      vjp: encode("vjp", [...gw.forward, ...vjp.nodes, gw.node("Identity", [vjp.dx], ["dx"])], [image, perClass("g")], [dx]),
      loss: { ce: lossGraph("ce"), margin: lossGraph("margin"), "dlr-t": lossGraph("dlr-t") },
      inputShape: [h0!, w0!, c0!],
      classes,
    },
  };
}

/**
 * gradients.ts' sampleLoss and its gradient at the logits z, as ONNX nodes: with y1h and t1h the
 * one-hot labels and targets ([N, K], a zero target row for none),
 *   ce:      loss = logsumexp(z) − z_y,   g = softmax(z) − y1h;
 *   margin:  loss = max_{j≠y} z_j − z_y,  g = [z_j = that max, j ≠ y] − y1h (every tie, as TF.js's max gradient);
 *   a row with a target: loss = z_t − z_y, g = t1h − y1h.
 */
function lossHead(gw: GraphWriter, kind: FusedLoss, z: string, classes: number): { nodes: Onnx.INodeProto[]; loss: string; g: string } {
  if (kind === "dlr-t") return dlrTargetedHead(gw, z, classes);
  const n = (prefix: string): string => gw.name(prefix);
  const nodes: Onnx.INodeProto[] = [];
  const axis1 = gw.int64s("axes", [1]);
  const rowSum = (of: string): string => {
    const out = n("row_sum");
    nodes.push(gw.node("ReduceSum", [of, axis1], [out], { keepdims: 0 }));
    return out;
  };
  const mul = (a: string, b: string): string => {
    const out = n("mul");
    nodes.push(gw.node("Mul", [a, b], [out]));
    return out;
  };
  const sub = (a: string, b: string): string => {
    const out = n("sub");
    nodes.push(gw.node("Sub", [a, b], [out]));
    return out;
  };
  const zy = rowSum(mul(z, "y1h"));
  let base: string;
  let gBase: string;
  if (kind === "ce") {
    const lse = n("lse");
    const soft = n("softmax");
    nodes.push(gw.node("ReduceLogSumExp", [z], [lse], { axes: [1], keepdims: 0 }), gw.node("Softmax", [z], [soft], { axis: 1 }));
    base = sub(lse, zy);
    gBase = sub(soft, "y1h");
  } else {
    const [isTrue, others, top, topRow, isTop, topMask] = ["is_true", "others", "top", "top_row", "is_top", "top_mask"].map(n);
    nodes.push(
      gw.node("Cast", ["y1h"], [isTrue!], { to: onnx.TensorProto.DataType.BOOL }),
      gw.node("Where", [isTrue!, gw.floats("minus_inf", [], new Float32Array([-Infinity])), z], [others!]),
      gw.node("ReduceMax", [others!], [top!], { axes: [1], keepdims: 0 }),
      gw.node("ReduceMax", [others!], [topRow!], { axes: [1], keepdims: 1 }),
      gw.node("Equal", [others!, topRow!], [isTop!]),
      gw.node("Cast", [isTop!], [topMask!], { to: FLOAT }),
    );
    base = sub(top!, zy);
    gBase = sub(topMask!, "y1h");
  }
  const [hasTarget, hasTargetRow, loss, g] = ["has_target", "has_target_row", "loss", "g_logits"].map(n);
  nodes.push(
    gw.node("Greater", [rowSum("t1h"), gw.floats("zero_row", [], new Float32Array([0]))], [hasTarget!]),
    gw.node("Unsqueeze", [hasTarget!, axis1], [hasTargetRow!]),
  );
  const targeted = sub(rowSum(mul(z, "t1h")), zy);
  const gTargeted = sub("t1h", "y1h");
  nodes.push(gw.node("Where", [hasTarget!, targeted, base], [loss!]), gw.node("Where", [hasTargetRow!, gTargeted, gBase], [g!]));
  return { nodes, loss: loss!, g: g! };
}

/**
 * The input gradient of a p×p, stride-p max pool (NCHW): each window's gradient goes to its FIRST
 * maximum in row-major order, as TF.js's (wasm-heap-kernels.ts). The windows' p² positions become
 * an axis (SpaceToDepth: channel (i·p + j)·C + c), ArgMax takes the first maximum along it, its
 * flat position in the input is computed at the pooled resolution, and MaxUnpool scatters g
 * there. Measured with onnxruntime's profiler on ConvNet (100 rows, one vjp): MaxPool's own
 * Indices output gives the same positions but forces the slow pooling kernel (27 ms); a mask
 * (Equal, Where) and DepthToSpace instead of the scatter, 15–16 ms against 14–15; a
 * [N, C, oh, p, ow, p] view with two-stage arg-maxes, 54 ms (broadcasting element-wise ops are
 * slow in 6-D). A ragged last row or column, which the pool ignores, gets zero gradient.
 */
function poolGradient(
  gw: GraphWriter,
  bwd: Onnx.INodeProto[],
  o: { input: string; g: string; p: number; hw: [number, number]; ohw: [number, number]; c: number },
): string {
  const { p, c } = o;
  const [h, w] = o.hw;
  const [oh, ow] = o.ohw;
  let x = o.input;
  const ragged = oh * p !== h || ow * p !== w;
  if (ragged) {
    const cut = gw.name("cut");
    bwd.push(gw.node("Slice", [x, gw.int64s("starts", [0, 0]), gw.int64s("ends", [oh * p, ow * p]), gw.int64s("axes", [2, 3])], [cut]));
    x = cut;
  }
  // Where each window's first maximum sits in the flattened [N, C, H, W] input: per window the
  // constant c·H·W + p·i·W + p·j, plus the arg-max's offset inside the window, plus n·C·H·W.
  const within = Array.from({ length: p * p }, (_, k) => Math.floor(k / p) * w + (k % p));
  const corner = new Array<number>(c * oh * ow);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) corner[(ch * oh + i) * ow + j] = ch * h * w + p * i * w + p * j;
  const [s2d, win, arg, offset, inPlane, shape, count, batch, images, imageBase, at, back] = [
    "windows", "win5", "first_max", "offset", "in_plane", "shape", "count", "batch", "images", "image_base", "at", "g_pool",
  ].map((n) => gw.name(n));
  bwd.push(
    gw.node("SpaceToDepth", [x], [s2d!], { blocksize: p }),
    gw.node("Reshape", [s2d!, gw.int64s("shape", [-1, p * p, c, oh, ow])], [win!]),
    gw.node("ArgMax", [win!], [arg!], { axis: 1, keepdims: 0, select_last_index: 0 }),
    gw.node("Gather", [gw.int64s("within", within), arg!], [offset!]),
    gw.node("Add", [offset!, gw.int64s("corner", corner, [1, c, oh, ow])], [inPlane!]),
    gw.node("Shape", [o.input], [shape!]),
    gw.node("Gather", [shape!, gw.int64s("first", [0], [])], [count!], { axis: 0 }),
    gw.node("Range", [gw.int64s("from", [0], []), count!, gw.int64s("step", [1], [])], [batch!]),
    gw.node("Mul", [batch!, gw.int64s("image_size", [c * h * w], [])], [images!]),
    gw.node("Reshape", [images!, gw.int64s("shape", [-1, 1, 1, 1])], [imageBase!]),
    gw.node("Add", [inPlane!, imageBase!], [at!]),
    // MaxUnpool writes g[n, c, i, j] at those positions of a zero [N, C, H, W] (a ragged last row
    // or column, which the pool ignores, stays zero).
    gw.node("MaxUnpool", [o.g, at!, shape!], [back!], { kernel_shape: [p, p], strides: [p, p] }),
  );
  return back!;
}

/**
 * APGD's targeted DLR (apgd.ts' dlrTargetedLoss) and its gradient at the logits z, every row
 * targeted: N = z_t − z_y, D = z_π1 − (z_π3 + z_π4)/2 + 1e-12 with π the classes by descending
 * logit (ties by lower index: TopK's rule and apgd.ts's), loss N/D, gradient (a − (N/D)·b)/D with
 * a = t1h − y1h and b the one-hot weights of D (the sort order is a constant, as in apgd.ts).
 * With fewer than 4 classes the loss is N and its gradient a.
 */
function dlrTargetedHead(gw: GraphWriter, z: string, classes: number): { nodes: Onnx.INodeProto[]; loss: string; g: string } {
  const nodes: Onnx.INodeProto[] = [];
  const axis1 = gw.int64s("axes", [1]);
  const [a, za, num] = ["dlr_a", "dlr_za", "dlr_num"].map((p) => gw.name(p));
  nodes.push(gw.node("Sub", ["t1h", "y1h"], [a!]), gw.node("Mul", [z, a!], [za!]), gw.node("ReduceSum", [za!, axis1], [num!], { keepdims: 0 }));
  if (classes < 4) return { nodes, loss: num!, g: a! };
  const [top, order, ranks, weighted, b, zb, den0, den, loss, lossRow, denRow, lb, diff, g] = [
    "dlr_top", "dlr_order", "dlr_ranks", "dlr_weighted", "dlr_b", "dlr_zb", "dlr_den0", "dlr_den", "dlr_loss", "dlr_loss_row", "dlr_den_row", "dlr_lb", "dlr_diff", "dlr_g",
  ].map((p) => gw.name(p));
  nodes.push(
    gw.node("TopK", [z, gw.int64s("k", [4])], [top!, order!], { axis: 1, largest: 1, sorted: 1 }),
    // One-hot rows of the 4 top classes [N, 4, K], weighted 1, 0, −½, −½ and summed: b [N, K].
    gw.node("OneHot", [order!, gw.int64s("depth", [classes], []), gw.floats("off_on", [2], new Float32Array([0, 1]))], [ranks!], { axis: -1 }),
    gw.node("Mul", [ranks!, gw.floats("dlr_weights", [1, 4, 1], new Float32Array([1, 0, -0.5, -0.5]))], [weighted!]),
    gw.node("ReduceSum", [weighted!, axis1], [b!], { keepdims: 0 }),
    gw.node("Mul", [z, b!], [zb!]),
    gw.node("ReduceSum", [zb!, axis1], [den0!], { keepdims: 0 }),
    gw.node("Add", [den0!, gw.floats("dlr_eps", [], new Float32Array([1e-12]))], [den!]),
    gw.node("Div", [num!, den!], [loss!]),
    gw.node("Unsqueeze", [loss!, axis1], [lossRow!]),
    gw.node("Unsqueeze", [den!, axis1], [denRow!]),
    gw.node("Mul", [lossRow!, b!], [lb!]),
    gw.node("Sub", [a!, lb!], [diff!]),
    gw.node("Div", [diff!, denRow!], [g!]),
  );
  return { nodes, loss: loss!, g: g! };
}

function tensorInfo(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) }),
      }),
    }),
  });
}
