// Indicators of attack failure (issue 17, item 2; src/engine/evaluation/indicators.ts): each one
// fires on a known-answer case built to make it fire and stays quiet on one built not to, and the
// admissibility rule counts only samples the row calls robust. Tracing never changes what an
// attack proposes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { tf } from "../../src/engine/tf.js";
import type { AttackBatch, AttackTrace, FixedBudgetAttack, GradientAccess } from "../../src/engine/attacks/types.js";
import { pgdL2, pgdLinf } from "../../src/engine/attacks/pgd.js";
import { apgd } from "../../src/engine/attacks/apgd.js";
import { fmn } from "../../src/engine/attacks/fmn.js";
import { cwL2 } from "../../src/engine/attacks/cw.js";
import { greedyL0 } from "../../src/engine/attacks/greedy-l0.js";
import { pgdL0 } from "../../src/engine/attacks/sparse-l0.js";
import { stillRising } from "../../src/engine/attacks/gradients.js";
import { defaultWhiteBox, doubledWhiteBox } from "../../src/engine/evaluation/attack-plan.js";
import { evaluateRobustness, type RobustnessOptions } from "../../src/engine/evaluation/robustness.js";
import { deadClasses } from "../../src/engine/evaluation/degenerate.js";
import { gradientFlags } from "../../src/engine/evaluation/gradient-check.js";
import { indicatorReport, newSignals, withConvergence, INCOMPLETE_MAX_SHARE, type IndicatorInputs } from "../../src/engine/evaluation/indicators.js";
import { convergenceOf, probeConvergence } from "../../src/engine/evaluation/convergence.js";
import { sanityReport, uncheckedMasking, uncheckedUnbounded } from "../../src/engine/evaluation/sanity.js";
import { linearModel, randomLinear, trapLinear, H, W } from "../helpers/linear-attack-models.js";
import { labelledBy, linearWithDeadColumn, quantised } from "../helpers/indicator-models.js";

await initBackend();

const BUDGETS = [0, 0.02, 0.05, 0.1];
const SMALL = defaultWhiteBox("linf", { pgd: { steps: 10 }, fmn: { steps: 20 }, apgd: { steps: 20, targets: 2 } });

/** White-box only (no black-box attacks: they are not what these tests look at). */
function evaluate(o: Pick<RobustnessOptions, "target" | "samples"> & { attacks?: RobustnessOptions["attacks"]; budgets?: number[]; unboundedCheck?: boolean }) {
  return evaluateRobustness({
    target: o.target,
    samples: o.samples,
    norm: "linf",
    knowledge: "white-box",
    budgets: o.budgets ?? BUDGETS,
    attacks: { "white-box": SMALL, "black-box": [], ...o.attacks },
    batchSize: 20,
    seed: 3,
    unboundedCheck: o.unboundedCheck ?? false,
  });
}

