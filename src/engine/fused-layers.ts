// A faster `model.apply` for training plain sequential conv nets on the wasm backend.
//
// tfjs-layers computes a Conv2D or Dense layer with a ReLU as three kernels whenever a gradient is
// being recorded (tfjs's fused ops only fuse a linear activation then): the convolution, a
// broadcasting bias Add (slow on wasm: a LeNet-5 conv1 bias add cost more than half its
// convolution) and a Relu; and its backward pass as Step + Multiply for the ReLU and a
// Transpose + Sum for the bias. Here each such layer is one kernel of our own whose forward is
// wasm's FusedConv2D / _FusedMatMul (XNNPACK applies bias and ReLU while writing the output) and
// whose gradient does the ReLU mask and the bias sum in one pass over the heap
// (wasm-heap-kernels.ts), then the same convolution / matMul gradients as the unfused layers
// (wasm-gradients.ts). Results equal model.apply's up to float rounding: the bias is added
// inside the convolution's accumulation instead of after it, and the bias gradient is summed in
// another order (in double precision).
//
// `fusedApply` takes only models it can reproduce exactly — a Sequential of Conv2D (NHWC,
// dilation 1, bias, ReLU or linear), MaxPooling2D, Flatten and Dense (bias, ReLU or linear)
// layers, on the wasm backend — and returns undefined for anything else (callers fall back to
// model.apply).
import { tf, type LayersModel } from "./tf.js";
import { CONV_FORWARD, convForwardAvailable, registerConvForward, type ConvForwardAttrs } from "./wasm-conv-forward.js";
import { BIAS_ACT_GRAD } from "./wasm-heap-kernels.js";
import { conv2dFilterGradient, conv2dInputGradient, matMulPlain } from "./wasm-gradients.js";

const CONV = "AdvisorConv2DBiasAct";
const DENSE = "AdvisorDenseBiasAct";

type Activation = "relu" | "linear";

interface ConvAttrs {
  strides: [number, number];
  pad: "same" | "valid";
  activation: Activation;
}

type Step =
  | { kind: "conv"; kernel: tf.Tensor4D; bias: tf.Tensor1D; attrs: ConvAttrs }
  | { kind: "dense"; kernel: tf.Tensor2D; bias: tf.Tensor1D; activation: Activation }
  | { kind: "pool"; size: [number, number]; strides: [number, number]; pad: "same" | "valid" }
  | { kind: "flatten" };

function pair(v: unknown): [number, number] | undefined {
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === "number")) return [v[0] as number, v[1] as number];
  return undefined;
}

/** The layer's kernel and bias variables (what tf.variableGrads differentiates against). */
function weights(layer: tf.layers.Layer): { kernel: tf.Tensor; bias: tf.Tensor } | undefined {
  let kernel: tf.Tensor | undefined;
  let bias: tf.Tensor | undefined;
  for (const w of layer.weights) {
    if (w.originalName.endsWith("/kernel")) kernel = w.read();
    else if (w.originalName.endsWith("/bias")) bias = w.read();
  }
  if (kernel === undefined || bias === undefined || layer.weights.length !== 2) return undefined;
  return { kernel, bias };
}

function activation(v: unknown): Activation | undefined {
  return v === "relu" || v === "linear" ? v : undefined;
}

/**
 * The model's plan, made once per model: its layers and their variables do not change (weights
 * are written into the same tf.Variable objects), and reading every layer's config on every
 * training step showed up in profiles.
 */
const plans = new WeakMap<LayersModel, Step[] | null>();

function cachedPlan(model: LayersModel): Step[] | undefined {
  let p = plans.get(model);
  if (p === undefined) {
    p = plan(model) ?? null;
    plans.set(model, p);
  }
  return p ?? undefined;
}

/** The model as steps fusedApply can run, or undefined when some layer is not covered. */
function plan(model: LayersModel): Step[] | undefined {
  if (!(model instanceof tf.Sequential)) return undefined;
  const steps: Step[] = [];
  for (const layer of model.layers) {
    const cfg = layer.getConfig();
    switch (layer.getClassName()) {
      case "Conv2D": {
        const w = weights(layer);
        const strides = pair(cfg["strides"]);
        const act = activation(cfg["activation"]);
        const pad = cfg["padding"];
        if (w === undefined || strides === undefined || act === undefined || (pad !== "same" && pad !== "valid")) return undefined;
        if (cfg["dataFormat"] !== "channelsLast" || pair(cfg["dilationRate"])?.join() !== "1,1") return undefined;
        steps.push({ kind: "conv", kernel: w.kernel as tf.Tensor4D, bias: w.bias as tf.Tensor1D, attrs: { strides, pad, activation: act } });
        break;
      }
      case "Dense": {
        const w = weights(layer);
        const act = activation(cfg["activation"]);
        if (w === undefined || act === undefined || w.kernel.rank !== 2) return undefined;
        steps.push({ kind: "dense", kernel: w.kernel as tf.Tensor2D, bias: w.bias as tf.Tensor1D, activation: act });
        break;
      }
      case "MaxPooling2D": {
        const size = pair(cfg["poolSize"]);
        const strides = pair(cfg["strides"]) ?? size;
        const pad = cfg["padding"];
        if (size === undefined || strides === undefined || (pad !== "same" && pad !== "valid") || cfg["dataFormat"] !== "channelsLast") return undefined;
        steps.push({ kind: "pool", size, strides, pad });
        break;
      }
      case "Flatten":
        steps.push({ kind: "flatten" });
        break;
      default:
        return undefined;
    }
  }
  return steps;
}

