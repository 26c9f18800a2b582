// Grids with the paper's pruning set and the cumulative schedule: aliases stored under today's
// names (same hash), one-shot keeping today's keys and hash, MLP × kernel combinations skipped with
// one message, cumulative chains keyed /cumulative with a dependency on the previous rate, and a
// refresh of an MLP dropping kernel/* instead of failing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GridError, gridHash, loadGrid, notApplicable, planCells, validateGrid, validateRefreshGrid, type PruneCell } from "../../src/matrix/grid.js";
import { hasKernels } from "../../src/engine/pruning/feasibility.js";
import { prunableLayersOf } from "../../src/models/layers.js";
import { tf } from "../../src/engine/tf.js";
import { createModel } from "../../src/engine/models.js";

const base = {
  dataset: { name: "fashion-mnist", dir: "/data" },
  architectures: ["lenet300", "lenet5"],
  strategies: ["global-magnitude"],
  rates: [1, 2, 4, 8],
  norms: ["linf"],
  budgets: { linf: [0, 0.1] },
  samples: 10,
};

/** sha256 of every cell key with its dependencies, in plan order. */
const planHash = (g: ReturnType<typeof validateGrid>): string =>
  createHash("sha256")
    .update(planCells(g).map((c) => `${c.key}<${c.deps.join(",")}`).join("\n"))
    .digest("hex");

test("one-shot keeps the shipped grids' hash and keys byte for byte (measured on main before schedules)", async () => {
  // The default grid of the first shipped matrix (before the paper's pruning set joined it).
  const d = await loadGrid("test/fixtures/grid-default-2026-11-27.yaml");
  assert.equal(d.schedule, undefined);
  assert.equal(gridHash(d), "4f8c20189e74de027d1a72150dcdbd3c3d34847f9fa5bcf3c5badf679e04cdb7");
  assert.equal(planHash(d), "8b8bd2433835dfd32848a23fd0c17bca34a7c74e6e034a256b7aed81fa40fb66");
  const tiny = await loadGrid("test/fixtures/grid-tiny.yaml");
  assert.equal(gridHash(tiny), "58e29022cda8e26eeda7358bfb4c81655135555f9109e8fe2d0a35d3659a59e7");
  assert.equal(planHash(tiny), "c7510c624c4526e745afc70ad5d30348ebbaddf273b4dd6af80a683335922154");
  // Saying one-shot is saying nothing.
  const explicit = validateGrid({ ...base, schedule: "one-shot" });
  assert.equal(explicit.schedule, undefined);
  assert.equal(gridHash(explicit), gridHash(validateGrid(base)));
});