describe("zero-gradients: a quantiser (round(), gradient 0) is flagged; the same classifier without it is not", () => {
  const plain = randomLinear(5, 11);
  const masked = quantised(plain.model);

  test("every clean-correct sample of the quantised model has zero margin and cross-entropy gradients", async () => {
    const samples = labelledBy(masked, 40, 5);
    const r = await evaluate({ target: masked, samples });
    const z = r.indicators.zeroGradients;
    assert.equal(r.cleanCorrect, 40);
    assert.deepEqual({ checked: z.checked, fired: z.fired, samples: z.samples, nonFinite: z.nonFinite }, { checked: true, fired: true, samples: 40, nonFinite: 0 });
    // The gradient-free dataset-seeded attack still beats samples, but not at the smallest budget:
    // those are counted robust with nothing behind them but attacks that could not move.
    assert.ok(z.robust > 0 && z.robust === r.curve[1]!.robust, `robust ${z.robust}, curve ${r.curve.map((c) => c.robust).join(" ")}`);
    assert.equal(z.failed, true);
    assert.ok(r.indicators.failed.includes("zero-gradients"));
  });

  test("the linear classifier alone has gradients everywhere: not fired, nothing failed", async () => {
    const samples = labelledBy(plain.model, 40, 5);
    const r = await evaluate({ target: plain.model, samples });
    assert.deepEqual(
      { checked: r.indicators.zeroGradients.checked, samples: r.indicators.zeroGradients.samples, failed: r.indicators.zeroGradients.failed },
      { checked: true, samples: 0, failed: false },
    );
    assert.deepEqual(r.indicators.failed, []);
  });

  test("the check flags zero and non-finite gradients per sample, and only clean-correct samples are looked at", () => {
    const samples = labelledBy(plain.model, 6, 9);
    const batch = (positions: number[]) => {
      const x = tf.tensor4d(Float32Array.from(positions.flatMap((p) => Array.from(samples.x.subarray(p * H * W, (p + 1) * H * W)))), [positions.length, H, W, 1]);
      const y = tf.tensor1d(positions.map((p) => samples.labels[p]!), "int32");
      return { x, y, dispose: () => (x.dispose(), y.dispose()) };
    };
    const ok = gradientFlags(plain.model, 6, [[0, 1, 2], [4]], batch);
    assert.deepEqual([Array.from(ok.zero), Array.from(ok.nonFinite)], [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]);
    const flat = gradientFlags(masked, 6, [[0, 1, 2], [4]], batch);
    assert.deepEqual(Array.from(flat.zero), [1, 1, 1, 0, 1, 0]);
    // A model whose output is NaN-scaled: non-finite gradients.
    const input = tf.input({ shape: [H, W, 1] });
    const nan = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.constant({ value: NaN }) }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor });
    assert.deepEqual(Array.from(gradientFlags(nan, 6, [[0, 1]], batch).nonFinite), [1, 1, 0, 0, 0, 0]);
  });
});

describe("degenerate-model: classes that cannot depend on the input are found from the weights", () => {
  test("a zeroed classifier column names its class; healthy models name none", () => {
    const dead = linearWithDeadColumn(5, 2, 4);
    assert.deepEqual(deadClasses(dead.model), { classes: [2] });
    assert.deepEqual(deadClasses(trapLinear(6, 2).model), { classes: [0, 1] });
    assert.deepEqual(deadClasses(randomLinear(5, 4).model), { classes: [] });
  });

  test("every path pruned: a class fed only by hidden units that have no live input, behind dense and conv layers", () => {
    const mlp = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [H, W, 1] }), tf.layers.dense({ units: 6, activation: "relu" }), tf.layers.dense({ units: 4 })],
    });
    const [k1, b1] = mlp.layers[1]!.getWeights();
    const hidden = k1!.arraySync() as number[][];
    for (const row of hidden) for (const j of [0, 1, 2]) row[j] = 0; // hidden units 0-2 have no input
    mlp.layers[1]!.setWeights([tf.tensor2d(hidden), b1!]);
    const [k2, b2] = mlp.layers[2]!.getWeights();
    const out = k2!.arraySync() as number[][];
    out.forEach((row, j) => {
      row[1] = 0; // class 1: its column is gone
      if (j >= 3) row[3] = 0; // class 3: only fed by the dead units 0-2
    });
    mlp.layers[2]!.setWeights([tf.tensor2d(out), b2!]);
    assert.deepEqual(deadClasses(mlp), { classes: [1, 3] });

    const conv = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [H, W, 1], filters: 2, kernelSize: 3, activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3 }),
      ],
    });
    const [ck, cb] = conv.layers[0]!.getWeights();
    const kernel = ck!.arraySync() as number[][][][];
    for (const a of kernel) for (const b of a) b[0]![0] = 0; // filter 0 is pruned away
    conv.layers[0]!.setWeights([tf.tensor4d(kernel), cb!]);
    const [dk, db] = conv.layers[3]!.getWeights();
    const dense = dk!.arraySync() as number[][];
    // Flatten of [3, 3, 2]: feature f is channel f % 2. Class 0 reads channel 0 only.
    dense.forEach((row, f) => {
      if (f % 2 === 1) row[0] = 0;
    });
    conv.layers[3]!.setWeights([tf.tensor2d(dense), db!]);
    assert.deepEqual(deadClasses(conv), { classes: [0] });
  });

  test("an evaluation reports the dead class without failing the row on it", async () => {
    const dead = linearWithDeadColumn(5, 2, 4);
    const r = await evaluate({ target: dead.model, samples: labelledBy(dead.model, 30, 2) });
    assert.deepEqual(r.indicators.degenerateModel, { checked: true, fired: true, failed: false, deadClasses: [2] });
    assert.ok(!r.indicators.failed.includes("degenerate-model"));
  });

  test("a constant model (every class pruned away) fails the row as degenerate-model; the unbounded check does not apply to it", async () => {
    const live = randomLinear(5, 6);
    live.model.dispose();
    const constant = linearModel(live.w.map((row) => row.map(() => 0)), live.b);
    assert.deepEqual(deadClasses(constant.model), { classes: [0, 1, 2, 3, 4] });
    const r = await evaluate({ target: constant.model, samples: labelledBy(constant.model, 20, 3), unboundedCheck: true });
    const { note, ...degenerate } = r.indicators.degenerateModel;
    assert.deepEqual(degenerate, { checked: true, fired: true, failed: true, deadClasses: [0, 1, 2, 3, 4], constant: true });
    assert.match(note ?? "", /no attack can change it/);
    assert.equal(r.perAttack.length, 0, "no attack runs on a constant model");
    assert.ok(r.indicators.failed.includes("degenerate-model"));
    assert.ok(!r.indicators.failed.includes("unconstrained-failure") && !r.indicators.unconstrainedFailure.fired);
    assert.equal(r.sanity.unbounded.checked, false);
    assert.match(r.sanity.unbounded.note ?? "", /constant/);
    // What the row says stays true: nothing changes a constant model's answer at any budget.
    assert.ok(r.curve.every((p) => p.robust === 20));
  });
});

