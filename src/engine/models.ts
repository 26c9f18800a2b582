// The model zoo. Every model maps inputs in [0,1] of shape [H, W, C] to logits (no softmax):
// attacks and losses want logits. Initialisation is seeded layer by layer, so the same seed gives
// the same weights on the same backend.
//
// Layer names are regular, so masks (keyed by layer name) and per-layer pruning read the same in
// every model: conv kernels are `…conv…`, the classifier is the last Dense layer; batch
// normalisation `…bn…`, activations `…relu…`, residual sums `…add`.
import { tf, type LayersModel } from "./tf.js";
import { UnknownArchitectureError, type ModelSpec } from "./architectures.js";

export { ARCHITECTURES, parseArchitecture, UnknownArchitectureError, type Architecture, type ModelSpec } from "./architectures.js";

export class ArchitectureInputError extends Error {
  override name = "ArchitectureInputError";
}

type Init = () => { kernelInitializer: ReturnType<typeof tf.initializers.glorotUniform>; biasInitializer: "zeros" };

/**
 * Batch normalisation as in PyTorch's default (momentum 0.1 there = 0.9 here, ε 1e-5): Keras's
 * 0.99 leaves the moving statistics far from the data after the few hundred steps of a short
 * CPU run or a fine-tuning epoch, and inference (attacks, evaluation) uses them.
 */
const batchNorm = (name: string): tf.layers.Layer => tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5, name });
const relu = (name: string): tf.layers.Layer => tf.layers.activation({ activation: "relu", name });

/** Filters at a width multiplier: max(1, round(width × base)). */
const scaled = (base: number, width: number): number => Math.max(1, Math.round(base * width));

/**
 * ResNet-8 for CIFAR (He et al. 2016, section 4.2, with n = 1): a 3×3 stem conv with 16 filters,
 * then three stages of one basic block each (16, 32, 64 filters; stages 2 and 3 halve the
 * resolution with stride 2), global average pooling and a dense classifier — 7 conv layers and
 * one dense layer, 8 weighted layers in the main path. Each block: conv3×3–BN–ReLU–conv3×3–BN,
 * plus the shortcut, then ReLU; where the shape changes the shortcut is a 1×1 conv with stride 2
 * and BN (projection, option B), else the identity. Convs have no bias (BN follows). At width 1:
 * 78,714 parameters (77,360 prunable: 76,720 conv + 640 classifier kernel weights), ≈ 12.5 M
 * multiply-accumulates per 32×32×3 image.
 */
function resnet8(spec: ModelSpec, init: Init): LayersModel {
  const width = spec.width ?? 1;
  const conv = (filters: number, kernelSize: number, strides: number, name: string): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding: "same", useBias: false, name, kernelInitializer: init().kernelInitializer });
  const input = tf.input({ shape: spec.inputShape, name: "input" });
  let x = conv(scaled(16, width), 3, 1, "stem_conv").apply(input) as tf.SymbolicTensor;
  x = relu("stem_relu").apply(batchNorm("stem_bn").apply(x)) as tf.SymbolicTensor;
  let channels = scaled(16, width);
  for (const [stage, base] of [16, 32, 64].entries()) {
    const s = `stage${stage + 1}`;
    const filters = scaled(base, width);
    const stride = stage === 0 ? 1 : 2;
    let y = conv(filters, 3, stride, `${s}_conv1`).apply(x) as tf.SymbolicTensor;
    y = relu(`${s}_relu1`).apply(batchNorm(`${s}_bn1`).apply(y)) as tf.SymbolicTensor;
    y = conv(filters, 3, 1, `${s}_conv2`).apply(y) as tf.SymbolicTensor;
    y = batchNorm(`${s}_bn2`).apply(y) as tf.SymbolicTensor;
    let shortcut = x;
    if (stride !== 1 || channels !== filters) {
      shortcut = batchNorm(`${s}_shortcut_bn`).apply(conv(filters, 1, stride, `${s}_shortcut_conv`).apply(x)) as tf.SymbolicTensor;
    }
    x = relu(`${s}_relu2`).apply(tf.layers.add({ name: `${s}_add` }).apply([y, shortcut])) as tf.SymbolicTensor;
    channels = filters;
  }
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: spec.numClasses, activation: "linear", name: "fc", ...init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "resnet8" });
}

/**
 * VGG-11 for CIFAR (Simonyan & Zisserman 2015, configuration A, in its common CIFAR form): eight
 * 3×3 convs with 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M (M = 2×2 max-pooling), each
 * conv followed by BN and ReLU, then one dense classifier on the 1×1×512 result (no 4096-unit
 * layers: at 32×32 five poolings leave one pixel). Convs have no bias. At width 1: 9,233,866
 * parameters (9,222,848 prunable: 9,217,728 conv + 5,120 classifier kernel weights), ≈ 153 M
 * multiply-accumulates per 32×32×3 image — about 12 times ResNet-8, so expect hours per CIFAR-10
 * epoch on a CPU; `width` scales it down. Needs images of at least 32×32.
 */
