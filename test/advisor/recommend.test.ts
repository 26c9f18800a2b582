// recommend() over the hand-made fixtures of fixtures.ts (robust counts tabulated there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { recommend } from "../../src/advisor/recommend.js";
import { wilson } from "../../src/engine/stats.js";
import type { MatrixSnapshot, Scenario } from "../../src/advisor/types.js";
import { candidate, evaluation, mainMatrix, range, runs } from "./fixtures.js";

const base: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" };

test("the candidate with the best lower bound wins, alternatives are ranked with margins", () => {
  const r = recommend(mainMatrix(), base);
  assert.equal(r.status, "ok");
  assert.equal(r.matrixVersion, 7);
  const rec = r.recommendation!;
  assert.equal(rec.strategy, "global-magnitude");
  assert.equal(rec.rate, 4);
  assert.equal(rec.achievedRate, 3.9995);
  assert.equal(rec.nonZeroParams, 15000);
  assert.equal(rec.sparseBytes, 90000);
  assert.deepEqual(rec.cleanAccuracy.interval, wilson(905, 1000));
  assert.equal(rec.cleanAccuracy.value, 0.905);
  const ra = rec.robustAccuracy!;
  assert.equal(ra.robust, 120);
  assert.equal(ra.n, 200);
  assert.equal(ra.value, 0.6);
  assert.deepEqual(ra.interval, wilson(120, 200));
  assert.equal(ra.budgetUsed, 0.1);
  assert.equal(ra.budgetRule, "measured");
  assert.equal(ra.knowledgeUsed, "white-box");
  assert.deepEqual(ra.evaluationIds, ["gm4-wb"]);
  assert.equal(rec.score, wilson(120, 200).low);

  // Robust counts at 0.1: gm 120, lm 110, dense 100, sl 90, random 80.
  assert.deepEqual(
    r.alternatives.map((a) => `${a.candidate.strategy}@${a.candidate.rate}`),
    ["global-magnitude@4", "layer-magnitude@8", "dense@1", "structured-l1@2", "random@4"],
  );
  assert.deepEqual(r.alternatives.map((a) => a.rank), [1, 2, 3, 4, 5]);
  assert.equal(r.alternatives[0]!.margin, 0);
  assert.equal(r.alternatives[0]!.significant, null);
  assert.ok(Math.abs(r.alternatives[1]!.margin - (wilson(120, 200).low - wilson(110, 200).low)) < 1e-12);
  for (let i = 1; i < r.alternatives.length; i++) assert.ok(r.alternatives[i]!.margin >= r.alternatives[i - 1]!.margin);

  // Runner-up comparison: nested robust sets → 10 discordant pairs, all favouring the winner.
  const c = r.comparison!;
  assert.equal(c.paired, true);
  assert.equal(c.method, "mcnemar-exact");
  assert.deepEqual(c.discordant, { aOnly: 10, bOnly: 0 });
  assert.ok(Math.abs(c.pValue - 2 / 1024) < 1e-12);
  assert.equal(c.significant, true);
  assert.equal(r.alternatives[1]!.significant, true);
  assert.ok(!r.warnings.some((w) => w.code === "margin-not-significant"));

  // Evidence rows: winner and runner-up.
  assert.deepEqual(r.evidence.map((e) => e.evaluationId), ["gm4-wb", "lm8-wb"]);
  assert.equal(r.evidence[0]!.n, 200);
  assert.equal(r.evidence[0]!.role, "primary");
  assert.deepEqual(r.evidence[0]!.budgets, [0.02, 0.05, 0.1, 0.2, 0.3]);
  assert.equal(r.evidence[0]!.attacks[0]!.name, "pgd-linf");

  // Curve: 2 below, the point at ε, 2 above, for winner and runner-up.
  assert.equal(r.curve.length, 2);
  assert.equal(r.curve[0]!.role, "recommendation");
  assert.deepEqual(r.curve[0]!.points.map((p) => [p.budget, p.position, p.robust]), [
    [0.02, "below", 180],
    [0.05, "below", 160],
    [0.1, "at", 120],
    [0.2, "above", 100],
    [0.3, "above", 80],
  ]);
  assert.deepEqual(r.curve[1]!.points.map((p) => p.robust), [180, 150, 110, 90, 70]);
  assert.deepEqual(r.curve[0]!.points[2]!.interval, wilson(120, 200));

  assert.deepEqual(r.counts, { considered: 5, feasible: 5, ranked: 5 });
  const sentences = r.rationale.split(/(?<=\.)\s+(?=[A-Z0-9])/);
  assert.ok(sentences.length >= 2 && sentences.length <= 4, r.rationale);
  assert.match(r.rationale, /global-magnitude at 4×/);
  assert.match(r.rationale, /layer-magnitude at 8×/);
  // The fixture holds 5 of the 13 (strategy, rate) pairs its strategies and rates span, each measured
  // with one pruning seed: both said, nothing else.
  assert.deepEqual(r.warnings.map((w) => w.code), ["single-pruning-seed", "incomplete-grid"]);
});