/** An attack that runs `inner` (tracing what it sees) and then returns the clean inputs: it drops every success. */
function hiding(inner: FixedBudgetAttack): FixedBudgetAttack<GradientAccess> {
  return {
    ...inner,
    name: `hiding-${inner.name}`,
    access: "gradient",
    async run(access: GradientAccess, batch: AttackBatch, budget: number) {
      const found = await (inner.run as (a: GradientAccess, b: AttackBatch, e: number) => Promise<tf.Tensor4D>)(access, batch, budget);
      found.dispose();
      return batch.x.clone();
    },
  };
}

describe("silent-success: an adversarial point seen and not returned", () => {
  const m = randomLinear(5, 21);
  const samples = labelledBy(m.model, 40, 8);

  test("fires when the attack drops what it found, and fails the row: those samples are counted robust", async () => {
    const r = await evaluate({ target: m.model, samples, attacks: { "white-box": [hiding(pgdLinf({ steps: 10 }))] } });
    const s = r.indicators.silentSuccess;
    assert.equal(s.checked, true);
    assert.ok(s.samples > 5, `only ${s.samples} silent successes`);
    assert.equal(s.robust, s.samples, "nothing else beat them");
    assert.deepEqual(s.byAttack, { "white-box/hiding-pgd-linf": s.samples });
    assert.ok(r.indicators.failed.includes("silent-success"));
  });

  test("does not fire for attacks that return what they find (PGD, APGD, FMN, dataset-seed)", async () => {
    const r = await evaluate({ target: m.model, samples });
    assert.deepEqual({ checked: r.indicators.silentSuccess.checked, samples: r.indicators.silentSuccess.samples }, { checked: true, samples: 0 });
    assert.ok(r.curve[3]!.robust < r.cleanCorrect, "the attacks beat samples");
  });

  test("is harmless where another attack beat the sample anyway", async () => {
    const r = await evaluate({ target: m.model, samples, attacks: { "white-box": [hiding(pgdLinf({ steps: 10 })), pgdLinf({ steps: 10, restarts: 2 })] } });
    const s = r.indicators.silentSuccess;
    assert.ok(s.samples > 5);
    assert.equal(s.robust, 0);
    assert.equal(s.failed, false);
  });
});

