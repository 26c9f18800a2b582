// The one place that imports TensorFlow.js, so the rest of the engine shares one instance
// (and so `@tensorflow/tfjs-node`, when present, can register itself on that same instance).
import * as tf from "@tensorflow/tfjs";

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;
