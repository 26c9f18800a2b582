// gate() over the main fixture (robust counts of 200 at L∞ 0.1: dense 100, global-magnitude 4× 120,
// layer-magnitude 8× 110, structured-l1 2× 90, random 4× 80) and a small fixture for a drop that is
// not significant.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gate } from "../../src/advisor/gate.js";
import { AdvisorInputError, UnknownCandidateError } from "../../src/advisor/errors.js";
import { wilson } from "../../src/engine/stats.js";
import type { GateRequest, MatrixSnapshot, Scenario } from "../../src/advisor/types.js";
import { candidate, evaluation, mainMatrix, runs } from "./fixtures.js";

const scenario: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" };

function req(strategy: GateRequest["candidate"]["strategy"], rate: number, thresholds: GateRequest["thresholds"], s: Scenario = scenario): GateRequest {
  return { candidate: { strategy, rate }, scenario: s, thresholds };
}

test("gate passes with both thresholds met", () => {
  const g = gate(mainMatrix(), req("global-magnitude", 4, { minRobustAccuracy: 0.5, maxDropVsDense: 0.02 }));
  assert.equal(g.pass, true, g.reasons.join("\n"));
  assert.equal(g.matrixVersion, 7);
  assert.equal(g.candidate.robustAccuracy!.robust, 120);
  assert.equal(g.dense!.robustAccuracy!.robust, 100);
  // The candidate is MORE robust than dense: a negative drop.
  assert.ok(Math.abs(g.drop!.value - -0.1) < 1e-12);
  assert.equal(g.drop!.comparison!.paired, true);
  assert.deepEqual(g.checks.map((c) => [c.check, c.pass]), [
    ["evidence", true],
    ["minRobustAccuracy", true],
    ["maxDropVsDense", true],
  ]);
  assert.equal(g.reasons.length, 3);
  assert.deepEqual(g.evidence.map((e) => e.evaluationId), ["gm4-wb", "dense-wb"]);
});

test("minRobustAccuracy is compared with the LOWER Wilson bound, not the point estimate", () => {
  // Point estimate 0.60 >= 0.55, but the lower bound is 0.531 < 0.55.
  const g = gate(mainMatrix(), req("global-magnitude", 4, { minRobustAccuracy: 0.55 }));
  assert.equal(g.pass, false);
  assert.equal(g.candidate.score, wilson(120, 200).low);
  const failed = g.checks.filter((c) => !c.pass);
  assert.deepEqual(failed.map((c) => [c.check, c.field]), [["minRobustAccuracy", "thresholds.minRobustAccuracy"]]);
  assert.match(g.reasons[0]!, /lower 95 % bound .* is 53\.1 %, below minRobustAccuracy 55\.0 %/);
});

test("maxDropVsDense fails on the point-estimate drop and says whether it is significant", () => {
  // random 4×: 80 vs dense 100 → drop 0.10; nested robust sets → 20 discordant, all one way.
  const g = gate(mainMatrix(), req("random", 4, { maxDropVsDense: 0.05 }));
  assert.equal(g.pass, false);
  assert.ok(Math.abs(g.drop!.value - 0.1) < 1e-12);
  const c = g.drop!.comparison!;
  assert.deepEqual(c.discordant, { aOnly: 20, bOnly: 0 });
  assert.equal(c.significant, true);
  assert.match(g.reasons[0]!, /drops 10\.0 points .* more than maxDropVsDense 5\.0 points; the difference is statistically significant/);
  // Within a looser threshold it passes.
  assert.equal(gate(mainMatrix(), req("random", 4, { maxDropVsDense: 0.1 })).pass, true);
});

