// A variant measured with two pruning seeds over HTTP (answers checked against openapi.yaml by the
// helpers): the lean answer carries its spread without the per-seed list, `include=details` adds
// the list, the gate's answer has it; a pruned winner resting on one seed is warned about.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MatrixStore } from "../../src/matrix/store.js";
import { formatRecommendation } from "../../src/cli/advise-actions.js";
import type { components } from "../../src/api/schema.gen.js";
import { fixtureEvaluation, fixtureVariant, runs } from "../matrix/fixtures.js";
import { LINF, MODEL_A, buildFixtureMatrix, startApi } from "./helpers.js";

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

/** The API fixture plus a second pruning seed of global-magnitude 4× resisting 58 of 100 at ε = 0.1 (seed 1: 60). */
async function withSecondSeed(store: MatrixStore): Promise<void> {
  await buildFixtureMatrix(store);
  const version = await store.createVersion("TEST FIXTURE second pruning seed");
  const variantId = await store.upsertVariant(fixtureVariant({ modelId: MODEL_A, strategy: "global-magnitude", rate: 4, seed: 2 }));
  await store.insertEvaluation(fixtureEvaluation({ variantId, version, distances: runs([[0, 10], [0.03, 10], [0.08, 22], [0.15, 10], [0.25, 8], [Infinity, 40]]) }));
  await store.publishVersion(version);
}

test("the spread of a two-seed variant is in the lean answer; its per-seed numbers with include=details", async (t) => {
  assert.equal(LINF.gm4!.strategy, "global-magnitude");
  const api = await startApi(t, withSecondSeed);
  const lean = await api.call("POST", "/v1/recommendations", { json: scenario });
  assert.equal(lean.status, 200);
  // Seed 1 of global-magnitude 4× ties the dense model (60 of 100) and would win as the smaller
  // model; its worst seed (58) does not.
  const rec = lean.body.recommendation as { strategy: string; pruningSeeds?: unknown };
  assert.equal(rec.strategy, "dense");
  assert.equal("pruningSeeds" in rec, false);
  type Alt = { candidate: { strategy: string; robustAccuracy: { robust: number }; pruningSeeds?: Record<string, unknown> } };
  const gm = (lean.body.alternatives as Alt[]).find((a) => a.candidate.strategy === "global-magnitude")!;
  assert.equal(gm.candidate.robustAccuracy.robust, 58);
  assert.deepEqual(gm.candidate.pruningSeeds, { count: 2, worstSeed: 2, robustAccuracy: { min: 0.58, max: 0.6 } });
  assert.equal((lean.body.warnings as { code: string }[]).filter((w) => w.code === "single-pruning-seed").length, 0, "the dense winner is not pruned");
  // `advisor recommend` prints the worst seed with the spread.
  assert.match(
    formatRecommendation(lean.body as unknown as components["schemas"]["Recommendation"]),
    /^ {2}#\d global-magnitude 4× .*: robust 58\.0 % \[[\d.]+ %, [\d.]+ %\] at linf ε = 0\.1; worst of 2 pruning seeds \(robust 58\.0 %–60\.0 %\); clean /m,
  );

  const details = await api.call("POST", "/v1/recommendations?include=details", { json: scenario });
  const gmFull = (details.body.alternatives as Alt[]).find((a) => a.candidate.strategy === "global-magnitude")!;
  const seeds = gmFull.candidate.pruningSeeds!.seeds as { seed: number; robustAccuracy: number; evaluationIds: number[] }[];
  assert.deepEqual(
    seeds.map((x) => [x.seed, x.robustAccuracy]),
    [
      [1, 0.6],
      [2, 0.58],
    ],
  );
  for (const x of seeds) assert.equal((await api.call("GET", `/v1/matrix/rows/${x.evaluationIds[0]}`)).status, 200);

  const gate = await api.call("POST", "/v1/gate", {
    json: { candidate: { strategy: "global-magnitude", rate: 4 }, scenario, thresholds: { minRobustAccuracy: 0.4 } },
  });
  assert.equal(gate.status, 200);
  const cand = gate.body.candidate as { pruningSeeds: { seeds: unknown[]; worstSeed: number } };
  assert.equal(cand.pruningSeeds.worstSeed, 2);
  assert.equal(cand.pruningSeeds.seeds.length, 2);

  // A pruned winner measured once: said in the answer's warnings.
  const structured = await api.call("POST", "/v1/recommendations", { json: { ...scenario, sizeLimit: { minCompression: 8 } } });
  assert.equal((structured.body.recommendation as { strategy: string }).strategy, "layer-magnitude");
  assert.ok((structured.body.warnings as { code: string }[]).some((w) => w.code === "single-pruning-seed"));
});