function vgg11(spec: ModelSpec, init: Init): LayersModel {
  const width = spec.width ?? 1;
  const [h, w] = spec.inputShape;
  if (h < 32 || w < 32) throw new ArchitectureInputError(`vgg11 needs images of at least 32x32 (its five 2x2 poolings halve them five times), got ${h}x${w}`);
  const model = tf.sequential({ name: "vgg11" });
  const plan: (number | "M")[] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"];
  let conv = 0;
  let pool = 0;
  for (const step of plan) {
    if (step === "M") {
      model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${++pool}` }));
      continue;
    }
    conv++;
    model.add(
      tf.layers.conv2d({
        ...(conv === 1 ? { inputShape: spec.inputShape } : {}),
        filters: scaled(step, width),
        kernelSize: 3,
        padding: "same",
        useBias: false,
        name: `conv${conv}`,
        kernelInitializer: init().kernelInitializer,
      }),
    );
    model.add(batchNorm(`bn${conv}`));
    model.add(relu(`relu${conv}`));
  }
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(tf.layers.dense({ units: spec.numClasses, activation: "linear", name: "fc", ...init() }));
  return model;
}

/** Builds the architecture with seeded Glorot-uniform kernels and zero biases. */
export function createModel(spec: ModelSpec): LayersModel {
  let layerSeed = spec.seed * 1000;
  const init: Init = () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: ++layerSeed }),
    biasInitializer: "zeros",
  });
  if (spec.width !== undefined && !(Number.isFinite(spec.width) && spec.width > 0)) throw new ArchitectureInputError(`width must be a positive number, got ${spec.width}`);
  if (spec.architecture === "resnet8") return resnet8(spec, init);
  if (spec.architecture === "vgg11") return vgg11(spec, init);
  const dense = (units: number, activation: "relu" | "linear", name: string): tf.layers.Layer =>
    tf.layers.dense({ units, activation, name, ...init() });
  const conv = (filters: number, kernelSize: number, padding: "same" | "valid", name: string): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize, padding, activation: "relu", name, ...init() });
  const pool = (name: string): tf.layers.Layer => tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name });

  const input = { inputShape: spec.inputShape };
  const model = tf.sequential({ name: spec.architecture });
  switch (spec.architecture) {
    case "lenet300":
      // 784-300-100-10 MLP (LeCun et al. 1998; ShrinkBench's LeNet-300-100).
      model.add(tf.layers.flatten({ ...input, name: "flatten" }));
      model.add(dense(300, "relu", "fc1"));
      model.add(dense(100, "relu", "fc2"));
      model.add(dense(spec.numClasses, "linear", "fc3"));
      break;
    case "lenet5":
      // As in ../shared/reference/torch_bench.py: conv6(5, same) pool conv16(5) pool 120-84-10.
      model.add(tf.layers.conv2d({ ...input, filters: 6, kernelSize: 5, padding: "same", activation: "relu", name: "conv1", ...init() }));
      model.add(pool("pool1"));
      model.add(conv(16, 5, "valid", "conv2"));
      model.add(pool("pool2"));
      model.add(tf.layers.flatten({ name: "flatten" }));
      model.add(dense(120, "relu", "fc1"));
      model.add(dense(84, "relu", "fc2"));
      model.add(dense(spec.numClasses, "linear", "fc3"));
      break;
    case "convnet":
      // Deeper and wider than lenet5: two conv blocks of 3x3 convs (16, then 32 filters),
      // then 128 hidden units. About 1.2 M multiply-adds per image, ~3x lenet5.
      model.add(tf.layers.conv2d({ ...input, filters: 16, kernelSize: 3, padding: "same", activation: "relu", name: "conv1", ...init() }));
      model.add(pool("pool1"));
      model.add(conv(32, 3, "same", "conv2"));
      model.add(pool("pool2"));
      model.add(tf.layers.flatten({ name: "flatten" }));
      model.add(dense(128, "relu", "fc1"));
      model.add(dense(spec.numClasses, "linear", "fc2"));
      break;
    default:
      throw new UnknownArchitectureError(`unknown architecture "${String(spec.architecture)}"`);
  }
  return model;
}

/**
 * The weights pruning may touch: the kernels of every Conv2D and Dense layer, the classifier
 * included (ShrinkBench's convention). Biases are never pruned and never counted as prunable.
 */
export function prunableWeights(model: LayersModel): tf.LayerVariable[] {
  const out: tf.LayerVariable[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== "Conv2D" && cls !== "Dense") continue;
    // Variable names get uniquifying suffixes ("fc1/kernel_3"); the original name does not.
    for (const w of layer.trainableWeights) if (w.originalName.endsWith("/kernel")) out.push(w);
  }
  return out;
}
