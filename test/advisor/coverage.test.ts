// The incomplete-grid warning: a model's candidates should cover every strategy at every rate
// (plus dense); holes (a partial matrix, failed cells) are named in every answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { coverageOf } from "../../src/advisor/coverage.js";
import { recommend } from "../../src/advisor/recommend.js";
import type { Candidate, MatrixSnapshot, Scenario, Strategy } from "../../src/advisor/types.js";
import { candidate, evaluation, runs } from "./fixtures.js";

const scenario: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" };

function cand(strategy: Strategy, rate: number, modelId = "model-a"): Candidate {
  const c = candidate({ strategy, rate, modelId, nonZeroParams: Math.round(60000 / rate), evaluations: [evaluation({ distances: runs([[0.05, 50], [0.2, 150]]) })] });
  return { ...c, architecture: modelId === "model-a" ? "lenet5" : "convnet" };
}

/** dense + {global-magnitude, random} × {2, 4}, minus `without`. */
function grid(modelId: string, without: string[] = []): Candidate[] {
  const all = [cand("dense", 1, modelId), ...(["global-magnitude", "random"] as const).flatMap((s) => [2, 4].map((r) => cand(s, r, modelId)))];
  return all.filter((c) => !without.includes(`${c.strategy}@${c.rate}`));
}

const snapshot = (candidates: Candidate[]): MatrixSnapshot => ({ version: 3, candidates });

test("a full rectangle of strategies × rates (and dense) gives no incomplete-grid warning", () => {
  assert.deepEqual(coverageOf(grid("model-a")), [{ modelId: "model-a", architecture: "lenet5", present: 5, expected: 5, missing: [] }]);
  const r = recommend(snapshot(grid("model-a")), scenario);
  assert.equal(r.status, "ok");
  assert.ok(!r.warnings.some((w) => w.code === "incomplete-grid"), JSON.stringify(r.warnings));
});

test("holes are named per model: missing pairs grouped by strategy, a missing dense model too", () => {
  const candidates = [...grid("model-a", ["random@4", "global-magnitude@2"]), ...grid("model-b", ["dense@1"])];
  assert.deepEqual(
    coverageOf(candidates).map((m) => [m.modelId, m.present, m.expected, m.missing]),
    [
      ["model-a", 3, 5, [{ strategy: "global-magnitude", rate: 2 }, { strategy: "random", rate: 4 }]],
      ["model-b", 4, 5, [{ strategy: "dense", rate: 1 }]],
    ],
  );
  const r = recommend(snapshot(candidates), scenario);
  const w = r.warnings.filter((x) => x.code === "incomplete-grid");
  assert.equal(w.length, 2);
  assert.match(w[0]!.message, /^The matrix holds 3 of the 5 candidates of lenet5 \(model model-a…\) .*missing: global-magnitude at 2×; random at 4×\. The answer is chosen among the measured candidates only\.$/);
  assert.match(w[1]!.message, /holds 4 of the 5 candidates of convnet .*missing: the dense model\./);

  // Filtering to one model leaves only its warning.
  const one = recommend(snapshot(candidates), { ...scenario, modelId: "model-b" });
  assert.deepEqual(one.warnings.filter((x) => x.code === "incomplete-grid").length, 1);
  assert.match(one.warnings.find((x) => x.code === "incomplete-grid")!.message, /convnet/);
});

test("an infeasible answer over a partial matrix still says the matrix is partial", () => {
  const r = recommend(snapshot(grid("model-a", ["random@2"])), { ...scenario, sizeLimit: { maxParameters: 10 } });
  assert.equal(r.status, "infeasible");
  assert.deepEqual(r.warnings.map((w) => w.code), ["incomplete-grid"]);
  assert.match(r.warnings[0]!.message, /missing: random at 2×/);
});
