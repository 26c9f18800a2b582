// Pruning seeds in the grid (src/matrix/grid.ts, "Pruning seeds"): `pruningSeeds` and
// `extraSeeds` are validated with errors naming the field path; the planner makes one prune cell
// (and its evaluations) per pruning seed of a variant; a grid without them plans, keys and hashes
// exactly as before the fields existed.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { packageRoot } from "../../src/paths.js";
import {
  GridError,
  asRefreshGrid,
  gridHash,
  loadGrid,
  planCells,
  validateGrid,
  validateRefreshGrid,
  variantPruningSeeds,
  type Cell,
  type EvaluateCell,
  type PruneCell,
} from "../../src/matrix/grid.js";

const TINY_GRID = path.join(packageRoot, "test", "fixtures", "grid-tiny.yaml");

function base(): Record<string, unknown> {
  return {
    dataset: { name: "fashion-mnist", dir: "/data" },
    architectures: ["lenet300", "lenet5"],
    strategies: ["global-magnitude", "random"],
    rates: [1, 4, 8],
    norms: ["linf"],
    knowledge: ["white-box"],
    budgets: { linf: [0, 0.1] },
    samples: 10,
  };
}

function issues(input: unknown): string[] {
  try {
    validateGrid(input, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof GridError, `expected a GridError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail("the grid was accepted");
}

test("bad pruning seeds are refused, each problem naming its field path", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["negative pruning seed", { pruningSeeds: [1, -2] }, /^pruningSeeds\[1\]: must be at least 0$/],
    ["fractional pruning seed", { pruningSeeds: [1.5] }, /^pruningSeeds\[0\]: must be an integer$/],
    ["duplicate pruning seed", { pruningSeeds: [2, 2] }, /^pruningSeeds\[1\]: duplicate 2$/],
    ["empty pruning seeds", { pruningSeeds: [] }, /^pruningSeeds: name at least one pruning seed/],
    ["pruning seed not a number", { pruningSeeds: ["two"] }, /^pruningSeeds\[0\]: must be a number$/],
    ["extra seeds for a strategy not in the grid", { extraSeeds: [{ strategy: "layer-magnitude", rate: 4, seeds: [2] }] }, /^extraSeeds\[0\]\.strategy: layer-magnitude is not among the grid's strategies \(global-magnitude, random\)$/],
    ["extra seeds for an unknown strategy", { extraSeeds: [{ strategy: "magic", rate: 4, seeds: [2] }] }, /^extraSeeds\[0\]\.strategy: unknown strategy "magic"/],
    ["extra seeds for a rate not in the grid", { extraSeeds: [{ strategy: "random", rate: 16, seeds: [2] }] }, /^extraSeeds\[0\]\.rate: rate 16 is not among the grid's rates \(1, 4, 8\)$/],
    ["extra seeds for the dense model", { extraSeeds: [{ strategy: "random", rate: 1, seeds: [2] }] }, /^extraSeeds\[0\]\.rate: rate 1 is the dense model, which is not pruned and has no pruning seed$/],
    ["extra seeds for an architecture not in the grid", { extraSeeds: [{ architecture: "convnet", strategy: "random", rate: 4, seeds: [2] }] }, /^extraSeeds\[0\]\.architecture: convnet is not measured by this grid \(architectures: lenet300, lenet5\)$/],
    ["extra seeds without seeds", { extraSeeds: [{ strategy: "random", rate: 4, seeds: [] }] }, /^extraSeeds\[0\]\.seeds: name at least one pruning seed$/],
    ["extra seeds missing", { extraSeeds: [{ strategy: "random", rate: 4 }] }, /^extraSeeds\[0\]\.seeds: missing$/],
    ["bad extra seed", { extraSeeds: [{ strategy: "random", rate: 4, seeds: [3, 3.5] }] }, /^extraSeeds\[0\]\.seeds\[1\]: must be an integer$/],
    ["typo in an extra seeds entry", { extraSeeds: [{ strategy: "random", rate: 4, seeds: [2], seed: [2] }] }, /^extraSeeds\[0\]: unknown field "seed"$/],
    [
      "the same variant twice",
      { extraSeeds: [{ architecture: "lenet5", strategy: "random", rate: 4, seeds: [2] }, { architecture: "lenet5", strategy: "random", rate: 4, seeds: [3] }] },
      /^extraSeeds\[1\]: names the same variant as extraSeeds\[0\]; list its seeds once$/,
    ],
  ];
  for (const [name, extra, expected] of cases) {
    const found = issues({ ...base(), ...extra });
    assert.equal(found.length, 1, `${name}: ${found.join(" | ")}`);
    assert.match(found[0]!, expected, name);
  }
  // A grid naming a model checks extra seeds against the model's label.
  const model = { id: "a".repeat(64), architecture: "my-net", dir: "/models/x" };
  const { architectures: _a, ...modelGrid } = base();
  assert.match(
    issues({ ...modelGrid, model, extraSeeds: [{ architecture: "lenet5", strategy: "random", rate: 4, seeds: [2] }] })[0]!,
    /^extraSeeds\[0\]\.architecture: lenet5 is not measured by this grid \(its model: my-net\)$/,
  );
  assert.deepEqual(validateGrid({ ...modelGrid, model, extraSeeds: [{ architecture: "my-net", strategy: "random", rate: 4, seeds: [2] }] }).extraSeeds, [
    { architecture: "my-net", strategy: "random", rate: 4, seeds: [2] },
  ]);
  // A refresh grid takes pruningSeeds (same rules) but not extraSeeds, which name a grid's own architectures.
  assert.throws(() => validateRefreshGrid({ ...modelGrid, pruningSeeds: [0, 0] }), (e: GridError) => e.issues[0] === "pruningSeeds[1]: duplicate 0");
  assert.throws(() => validateRefreshGrid({ ...modelGrid, extraSeeds: [] }), (e: GridError) => e.issues[0] === 'unknown field "extraSeeds"');
});

test("a grid without pruning seeds plans, keys and hashes as before they existed", async () => {
  const tiny = await loadGrid(TINY_GRID);
  // The tiny fixture's hash and keys as computed before pruning seeds existed (commit 129ccc3).
  assert.equal(gridHash(tiny), "58e29022cda8e26eeda7358bfb4c81655135555f9109e8fe2d0a35d3659a59e7");
  assert.deepEqual(
    planCells(tiny).map((c) => c.key),
    [
      "train/lenet300/s1",
      "craft/lenet300/s1/linf",
      "eval/lenet300/dense/1x/s1/linf",
      "prune/lenet300/global-magnitude/4x/s1",
      "eval/lenet300/global-magnitude/4x/s1/linf",
      "prune/lenet300/random/4x/s1",
      "eval/lenet300/random/4x/s1/linf",
    ],
  );
  assert.equal(tiny.pruningSeeds, undefined);
  assert.equal(tiny.extraSeeds, undefined);
  // Naming the default explicitly (the one training seed) is the same grid.
  const explicit = validateGrid({ ...base(), seeds: [3], pruningSeeds: [3] });
  const implicit = validateGrid({ ...base(), seeds: [3] });
  assert.deepEqual(explicit, implicit);
  assert.equal(gridHash(explicit), gridHash(implicit));
  // Every variant is pruned with its training seed: the cells say so.
  for (const c of planCells(implicit)) if (c.kind === "prune" || c.kind === "evaluate") assert.equal(c.pruningSeed, 3, c.key);
});

test("two pruning seeds: one prune cell and its evaluations per seed, the default keys unchanged", () => {
  const one = validateGrid({ ...base(), architectures: ["lenet5"], rates: [1, 4] });
  const two = validateGrid({ ...base(), architectures: ["lenet5"], rates: [1, 4], pruningSeeds: [2, 1] });
  assert.deepEqual(two.pruningSeeds, [1, 2]);
  assert.notEqual(gridHash(two), gridHash(one));
  const keys = planCells(two).map((c) => c.key);
  assert.deepEqual(keys, [
    "train/lenet5/s1",
    "eval/lenet5/dense/1x/s1/linf",
    "prune/lenet5/global-magnitude/4x/s1",
    "eval/lenet5/global-magnitude/4x/s1/linf",
    "prune/lenet5/global-magnitude/4x/s1/p2",
    "eval/lenet5/global-magnitude/4x/s1/p2/linf",
    "prune/lenet5/random/4x/s1",
    "eval/lenet5/random/4x/s1/linf",
    "prune/lenet5/random/4x/s1/p2",
    "eval/lenet5/random/4x/s1/p2/linf",
  ]);
  // The single-seed plan is the two-seed plan without the /p2 cells, key for key.
  assert.deepEqual(
    planCells(one).map((c) => c.key),
    keys.filter((k) => !k.includes("/p2")),
  );
  const prune = planCells(two).find((c): c is PruneCell => c.key === "prune/lenet5/random/4x/s1/p2")!;
  assert.deepEqual([prune.seed, prune.pruningSeed, prune.strategy, prune.rate], [1, 2, "random", 4]);
  const evaluation = planCells(two).find((c): c is EvaluateCell => c.key === "eval/lenet5/random/4x/s1/p2/linf")!;
  assert.deepEqual([evaluation.seed, evaluation.pruningSeed, evaluation.variantCell, evaluation.deps], [1, 2, prune.key, [prune.key]]);
  // The dense model is not pruned: one evaluation, whatever the pruning seeds.
  assert.equal(planCells(two).filter((c) => c.kind === "evaluate" && c.strategy === "dense").length, 1);

  // Pruning seeds that leave out the training seed replace it (every pruned key carries /p).
  const replaced = planCells(validateGrid({ ...base(), architectures: ["lenet5"], rates: [1, 4], pruningSeeds: [5] }));
  assert.deepEqual(
    replaced.filter((c) => c.kind === "prune").map((c) => c.key),
    ["prune/lenet5/global-magnitude/4x/s1/p5", "prune/lenet5/random/4x/s1/p5"],
  );
  // With two training seeds each dense model's variants get every pruning seed; s2's default seed has no suffix.
  const seeds = planCells(validateGrid({ ...base(), architectures: ["lenet5"], strategies: ["random"], rates: [4], seeds: [1, 2], pruningSeeds: [1, 2] }));
  assert.deepEqual(
    seeds.filter((c) => c.kind === "prune").map((c) => c.key),
    ["prune/lenet5/random/4x/s1", "prune/lenet5/random/4x/s1/p2", "prune/lenet5/random/4x/s2/p1", "prune/lenet5/random/4x/s2"],
  );
});

test("extraSeeds add pruning seeds to the chosen variants only", () => {
  const grid = validateGrid({
    ...base(),
    extraSeeds: [
      { architecture: "lenet5", strategy: "random", rate: 8, seeds: [3, 2] },
      { strategy: "global-magnitude", rate: 4, seeds: [2] },
    ],
  });
  // Canonical order: entries without an architecture first, then by architecture, strategy, rate.
  assert.deepEqual(grid.extraSeeds, [
    { strategy: "global-magnitude", rate: 4, seeds: [2] },
    { architecture: "lenet5", strategy: "random", rate: 8, seeds: [2, 3] },
  ]);
  assert.deepEqual(variantPruningSeeds(grid, "lenet5", "random", 8, 1), [1, 2, 3]);
  assert.deepEqual(variantPruningSeeds(grid, "lenet300", "random", 8, 1), [1]);
  assert.deepEqual(variantPruningSeeds(grid, "lenet300", "global-magnitude", 4, 1), [1, 2]);
  const plan = planCells(grid);
  const extra = (c: Cell): boolean => /\/p\d+/.test(c.key);
  assert.deepEqual(plan.filter((c) => c.kind === "prune" && extra(c)).map((c) => c.key), [
    "prune/lenet300/global-magnitude/4x/s1/p2",
    "prune/lenet5/global-magnitude/4x/s1/p2",
    "prune/lenet5/random/8x/s1/p2",
    "prune/lenet5/random/8x/s1/p3",
  ]);
  // Everything else is the plan of the grid without extraSeeds, in the same order.
  const { extraSeeds: _e, ...without } = grid;
  assert.deepEqual(
    plan.filter((c) => !extra(c)),
    planCells(without),
  );
  // A seed listed both ways is planned once.
  const overlap = validateGrid({ ...base(), pruningSeeds: [1, 2], extraSeeds: [{ strategy: "random", rate: 4, seeds: [2, 4] }] });
  assert.deepEqual(variantPruningSeeds(overlap, "lenet5", "random", 4, 1), [1, 2, 4]);
  const keys = planCells(overlap).map((c) => c.key);
  assert.equal(new Set(keys).size, keys.length);
  // The grid of a refresh made from this grid does not carry its extra seeds (they name its own architectures).
  assert.equal("extraSeeds" in asRefreshGrid(grid), false);
  assert.deepEqual(asRefreshGrid(overlap).pruningSeeds, [1, 2]);
});
