// Issue 19, item 3, end to end: tiny grids on data generated in the new formats run train → prune
// → evaluate into a temporary SQLite matrix, for both CIFAR-sized networks:
//   ResNet-8 (full width) from the zoo on the CIFAR-10 binary version;
//   VGG-11 at 1/16 width (a narrow copy trained here: the zoo's is 153 M multiply-accumulates per
//   image) as a grid's given model on a PNG folder data set.
// Generated data never passes for real data: the builder refuses it under a real data set's name,
// and `matrix export` refuses its rows for the shipped matrix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { generatedSplits, writeCifar10Binary, writePngFolder } from "../helpers/generated-data.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { initBackend } from "../../src/engine/backend.js";
import { createModel } from "../../src/engine/models.js";
import { trainLoop } from "../../src/engine/pipeline.js";
import { evaluate } from "../../src/engine/train.js";
import { saveModel } from "../../src/engine/model-io.js";
import type { Architecture } from "../../src/engine/architectures.js";
import type { MatrixRow } from "../../src/matrix/row.js";

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-cifar-grid-"));
test.after(() => rm(work, { recursive: true, force: true }));

const splits = generatedSplits({ trainCount: 200, testCount: 20, seed: 1 });
const cifarDir = path.join(work, "cifar");
const pngDir = path.join(work, "png");
await writeCifar10Binary(cifarDir, splits);
await writePngFolder(pngDir, splits, ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);

const SETTINGS = `
samples: 4
seeds: [1]
training: { epochs: 3, batchSize: 16, learningRate: 0.003, patience: 3, validation: 0.1 }
finetune: { epochs: 1 }
attacks: { batchSize: 4, pgd: { steps: 5, restarts: 1 }, fmn: { steps: 10, targets: 0 }, square: { queries: 50 }, sparseRs: { queries: 50 } }
knowledge: [white-box, transfer, black-box]
`;

async function rowsOf(db: string): Promise<MatrixRow[]> {
  const store = await MatrixStore.open(db);
  try {
    const rows: MatrixRow[] = [];
    for await (const r of store.rows()) rows.push(r);
    return rows;
  } finally {
    await store.close();
  }
}

function checkRows(rows: MatrixRow[], o: { dataset: string; architecture: string; strategy: string; norm: string }): void {
  assert.equal(rows.length, 6, "dense and one pruned variant, three knowledge levels each");
  for (const r of rows) {
    assert.equal(r.dataset, o.dataset);
    assert.equal(r.architecture, o.architecture);
    assert.deepEqual(r.inputShape, [32, 32, 3]);
    assert.equal(r.norm, o.norm);
    assert.equal(r.n, 4);
    assert.ok(r.sanity.pass, `sanity of ${r.strategy} ${r.knowledge}`);
    // Robust accuracy never rises with the budget.
    for (let i = 1; i < r.curve.length; i++) assert.ok(r.curve[i]!.accuracy <= r.curve[i - 1]!.accuracy);
  }
  assert.deepEqual([...new Set(rows.map((r) => r.strategy))].sort(), ["dense", o.strategy].sort());
  const dense = rows.find((r) => r.strategy === "dense")!;
  // Trained (or given) above chance on the 20 generated test images: 10 classes, chance 10 %.
  assert.ok(dense.cleanAccuracy.value > 0.5, `dense clean accuracy ${dense.cleanAccuracy.value}`);
  const pruned = rows.find((r) => r.strategy === o.strategy)!;
  assert.ok(Math.abs(pruned.achievedRate - 4) < 0.05, `achieved ${pruned.achievedRate}`);
}

