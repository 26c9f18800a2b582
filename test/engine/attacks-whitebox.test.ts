// Known-answer tests of the white-box attacks (PGD L∞/L2, PGD-L0, FMN L0/L2/L∞) on linear
// classifiers, where the minimal adversarial distance has a closed form: for x of class y,
//   L2:  min_j (z_y − z_j) / ||w_y − w_j||₂        L∞:  min_j (z_y − z_j) / ||w_y − w_j||₁
// (the box is kept inactive: pixels near 0.5, distances far below 0.3). For L0 a greedy count
// is exact for a linear model: for each other class j, take the pixels by decreasing gain
// max(c_i (1 − x_i), −c_i x_i) with c = w_j − w_y until the margin is covered.
// Success and distances are always measured by verify(), never taken from the attack.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { tf } from "../../src/engine/tf.js";
import { mulberry32 } from "../../src/engine/random.js";
import { verify, DISTANCE_TOLERANCE } from "../../src/engine/attacks/verify.js";
import type { Attack, GradientAccess, Norm } from "../../src/engine/attacks/types.js";
import { fmn, pgdL0, pgdL2, pgdLinf } from "../../src/engine/attacks/index.js";
import { analyticDistance, D, linearModel, logits, quantile, randomLinear, samples, type Linear, type Samples } from "../helpers/linear-attack-models.js";


/**
 * A few pixels with huge weights, the rest tiny: easy for L0. Classes 0 and 1 compete on the
 * first `strong` pixels (bright favours class 0: z_0 − z_1 = 20·(sum of them − threshold) +
 * small noise from the rest), so a sample needs as many pixels as it takes to move that sum
 * across the threshold; the other classes have tiny weights and a very low bias (never win).
 */
function sparseLinear(classes: number, strong: number, threshold: number, seed: number): Linear {
  const rng = mulberry32(seed);
  const w = Array.from({ length: D }, (_, i) =>
    Float64Array.from({ length: classes }, (_, k) => (k === 0 && i < strong ? 20 : 0) + (rng() * 2 - 1) * 0.01),
  );
  const b = Float64Array.from({ length: classes }, (_, k) => (k === 0 ? -20 * threshold : k === 1 ? 0 : -100));
  return linearModel(w, b);
}

/** Fewest pixels (each moved anywhere in [0, 1]) that misclassify x: greedy per class, exact for a linear model. */
function greedyL0(m: Linear, x: Float64Array, y: number): number {
  const z = logits(m, x);
  let best = Infinity;
  for (let j = 0; j < m.classes; j++) {
    if (j === y) continue;
    const gains = Array.from({ length: D }, (_, i) => {
      const c = m.w[i]![j]! - m.w[i]![y]!;
      return Math.max(c * (1 - x[i]!), -c * x[i]!);
    }).sort((a, b) => b - a);
    let need = z[y]! - z[j]!;
    let count = 0;
    // Strictly past the boundary (argmax ties go to the lower index; be conservative).
    while (need >= 0 && count < D) need -= gains[count++]!;
    if (need < 0) best = Math.min(best, count);
  }
  return best;
}

const predictOf = (m: Linear) => (x: tf.Tensor4D): tf.Tensor2D => m.model.predict(x) as tf.Tensor2D;

interface Outcome {
  distance: Float32Array;
  success: boolean[];
  inBox: boolean;
  adv: Float32Array;
}

