// Known answers for variants measured with several pruning seeds (src/advisor/seeds.ts): the worst
// seed's lower bound is the score (recommend and gate alike), the spread over the seeds is
// reported, a pruned winner resting on one seed says so, limits hold for every seed, and a
// prepared snapshot answers the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gate, prepareSnapshot, recommend, type Candidate, type MatrixSnapshot, type Scenario } from "../../src/advisor/index.js";
import { wilson } from "../../src/vocabulary.js";
import { candidate, evaluation, runs } from "./fixtures.js";

// 200 samples, L∞ white-box, grid 0.02 … 0.3. `robust(k, id)`: k samples never beaten, the other
// 200 − k beaten at 0.05 — so k of 200 are robust at ε = 0.1.
const robust = (k: number, id: string) => evaluation({ id, distances: runs([[0.05, 200 - k], [Infinity, k]]) });
const seeded = (c: Candidate, pruningSeed: number): Candidate => ({ ...c, pruningSeed });
const S: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" };

/**
 *   candidate               seed  robust at 0.1 (of 200)  lower bound
 *   dense            1×      1    100                     wilson(100, 200).low ≈ 0.431
 *   global-magnitude 4×      1    130                     wilson(130, 200).low ≈ 0.581
 *   random           4×      1    150                     wilson(150, 200).low ≈ 0.686
 *   random           4×      2    `randomSeed2`
 */
function matrix(randomSeed2: number, extra: Partial<Candidate> = {}): MatrixSnapshot {
  return {
    version: 3,
    candidates: [
      seeded(candidate({ strategy: "dense", rate: 1, nonZeroParams: 60000, evaluations: [robust(100, "dense")] }), 1),
      seeded(candidate({ strategy: "random", rate: 4, nonZeroParams: 15000, clean: [880, 1000], evaluations: [robust(150, "rn4-p1")] }), 1),
      seeded(candidate({ strategy: "global-magnitude", rate: 4, nonZeroParams: 15000, evaluations: [robust(130, "gm4")] }), 1),
      { ...seeded(candidate({ strategy: "random", rate: 4, nonZeroParams: 15000, clean: [870, 1000], evaluations: [robust(randomSeed2, "rn4-p2")] }), 2), ...extra },
    ],
  };
}

test("a variant measured with two pruning seeds is scored by its worst seed's lower bound, and the spread is reported", () => {
  // Seed 2 of random 4× resists 120: by its best seed (150) it would win; by its worst it loses to global-magnitude (130).
  const r = recommend(matrix(120), S);
  assert.equal(r.status, "ok");
  assert.deepEqual([r.recommendation!.strategy, r.recommendation!.rate], ["global-magnitude", 4]);
  assert.deepEqual(r.counts, { considered: 3, feasible: 3, ranked: 3 }, "one candidate per variant, not per seed");
  const rn = r.alternatives.find((a) => a.candidate.strategy === "random")!;
  assert.equal(rn.rank, 2);
  assert.equal(rn.score, wilson(120, 200).low);
  assert.equal(rn.candidate.score, wilson(120, 200).low);
  assert.equal(rn.candidate.robustAccuracy!.value, 0.6);
  assert.deepEqual(rn.candidate.robustAccuracy!.evaluationIds, ["rn4-p2"], "the worst seed's evidence");
  assert.deepEqual(rn.candidate.pruningSeeds, {
    count: 2,
    seeds: [
      { seed: 1, robustAccuracy: 0.75, score: wilson(150, 200).low, evaluationIds: ["rn4-p1"] },
      { seed: 2, robustAccuracy: 0.6, score: wilson(120, 200).low, evaluationIds: ["rn4-p2"] },
    ],
    worstSeed: 2,
    robustAccuracy: { min: 0.6, max: 0.75 },
  });
  // The worst case of the seeds' clean accuracies (870 of 1000 is seed 2's).
  assert.equal(rn.candidate.cleanAccuracy.correct, 870);
  assert.equal(rn.margin, wilson(130, 200).low - wilson(120, 200).low);
  // The winner was measured with one pruning seed: said; no spread on a one-seed candidate.
  const one = r.warnings.filter((w) => w.code === "single-pruning-seed");
  assert.equal(one.length, 1);
  assert.equal(
    one[0]!.message,
    "global-magnitude at 4× rests on one pruning seed (1): its interval covers the choice of test images, not a rerun of pruning and fine-tuning; a grid's pruningSeeds or extraSeeds measure more.",
  );
  assert.equal("pruningSeeds" in r.recommendation!, false);
  assert.equal("pruningSeeds" in r.alternatives.find((a) => a.candidate.strategy === "dense")!.candidate, false);
});