test("lower-bound scoring prefers many samples over a higher but uncertain point estimate", () => {
  // A: 9 of 10 robust (point 0.90, Wilson low ≈ 0.596). B: 800 of 1000 (point 0.80, low ≈ 0.774).
  const m: MatrixSnapshot = {
    version: 1,
    candidates: [
      candidate({ strategy: "global-magnitude", rate: 2, nonZeroParams: 1000, evaluations: [evaluation({ distances: runs([[0, 1], [Infinity, 9]]) })] }),
      candidate({ strategy: "layer-magnitude", rate: 2, nonZeroParams: 1000, evaluations: [evaluation({ distances: runs([[0, 200], [Infinity, 800]]) })] }),
    ],
  };
  const r = recommend(m, base);
  assert.equal(r.recommendation!.strategy, "layer-magnitude");
  assert.ok(r.alternatives[1]!.candidate.robustAccuracy!.value > r.recommendation!.robustAccuracy!.value);
  assert.ok(Math.abs(r.recommendation!.score! - 0.7741) < 5e-4);
  // Different sample sets → unpaired Fisher test, and the small one warns about few samples.
  assert.equal(r.comparison!.paired, false);
  assert.equal(r.comparison!.method, "fisher-exact");
  assert.ok(r.warnings.some((w) => w.code === "few-samples" && w.candidate?.strategy === "global-magnitude"));
  assert.ok(r.warnings.some((w) => w.code === "margin-not-significant"));
});

test("ties go to the smaller model: fewer non-zero parameters, then fewer bytes", () => {
  const d = (): Float32Array => runs([[0, 50], [Infinity, 150]]);
  const m: MatrixSnapshot = {
    version: 1,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 8000, sparseBytes: 1000, evaluations: [evaluation({ distances: d() })] }),
      candidate({ strategy: "global-magnitude", rate: 2, nonZeroParams: 4000, sparseBytes: 900, evaluations: [evaluation({ distances: d() })] }),
      candidate({ strategy: "random", rate: 2, nonZeroParams: 4000, sparseBytes: 800, evaluations: [evaluation({ distances: d() })] }),
    ],
  };
  const r = recommend(m, base);
  assert.deepEqual(r.alternatives.map((a) => a.candidate.strategy), ["random", "global-magnitude", "dense"]);
  assert.equal(r.alternatives[1]!.margin, 0);
  assert.equal(r.comparison!.pValue, 1);
  assert.ok(r.warnings.some((w) => w.code === "margin-not-significant"));
  assert.match(r.rationale, /ties on that bound/);
});

test("a budget between grid points uses the next measured budget up", () => {
  // At ε = 0.07 the distances alone would count the 0.08 samples as robust (gm 160);
  // the conservative rule uses the measurement at 0.1 (gm 120).
  const r = recommend(mainMatrix(), { ...base, budget: 0.07 });
  const ra = r.recommendation!.robustAccuracy!;
  assert.equal(r.recommendation!.strategy, "global-magnitude");
  assert.equal(ra.budgetUsed, 0.1);
  assert.equal(ra.budgetRule, "next-up");
  assert.equal(ra.robust, 120);
  assert.equal(ra.budget, 0.07);
  assert.deepEqual(r.curve[0]!.points.map((p) => [p.budget, p.position]), [
    [0.02, "below"],
    [0.05, "below"],
    [0.1, "above"],
    [0.2, "above"],
  ]);
  assert.ok(!r.warnings.some((w) => w.code === "budget-beyond-range"));
});

