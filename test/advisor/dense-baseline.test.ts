// Issue 17 item 3: every answer warns when the winner's clean accuracy is more than 5 points under
// its dense model's, and explains sample by sample a winner that beats its dense model's robust
// accuracy by more than 10 points (known answers on a hand-made matrix).
import { test } from "node:test";
import assert from "node:assert/strict";
import { prepareSnapshot, recommend, type MatrixSnapshot } from "../../src/advisor/index.js";
import { candidate, evaluation, runs } from "./fixtures.js";

/**
 * 100 samples, L∞ white-box, at ε = 0.1 (grid 0.05, 0.1, 0.2):
 *   dense (clean 910/1000): 0–9 misclassified, 10–39 beaten at 0.05, 40–99 never → 60 robust;
 *   random 4× (clean 800/1000): 0–4 robust (the dense model misclassifies them), 5–9 misclassified,
 *     10–24 robust (margin gain), 25–39 beaten, 40–94 robust, 95–99 misclassified → 75 robust.
 */
function matrix(): MatrixSnapshot {
  const budgets = [0.05, 0.1, 0.2];
  const dense = runs([[0, 10], [0.05, 30], [Infinity, 60]]);
  const pruned = runs([[0.5, 5], [0, 5], [0.5, 15], [0.05, 15], [Infinity, 55], [0, 5]]);
  return {
    version: 1,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 60_000, clean: [910, 1000], evaluations: [evaluation({ distances: dense, budgets })] }),
      candidate({ strategy: "random", rate: 4, nonZeroParams: 15_000, clean: [800, 1000], evaluations: [evaluation({ distances: pruned, budgets })] }),
    ],
  };
}

for (const [name, m] of [["plain", matrix()], ["prepared", prepareSnapshot(matrix())]] as const) {
  test(`${name}: a winner 11 points under its dense model's clean accuracy and 15 points over its robust accuracy is warned about and explained`, () => {
    const r = recommend(m, { norm: "linf", budget: 0.1, knowledge: "white-box" });
    assert.equal(r.recommendation?.strategy, "random");
    const drop = r.warnings.find((w) => w.code === "clean-accuracy-drop");
    assert.ok(drop, JSON.stringify(r.warnings));
    assert.match(drop.message, /80\.0 % of clean test images correctly, 11\.0 points less than its dense model \(91\.0 %\)/);
    const gain = r.warnings.find((w) => w.code === "dense-outperformed");
    assert.ok(gain);
    assert.match(gain.message, /resists 75 of 100 samples at L∞ ε = 0\.1, its dense model 60 of 100 \(\+15\.0 points\)/);
    assert.match(gain.message, /Of the 20 samples only it resists, 15 are classified correctly by its dense model and lost to the attack/);
    assert.match(gain.message, /5 are misclassified by its dense model even without attack/);
    assert.match(gain.message, /5 go the other way/);
  });
}

test("no such warnings when the winner is the dense model or close to it", () => {
  const m = matrix();
  m.candidates[1]!.clean = { correct: 890, n: 1000 };
  m.candidates[1]!.evaluations[0]!.distances = runs([[0, 10], [0.05, 25], [Infinity, 65]]);
  const r = recommend(m, { norm: "linf", budget: 0.1, knowledge: "white-box" });
  assert.equal(r.recommendation?.strategy, "random");
  assert.ok(!r.warnings.some((w) => w.code === "clean-accuracy-drop" || w.code === "dense-outperformed"), JSON.stringify(r.warnings.map((w) => w.code)));
  const d = recommend(m, { norm: "linf", budget: 0.02, knowledge: "white-box", sizeLimit: { maxParameters: 60_000 } });
  assert.ok(!d.warnings.some((w) => w.code === "dense-outperformed"));
});
