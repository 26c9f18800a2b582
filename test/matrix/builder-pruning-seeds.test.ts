// A tiny real build with two pruning seeds (synthetic IDX data, lenet300, random 4×, 20 samples,
// white-box L∞ only): the two rows of the variant differ by their pruning seed (variantSeed) and
// what it changed — the weights and the measurement — and by nothing else; the default seed's
// variant is the one a grid without pruning seeds builds; stats expects both, verify re-runs both
// (recreating the deleted seed-2 variant from its provenance); the advisor reads both seeds.
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
import { trainDense, pruneAndFinetune } from "../../src/engine/pipeline.js";
import { saveModel, loadModel } from "../../src/engine/model-io.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl } from "../../src/matrix/jsonl.js";
import type { MatrixRow } from "../../src/matrix/row.js";

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-pruning-seeds-"));
test.after(() => rm(work, { recursive: true, force: true }));
const dataDir = path.join(work, "data");
await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));

function grid(extra: Record<string, unknown>): string {
  return YAML.stringify({
    description: "pruning seeds test grid (synthetic data)",
    dataset: { name: "synthetic", dir: dataDir },
    architectures: ["lenet300"],
    strategies: ["random"],
    rates: [1, 4],
    norms: ["linf"],
    knowledge: ["white-box"],
    budgets: { linf: [0, 0.05, 0.1] },
    samples: 20,
    seeds: [1],
    training: { epochs: 1, batchSize: 32, patience: 1 },
    finetune: { epochs: 1 },
    attacks: { batchSize: 20, pgd: { steps: 5, restarts: 1 }, fmn: { steps: 10 }, square: { queries: 50 }, sparseRs: { queries: 50 } },
    ...extra,
  });
}

async function rowsOf(db: string): Promise<MatrixRow[]> {
  const store = await MatrixStore.open(db);
  const rows: MatrixRow[] = [];
  try {
    await exportJsonl(store, undefined, (l) => void rows.push(JSON.parse(l) as MatrixRow));
  } finally {
    await store.close();
  }
  return rows;
}

const models = path.join(work, "models");
const db = path.join(work, "two", "m.sqlite");
const twoSeeds = path.join(work, "two.yaml");
await writeFile(twoSeeds, grid({ pruningSeeds: [1, 2] }));

test("two pruning seeds: two rows of one variant differing only by the seed and what it changed", async () => {
  const r = await runCli(["matrix", "build", "--grid", twoSeeds, "--db", db, "--models-dir", models, "--workers", "1"], {}, 120_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /6 run/);
  assert.match(r.stderr, /prune\/lenet300\/random\/4x\/s1\/p2 done/);
  assert.match(r.stderr, /eval\/lenet300\/random\/4x\/s1\/p2\/linf done/);

  const rows = await rowsOf(db);
  assert.equal(rows.length, 3);
  const random = rows.filter((x) => x.strategy === "random").sort((a, b) => a.variantSeed - b.variantSeed);
  assert.deepEqual(
    random.map((x) => [x.variantSeed, x.seed]),
    [
      [1, 1],
      [2, 1],
    ],
    "pruning seeds 1 and 2; both attacked with the training seed",
  );
  const [a, b] = random as [MatrixRow, MatrixRow];
  assert.notEqual(a.weightsSha256, b.weightsSha256, "another pruning seed prunes other weights");
  assert.notEqual(a.variantId, b.variantId);
  // What the seed may change: the variant (weights, its clean accuracy, fine-tuning — and so which
  // biases end up exactly 0, counted by nonZeroParams and sparseBytes), the measurement and its
  // bookkeeping. Everything else — model, variant kind, samples, budgets, attack settings — is equal.
  const mayDiffer = new Set([
    "id",
    "variantId",
    "variantSeed",
    "weightsSha256",
    "nonZeroParams",
    "sparseBytes",
    "cleanAccuracy",
    "finetuneEpochs",
    "createdAt",
    "curve",
    "cleanCorrect",
    "distances",
    "attacks",
    "sanity",
    "maskingSuspected",
    "queries",
    "startedAt",
    "finishedAt",
    "seconds",
  ]);
  const differing = Object.keys(a).filter((k) => JSON.stringify(a[k as keyof MatrixRow]) !== JSON.stringify(b[k as keyof MatrixRow]));
  assert.deepEqual(
    differing.filter((k) => !mayDiffer.has(k)),
    [],
    `fields differing beyond the pruning seed's effects: ${differing.join(", ")}`,
  );
  for (const k of ["modelId", "strategy", "requestedRate", "achievedRate", "nonZeroPrunable", "norm", "knowledge", "budgets", "sampleHash", "n", "seed", "batchSize"] as const) {
    assert.deepEqual(a[k], b[k], k);
  }
  // Attack settings are the same; only what they found may differ.
  assert.deepEqual(
    a.attacks.map((x) => [x.name, x.params]),
    b.attacks.map((x) => [x.name, x.params]),
  );

  // The variant directories: the default name, and -p2 for the other seed, each recording its seed.
  const variants = path.join(work, "two", "variants", "lenet300-synthetic-s1", a.modelId.slice(0, 12));
  const meta = async (name: string): Promise<{ seed: number; weightsSha256: string }> => JSON.parse(await readFile(path.join(variants, name, "metadata.json"), "utf8")) as { seed: number; weightsSha256: string };
  assert.deepEqual([(await meta("random-4x")).seed, (await meta("random-4x-p2")).seed], [1, 2]);
  assert.equal((await meta("random-4x-p2")).weightsSha256, b.weightsSha256);

  const stats = await runCli(["matrix", "stats", "--db", db, "--grid", twoSeeds]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /3\/3 expected rows present/);
  assert.match(stats.stdout, /gaps: none/);

  // The advisor's snapshot holds the variant twice, once per pruning seed.
  const store = await MatrixStore.open(db);
  try {
    const snap = await store.snapshot();
    const cands = snap.candidates.filter((c) => c.strategy === "random").map((c) => [c.pruningSeed, c.rate]);
    assert.deepEqual(cands.sort(), [
      [1, 4],
      [2, 4],
    ]);
  } finally {
    await store.close();
  }
});

