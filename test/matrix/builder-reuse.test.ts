// The builder evaluates each knowledge level with its own evaluateRobustness call, weakest first,
// and lets the stronger calls take the weaker calls' attack records over (`reuse`) instead of
// running those attacks again. With the grid's plans (one fixed-budget attack per level) the
// result must be the same as without reuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { syntheticSplits } from "../../src/engine/synthetic.js";
import { head } from "../../src/engine/data.js";
import { trainDense, pruneAndFinetune } from "../../src/engine/pipeline.js";
import { loadModel, saveModel } from "../../src/engine/model-io.js";
import { evaluateRobustness, samplesFromDataset, type RobustnessOptions, type RobustnessResult } from "../../src/engine/evaluation/robustness.js";
import { TransferCache } from "../../src/engine/evaluation/transfer-cache.js";
import { EVALUATION_ORDER, gridAttackPlan } from "../../src/matrix/cells.js";
import { validateGrid } from "../../src/matrix/grid.js";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

test("reusing weaker levels' attack records gives the same rows as re-running them, and skips their stages", async (t) => {
  const backend = await initBackend();
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-reuse-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = syntheticSplits({ trainCount: 30, testCount: 20, seed: 5 });
  const settings = { epochs: 1, batchSize: 32, learningRate: 1e-3, patience: 1, validation: 0.1, seed: 1 };
  const dense = await trainDense({ architecture: "lenet300", train: data.train, test: data.test, backend: backend.name, settings });
  const denseMeta = await saveModel(dense.model, path.join(dir, "dense"), dense.metadata);
  const { model: target } = await loadModel(path.join(dir, "dense"));
  await pruneAndFinetune({ model: target, parent: denseMeta, strategy: "random", rate: 4, train: data.train, test: data.test, backend: backend.name, settings });
  const grid = validateGrid({
    dataset: { name: "synthetic", dir },
    architectures: ["lenet300"],
    strategies: ["random"],
    rates: [4],
    norms: ["linf"],
    budgets: { linf: [0, 0.05, 0.1] },
    samples: 20,
    attacks: { batchSize: 20, pgd: { steps: 5 }, fmn: { steps: 10 }, square: { queries: 50 } },
  });
  const base: Omit<RobustnessOptions, "knowledge"> = {
    target,
    surrogate: { model: dense.model, weightsSha256: denseMeta.weightsSha256 },
    samples: samplesFromDataset(head(data.test, 20)),
    norm: "linf",
    budgets: [0, 0.05, 0.1],
    attacks: gridAttackPlan(grid, "linf"),
    queryBudget: 50,
    batchSize: 20,
    seed: 1,
  };
  const plain: RobustnessResult[] = [];
  const reused: RobustnessResult[] = [];
  const cache = new TransferCache();
  for (const knowledge of EVALUATION_ORDER) {
    plain.push(await evaluateRobustness({ ...base, knowledge, transferCache: new TransferCache() }));
    reused.push(await evaluateRobustness({ ...base, knowledge, transferCache: cache, reuse: reused.flatMap((r) => r.perAttack) }));
  }
  for (const [i, knowledge] of EVALUATION_ORDER.entries()) {
    assert.deepEqual(Array.from(reused[i]!.distances), Array.from(plain[i]!.distances), `${knowledge}: distances`);
    assert.deepEqual(reused[i]!.curve, plain[i]!.curve, `${knowledge}: curve`);
    assert.equal(reused[i]!.cleanCorrect, plain[i]!.cleanCorrect);
  }
  // black-box: nothing to reuse; transfer reuses the black-box stages (white-box: whatever is left to attack).
  assert.equal(reused[0]!.reusedStages, 0);
  assert.ok(reused[1]!.reusedStages! >= 1, "transfer reused nothing");
  assert.equal(plain[1]!.reusedStages, undefined);
  target.dispose();
  dense.model.dispose();
});