describe("incomplete-optimisation: the loss still rising at the end of the failed runs", () => {
  const m = randomLinear(5, 31);
  const samples = labelledBy(m.model, 40, 6);
  // A budget small enough that some samples of these linear models resist it.
  const eps = 0.003;

  test("fires when PGD's steps are far too small, and fails the row", async () => {
    // 20 steps of ε/100 cover a fifth of the budget: on a linear model the loss rises by the same
    // amount every step, so the last 2 steps hold 10 % of the rise (> 5 %).
    const r = await evaluate({ target: m.model, samples, budgets: [0, eps], attacks: { "white-box": [pgdLinf({ steps: 20, stepSize: eps / 100 })] } });
    const inc = r.indicators.incompleteOptimisation;
    assert.equal(inc.checked, true);
    assert.ok(inc.robust > 0 && inc.robust === r.curve[1]!.robust, `robust ${inc.robust} of ${r.curve[1]!.robust}`);
    assert.equal(inc.limit, Math.floor(INCOMPLETE_MAX_SHARE * 40));
    assert.ok(r.indicators.failed.includes("incomplete-optimisation"));
  });

  test("does not fire when the runs settle (PGD's default step reaches the ball's corner early; APGD's schedule)", async () => {
    const r = await evaluate({ target: m.model, samples, budgets: [0, eps], attacks: { "white-box": [pgdLinf({ steps: 20 }), apgd("linf", "ce", { steps: 20 })] } });
    assert.ok(r.curve[1]!.robust > 0, "some samples resist, so the failed runs are judged");
    assert.deepEqual({ checked: r.indicators.incompleteOptimisation.checked, samples: r.indicators.incompleteOptimisation.samples }, { checked: true, samples: 0 });
  });

  test("a settled failed run backs a sample even when another attack's run was still rising", async () => {
    const r = await evaluate({ target: m.model, samples, budgets: [0, eps], attacks: { "white-box": [pgdLinf({ steps: 20, stepSize: eps / 100 }), pgdLinf({ steps: 20, loss: "ce" })] } });
    const inc = r.indicators.incompleteOptimisation;
    assert.ok(r.curve[1]!.robust > 0, "some samples resist both attacks");
    // Samples the cross-entropy run beat are still counted as seen (`samples`), never as robust.
    assert.deepEqual([inc.robust, inc.failed], [0, false]);
  });

  test("stillRising: more than 5 % of the run's rise in its tail; a flat loss has settled", () => {
    assert.equal(stillRising(-1, -0.0625, 0), true); // 6.25 % of the rise in the tail
    assert.equal(stillRising(-1, -0.03125, 0), false); // 3.1 %
    assert.equal(stillRising(-2, -2, -2), false);
    assert.equal(stillRising(3, 3, 3 + 1e-9), false, "a rise within round-off is no rise");
  });
});

