// The cumulative schedule, end to end on a tiny real build (synthetic IDX data, lenet300,
// unstructured/magnitude-local = layer-magnitude at 2× and 4×, white-box L∞ only): rate 4× is
// pruned from rate 2×'s FINE-TUNED variant — its pruned set contains 2×'s, its mask is the one the
// 2× weights give (not the dense model's) — the schedule is recorded (metadata, matrix, JSONL), and
// `matrix verify` rebuilds the chain from an empty variant cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { runCli } from "../helpers/cli.js";
import { initBackend } from "../../src/engine/backend.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { loadModel, type ModelMetadata } from "../../src/engine/model-io.js";
import { pruneModel, readKernels } from "../../src/engine/pruning/index.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl, importJsonl } from "../../src/matrix/jsonl.js";
import type { MatrixRow } from "../../src/matrix/row.js";

await initBackend();
const work = await mkdtemp(path.join(os.tmpdir(), "advisor-cumulative-"));
test.after(() => rm(work, { recursive: true, force: true }));
const dataDir = path.join(work, "data");
await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));
const gridFile = path.join(work, "cumulative.yaml");
await writeFile(
  gridFile,
  YAML.stringify({
    description: "cumulative schedule test grid (synthetic data)",
    dataset: { name: "synthetic", dir: dataDir },
    architectures: ["lenet300"],
    strategies: ["unstructured/magnitude-local"],
    rates: [1, 2, 4],
    schedule: "cumulative",
    norms: ["linf"],
    knowledge: ["white-box"],
    budgets: { linf: [0, 0.05, 0.1] },
    samples: 20,
    seeds: [1],
    training: { epochs: 1, batchSize: 32, patience: 1 },
    finetune: { epochs: 1 },
    attacks: { batchSize: 20, pgd: { steps: 5, restarts: 1 }, fmn: { steps: 10 }, square: { queries: 50 }, sparseRs: { queries: 50 } },
  }),
);
const db = path.join(work, "m", "m.sqlite");
const models = path.join(work, "models");

async function rowsOf(file: string): Promise<MatrixRow[]> {
  const store = await MatrixStore.open(file);
  const rows: MatrixRow[] = [];
  try {
    await exportJsonl(store, undefined, (l) => void rows.push(JSON.parse(l) as MatrixRow));
  } finally {
    await store.close();
  }
  return rows;
}

/** Flat index → value of every prunable weight, per layer; and the set of zero positions. */
function zeros(kernels: ReturnType<typeof readKernels>): Set<string> {
  const out = new Set<string>();
  for (const k of kernels) k.values.forEach((w, i) => w === 0 && out.add(`${k.layer}:${i}`));
  return out;
}