test("ResNet-8 on the CIFAR-10 binary version: train, prune, evaluate; rows in a temporary matrix", async () => {
  const grid = path.join(work, "resnet8.yaml");
  await writeFile(
    grid,
    `dataset: { name: generated-cifar10, dir: ./cifar, format: cifar10-binary }
architectures: [resnet8]
strategies: [global-magnitude]
rates: [1, 4]
norms: [linf]
budgets: { linf: [0, 0.03, 0.1] }
${SETTINGS}`,
  );
  const db = path.join(work, "r8", "m.sqlite");
  const r = await runCli(["matrix", "build", "--grid", grid, "--db", db, "--models-dir", path.join(work, "r8", "models"), "--workers", "1"], {}, 240_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /5 run/);
  checkRows(await rowsOf(db), { dataset: "generated-cifar10", architecture: "resnet8", strategy: "global-magnitude", norm: "linf" });

  // Its rows are not real data: the shipped matrix (here the configured seed matrix) refuses them and stays as it was.
  const shipped = path.join(work, "shipped.jsonl");
  await writeFile(shipped, "untouched\n");
  const e = await runCli(["matrix", "export", "--db", db, "--out", shipped], { ADVISOR_SEED_MATRIX: shipped });
  assert.equal(e.code, 2, e.stderr);
  assert.match(e.stderr, /is the shipped matrix, which holds rows of real data sets only \(fashion-mnist, .*cifar10\); this version has rows of generated-cifar10: export them elsewhere/);
  assert.equal(await readFile(shipped, "utf8"), "untouched\n");
  const elsewhere = path.join(work, "elsewhere.jsonl");
  const ok = await runCli(["matrix", "export", "--db", db, "--out", elsewhere], { ADVISOR_SEED_MATRIX: shipped });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await readFile(elsewhere, "utf8")).trim().split("\n").length, 6);
});

test("generated data under a real data set's name is refused by the builder", async () => {
  const grid = path.join(work, "real-name.yaml");
  await writeFile(
    grid,
    `dataset: { name: cifar10, dir: ./cifar, format: cifar10-binary }
architectures: [resnet8]
strategies: []
rates: [1]
norms: [linf]
budgets: { linf: [0, 0.1] }
${SETTINGS}`,
  );
  const r = await runCli(["matrix", "build", "--grid", grid, "--db", path.join(work, "real", "m.sqlite"), "--models-dir", path.join(work, "real", "models"), "--workers", "1"], {}, 120_000);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /holds generated data \(GENERATED-DATA\.txt\), which may not be measured under the name of the real data set cifar10/);
  await assert.rejects(rowsOf(path.join(work, "real", "m.sqlite")), /no published version/, "no rows");
});

test("VGG-11 (1/16 width) as a given model on a PNG folder data set: prune, evaluate; rows in a temporary matrix", async () => {
  await initBackend();
  // The narrow VGG-11, trained here as a user would before uploading it.
  const model = createModel({ architecture: "vgg11", inputShape: [32, 32, 3], numClasses: 10, seed: 1, width: 1 / 16 });
  const { loadDataset } = await import("../../src/engine/dataset-formats.js");
  const data = await loadDataset(pngDir, "png-folder", "generated-png");
  await trainLoop(model, data.train, { epochs: 6, batchSize: 12, learningRate: 3e-3, patience: 6, validation: 0.1, seed: 1 });
  const clean = evaluate(model, data.test);
  const dir = path.join(work, "vgg", "dense");
  const meta = await saveModel(model, dir, {
    architecture: "vgg11-w16" as Architecture, // a label, as uploads carry
    dataset: "generated-png",
    inputShape: [32, 32, 3],
    numClasses: 10,
    seed: 1,
    cleanAccuracy: clean.accuracy,
    testCount: clean.count,
    backend: "wasm",
    codeVersion: "test",
    createdAt: new Date().toISOString(),
  });
  model.dispose();
  const grid = path.join(work, "vgg11.yaml");
  await writeFile(
    grid,
    `dataset: { name: generated-png, dir: ./png, format: png-folder }
model: { id: ${meta.weightsSha256}, architecture: vgg11-w16, dir: ./vgg/dense }
strategies: [layer-magnitude]
rates: [1, 4]
norms: [l2]
budgets: { l2: [0, 0.5, 2] }
${SETTINGS}`,
  );
  const db = path.join(work, "vgg", "m.sqlite");
  const r = await runCli(["matrix", "build", "--grid", grid, "--db", db, "--models-dir", path.join(work, "vgg", "models"), "--workers", "1"], {}, 240_000);
  assert.equal(r.code, 0, r.stderr);
  checkRows(await rowsOf(db), { dataset: "generated-png", architecture: "vgg11-w16", strategy: "layer-magnitude", norm: "l2" });
});