test("below the smallest grid budget the smallest budget's value is used; ε = 0 is the clean accuracy", () => {
  const r = recommend(mainMatrix(), { ...base, budget: 0.01 });
  const ra = r.recommendation!.robustAccuracy!;
  assert.equal(ra.budgetRule, "below-grid");
  assert.equal(ra.budgetUsed, 0.02);
  assert.equal(ra.robust, 180);
  const z = recommend(mainMatrix(), { ...base, budget: 0 });
  const rz = z.recommendation!.robustAccuracy!;
  assert.equal(rz.budgetRule, "clean");
  assert.equal(rz.robust, 180);
  assert.equal(z.curve[0]!.points[0]!.kind, "clean");
});

test("a budget past the measured range gets the value at ε from the distances and a warning", () => {
  // At 0.5: gm drops to 40 (its 0.4 samples are beaten), lm keeps 70 → lm wins.
  const r = recommend(mainMatrix(), { ...base, budget: 0.5 });
  const ra = r.recommendation!.robustAccuracy!;
  assert.equal(r.recommendation!.strategy, "layer-magnitude");
  assert.equal(ra.budgetRule, "beyond-range");
  assert.equal(ra.budgetUsed, 0.5);
  assert.equal(ra.robust, 70);
  const gm = r.alternatives.find((a) => a.candidate.strategy === "global-magnitude")!;
  assert.equal(gm.candidate.robustAccuracy!.robust, 40); // <= 80 at the largest budget 0.3
  const w = r.warnings.filter((x) => x.code === "budget-beyond-range");
  assert.ok(w.length >= 1);
  assert.match(w[0]!.message, /beyond the largest measured budget 0\.3/);
  const last = r.curve[0]!.points.at(-1)!;
  assert.equal(last.kind, "extrapolated");
  assert.equal(last.budget, 0.5);
});

test("an unmeasured knowledge level falls back to the nearest stronger measured one, with a warning", () => {
  const d = runs([[0, 20], [0.08, 80], [Infinity, 100]]);
  const weaker = runs([[0, 20], [Infinity, 180]]);
  const m: MatrixSnapshot = {
    version: 3,
    candidates: [
      // Measured at white-box and black-box, not transfer.
      candidate({
        strategy: "global-magnitude",
        rate: 2,
        nonZeroParams: 100,
        evaluations: [evaluation({ id: "wb", distances: d }), evaluation({ id: "bb", knowledge: "black-box", distances: weaker })],
      }),
    ],
  };
  const r = recommend(m, { ...base, knowledge: "transfer" });
  const ra = r.recommendation!.robustAccuracy!;
  assert.equal(ra.knowledgeRequested, "transfer");
  assert.equal(ra.knowledgeUsed, "white-box");
  assert.equal(ra.robust, 100);
  const w = r.warnings.find((x) => x.code === "knowledge-fallback")!;
  assert.ok(w, JSON.stringify(r.warnings));
  assert.match(w.message, /transfer/);
  assert.match(w.message, /white-box/);
  assert.deepEqual(w.evaluationIds, ["wb"]);
  // Black-box is measured directly: no fallback.
  const b = recommend(m, { ...base, knowledge: "black-box" });
  assert.equal(b.recommendation!.robustAccuracy!.knowledgeUsed, "black-box");
  assert.equal(b.recommendation!.robustAccuracy!.robust, 180);
  assert.ok(!b.warnings.some((x) => x.code === "knowledge-fallback"));
});

