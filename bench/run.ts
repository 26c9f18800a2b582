// `npm run bench -- [train] [pgd]`: the workloads of ../shared/reference/torch_bench.py on this
// engine, one JSON object per line with the same names, so the two can be set side by side.
//   train-lenet5    Adam lr 1e-3, batch 128, first 12,800 training images in order (100 steps) -> samples/s
//   train-lenet300  the same protocol for the 784-300-100-10 MLP                                -> samples/s
//   pgd-linf-lenet5 PGD L∞ eps 0.1, step 0.01, 20 steps, random start, CE loss, on the first 1,024
//                   test images in batches of 256, model trained as train-lenet5    -> sample-steps/s
// Options: --data DIR (default Fashion-MNIST from the Debian package), --backend NAME.
import { parseArgs } from "node:util";
import { initBackend } from "../src/engine/backend.js";
import { DEFAULT_DATA_DIR, head, loadIdxDirectory, type Dataset } from "../src/engine/data.js";
import { createModel, type Architecture } from "../src/engine/models.js";
import { tf, type LayersModel } from "../src/engine/tf.js";
import { pgdLinf } from "../src/engine/attacks/index.js";
import { compileModel } from "../src/engine/onnx/compiled.js";
import { batchTensors, trainStep, trainableVariables } from "../src/engine/train.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { data: { type: "string", default: DEFAULT_DATA_DIR }, backend: { type: "string" } },
});
const selected = new Set(positionals.length ? positionals : ["train"]);
for (const s of selected) if (!["train", "pgd"].includes(s)) throw new Error(`unknown benchmark group "${s}" (known: train, pgd)`);

const backend = await initBackend(values.backend);
const common = { engine: `tfjs ${backend.tfjsVersion} ${backend.name}`, threads: 1 };
const data = await loadIdxDirectory(values.data);

/**
 * Trains a fresh model over `ds` once, in order, batch 128 — exactly torch_bench.py's train().
 * With `keep`, the trained model is handed over instead of disposed.
 */
function trainThroughput(architecture: Architecture, ds: Dataset, keep?: (model: LayersModel) => void): number {
  const model = createModel({ architecture, inputShape: [ds.height, ds.width, ds.channels], numClasses: ds.numClasses, seed: 0 });
  const optimizer = tf.train.adam(1e-3);
  const vars = trainableVariables(model);
  const batch = 128;
  // Tensors are built inside the timed loop, as torch_bench.py slices its tensors inside it.
  const t0 = performance.now();
  for (let start = 0; start < ds.count; start += batch) {
    const { x, y } = batchTensors(ds, start, batch);
    trainStep(model, optimizer, vars, x, y, ds.numClasses);
    x.dispose();
    y.dispose();
  }
  const rate = ds.count / ((performance.now() - t0) / 1000);
  optimizer.dispose();
  if (keep) keep(model);
  else model.dispose();
  return rate;
}

// The lenet5 trained by the train group, reused by the pgd group (torch_bench.py attacks that model too).
let lenet5: LayersModel | undefined;

if (selected.has("train")) {
  const train = head(data.train, 12_800);
  for (const arch of ["lenet5", "lenet300"] as const) {
    const keep = arch === "lenet5" && selected.has("pgd") ? (m: LayersModel) => (lenet5 = m) : undefined;
    console.log(JSON.stringify({ workload: `train-${arch}`, samples_per_s: Math.round(trainThroughput(arch, train, keep)), ...common }));
  }
}

/**
 * torch_bench.py's pgd_linf(): PGD L∞ eps 0.1, absolute step 0.01, 20 steps, uniform random start
 * in [−eps, eps] then clipped to the box, cross-entropy, sign steps, projection, box clip, final
 * iterate only, on `ds` in batches of 256. Timed like the reference: the attack plus counting the
 * robust samples. Returns [sample-steps/s, robust accuracy].
 */
async function pgdThroughput(model: LayersModel, ds: Dataset): Promise<[number, number]> {
  const steps = 20;
  const attack = pgdLinf({ steps, stepSize: 0.01, restarts: 1, randomStart: true, loss: "ce", earlyStop: false });
  const access = { kind: "gradient", model } as const;
  let robust = 0;
  const t0 = performance.now();
  for (let start = 0; start < ds.count; start += 256) {
    const { x, y } = batchTensors(ds, start, 256);
    const adv = await attack.run(access, { x, y, seed: start }, 0.1);
    robust += tf.tidy(() => tf.equal(tf.argMax(model.predict(adv) as tf.Tensor2D, 1), y).sum().dataSync()[0] ?? 0);
    tf.dispose([x, y, adv]);
  }
  const seconds = (performance.now() - t0) / 1000;
  return [(ds.count * steps) / seconds, robust / ds.count];
}

if (selected.has("pgd")) {
  if (lenet5 === undefined) trainThroughput("lenet5", head(data.train, 12_800), (m) => (lenet5 = m));
  const [rate, robust] = await pgdThroughput(lenet5!, head(data.test, 1024));
  console.log(JSON.stringify({ workload: "pgd-linf-lenet5", sample_steps_per_s: Math.round(rate), robust_accuracy: robust, ...common }));
  // The same attack with the model's passes through onnxruntime, as an evaluation cell runs it (src/engine/onnx/).
  const { engine, release } = compileModel(lenet5!);
  try {
    const [ortRate, ortRobust] = await pgdThroughput(lenet5!, head(data.test, 1024));
    console.log(JSON.stringify({ workload: "pgd-linf-lenet5", passes: engine.name, passes_detail: engine.detail, sample_steps_per_s: Math.round(ortRate), robust_accuracy: ortRobust, ...common }));
  } finally {
    release();
  }
  lenet5!.dispose();
}