/** Runs an attack once, checks its shape and that it leaves no tensor behind, and verifies the result. */
async function attackOnce(attack: Attack, m: Linear, s: Samples, seed: number, budget?: number): Promise<Outcome> {
  const access: GradientAccess = { kind: "gradient", model: m.model };
  const batch = { x: s.x, y: s.y, seed };
  const before = tf.memory().numTensors;
  let adv: tf.Tensor4D;
  if (attack.kind === "fixed-budget") {
    assert.ok(budget !== undefined);
    adv = await (attack.run as (a: GradientAccess, b: typeof batch, e: number) => Promise<tf.Tensor4D>)(access, batch, budget);
  } else {
    adv = await (attack.run as (a: GradientAccess, b: typeof batch) => Promise<tf.Tensor4D>)(access, batch);
  }
  assert.equal(tf.memory().numTensors, before + 1, `${attack.name}: tensors left behind besides the result`);
  assert.deepEqual(adv.shape, s.x.shape);
  const v = verify(predictOf(m), s.x, s.y, adv, attack.norm, budget);
  const values = adv.dataSync() as Float32Array;
  const out = { ...v, inBox: values.every((a) => a >= 0 && a <= 1), adv: Float32Array.from(values) };
  adv.dispose();
  assert.equal(tf.memory().numTensors, before, `${attack.name}: tensor count not back to where it was`);
  return out;
}

await initBackend();

describe("minimization attacks on linear models find the analytic minimal distance", () => {
  for (const classes of [5, 2]) {
    for (const norm of ["l2", "linf"] as const) {
      test(`fmn-${norm}, ${classes} classes: within 5 % of the truth for >= 95 % of samples, never below it`, async () => {
        const m = randomLinear(classes, 11 + classes);
        const s = samples(m, 100, 3 + classes);
        const truth = s.xs.map((x, i) => analyticDistance(m, x, s.labels[i]!, norm));
        const r = await attackOnce(fmn(norm), m, s, 1);
        assert.ok(r.inBox, "proposals inside [0, 1]");
        let close = 0;
        r.success.forEach((ok, i) => {
          assert.ok(ok, `sample ${i}: no adversarial found (true distance ${truth[i]})`);
          const d = r.distance[i]!;
          // Below the analytic minimum would be a bug (verify measured a misclassified point there).
          assert.ok(d >= truth[i]! * (1 - 1e-4) - 1e-6, `sample ${i}: distance ${d} below the minimum ${truth[i]}`);
          if (d <= truth[i]! * 1.05) close++;
        });
        assert.ok(close >= 95, `only ${close}/100 within 5 % of the minimum`);
        m.model.dispose();
        s.x.dispose();
        s.y.dispose();
      });
    }
  }
});

describe("fixed-budget attacks on linear models beat exactly the samples within budget", () => {
  for (const classes of [5, 2]) {
    for (const norm of ["l2", "linf"] as const) {
      test(`pgd-${norm}, ${classes} classes: every sample with distance <= 0.9·ε beaten, none beyond ε`, async () => {
        const m = randomLinear(classes, 21 + classes);
        const s = samples(m, 100, 7 + classes);
        const truth = s.xs.map((x, i) => analyticDistance(m, x, s.labels[i]!, norm));
        const eps = quantile(truth, 0.5);
        // Two classes: the defaults (1 restart). Five: untargeted margin PGD can lock onto the
        // class ahead at the start when another class's boundary is nearer (measured on random
        // linear models: ~0.3 % of samples within 0.9·ε missed with 1 restart, none with 3).
        const opts = classes === 2 ? {} : { restarts: 3 };
        const attack = norm === "l2" ? pgdL2(opts) : pgdLinf(opts);
        const r = await attackOnce(attack, m, s, 5, eps);
        assert.ok(r.inBox, "proposals inside [0, 1]");
        let easy = 0;
        let hard = 0;
        r.success.forEach((ok, i) => {
          assert.ok(r.distance[i]! <= eps + DISTANCE_TOLERANCE, `sample ${i}: proposal at ${r.distance[i]} outside the budget ${eps}`);
          if (truth[i]! <= 0.9 * eps) {
            easy++;
            assert.ok(ok, `sample ${i}: true distance ${truth[i]} <= 0.9·${eps} but not beaten`);
          }
          if (truth[i]! > eps + DISTANCE_TOLERANCE) {
            hard++;
            assert.ok(!ok, `sample ${i}: true distance ${truth[i]} > ${eps} but counted as beaten`);
          }
        });
        assert.ok(easy >= 30 && hard >= 30, `both kinds of samples present (${easy} easy, ${hard} hard)`);
        m.model.dispose();
        s.x.dispose();
        s.y.dispose();
      });
    }
  }
});

