// Attacks that cannot silently fail (issue 17, item 1):
//   - the dataset-seeded minimization attack gives every sample a finite distance that is never
//     below the analytic minimum (linear models, L2 / L∞ / L0), and so does the greedy L0 attack;
//   - on a degenerate model whose margin gradient is exactly 0 (the true class and the best other
//     class have no input gradient, as when a pruned classifier column leaves a class bias-only),
//     margin PGD / FMN stall and the old white-box plan leaves samples unbeaten at the unbounded
//     budget (the "unconstrained failure" check fails), while the cross-entropy attacks of the
//     new default plan beat every sample there and the check passes.
// Distances and successes are always measured by verify(), never taken from an attack.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { mulberry32 } from "../../src/engine/random.js";
import { verify } from "../../src/engine/attacks/verify.js";
import type { Attack, GradientAccess, Norm } from "../../src/engine/attacks/types.js";
import { fmn } from "../../src/engine/attacks/fmn.js";
import { pgdL2, pgdLinf } from "../../src/engine/attacks/pgd.js";
import { pgdL0 } from "../../src/engine/attacks/sparse-l0.js";
import { datasetSeed } from "../../src/engine/attacks/dataset-seed.js";
import { greedyL0 } from "../../src/engine/attacks/greedy-l0.js";
import { defaultWhiteBox } from "../../src/engine/evaluation/attack-plan.js";
import { evaluateRobustness, type SampleSet } from "../../src/engine/evaluation/robustness.js";
import { unboundedBudget } from "../../src/engine/evaluation/budgets.js";
import { argmax, D, H, linearModel, logits, W, type Linear } from "../helpers/linear-attack-models.js";

await initBackend();

/** Minimal L2 / L∞ distance to another class ignoring the box (the box can only make it larger). */
function analyticLp(m: Linear, x: Float64Array, y: number, norm: "l2" | "linf"): number {
  const z = logits(m, x);
  let best = Infinity;
  for (let j = 0; j < m.classes; j++) {
    if (j === y) continue;
    let n = 0;
    for (let i = 0; i < D; i++) {
      const c = m.w[i]![y]! - m.w[i]![j]!;
      n += norm === "l2" ? c * c : Math.abs(c);
    }
    best = Math.min(best, (z[y]! - z[j]!) / (norm === "l2" ? Math.sqrt(n) : n));
  }
  return best;
}

/** Fewest features (each moved anywhere in [0, 1]) that reach another class: exact for a linear model (greedy per class). */
function analyticL0(m: Linear, x: Float64Array, y: number): number {
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
    // Reaching the tie is the least any attack needs (argmax ties may go either way).
    while (need > 0 && count < D) need -= gains[count++]!;
    if (need <= 0) best = Math.min(best, count);
  }
  return best;
}

/** n images (pixels uniform in [0, 1], a share exactly 0 or 1), labelled by the model. */
function images(m: Linear, n: number, seed: number): { flat: Float32Array; xs: Float64Array[]; labels: number[] } {
  const rng = mulberry32(seed);
  const flat = Float32Array.from({ length: n * D }, () => (rng() < 0.3 ? Math.round(rng()) : rng()));
  const xs = Array.from({ length: n }, (_, s) => Float64Array.from(flat.subarray(s * D, (s + 1) * D)));
  return { flat, xs, labels: xs.map((x) => argmax(logits(m, x))) };
}

/** Runs a minimization or fixed-budget attack once with `pool` as the attacker's data and verifies the proposals. */
async function attackOnce(attack: Attack, model: LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, pool?: tf.Tensor4D, budget?: number) {
  const access: GradientAccess = { kind: "gradient", model, ...(pool ? { pool } : {}) };
  const batch = { x, y, seed: 3 };
  const before = tf.memory().numTensors;
  const run = attack.run as (a: GradientAccess, b: typeof batch, e?: number) => Promise<tf.Tensor4D>;
  const adv = await run.call(attack, access, batch, budget);
  const v = verify((t) => model.predict(t) as tf.Tensor2D, x, y, adv, attack.norm, budget);
  adv.dispose();
  assert.equal(tf.memory().numTensors, before, `${attack.name}: tensors left behind`);
  return v;
}

