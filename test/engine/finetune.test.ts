import { test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { createModel, prunableWeights } from "../../src/engine/models.js";
import { layerOf } from "../../src/engine/masks.js";
import { syntheticSplits } from "../../src/engine/synthetic.js";
import { splitValidation } from "../../src/engine/data.js";
import { evaluate, train } from "../../src/engine/train.js";
import { measureSparsity, pruneModel } from "../../src/engine/pruning/index.js";

await initBackend();
const data = syntheticSplits({ trainCount: 600, testCount: 100, seed: 4 });
const { train: tr, validation } = splitValidation(data.train, 0.2, 1);

for (const strategy of ["global-magnitude", "structured-l1"] as const) {
  test(`${strategy}: masked weights stay exactly zero through fine-tuning while the rest learn`, async () => {
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    await train(model, tr, validation, { epochs: 3, seed: 1, batchSize: 32 });
    const { masks, report } = pruneModel(model, strategy, 8, { seed: 1 });
    const before = prunableWeights(model).map((w) => Array.from(w.read().dataSync()));
    await train(model, tr, validation, { epochs: 2, seed: 2, batchSize: 32, masks, patience: 5 });
    let moved = 0;
    prunableWeights(model).forEach((w, i) => {
      const mask = masks.get(layerOf(w));
      assert.ok(mask, `mask for ${w.originalName}`);
      const values = w.read().dataSync();
      for (let j = 0; j < values.length; j++) {
        if (mask[j] === 0) assert.equal(values[j], 0, `${w.originalName}[${j}] pruned but ${values[j]}`);
        else if (values[j] !== before[i]![j]) moved++;
      }
    });
    assert.ok(moved > 0, "fine-tuning changed the kept weights");
    assert.equal(measureSparsity(model).nonZeroPrunable, report.nonZeroPrunable);
    const accuracy = evaluate(model, data.test).accuracy;
    assert.ok(accuracy > 0.5, `still solves the synthetic task (accuracy ${accuracy})`);
  });
}

test("early stopping restores the best epoch and stops after `patience` epochs without improvement", async () => {
  const model = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const r = await train(model, tr, validation, { epochs: 30, seed: 1, batchSize: 64, patience: 2 });
  assert.ok(r.stoppedEarly, "the easy task saturates long before 30 epochs");
  assert.equal(r.history.length, r.bestEpoch + 2);
  assert.equal(evaluate(model, validation).accuracy, r.validationAccuracy);
});