describe("L0 attacks", () => {
  let easy: Linear;
  let s: Samples;
  let greedy: number[];
  before(() => {
    easy = sparseLinear(5, 6, 1.8, 31);
    s = samples(easy, 60, 9, 0.4);
    greedy = s.xs.map((x, i) => greedyL0(easy, x, s.labels[i]!));
    // Samples needing 1, 2, 3 and more pixels are all there.
    for (const k of [1, 2, 3, 4]) assert.ok(greedy.filter((g) => (k < 4 ? g === k : g >= k)).length >= 3, `samples needing ${k} pixels`);
  });

  test("pgd-l0 changes at most `budget` pixels, stays in the box, and beats the easy samples", async () => {
    for (const budget of [1, 2, 3]) {
      const r = await attackOnce(pgdL0(), easy, s, 2, budget);
      assert.ok(r.inBox, "proposals inside [0, 1]");
      r.success.forEach((ok, i) => {
        assert.ok(r.distance[i]! <= budget, `budget ${budget}, sample ${i}: ${r.distance[i]} pixels changed`);
        if (greedy[i]! <= budget) assert.ok(ok, `budget ${budget}, sample ${i}: beatable with ${greedy[i]} pixels but not beaten`);
        if (greedy[i]! > budget) assert.ok(!ok, `budget ${budget}, sample ${i}: needs ${greedy[i]} pixels, beaten with ${r.distance[i]}`);
      });
    }
  });

  test("fmn-l0 beats every sample with no more pixels than the greedy bound", async () => {
    const r = await attackOnce(fmn("l0"), easy, s, 2);
    assert.ok(r.inBox, "proposals inside [0, 1]");
    r.success.forEach((ok, i) => {
      assert.ok(ok, `sample ${i}: not beaten`);
      assert.ok(r.distance[i]! <= greedy[i]!, `sample ${i}: ${r.distance[i]} pixels, greedy needs ${greedy[i]}`);
    });
  });

  for (const classes of [2, 5]) {
    test(`dense ${classes}-class linear model: fmn-l0 finds the exact minimum pixel count, pgd-l0 beats what the budget allows`, async () => {
      // Larger class offsets, so several pixels are needed (the greedy count is exact here).
      const m = randomLinear(classes, 41, 8);
      const t = samples(m, 60, 13, 0.3);
      const g = t.xs.map((x, i) => greedyL0(m, x, t.labels[i]!));
      const r = await attackOnce(fmn("l0"), m, t, 3);
      assert.ok(r.inBox);
      let exact = 0;
      r.success.forEach((ok, i) => {
        assert.ok(ok, `sample ${i}: not beaten`);
        // Fewer pixels than the exact minimum would be a bug.
        assert.ok(r.distance[i]! >= g[i]!, `sample ${i}: ${r.distance[i]} pixels < exact minimum ${g[i]}`);
        if (r.distance[i]! <= g[i]!) exact++;
      });
      assert.ok(exact >= 0.95 * g.length, `fmn-l0 matched the greedy count on only ${exact}/${g.length}`);
      const budget = quantile(g, 0.5);
      const p = await attackOnce(pgdL0(), m, t, 3, budget);
      assert.ok(p.inBox);
      let easyCount = 0;
      let beaten = 0;
      p.distance.forEach((d, i) => {
        assert.ok(d <= budget, `sample ${i}: ${d} pixels > ${budget}`);
        if (g[i]! <= budget) {
          easyCount++;
          if (p.success[i]) beaten++;
        } else assert.ok(!p.success[i], `sample ${i}: needs ${g[i]} pixels, beaten with ${d}`);
      });
      assert.ok(beaten >= 0.95 * easyCount, `pgd-l0 beat ${beaten}/${easyCount} samples that ${budget} pixels can beat`);
      m.model.dispose();
      t.x.dispose();
      t.y.dispose();
    });
  }
});