test("aliases are stored under today's names: same strategies, same hash; a name and its alias are a duplicate", () => {
  const today = validateGrid({ ...base, strategies: ["structured-l1", "random", "layer-magnitude", "global-magnitude"] });
  const aliases = validateGrid({ ...base, strategies: ["filter/magnitude-local", "unstructured/random-local", "unstructured/magnitude-local", "unstructured/magnitude-global"] });
  assert.deepEqual(aliases.strategies, ["global-magnitude", "layer-magnitude", "random", "structured-l1"]);
  assert.equal(gridHash(aliases), gridHash(today));
  assert.throws(() => validateGrid({ ...base, strategies: ["structured-l1", "filter/magnitude-local"] }), (e: unknown) => e instanceof GridError && /strategies\[1\]: duplicate "structured-l1"/.test(e.message));
  assert.throws(() => validateGrid({ ...base, strategies: ["kernel/magic"] }), /strategies\[0\]: unknown strategy "kernel\/magic" \(known: .*filter\/magnitude-global.*unstructured\/random-local/);
  assert.throws(() => validateGrid({ ...base, schedule: "iterative" }), /schedule: unknown schedule "iterative" \(known: one-shot, cumulative\)/);
  // New strategies are appended to the canonical order, never reordering today's.
  const all = validateGrid({ ...base, strategies: ["filter/magnitude-global", "kernel/random-local", "random", "global-magnitude"] });
  assert.deepEqual(all.strategies, ["global-magnitude", "random", "kernel/random-local", "filter/magnitude-global"]);
});

test("kernel/* is skipped for the MLP (one message naming what), planned for the CNN", () => {
  const g = validateGrid({ ...base, strategies: ["kernel/magnitude-local", "filter/random-local"] });
  const prunes = planCells(g).filter((c): c is PruneCell => c.kind === "prune");
  assert.deepEqual(
    [...new Set(prunes.map((c) => `${c.architecture} ${c.strategy}`))],
    ["lenet300 filter/random-local", "lenet5 kernel/magnitude-local", "lenet5 filter/random-local"],
  );
  assert.equal(notApplicable(g), "skipped lenet300 × kernel/magnitude-local: kernel pruning does not apply to an MLP (dense layers only, no convolution kernels)");
  assert.equal(notApplicable(validateGrid(base)), null);
  assert.ok(prunes.every((c) => !c.key.includes("kernel/") || c.architecture === "lenet5"));
  assert.ok(prunes.some((c) => c.key === "prune/lenet5/kernel/magnitude-local/4x/s1"), "the strategy's own name is in the key");
});

test("cumulative: keys end in /cumulative, each rate depends on the previous one's prune cell, per pruning seed", () => {
  const g = validateGrid({ ...base, architectures: ["lenet5"], strategies: ["filter/magnitude-global"], schedule: "cumulative", pruningSeeds: [1, 2] });
  assert.equal(g.schedule, "cumulative");
  assert.notEqual(gridHash(g), gridHash(validateGrid({ ...base, architectures: ["lenet5"], strategies: ["filter/magnitude-global"], pruningSeeds: [1, 2] })));
  const cells = planCells(g);
  const prunes = cells.filter((c): c is PruneCell => c.kind === "prune");
  const keyOf = (rate: number, p: number): string => `prune/lenet5/filter/magnitude-global/${rate}x/s1${p === 1 ? "" : `/p${p}`}/cumulative`;
  for (const p of [1, 2]) {
    assert.deepEqual(prunes.find((c) => c.key === keyOf(2, p))!.deps, ["train/lenet5/s1"], "the first rate is pruned from the dense model");
    assert.deepEqual(prunes.find((c) => c.key === keyOf(4, p))!.deps, ["train/lenet5/s1", keyOf(2, p)]);
    assert.deepEqual(prunes.find((c) => c.key === keyOf(8, p))!.deps, ["train/lenet5/s1", keyOf(4, p)]);
    assert.equal(prunes.find((c) => c.key === keyOf(8, p))!.from, keyOf(4, p));
  }
  const evals = cells.filter((c) => c.kind === "evaluate" && c.strategy !== "dense");
  assert.ok(evals.every((c) => c.kind === "evaluate" && c.cumulative === true && /\/cumulative\/linf$/.test(c.key)));
  const position = new Map(cells.map((c, i) => [c.key, i]));
  for (const c of cells) for (const d of c.deps) assert.ok(position.get(d)! < position.get(c.key)!, `${c.key} after ${d}`);
});

test("refresh grids take aliases and the schedule; an MLP's layers have no kernels (a refresh drops kernel/*)", () => {
  const r = validateRefreshGrid({ strategies: ["filter/magnitude-local", "kernel/magnitude-global"], rates: [1, 4], norms: ["linf"], budgets: { linf: [0.1] }, samples: 10, schedule: "cumulative" });
  assert.deepEqual(r.strategies, ["structured-l1", "kernel/magnitude-global"]);
  assert.equal(r.schedule, "cumulative");
  const layersOf = (m: tf.LayersModel): ReturnType<typeof prunableLayersOf> => {
    const weightsManifest = [{ paths: ["weights.bin"], weights: m.weights.map((w) => ({ name: w.originalName, shape: w.shape, dtype: "float32" })) }];
    return prunableLayersOf({ modelTopology: JSON.parse(JSON.stringify(m.toJSON(null, false))) as unknown, weightsManifest });
  };
  const mlp = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const cnn = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  assert.equal(hasKernels(layersOf(mlp)!), false);
  assert.equal(hasKernels(layersOf(cnn)!), true);
  mlp.dispose();
  cnn.dispose();
});

test("a refresh of an uploaded MLP measures the grid's other strategies, leaving kernel/* out", async (t) => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const os = await import("node:os");
  const path = await import("node:path");
  const { saveModel } = await import("../../src/engine/model-io.js");
  const { syntheticSplits, writeIdxDirectory } = await import("../../src/engine/synthetic.js");
  const { MatrixStore } = await import("../../src/matrix/store.js");
  const { modelInputFromMetadata } = await import("../../src/matrix/inputs.js");
  const { prepareRefresh } = await import("../../src/jobs/prepare.js");
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-mlp-refresh-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeIdxDirectory(path.join(dir, "data"), syntheticSplits({ trainCount: 20, testCount: 20, seed: 1 }));
  const mlp = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const meta = await saveModel(mlp, path.join(dir, "models", "mlp"), {
    architecture: "lenet300",
    dataset: "synthetic",
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 1,
    backend: "cpu",
    codeVersion: "test",
    createdAt: new Date(0).toISOString(),
  });
  mlp.dispose();
  const dbFile = path.join(dir, "m.sqlite");
  const store = await MatrixStore.open(dbFile);
  t.after(() => store.close());
  await store.upsertModel(modelInputFromMetadata(meta, "models/mlp"));
  const grid = validateRefreshGrid({ strategies: ["kernel/magnitude-local", "filter/magnitude-global", "global-magnitude"], rates: [1, 4], norms: ["linf"], budgets: { linf: [0.1] }, samples: 10 });
  const prepared = await prepareRefresh({ db: store.db, dbFile, modelId: meta.weightsSha256, grid, datasets: new Map([["synthetic", path.join(dir, "data")]]) });
  assert.deepEqual(prepared.grid.strategies, ["global-magnitude", "filter/magnitude-global"]);
  assert.ok(planCells(prepared.grid).every((c) => !c.key.includes("kernel/")));
});