describe("dataset-seeded and greedy distances on linear models are finite and never below the analytic minimum", () => {
  const rng = mulberry32(11);
  const classes = 5;
  const w = Array.from({ length: D }, () => Float64Array.from({ length: classes }, () => rng() * 2 - 1));
  const b = Float64Array.from({ length: classes }, (_, k) => -0.5 * w.reduce((s, row) => s + row[k]!, 0));
  const m = linearModel(w, b);
  const data = images(m, 60, 5);
  const x = tf.tensor4d(data.flat, [60, H, W, 1]);
  const y = tf.tensor1d(data.labels, "int32");
  // The attacked batch is the first 20 images; the pool is all 60 (the evaluation's samples).
  const n = 20;
  const xb = tf.slice(x, [0, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D;
  const yb = tf.slice(y, [0], [n]) as tf.Tensor1D;
  test("the pool holds every class the samples have, and more than one", () => assert.ok(new Set(data.labels).size >= 3));

  for (const norm of ["l2", "linf", "l0"] as const) {
    test(`dataset-seed ${norm}`, async () => {
      const v = await attackOnce(datasetSeed(norm), m.model, xb, yb, x);
      for (let i = 0; i < n; i++) {
        assert.ok(v.success[i], `sample ${i}: not beaten`);
        const d = v.distance[i]!;
        assert.ok(Number.isFinite(d));
        const lower = norm === "l0" ? analyticL0(m, data.xs[i]!, data.labels[i]!) : analyticLp(m, data.xs[i]!, data.labels[i]!, norm);
        assert.ok(d >= lower * (1 - 1e-4) - 1e-6, `sample ${i}: ${d} below the analytic minimum ${lower}`);
        // It is a real search, not the pool image itself: never farther than the nearest pool image of another class.
        let nearest = Infinity;
        for (let j = 0; j < 60; j++) {
          if (data.labels[j] === data.labels[i]) continue;
          let dj = 0;
          for (let f = 0; f < D; f++) {
            const diff = Math.abs(data.xs[j]![f]! - data.xs[i]![f]!);
            dj = norm === "l2" ? dj + diff * diff : norm === "linf" ? Math.max(dj, diff) : dj + (diff > 1e-7 ? 1 : 0);
          }
          nearest = Math.min(nearest, norm === "l2" ? Math.sqrt(dj) : dj);
        }
        assert.ok(d <= nearest * (1 + 1e-5) + 1e-6, `sample ${i}: ${d} farther than the nearest other-class pool image ${nearest}`);
      }
    });
  }

  test("dataset-seed without a pool searches from the batch's own images", async () => {
    const v = await attackOnce(datasetSeed("l2"), m.model, xb, yb);
    assert.ok(v.success.every(Boolean));
  });

  test("greedy-l0 (cross-entropy) beats every sample with a count >= the exact minimum, and close to it", async () => {
    const v = await attackOnce(greedyL0(), m.model, xb, yb);
    const ratios: number[] = [];
    for (let i = 0; i < n; i++) {
      assert.ok(v.success[i], `sample ${i}: not beaten`);
      const exact = analyticL0(m, data.xs[i]!, data.labels[i]!);
      assert.ok(v.distance[i]! >= exact, `sample ${i}: ${v.distance[i]} < exact ${exact}`);
      ratios.push(v.distance[i]! / exact);
    }
    const mean = ratios.reduce((s, r) => s + r, 0) / n;
    assert.ok(mean <= 2, `greedy-l0 needs ${mean.toFixed(2)}x the minimal count on average`);
  });
});

// Classes 0 and 1 have zero classifier columns (bias 1 and 0.5), class 2 reads the image: +1 on
// the first 8 features, −0.1 on the rest, bias −5.5. Random images score ≈ −4 for class 2, so
// they are all class 0 with class 1 the runner-up: the margin z_1 − z_0 is constant (gradient
// exactly 0), while cross-entropy still feels class 2 (bright first features, dark rest → class 2).
// The pool (the evaluated samples) holds no other class, so the dataset seed cannot help either.
describe("a model with zero classifier columns: margin attacks stall, cross-entropy ones do not", () => {
  const w = Array.from({ length: D }, (_, i) => Float64Array.from([0, 0, i < 8 ? 1 : -0.1]));
  const m = linearModel(w, Float64Array.from([1, 0.5, -5.5]));
  const n = 24;
  const data = images(m, n, 21);
  const samples: SampleSet = { x: data.flat, labels: data.labels, indices: data.labels.map((_, i) => i), shape: [H, W, 1] };
  const x = tf.tensor4d(data.flat, [n, H, W, 1]);
  const y = tf.tensor1d(data.labels, "int32");

  test("every sample is class 0, its margin gradient is exactly 0 and its CE gradient is not", () => {
    assert.ok(data.labels.every((l) => l === 0));
    const { margin, ce } = tf.tidy(() => {
      const g = (kind: "margin" | "ce") =>
        tf.grad((xi: tf.Tensor) => {
          const z = m.model.apply(xi) as tf.Tensor2D;
          const t = tf.oneHot(y, 3);
          const trueZ = tf.sum(tf.mul(z, t), 1);
          const loss = kind === "ce" ? tf.sub(tf.logSumExp(z, 1), trueZ) : tf.sub(tf.max(tf.sub(z, tf.mul(t, 1e9)), 1), trueZ);
          return tf.sum(loss);
        })(x);
      return { margin: tf.max(tf.abs(g("margin"))).dataSync()[0]!, ce: tf.min(tf.max(tf.abs(tf.reshape(g("ce"), [n, D])), 1)).dataSync()[0]! };
    });
    assert.equal(margin, 0);
    assert.ok(ce > 0);
  });

  for (const norm of ["linf", "l2", "l0"] as const satisfies readonly Norm[]) {
    const huge = unboundedBudget(norm, D);
    test(`${norm}: margin PGD and FMN beat (almost) nothing even unbounded; the CE variants beat every sample`, async () => {
      const pgd = norm === "linf" ? pgdLinf : norm === "l2" ? pgdL2 : pgdL0;
      const marginPgd = await attackOnce(pgd(), m.model, x, y, undefined, huge);
      // targets: 0 as in the shipped grid (a targeted FMN run towards class 2 would ascend z_2 − z_0, which moves).
      const marginFmn = await attackOnce(fmn(norm, { targets: 0 }), m.model, x, y);
      const cePgd = await attackOnce(pgd({ loss: "ce" }), m.model, x, y, undefined, huge);
      const beaten = (v: { success: boolean[] }) => v.success.filter(Boolean).length;
      assert.ok(beaten(marginPgd) < n / 2, `margin PGD beat ${beaten(marginPgd)} of ${n}`);
      assert.equal(beaten(marginFmn), 0, "margin FMN moves nowhere");
      assert.equal(beaten(cePgd), n, `CE PGD beat ${beaten(cePgd)} of ${n}`);
      if (norm !== "l0") assert.equal(beaten(await attackOnce(fmn(norm, { loss: "ce", targets: 0 }), m.model, x, y)), n, "FMN-CE");
      else assert.equal(beaten(await attackOnce(greedyL0(), m.model, x, y)), n, "greedy-l0");
      assert.equal(beaten(await attackOnce(datasetSeed(norm), m.model, x, y, x)), 0, "no pool image of another class: the seed alone cannot help");
    });

    test(`${norm}: the old white-box plan (shipped grid settings) fails the unbounded check, the new one passes it with every sample beaten`, async () => {
      const budgets = norm === "l0" ? [0, 8, 64] : norm === "l2" ? [0, 1, 8] : [0, 0.1, 1];
      const base = { target: m.model, samples, norm, knowledge: "white-box" as const, budgets, batchSize: n, seed: 1 };
      // The shipped matrix's white-box plan: margin PGD (40 steps, 2 restarts) + untargeted margin FMN.
      const pgdOld = { steps: 40, restarts: 2 };
      const oldPlan = [norm === "linf" ? pgdLinf(pgdOld) : norm === "l2" ? pgdL2(pgdOld) : pgdL0(pgdOld), fmn(norm, { targets: 0 })];
      const old = await evaluateRobustness({ ...base, attacks: { "white-box": oldPlan, "black-box": [] } });
      assert.equal(old.sanity.unbounded.checked, true);
      assert.equal(old.sanity.unbounded.pass, false, `old plan: unbounded success ${old.sanity.unbounded.successRate}`);
      const before = tf.memory().numTensors;
      const plan = defaultWhiteBox(norm, { pgd: pgdOld, fmn: { targets: 0 }, l0Queries: 300 });
      const now = await evaluateRobustness({ ...base, attacks: { "white-box": plan, "black-box": [] } });
      assert.equal(tf.memory().numTensors, before, "no tensors left behind");
      assert.deepEqual(
        now.perLevel[0]!.attacks,
        [
          `dataset-seed-${norm}`,
          `fmn-${norm}`,
          `fmn-${norm}-ce`,
          ...(norm === "l0" ? ["greedy-l0"] : norm === "l2" ? ["cw-l2"] : []),
          `pgd-${norm}`,
          `pgd-${norm}-ce`,
          ...(norm === "l0" ? ["sparse-rs-wb"] : [`apgd-ce-${norm}`, `apgd-dlr-t-${norm}`]),
        ],
      );
      // The default engine plan has the same attacks.
      assert.deepEqual(
        defaultWhiteBox(norm).map((a) => a.name),
        plan.map((a) => a.name),
      );
      assert.equal(now.sanity.unbounded.pass, true);
      assert.equal(now.sanity.unbounded.beaten, n);
      assert.ok(now.distances.every((d) => Number.isFinite(d) && d > 0));
      // Every distance is a verified one, and the curve reaches 0 at the largest budget.
      assert.equal(now.curve.at(-1)!.robust, 0);
    });
  }
});