describe("determinism, box and memory", () => {
  // Large budgets and inputs with many pixels at exactly 0 or 1, so the box is active.
  const cases: Array<{ make: () => Attack; budget?: number; norm: Norm }> = [
    { make: () => pgdLinf({ restarts: 2 }), budget: 0.3, norm: "linf" },
    { make: () => pgdL2({ restarts: 2 }), budget: 2, norm: "l2" },
    { make: () => pgdL0({ restarts: 2 }), budget: 3, norm: "l0" },
    { make: () => fmn("linf"), norm: "linf" },
    { make: () => fmn("l2"), norm: "l2" },
    { make: () => fmn("l0"), norm: "l0" },
  ];
  for (const c of cases) {
    test(`${c.make().name}: the same seed gives identical proposals, all inside [0, 1]; no tensors leak`, async () => {
      const m = randomLinear(5, 51, 30);
      const s = samples(m, 24, 17, 0.5, 0.4);
      const a = await attackOnce(c.make(), m, s, 99, c.budget);
      const b = await attackOnce(c.make(), m, s, 99, c.budget);
      assert.ok(a.inBox && b.inBox, "inside [0, 1]");
      assert.deepEqual(b.adv, a.adv, "same seed, same proposals");
      if (c.budget !== undefined) {
        const limit = c.norm === "l0" ? c.budget : c.budget + DISTANCE_TOLERANCE;
        a.distance.forEach((d, i) => assert.ok(d <= limit, `sample ${i}: distance ${d} > budget ${c.budget}`));
        assert.ok(a.success.some(Boolean), "the budget is large enough to beat some samples");
      } else assert.ok(a.success.every(Boolean), "unbounded: every sample beaten");
      // A second batch: memory stays flat across batches.
      const before = tf.memory().numTensors;
      await attackOnce(c.make(), m, s, 100, c.budget);
      assert.equal(tf.memory().numTensors, before);
      m.model.dispose();
      s.x.dispose();
      s.y.dispose();
    });
  }

  test("PGD random starts depend on the seed", async () => {
    const m = randomLinear(5, 61);
    const s = samples(m, 16, 19);
    // One small step: the proposals are (mostly) the random starts.
    const a = await attackOnce(pgdLinf({ steps: 1, relativeStepSize: 0.01 }), m, s, 1, 0.001);
    const b = await attackOnce(pgdLinf({ steps: 1, relativeStepSize: 0.01 }), m, s, 2, 0.001);
    assert.notDeepEqual(a.adv, b.adv);
    m.model.dispose();
    s.x.dispose();
    s.y.dispose();
  });

  test("attack names, norms and recorded parameters", () => {
    assert.equal(pgdLinf().name, "pgd-linf");
    assert.equal(pgdL2().name, "pgd-l2");
    assert.equal(pgdL0().name, "pgd-l0");
    for (const n of ["l0", "l2", "linf"] as const) {
      const a = fmn(n);
      assert.equal(a.name, `fmn-${n}`);
      assert.equal(a.norm, n);
      assert.equal(a.kind, "minimization");
    }
    const p = pgdLinf({ steps: 20, stepSize: 0.01, loss: "ce", earlyStop: false });
    assert.deepEqual(
      { steps: p.params.steps, stepSize: p.params.stepSize, loss: p.params.loss, restarts: p.params.restarts, earlyStop: p.params.earlyStop },
      { steps: 20, stepSize: 0.01, loss: "ce", restarts: 1, earlyStop: false },
    );
    assert.equal(pgdL2().params.relativeStepSize, 2.5 / 40);
  });
});
