// The model zoo. Every model maps inputs in [0,1] of shape [H, W, 1] to logits (no softmax):
// attacks and losses want logits. Initialisation is seeded layer by layer, so the same seed gives
// the same weights on the same backend.
import { tf, type LayersModel } from "./tf.js";
import type { ModelSpec } from "./architectures.js";

export { ARCHITECTURES, parseArchitecture, UnknownArchitectureError, type Architecture, type ModelSpec } from "./architectures.js";

/** Builds the architecture with seeded Glorot-uniform kernels and zero biases. */
export function createModel(spec: ModelSpec): LayersModel {
  let layerSeed = spec.seed * 1000;
  const init = (): { kernelInitializer: ReturnType<typeof tf.initializers.glorotUniform>; biasInitializer: "zeros" } => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: ++layerSeed }),
    biasInitializer: "zeros",
  });
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