test("the default grid plans the six strategies and the paper's set at six rates on every architecture, plus the second seeds; cumulative.yaml chains every strategy", async () => {
  const grid = await loadGrid("db/grids/default.yaml");
  // The grid of the shipped rows: their grid hash (matrix stats --grid finds no gap when every row is there).
  assert.equal(gridHash(grid).slice(0, 12), "5ab83dd82439");
  const cells = planCells(grid);
  const byStrategy = new Map<string, number>();
  for (const c of cells) if (c.kind === "prune") byStrategy.set(c.strategy, (byStrategy.get(c.strategy) ?? 0) + 1);
  // Six rates on each architecture; kernel/* only on the two CNNs; seven second-seed variants.
  assert.deepEqual(Object.fromEntries(byStrategy), {
    "global-magnitude": 18 + 3, "layer-magnitude": 18, "global-gradient": 18 + 2, "layer-gradient": 18, random: 18 + 2, "structured-l1": 18,
    "kernel/random-local": 12, "kernel/magnitude-local": 12, "kernel/magnitude-global": 12,
    "filter/random-local": 18, "filter/magnitude-global": 18,
  });
  assert.equal(cells.filter((c) => c.kind === "prune" && c.key.includes("/p2")).length, 7);
  assert.equal(cells.length, 769);

  const cumulative = planCells(await loadGrid("db/grids/cumulative.yaml"));
  const chained = cumulative.filter((c) => c.kind === "prune" || c.kind === "evaluate");
  assert.ok(chained.length > 0 && chained.every((c) => c.key.includes("/cumulative")));
  // Every rate after the first is pruned from the previous rate's variant of its chain.
  const prunes = cumulative.filter((c): c is PruneCell => c.kind === "prune");
  assert.deepEqual(prunes.filter((c) => c.rate > 2 && c.from === undefined).map((c) => c.key), []);
  assert.equal(cumulative.length, 368);
});