describe("the admissibility rule counts only samples the row calls robust", () => {
  const n = 200;
  const sanity = sanityReport({ cleanAccuracy: { expected: 1, acc0: 1, pass: true }, monotone: { pass: true, violations: [] }, unbounded: uncheckedUnbounded("test"), masking: uncheckedMasking("test") });
  // Samples 0-99 beaten at 0.01, 100-199 never beaten.
  const distances = Float32Array.from({ length: n }, (_, p) => (p < 100 ? 0.01 : Infinity));
  const base: IndicatorInputs = { distances, budgets: [0, 0.05, 0.1], signals: [], deadClasses: [], classCount: 10, sanity };
  const flags = (on: (p: number) => boolean) => ({ zero: Uint8Array.from({ length: n }, (_, p) => (on(p) ? 1 : 0)), nonFinite: new Uint8Array(n) });

  test("zero gradients: harmless on beaten samples, fatal on one robust sample", () => {
    const beaten = indicatorReport({ ...base, gradients: flags((p) => p < 100) }).zeroGradients;
    assert.deepEqual([beaten.fired, beaten.samples, beaten.robust, beaten.failed], [true, 100, 0, false]);
    const one = indicatorReport({ ...base, gradients: flags((p) => p === 150) }).zeroGradients;
    assert.deepEqual([one.robust, one.failed], [1, true]);
  });

  test("incomplete optimisation: at most 1 % of the samples robust and still improving", () => {
    const signals = (rising: (p: number) => boolean, settled: (p: number) => boolean = () => false) => {
      const s = newSignals(n);
      s.risingMeasured = true;
      for (let p = 0; p < n; p++) {
        if (rising(p)) s.rising[p] = 1;
        if (settled(p)) s.settled[p] = 1;
      }
      return [{ label: "white-box/pgd-linf", signals: s }];
    };
    assert.equal(indicatorReport({ ...base, signals: signals((p) => p < 100) }).incompleteOptimisation.failed, false, "beaten samples do not count");
    assert.equal(indicatorReport({ ...base, signals: signals((p) => p >= 100 && p < 102) }).incompleteOptimisation.failed, false, "2 of 200 is 1 %");
    const three = indicatorReport({ ...base, signals: signals((p) => p >= 100 && p < 103) });
    assert.deepEqual([three.incompleteOptimisation.robust, three.incompleteOptimisation.limit, three.incompleteOptimisation.failed], [3, 2, true]);
    assert.equal(indicatorReport({ ...base, signals: signals((p) => p >= 100, (p) => p >= 100) }).incompleteOptimisation.samples, 0, "a settled run backs them");
  });

  test("silent success: counted against the budget (or distance) where the adversarial point was seen", () => {
    const s = newSignals(n);
    s.seenMeasured = true;
    s.silentAt[0] = 0.05; // beaten at 0.01 anyway
    s.silentAt[150] = 0.05; // robust at 0.05: the row overstates
    const r = indicatorReport({ ...base, signals: [{ label: "white-box/x", signals: s }] });
    assert.deepEqual([r.silentSuccess.samples, r.silentSuccess.robust, r.failed], [2, 1, ["silent-success"]]);
  });

  test("without white-box attacks nothing is measured, and nothing fails", () => {
    const r = indicatorReport({ ...base, deadClasses: null, gradientNote: "white-box attacks are not in scope for knowledge black-box" });
    assert.deepEqual(
      [r.zeroGradients.checked, r.silentSuccess.checked, r.incompleteOptimisation.checked, r.degenerateModel.checked, r.convergence.checked, r.failed],
      [false, false, false, false, false, []],
    );
  });

  test("the convergence probe: a move of exactly 1 point passes, more fails; withConvergence recomputes `failed`", () => {
    const probe = (k: number) => Float32Array.from(distances, (d, p) => (p >= 100 && p < 100 + k ? 0.03 : d));
    const one = convergenceOf([0, 0.05, 0.1], distances, probe(2), 1);
    assert.deepEqual([one.fired, one.failed, one.maxMove], [true, false, 0.01]);
    const three = convergenceOf([0, 0.05, 0.1], distances, probe(3), 1);
    assert.deepEqual([three.failed, three.maxMove, three.perBudget![1]!.move], [true, 0.015, 0.015]);
    const report = withConvergence(indicatorReport(base), three);
    assert.deepEqual(report.failed, ["convergence"]);
    assert.deepEqual(withConvergence(report, one).failed, []);
  });
});

