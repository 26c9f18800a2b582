// Seeded mini-batch training with Adam, a validation split and early stopping. With masks, the
// gradients of pruned weights are zeroed before Adam sees them (so its moments stay zero and the
// weights never move) and the masks are re-applied after every step: pruned weights stay exactly 0.
// On the wasm backend a step runs plain conv nets through fused layer kernels (fused-layers.ts) and
// Adam as one kernel per variable (fused-adam.ts); results equal the unfused path up to float
// rounding (Adam: bit for bit).
import { tf, type LayersModel } from "./tf.js";
import { imageSize, type Dataset } from "./data.js";
import { applyGradients } from "./fused-adam.js";
import { fusedApply } from "./fused-layers.js";
import { applyMasks, layerOf, type Masks } from "./masks.js";
import { prunableWeights } from "./models.js";
import { mulberry32, permutation } from "./random.js";

export interface TrainOptions {
  epochs: number;
  seed: number;
  batchSize?: number;
  learningRate?: number;
  /** Stop after this many epochs without a better validation accuracy; the best weights are restored. */
  patience?: number;
  masks?: Masks;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (e: EpochStats) => void;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  accuracy: number;
  validationLoss: number;
  validationAccuracy: number;
  seconds: number;
}

export interface TrainResult {
  history: EpochStats[];
  bestEpoch: number;
  validationAccuracy: number;
  stoppedEarly: boolean;
}

export interface Evaluation {
  correct: number;
  count: number;
  accuracy: number;
  loss: number;
}

export class TrainingError extends Error {
  override name = "TrainingError";
}

/** Images [n, H, W, C] and integer labels [n] for rows start..start+n of `ds`. */
export function batchTensors(ds: Dataset, start: number, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const size = imageSize(ds);
  const end = Math.min(ds.count, start + n);
  return {
    x: tf.tensor4d(ds.images.subarray(start * size, end * size), [end - start, ds.height, ds.width, ds.channels]),
    y: tf.tensor1d(ds.labels.subarray(start, end), "int32"),
  };
}

/** Copies rows `order[start..start+n)` of `ds` into one batch. */
function gatherBatch(ds: Dataset, order: Uint32Array, start: number, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const size = imageSize(ds);
  const end = Math.min(order.length, start + n);
  const images = new Float32Array((end - start) * size);
  const labels = new Int32Array(end - start);
  for (let k = start; k < end; k++) {
    const i = order[k]!;
    images.set(ds.images.subarray(i * size, (i + 1) * size), (k - start) * size);
    labels[k - start] = ds.labels[i]!;
  }
  return { x: tf.tensor4d(images, [end - start, ds.height, ds.width, ds.channels]), y: tf.tensor1d(labels, "int32") };
}

export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits) as tf.Scalar;
}

/** Accuracy and mean loss of `model` on all of `ds`, in batches. */
export function evaluate(model: LayersModel, ds: Dataset, batchSize = 500): Evaluation {
  let correct = 0;
  let lossSum = 0;
  const size = imageSize(ds);
  for (let start = 0; start < ds.count; start += batchSize) {
    const n = Math.min(batchSize, ds.count - start);
    const [c, l] = tf.tidy(() => {
      const x = tf.tensor4d(ds.images.subarray(start * size, (start + n) * size), [n, ds.height, ds.width, ds.channels]);
      const y = tf.tensor1d(ds.labels.subarray(start, start + n), "int32");
      const logits = model.predict(x) as tf.Tensor2D;
      const hits = tf.equal(tf.argMax(logits, 1), y).sum();
      const loss = crossEntropy(logits, y, ds.numClasses).mul(n);
      return [hits.dataSync()[0] ?? 0, loss.dataSync()[0] ?? 0];
    });
    correct += c;
    lossSum += l;
  }
  return { correct, count: ds.count, accuracy: ds.count ? correct / ds.count : 0, loss: ds.count ? lossSum / ds.count : 0 };
}

/**
 * One optimiser step on one batch; returns the batch loss and the number of correct predictions.
 * `gradMasks` (variable name → 0/1 tensor) zeroes the gradients of pruned weights.
 */
