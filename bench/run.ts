// `npm run bench -- [train] [pgd]`: the workloads of ../shared/reference/torch_bench.py on this
// engine, one JSON object per line with the same names, so the two can be set side by side.
//   train-lenet5    Adam lr 1e-3, batch 128, first 12,800 training images in order (100 steps) -> samples/s
//   train-lenet300  the same protocol for the 784-300-100-10 MLP                                -> samples/s
// Options: --data DIR (default Fashion-MNIST from the Debian package), --backend NAME.
import { parseArgs } from "node:util";
import { initBackend } from "../src/engine/backend.js";
import { DEFAULT_DATA_DIR, batchTensors, head, loadIdxDirectory, type Dataset } from "../src/engine/data.js";
import { createModel, type Architecture } from "../src/engine/models.js";
import { tf } from "../src/engine/tf.js";
import { trainStep, trainableVariables } from "../src/engine/train.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { data: { type: "string", default: DEFAULT_DATA_DIR }, backend: { type: "string" } },
});
const selected = new Set(positionals.length ? positionals : ["train"]);
for (const s of selected) if (!["train"].includes(s)) throw new Error(`unknown benchmark group "${s}" (known: train)`);

const backend = await initBackend(values.backend);
const common = { engine: `tfjs ${backend.tfjsVersion} ${backend.name}`, threads: 1 };
const data = await loadIdxDirectory(values.data);

/** Trains a fresh model over `ds` once, in order, batch 128 — exactly torch_bench.py's train(). */
function trainThroughput(architecture: Architecture, ds: Dataset): number {
  const model = createModel({ architecture, inputShape: [ds.height, ds.width, 1], numClasses: ds.numClasses, seed: 0 });
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
  model.dispose();
  return rate;
}

if (selected.has("train")) {
  const train = head(data.train, 12_800);
  for (const arch of ["lenet5", "lenet300"] as const) {
    console.log(JSON.stringify({ workload: `train-${arch}`, samples_per_s: Math.round(trainThroughput(arch, train)), ...common }));
  }
}