describe("the convergence probe runs the attacks again with twice the steps and restarts", () => {
  const m = randomLinear(5, 41);
  const samples = labelledBy(m.model, 40, 3);

  test("doubledWhiteBox doubles steps, restarts and queries of the plan it is given (engine defaults included)", () => {
    const params = (plan: ReturnType<typeof defaultWhiteBox>) => Object.fromEntries(plan.map((a) => [a.name, a.params]));
    for (const norm of ["linf", "l2", "l0"] as const) {
      const base = params(defaultWhiteBox(norm));
      const twice = params(defaultWhiteBox(norm, doubledWhiteBox(norm)));
      assert.equal(twice[`pgd-${norm}`]!.steps, 2 * (base[`pgd-${norm}`]!.steps as number));
      assert.equal(twice[`pgd-${norm}`]!.restarts, 2 * (base[`pgd-${norm}`]!.restarts as number));
      assert.equal(twice[`pgd-${norm}-ce`]!.restarts, 2);
      assert.equal(twice[`fmn-${norm}`]!.steps, 2 * (base[`fmn-${norm}`]!.steps as number));
      if (norm !== "l0") assert.deepEqual([twice[`apgd-ce-${norm}`]!.steps, twice[`apgd-ce-${norm}`]!.restarts], [200, 2]);
      if (norm === "l0") assert.equal(twice["sparse-rs-wb"]!.queryBudget, 10_000);
      if (norm === "l2") assert.equal(twice["cw-l2"]!.steps, 200);
    }
  });

  test("an under-run attack fails the probe; a converged one passes it", async () => {
    // PGD moving 0.05 of the budget per step: 4 steps reach only a fifth of the L∞ ball, 8 steps and a restart much more.
    const weak = await evaluate({ target: m.model, samples, attacks: { "white-box": [pgdLinf({ steps: 4, relativeStepSize: 0.05 })] } });
    const failed = await probeConvergence({ target: m.model, samples, norm: "linf", budgets: BUDGETS, attacks: [pgdLinf({ steps: 8, restarts: 2, relativeStepSize: 0.05 })], distances: weak.distances, batchSize: 20, seed: 3 });
    assert.equal(failed.failed, true, JSON.stringify(failed.perBudget));
    assert.ok(failed.maxMove! > 0.01);

    const strong = await evaluate({ target: m.model, samples, attacks: { "white-box": [pgdLinf({ steps: 20 })] } });
    const passed = await probeConvergence({ target: m.model, samples, norm: "linf", budgets: BUDGETS, attacks: [pgdLinf({ steps: 40, restarts: 2 })], distances: strong.distances, batchSize: 20, seed: 3 });
    assert.equal(passed.failed, false, JSON.stringify(passed.perBudget));
    assert.ok(passed.maxMove! <= 0.01);
  });
});

describe("tracing never changes what an attack proposes", () => {
  const m = randomLinear(5, 51);
  const samples = labelledBy(m.model, 12, 4);

  test("PGD (L∞, L2, L0, plain), APGD, FMN, C&W and greedy-L0 return the same points with and without a trace", async () => {
    const x = tf.tensor4d(samples.x, [12, H, W, 1]);
    const y = tf.tensor1d(Array.from(samples.labels), "int32");
    const access: GradientAccess = { kind: "gradient", model: m.model };
    const cases: [string, (b: AttackBatch) => Promise<tf.Tensor4D>][] = [
      ["pgd-linf", (b) => pgdLinf({ steps: 10, restarts: 2 }).run(access, b, 0.02)],
      ["pgd-linf plain", (b) => pgdLinf({ steps: 10, restarts: 2, earlyStop: false }).run(access, b, 0.02)],
      ["pgd-l2", (b) => pgdL2({ steps: 10 }).run(access, b, 0.3)],
      ["pgd-l0", (b) => pgdL0({ steps: 10 }).run(access, b, 3)],
      ["apgd-dlr-t", (b) => apgd("linf", "dlr-t", { steps: 12, targets: 2 }).run(access, b, 0.02)],
      ["fmn", (b) => fmn("linf", { steps: 10, targets: 1 }).run(access, b)],
      ["cw", (b) => cwL2({ steps: 10, binarySearchSteps: 2 }).run(access, b)],
      ["greedy-l0", (b) => greedyL0({ steps: 10 }).run(access, b)],
    ];
    for (const [name, run] of cases) {
      const before = tf.memory().numTensors;
      const a = await run({ x, y, seed: 7 });
      const trace: AttackTrace = {};
      const b = await run({ x, y, seed: 7, trace });
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), `${name}: traced proposals differ`);
      assert.ok(trace.seen instanceof Uint8Array && trace.seen.length === 12, `${name}: no seen flags`);
      a.dispose();
      b.dispose();
      assert.equal(tf.memory().numTensors, before, `${name}: tensors left behind`);
    }
    x.dispose();
    y.dispose();
  });
});
