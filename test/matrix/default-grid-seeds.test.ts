// The default grid lists a second pruning seed (extraSeeds) for every variant the README's and
// docs' examples recommend or put through the gate, so those answers do not rest on one run of
// pruning and fine-tuning once the matrix is built from it. Checked on the shipped matrix: when it
// changes and another variant wins an example, this test names it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { packageRoot, shippedMatrixPath } from "../../src/paths.js";
import { prepareSnapshot, recommend, type Scenario } from "../../src/advisor/index.js";
import { loadGrid, variantPruningSeeds } from "../../src/matrix/grid.js";
import { importJsonl } from "../../src/matrix/jsonl.js";
import { tempStore } from "./fixtures.js";

/** The scenarios of the examples: README.md's recommendation and docs/ci-gate-example.md's `advisor recommend`. */
const RECOMMENDED: Scenario[] = [
  { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } },
  { norm: "linf", budget: 0.01, knowledge: "white-box", architecture: "lenet300", sizeLimit: { minCompression: 4 } },
];
/** The candidates the README's and docs/ci-gate-example.md's gate examples judge (all lenet300). */
const GATED = [
  { architecture: "lenet300", strategy: "global-magnitude", rate: 4 },
  { architecture: "lenet300", strategy: "global-magnitude", rate: 64 },
];

test("every variant the README's and docs' examples recommend or gate has a second pruning seed in the default grid", async (t) => {
  const store = await tempStore(t);
  await importJsonl(store, createInterface({ input: createReadStream(shippedMatrixPath), crlfDelay: Infinity }));
  const snapshot = prepareSnapshot(await store.snapshot());
  const grid = await loadGrid(path.join(packageRoot, "db", "grids", "default.yaml"));
  const variants = [...GATED];
  for (const s of RECOMMENDED) {
    const r = recommend(snapshot, s, { alternatives: 1 });
    assert.equal(r.status, "ok", JSON.stringify(s));
    const w = r.recommendation!;
    variants.push({ architecture: w.architecture, strategy: w.strategy, rate: w.rate });
  }
  for (const v of variants) {
    if (v.strategy === "dense") continue;
    const seeds = grid.seeds.map((seed) => variantPruningSeeds(grid, v.architecture, v.strategy, v.rate, seed));
    assert.ok(
      seeds.every((list) => list.length >= 2),
      `${v.architecture} ${v.strategy} ${v.rate}×: pruning seeds ${JSON.stringify(seeds)} in db/grids/default.yaml; add it to extraSeeds`,
    );
  }
});