test("the default seed's variant is the one a grid without pruning seeds builds; verify re-runs the seed-2 cell", async () => {
  const oneSeed = path.join(work, "one.yaml");
  await writeFile(oneSeed, grid({}));
  const oneDb = path.join(work, "one", "m.sqlite");
  // Same dense models, a fresh variant cache: the default variant is pruned again, from scratch.
  const r = await runCli(["matrix", "build", "--grid", oneSeed, "--db", oneDb, "--models-dir", models, "--workers", "1"], {}, 120_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /prune\/lenet300\/random\/4x\/s1 done/);
  assert.doesNotMatch(r.stderr, /\/p\d/);
  const one = (await rowsOf(oneDb)).find((x) => x.strategy === "random")!;
  const two = (await rowsOf(db)).find((x) => x.strategy === "random" && x.variantSeed === 1)!;
  assert.equal(one.variantSeed, 1);
  assert.equal(one.weightsSha256, two.weightsSha256);
  assert.equal(one.distances, two.distances);

  // Verify every cell of the two-seed build; the seed-2 variant is recreated from its provenance
  // (pruning seed 2) and must hash to the recorded weights.
  const p2 = path.join(work, "two", "variants", "lenet300-synthetic-s1", two.modelId.slice(0, 12), "random-4x-p2");
  await rm(p2, { recursive: true, force: true });
  const v = await runCli(["matrix", "verify", "--sample", "3", "--seed", "1", "--db", db], {}, 120_000);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /3\/3 cells agree/);
  assert.match(v.stdout, /eval\/lenet300\/random\/4x\/s1\/p2\/linf/);
  assert.ok(existsSync(p2), "the seed-2 variant was recreated");
});

test("a pruning seed other than the default draws the gradient strategies' scoring batches at random", async (t) => {
  const backend = await initBackend();
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-gradient-batches-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = syntheticSplits({ trainCount: 64, testCount: 8, seed: 4 });
  const settings = { epochs: 1, batchSize: 8, learningRate: 1e-3, patience: 1, validation: 0.1, seed: 1 };
  const dense = await trainDense({ architecture: "lenet300", train: data.train, test: data.test, backend: backend.name, settings });
  const parent = await saveModel(dense.model, path.join(dir, "dense"), dense.metadata);
  dense.model.dispose();
  // No fine-tuning: the weights are the dense weights under the mask, so they show the mask alone.
  const masked = async (gradientBatchSeed?: number): Promise<string> => {
    const { model } = await loadModel(path.join(dir, "dense"));
    try {
      await pruneAndFinetune({
        model,
        parent,
        strategy: "global-gradient",
        rate: 4,
        train: data.train,
        test: data.test,
        backend: backend.name,
        gradientBatches: 1,
        ...(gradientBatchSeed === undefined ? {} : { gradientBatchSeed }),
        settings: { ...settings, epochs: 0 },
      });
      return (await saveModel(model, path.join(dir, `v-${gradientBatchSeed ?? "first"}-${Math.random().toString(36).slice(2)}`), parent)).weightsSha256;
    } finally {
      model.dispose();
    }
  };
  const first = await masked();
  const seeded = await masked(2);
  assert.equal(await masked(), first, "the first batches: deterministic");
  assert.equal(await masked(2), seeded, "seeded batches: deterministic");
  assert.notEqual(seeded, first, "seed 2 scored other training images than the first batch");
});