test("a winner measured with two pruning seeds: its worst seed, the spread in the rationale, no one-seed warning", () => {
  const r = recommend(matrix(140), S);
  assert.deepEqual([r.recommendation!.strategy, r.recommendation!.rate], ["random", 4]);
  assert.equal(r.recommendation!.score, wilson(140, 200).low);
  assert.equal(r.recommendation!.robustAccuracy!.robust, 140);
  assert.equal(r.recommendation!.pruningSeeds!.worstSeed, 2);
  assert.deepEqual(r.recommendation!.pruningSeeds!.robustAccuracy, { min: 0.7, max: 0.75 });
  assert.equal(r.warnings.filter((w) => w.code === "single-pruning-seed").length, 0);
  assert.match(r.rationale, /measured 70\.0 %, 140 of 200 samples; the worst of 2 pruning seeds \(robust 70\.0 %–75\.0 %\)\)/);
  // The winner's evidence and curve are the worst seed's.
  assert.deepEqual(r.evidence.filter((e) => e.candidate.strategy === "random").map((e) => e.evaluationId), ["rn4-p2"]);
  assert.deepEqual(r.curve[0]!.evaluationIds, ["rn4-p2"]);
  // The comparison with the runner-up uses the worst seed's samples.
  assert.equal(r.comparison!.aRobust, 140);
});

test("a seed without admissible evidence is listed, does not score, and leaves the winner resting on one seed", () => {
  // Seed 2 measured only against a black-box attacker: no admissible evidence for a white-box one.
  const m = matrix(0, { evaluations: [evaluation({ id: "rn4-p2-bb", knowledge: "black-box", distances: runs([[0.05, 10], [Infinity, 190]]) })] });
  const r = recommend(m, S);
  assert.deepEqual([r.recommendation!.strategy, r.recommendation!.rate], ["random", 4]);
  assert.equal(r.recommendation!.score, wilson(150, 200).low);
  const spread = r.recommendation!.pruningSeeds!;
  assert.deepEqual(
    spread.seeds!.map((x) => [x.seed, x.robustAccuracy, x.score]),
    [
      [1, 0.75, wilson(150, 200).low],
      [2, null, null],
    ],
  );
  assert.equal(spread.worstSeed, 1);
  assert.deepEqual(spread.robustAccuracy, { min: 0.75, max: 0.75 });
  const one = r.warnings.filter((w) => w.code === "single-pruning-seed");
  assert.equal(one.length, 1);
  assert.match(one[0]!.message, /^random at 4× rests on one pruning seed \(1; seed 2 had no admissible evidence\): /);
});

test("a size limit holds for every seed of a variant; counts are per variant", () => {
  // Seed 2 of random 4× keeps 100 more parameters than seed 1: maxParameters 15,050 rules the variant out.
  const m = matrix(140, { nonZeroParams: 15100 });
  const r = recommend(m, { ...S, sizeLimit: { maxParameters: 15050 } });
  assert.deepEqual([r.recommendation!.strategy, r.recommendation!.rate], ["global-magnitude", 4]);
  assert.deepEqual(r.counts, { considered: 3, feasible: 1, ranked: 1 });
  // Without the limit it is ranked, reported with its larger size.
  const all = recommend(m, S);
  assert.equal(all.recommendation!.nonZeroParams, 15100);
});