test("cumulative: 4× is pruned from 2×'s fine-tuned variant, the schedule is recorded, verify rebuilds the chain from an empty cache", async () => {
  const r = await runCli(["matrix", "build", "--grid", gridFile, "--db", db, "--models-dir", models, "--workers", "1"], {}, 180_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /prune\/lenet300\/layer-magnitude\/2x\/s1\/cumulative done/, "the alias is stored under today's name");
  assert.match(r.stderr, /eval\/lenet300\/layer-magnitude\/4x\/s1\/cumulative\/linf done/);

  const rows = await rowsOf(db);
  const pruned = rows.filter((x) => x.strategy === "layer-magnitude").sort((a, b) => a.requestedRate - b.requestedRate);
  assert.deepEqual(
    pruned.map((x) => [x.requestedRate, x.schedule]),
    [
      [2, "cumulative"],
      [4, "cumulative"],
    ],
  );
  assert.equal(rows.find((x) => x.strategy === "dense")!.schedule, undefined, "the dense model has no schedule");
  const [r2, r4] = pruned as [MatrixRow, MatrixRow];
  // JSON Lines carry the schedule through an import into another database.
  const copy = await MatrixStore.open(path.join(work, "copy", "m.sqlite"));
  try {
    await importJsonl(copy, rows.map((x) => JSON.stringify(x)));
    const again: MatrixRow[] = [];
    await exportJsonl(copy, undefined, (l) => void again.push(JSON.parse(l) as MatrixRow));
    assert.deepEqual(again.map((x) => [x.strategy, x.requestedRate, x.schedule]).sort(), rows.map((x) => [x.strategy, x.requestedRate, x.schedule]).sort());
  } finally {
    await copy.close();
  }

  const variants = path.join(work, "m", "variants", "lenet300-synthetic-s1", r2.modelId.slice(0, 12));
  const dir2 = path.join(variants, "layer-magnitude-2x-cumulative");
  const dir4 = path.join(variants, "layer-magnitude-4x-cumulative");
  const meta4 = JSON.parse(await readFile(path.join(dir4, "metadata.json"), "utf8")) as ModelMetadata;
  assert.equal(meta4.pruning?.schedule, "cumulative");
  assert.equal(meta4.pruning?.parentWeightsSha256, r2.weightsSha256, "4x's parent is 2x's fine-tuned variant");
  assert.equal(meta4.pruning?.denseWeightsSha256, r2.modelId, "and the chain's dense model is recorded");
  assert.equal(meta4.weightsSha256, r4.weightsSha256);

  // Rate 2c starts from the fine-tuned rate c: pruning 2x's weights to 4x gives exactly the stored
  // 4x's mask, which contains 2x's pruned set, and leaves 2x's fine-tuned values on the survivors.
  const m2 = (await loadModel(dir2)).model;
  const k2 = readKernels(m2);
  const z2 = zeros(k2);
  const m4 = (await loadModel(dir4)).model;
  const z4 = zeros(readKernels(m4));
  const { masks } = pruneModel(m2, "layer-magnitude", 4, { seed: 1 });
  const before = readKernels(m2);
  const zBefore = zeros(before);
  for (const z of z2) assert.ok(zBefore.has(z), `pruned at 2x, alive again at 4x: ${z}`);
  before.forEach((k, l) => k.values.forEach((w, i) => w !== 0 && assert.equal(w, k2[l]!.values[i], "a surviving weight is 2x's fine-tuned value")));
  assert.deepEqual([...z4].sort(), [...zBefore].sort(), "the stored 4x variant has exactly that mask (held through fine-tuning)");
  for (const k of before) assert.equal(masks.get(k.layer)!.reduce((a, v) => a + v, 0), k.values.filter((w) => w !== 0).length);
  // …which is not what one-shot pruning of the dense model would have chosen.
  const dense = (await loadModel(path.join(models, "lenet300-synthetic-s1"))).model;
  pruneModel(dense, "layer-magnitude", 4, { seed: 1 });
  assert.notDeepEqual([...zeros(readKernels(dense))].sort(), [...z4].sort(), "one-shot from the dense model differs");
  for (const m of [m2, m4, dense]) m.dispose();

  // An empty variant cache: verify re-creates 2x, then 4x from it, and agrees with the rows.
  await rm(path.join(work, "m", "variants"), { recursive: true, force: true });
  const v = await runCli(["matrix", "verify", "--sample", "3", "--seed", "1", "--db", db], {}, 180_000);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /3\/3 cells agree/);
  assert.match(v.stdout, /eval\/lenet300\/layer-magnitude\/4x\/s1\/cumulative\/linf/);
  assert.ok(existsSync(dir4) && existsSync(dir2), "the chain was recreated");

  // The same from a database filled by `matrix import` (as the shipped file is): no build and so no
  // grid is recorded, and the chain's rates come from the matrix's own cumulative rows.
  const exported = path.join(work, "m", "export.jsonl");
  const imported = path.join(work, "m", "imported.sqlite");
  assert.equal((await runCli(["matrix", "export", "--db", db, "--out", exported])).code, 0);
  const imp = await runCli(["matrix", "import", exported, "--db", imported]);
  assert.equal(imp.code, 0, imp.stderr);
  const v2 = await runCli(["matrix", "verify", "--sample", "3", "--seed", "1", "--db", imported, "--data", dataDir, "--variants-dir", path.join(work, "m", "v-imported")], {}, 180_000);
  assert.equal(v2.code, 0, v2.stdout + v2.stderr);
  assert.match(v2.stdout, /3\/3 cells agree/);
  assert.match(v2.stdout, /eval\/lenet300\/layer-magnitude\/4x\/s1\/cumulative\/linf/);
  const meta4again = JSON.parse(await readFile(path.join(work, "m", "v-imported", "lenet300-synthetic-s1", r2.modelId.slice(0, 12), "layer-magnitude-4x-cumulative", "metadata.json"), "utf8")) as ModelMetadata;
  assert.equal(meta4again.pruning?.parentWeightsSha256, r2.weightsSha256, "re-created from 2x, not from the dense model");
});