test("a drop that is not significant still fails the threshold, and says so", () => {
  // dense robust on samples 0..99 (100); candidate robust on 5..101 (97): discordant 5 vs 2,
  // McNemar exact p = 2·(1 + 7 + 21)/128 = 0.453.
  const m: MatrixSnapshot = {
    version: 2,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 1000, evaluations: [evaluation({ distances: runs([[Infinity, 100], [0, 100]]) })] }),
      candidate({ strategy: "global-magnitude", rate: 2, nonZeroParams: 500, evaluations: [evaluation({ distances: runs([[0, 5], [Infinity, 97], [0, 98]]) })] }),
    ],
  };
  const g = gate(m, req("global-magnitude", 2, { maxDropVsDense: 0.01 }));
  assert.equal(g.pass, false);
  assert.ok(Math.abs(g.drop!.value - 0.015) < 1e-12);
  assert.deepEqual(g.drop!.comparison!.discordant, { aOnly: 5, bOnly: 2 });
  assert.ok(Math.abs(g.drop!.comparison!.pValue - 58 / 128) < 1e-12);
  assert.equal(g.drop!.comparison!.significant, false);
  assert.match(g.reasons[0]!, /not statistically significant/);
  assert.equal(gate(m, req("global-magnitude", 2, { maxDropVsDense: 0.02 })).pass, true);
});

test("a candidate excluded by a size limit fails with that reason", () => {
  const g = gate(mainMatrix(), req("global-magnitude", 4, { minRobustAccuracy: 0.1 }, { ...scenario, sizeLimit: { maxParameters: 10000, structuredOnly: true } }));
  assert.equal(g.pass, false);
  const failed = g.checks.filter((c) => !c.pass);
  assert.deepEqual(failed.map((c) => c.field), ["scenario.sizeLimit.maxParameters", "scenario.sizeLimit.structuredOnly"]);
  assert.match(g.reasons[0]!, /15,000 non-zero parameters; maxParameters is 10,000/);
  assert.match(g.reasons[1]!, /unstructured/);
});

test("the dense model gates against itself with a zero drop", () => {
  const g = gate(mainMatrix(), req("dense", 1, { maxDropVsDense: 0 }));
  assert.equal(g.pass, true);
  assert.equal(g.drop!.value, 0);
  assert.equal(g.drop!.comparison, null);
  assert.equal(g.evidence.length, 1);
});

test("no admissible evidence fails the gate", () => {
  const g = gate(mainMatrix(), req("global-magnitude", 4, { minRobustAccuracy: 0.1 }, { ...scenario, norm: "l2", budget: 1 }));
  assert.equal(g.pass, false);
  assert.deepEqual(g.checks.filter((c) => !c.pass).map((c) => c.check), ["evidence", "minRobustAccuracy"]);
  assert.equal(g.drop, null);
});

test("an unknown candidate is a typed error listing the available (strategy, rate) pairs", () => {
  assert.throws(
    () => gate(mainMatrix(), req("global-magnitude", 16, { minRobustAccuracy: 0.5 })),
    (e: unknown) => {
      assert.ok(e instanceof UnknownCandidateError);
      assert.equal(e.field, "candidate");
      assert.deepEqual(e.available, [
        { strategy: "dense", rate: 1 },
        { strategy: "global-magnitude", rate: 4 },
        { strategy: "layer-magnitude", rate: 8 },
        { strategy: "random", rate: 4 },
        { strategy: "structured-l1", rate: 2 },
      ]);
      assert.match(e.message, /global-magnitude@4/);
      return true;
    },
  );
});

test("gate input errors name their field", () => {
  const cases: [unknown, string][] = [
    [req("global-magnitude", 4, {}), "thresholds"],
    [req("global-magnitude", 4, { minRobustAccuracy: 60 }), "thresholds.minRobustAccuracy"],
    [req("global-magnitude", 4, { maxDropVsDense: 2 }), "thresholds.maxDropVsDense"],
    [{ ...req("global-magnitude", 4, { maxDropVsDense: 0.1 }), thresholds: { maxDrop: 0.1 } }, "thresholds.maxDrop"],
    [{ ...req("global-magnitude", 4, { maxDropVsDense: 0.1 }), candidate: { strategy: "magnitude", rate: 4 } }, "candidate.strategy"],
    [req("global-magnitude", 0.5, { maxDropVsDense: 0.1 }), "candidate.rate"],
    [req("global-magnitude", 4, { maxDropVsDense: 0.1 }, { ...scenario, budget: -1 }), "scenario.budget"],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => gate(mainMatrix(), input as GateRequest),
      (e: unknown) => e instanceof AdvisorInputError && e.field === field,
      `expected an AdvisorInputError on ${field}`,
    );
  }
});