test("only weaker levels measured: no admissible evidence, said so", () => {
  const m: MatrixSnapshot = {
    version: 3,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 100, evaluations: [evaluation({ knowledge: "black-box", distances: runs([[Infinity, 10]]) })] }),
      candidate({ strategy: "random", rate: 2, nonZeroParams: 50, evaluations: [evaluation({ norm: "l2", budgets: [0.5, 1], distances: runs([[Infinity, 10]]) })] }),
    ],
  };
  const r = recommend(m, base);
  assert.equal(r.status, "no-evidence");
  assert.equal(r.recommendation, null);
  assert.equal(r.unscored.length, 2);
  assert.match(r.unscored.find((u) => u.candidate.strategy === "dense")!.reason, /only at black-box.*weaker than the requested white-box/);
  assert.match(r.unscored.find((u) => u.candidate.strategy === "random")!.reason, /no L∞ evaluation/);
  assert.ok(r.warnings.some((w) => w.code === "no-evidence"));
  assert.match(r.rationale, /none has admissible evidence/);
  // With a ranked candidate too, the unscored ones are listed and warned about, not ranked.
  m.candidates.push(candidate({ strategy: "layer-magnitude", rate: 2, nonZeroParams: 50, evaluations: [evaluation({ distances: runs([[Infinity, 10]]) })] }));
  const r2 = recommend(m, base);
  assert.equal(r2.status, "ok");
  assert.equal(r2.alternatives.length, 1);
  assert.equal(r2.unscored.length, 2);
  assert.equal(r2.comparison, null);
  assert.match(r2.rationale, /only candidate/);
});

test("suspected gradient masking on the evidence used gives a warning", () => {
  const m = mainMatrix();
  m.candidates[1]!.evaluations[0]!.maskingSuspected = true;
  const r = recommend(m, base);
  const w = r.warnings.find((x) => x.code === "gradient-masking")!;
  assert.ok(w);
  assert.equal(w.candidate!.strategy, "global-magnitude");
  assert.deepEqual(w.evaluationIds, ["gm4-wb"]);
  assert.ok(r.alternatives[0]!.warnings.some((x) => x.code === "gradient-masking"));
});

test("a weaker level that beats the stronger one on the same samples is merged per sample and flagged", () => {
  const wb = runs([[0, 10], [Infinity, 190]]);
  // The black-box row beats 30 samples the white-box row left robust (inconsistent: masking).
  const bb = runs([[0, 10], [0.05, 30], [Infinity, 160]]);
  const m: MatrixSnapshot = {
    version: 1,
    candidates: [
      candidate({
        strategy: "dense",
        rate: 1,
        nonZeroParams: 10,
        evaluations: [evaluation({ id: 1, distances: wb }), evaluation({ id: 2, knowledge: "black-box", distances: bb })],
      }),
    ],
  };
  const r = recommend(m, base);
  assert.equal(r.recommendation!.robustAccuracy!.robust, 160);
  assert.deepEqual(r.recommendation!.robustAccuracy!.evaluationIds, [1, 2]);
  assert.ok(r.warnings.some((w) => w.code === "lattice-inconsistent"));
  assert.deepEqual(r.evidence.map((e) => [e.evaluationId, e.role, e.knowledgeUsed]), [
    [1, "primary", "white-box"],
    [2, "weaker-level", "black-box"],
  ]);
});

test("several rows for one (candidate, norm, knowledge): the most pessimistic is used", () => {
  const m: MatrixSnapshot = {
    version: 1,
    candidates: [
      candidate({
        strategy: "dense",
        rate: 1,
        nonZeroParams: 10,
        evaluations: [evaluation({ id: "a", distances: runs([[0, 10], [Infinity, 190]]) }), evaluation({ id: "b", distances: runs([[0, 50], [Infinity, 150]]), sampleIndices: range(200, 1000) })],
      }),
    ],
  };
  const r = recommend(m, base);
  assert.deepEqual(r.recommendation!.robustAccuracy!.evaluationIds, ["b"]);
  assert.ok(r.warnings.some((w) => w.code === "duplicate-evidence"));
});

test("several models on one data set are ranked together, and modelId selects one", () => {
  const m = mainMatrix();
  m.candidates.push(
    candidate({ modelId: "mlp-fmnist", strategy: "dense", rate: 1, nonZeroParams: 100000, evaluations: [evaluation({ distances: runs([[0, 10], [Infinity, 190]]) })] }),
  );
  const r = recommend(m, base);
  assert.equal(r.recommendation!.modelId, "mlp-fmnist");
  assert.match(r.rationale, /of mlp-fmnist/);
  const only = recommend(m, { ...base, modelId: "lenet5-fmnist" });
  assert.equal(only.recommendation!.strategy, "global-magnitude");
});