export function trainStep(
  model: LayersModel,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  numClasses: number,
  gradMasks: ReadonlyMap<string, tf.Tensor> = new Map(),
): [number, number] {
  return tf.tidy(() => {
    let logitsOut: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = (fusedApply(model, x) ?? model.apply(x, { training: true })) as tf.Tensor2D;
      logitsOut = tf.keep(logits);
      return crossEntropy(logits, y, numClasses);
    }, vars);
    for (const [name, mask] of gradMasks) {
      const g = grads[name];
      if (g) grads[name] = tf.mul(g, mask);
    }
    applyGradients(optimizer, Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    const h = tf.equal(tf.argMax(logitsOut!, 1), y).sum();
    logitsOut!.dispose();
    return [value.dataSync()[0] ?? NaN, h.dataSync()[0] ?? 0];
  });
}

/** The variables an optimiser updates, in model order. */
export function trainableVariables(model: LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

export async function train(model: LayersModel, trainSet: Dataset, validation: Dataset, opts: TrainOptions): Promise<TrainResult> {
  const batchSize = opts.batchSize ?? 128;
  const patience = opts.patience ?? 3;
  if (!(Number.isInteger(opts.epochs) && opts.epochs >= 0)) throw new TrainingError(`epochs must be a non-negative integer, got ${opts.epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new TrainingError(`batch size must be a positive integer, got ${batchSize}`);
  if (trainSet.count === 0) throw new TrainingError("the training set is empty");

  const optimizer = tf.train.adam(opts.learningRate ?? 1e-3);
  const vars = trainableVariables(model);
  // Gradient masks, keyed by the variable's name as tf.variableGrads reports it.
  const gradMasks = new Map<string, tf.Tensor>();
  if (opts.masks) {
    for (const w of prunableWeights(model)) {
      const m = opts.masks.get(layerOf(w));
      const v = w.read() as tf.Variable;
      if (m) gradMasks.set(v.name, tf.tensor(m, v.shape));
    }
    applyMasks(model, opts.masks);
  }

  const history: EpochStats[] = [];
  let best = { epoch: 0, accuracy: -1, weights: [] as tf.Tensor[] };
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const t0 = performance.now();
      const order = permutation(trainSet.count, mulberry32(opts.seed * 7919 + epoch));
      const batches = Math.ceil(trainSet.count / batchSize);
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batches; b++) {
        const { x, y } = gatherBatch(trainSet, order, b * batchSize, batchSize);
        const [loss, hits] = trainStep(model, optimizer, vars, x, y, trainSet.numClasses, gradMasks);
        x.dispose();
        y.dispose();
        if (opts.masks) applyMasks(model, opts.masks);
        if (!Number.isFinite(loss)) throw new TrainingError(`loss became ${loss} in epoch ${epoch}, batch ${b + 1}`);
        lossSum += loss * Math.min(batchSize, trainSet.count - b * batchSize);
        correct += hits;
        opts.onBatch?.({ epoch, batch: b + 1, batches, loss, accuracy: hits / Math.min(batchSize, trainSet.count - b * batchSize) });
        // Let timers and signals run between batches.
        if (b % 20 === 19) await new Promise((r) => setImmediate(r));
      }
      const val = evaluate(model, validation);
      const stats: EpochStats = {
        epoch,
        loss: lossSum / trainSet.count,
        accuracy: correct / trainSet.count,
        validationLoss: val.loss,
        validationAccuracy: val.accuracy,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(stats);
      opts.onEpoch?.(stats);
      if (val.accuracy > best.accuracy) {
        best.weights.forEach((w) => w.dispose());
        best = { epoch, accuracy: val.accuracy, weights: model.getWeights().map((w) => w.clone()) };
      } else if (epoch - best.epoch >= patience) {
        stoppedEarly = true;
        break;
      }
    }
    if (best.weights.length > 0 && best.epoch !== history.length) model.setWeights(best.weights);
  } finally {
    best.weights.forEach((w) => w.dispose());
    gradMasks.forEach((m) => m.dispose());
    optimizer.dispose();
  }
  if (history.length === 0) {
    const val = evaluate(model, validation);
    return { history, bestEpoch: 0, validationAccuracy: val.accuracy, stoppedEarly };
  }
  return { history, bestEpoch: best.epoch, validationAccuracy: best.accuracy, stoppedEarly };
}