test("the gate judges a variant by its worst seed's lower bound and reports the spread", () => {
  const m = matrix(120);
  // 0.6 lies between the two seeds' lower bounds (≈ 0.686 and ≈ 0.531): the worst seed decides.
  const g = gate(m, { candidate: { strategy: "random", rate: 4 }, scenario: S, thresholds: { minRobustAccuracy: 0.6, maxDropVsDense: 0 } });
  assert.equal(g.pass, false);
  const min = g.checks.find((c) => c.check === "minRobustAccuracy")!;
  assert.equal(min.pass, false);
  assert.match(min.text, /lower 95 % bound of random at 4×'s robust accuracy is 53\.1 %, below minRobustAccuracy 60\.0 % \(measured 60\.0 %, 120 of 200 samples; the worst of 2 pruning seeds \(robust 60\.0 %–75\.0 %\)\)/);
  assert.equal(g.candidate.score, wilson(120, 200).low);
  assert.deepEqual(g.candidate.pruningSeeds!.robustAccuracy, { min: 0.6, max: 0.75 });
  // The drop against the dense model is the worst seed's: 0.5 − 0.6.
  assert.ok(Math.abs(g.drop!.value - -0.1) < 1e-12, String(g.drop!.value));
  assert.equal(g.checks.find((c) => c.check === "maxDropVsDense")!.pass, true);
  assert.equal(g.warnings.filter((w) => w.code === "single-pruning-seed").length, 0);
  // Both seeds at 150 would pass; a candidate of one seed passes on it and is told it rests on one seed.
  assert.equal(gate(matrix(150), { candidate: { strategy: "random", rate: 4 }, scenario: S, thresholds: { minRobustAccuracy: 0.6 } }).pass, true);
  const gm = gate(m, { candidate: { strategy: "global-magnitude", rate: 4 }, scenario: S, thresholds: { minRobustAccuracy: 0.5 } });
  assert.equal(gm.pass, true);
  assert.deepEqual(gm.warnings.map((w) => w.code), ["single-pruning-seed"]);
  // The dense model is not pruned: never told it rests on one pruning seed.
  assert.deepEqual(gate(m, { candidate: { strategy: "dense", rate: 1 }, scenario: S, thresholds: { minRobustAccuracy: 0.3 } }).warnings, []);
});

test("at an adversarial share below 1 a two-seed variant scores with its worst seed's robust bound and its lowest clean accuracy", () => {
  const r = recommend(matrix(120), { ...S, adversarialShare: 0.5 });
  const rn = r.alternatives.find((a) => a.candidate.strategy === "random")!;
  // Seed 2: clean 870 of 1000 (the lower), robust 120 of 200 (the lower bound): (1 − r)·clean bound + r·robust bound.
  const expected = 0.5 * wilson(870, 1000).low + 0.5 * wilson(120, 200).low;
  assert.ok(Math.abs(rn.score - expected) < 1e-12, `${rn.score} vs ${expected}`);
  assert.ok(Math.abs(rn.candidate.aggregatedAccuracy!.interval.low - expected) < 1e-12);
  assert.equal(rn.candidate.pruningSeeds!.worstSeed, 2);
});

test("a prepared snapshot gives the same answers", () => {
  const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
  for (const k of [120, 140, 150]) {
    for (const s of [S, { ...S, budget: 0.03 }, { ...S, budget: 0.5 }, { ...S, sizeLimit: { minCompression: 2 } }, { ...S, adversarialShare: 0.5 }] as Scenario[]) {
      assert.deepEqual(wire(recommend(prepareSnapshot(matrix(k)), s)), wire(recommend(matrix(k), s)), `k=${k} ${JSON.stringify(s)}`);
      const req = { candidate: { strategy: "random" as const, rate: 4 }, scenario: s, thresholds: { minRobustAccuracy: 0.5 } };
      assert.deepEqual(wire(gate(prepareSnapshot(matrix(k)), req)), wire(gate(matrix(k), req)));
    }
  }
});