/**
 * The model's output for `x` with each conv/dense layer as one fused kernel (see the file
 * comment), or undefined when the model or the backend is not covered.
 */
export function fusedApply(model: LayersModel, x: tf.Tensor): tf.Tensor | undefined {
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32") return undefined;
  registerFusedLayers();
  const steps = cachedPlan(model);
  if (steps === undefined) return undefined;
  let h = x;
  for (const s of steps) {
    switch (s.kind) {
      case "conv":
        if (h.rank !== 4) return undefined;
        h = tf.engine().runKernel(CONV, { x: h, filter: s.kernel, bias: s.bias }, { ...s.attrs }) as tf.Tensor;
        break;
      case "dense":
        if (h.rank !== 2) return undefined;
        h = tf.engine().runKernel(DENSE, { a: h, b: s.kernel, bias: s.bias }, { activation: s.activation }) as tf.Tensor;
        break;
      case "pool":
        if (h.rank !== 4) return undefined;
        h = tf.maxPool(h as tf.Tensor4D, s.size, s.strides, s.pad);
        break;
      case "flatten":
        h = tf.reshape(h, [h.shape[0] ?? -1, -1]);
        break;
    }
  }
  return h;
}

/** The ReLU-masked output gradient and the bias gradient, in one pass. */
function biasActGrad(dy: tf.Tensor, y: tf.Tensor, act: Activation): [tf.Tensor, tf.Tensor] {
  const [g, db] = tf.engine().runKernel(BIAS_ACT_GRAD, { dy, y }, { activation: act }) as tf.Tensor[];
  return [g!, db!];
}

function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error("expected one output gradient");
  return dy;
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

function stock(name: string): tf.KernelConfig {
  const k = tf.getKernel(name, "wasm");
  if (k === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  return k;
}

/**
 * CONV_FORWARD's attributes for a stride-1 convolution (wasm-conv-forward.ts: output channels in
 * SIMD lanes, faster than XNNPACK on LeNet-5's convolutions — CPU ms at batch 128, min of 50,
 * load ~14: conv1 2.5 -> 1.5, conv2 2.0 -> 1.5; equal to XNNPACK's output there), else undefined.
 */
function directForward(inputs: tf.NamedTensorInfoMap, a: ConvAttrs): ConvForwardAttrs | undefined {
  if (a.strides[0] !== 1 || a.strides[1] !== 1 || !convForwardAvailable()) return undefined;
  const x = inputs["x"]!;
  const filter = inputs["filter"]!;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], 1, 1, a.pad);
  const [n, inH, inW, ci] = x.shape as [number, number, number, number];
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  return { n, inH, inW, ci, oh: info.outHeight, ow: info.outWidth, kh, kw, co, top: info.padInfo.top, left: info.padInfo.left, relu: a.activation === "relu" };
}

let registered = false;

/** Registers the fused layer kernels and their gradients for the wasm backend. Idempotent. */
export function registerFusedLayers(): void {
  if (registered) return;
  registered = true;
  registerConvForward();
  tf.registerKernel({
    kernelName: CONV,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const a = attrs as unknown as ConvAttrs;
      const direct = directForward(inputs, a);
      if (direct !== undefined) {
        return tf.getKernel(CONV_FORWARD, "wasm")!.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs: { ...direct } });
      }
      const conv = stock(tf.FusedConv2D);
      return conv.kernelFunc({
        inputs,
        backend: backend as tf.KernelBackend,
        attrs: { strides: a.strides, pad: a.pad, dataFormat: "NHWC", dilations: [1, 1], activation: a.activation },
      });
    },
  });
  tf.registerGradient({
    kernelName: CONV,
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, rawAttrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const a = rawAttrs as unknown as ConvAttrs;
      const [g, db] = biasActGrad(single(dy), y, a.activation);
      const conv: tf.Conv2DAttrs = { strides: a.strides, pad: a.pad, dataFormat: "NHWC", dilations: 1 };
      return {
        x: () => conv2dInputGradient(x.shape, g as tf.Tensor4D, filter, conv),
        filter: () => conv2dFilterGradient(x, g as tf.Tensor4D, filter.shape, conv),
        bias: () => db,
      };
    },
  });
  tf.registerKernel({
    kernelName: DENSE,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias: tf.TensorInfo };
      const act = (attrs as unknown as { activation: Activation }).activation;
      const [n, k] = a.shape as [number, number];
      const m = b.shape[1]!;
      // _FusedMatMul takes batched (rank-3) operands: the same data, viewed with a batch of 1.
      const out = stock(tf._FusedMatMul).kernelFunc({
        inputs: { a: { ...a, shape: [1, n, k] }, b: { ...b, shape: [1, k, m] }, bias },
        backend: backend as tf.KernelBackend,
        attrs: { transposeA: false, transposeB: false, activation: act },
      }) as tf.TensorInfo;
      return { ...out, shape: [n, m] };
    },
  });
  tf.registerGradient({
    kernelName: DENSE,
    inputsToSave: ["a", "b"],
    outputsToSave: [true],
    gradFunc: (dy, saved, rawAttrs) => {
      const [a, b, y] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const act = (rawAttrs as unknown as { activation: Activation }).activation;
      const [g, db] = biasActGrad(single(dy), y, act);
      return { a: () => matMulPlain(g, b, false, true), b: () => matMulPlain(a, g, true, false), bias: () => db };
    },
  });
}
