// Issue 19, item 2: the adversarial share r. Accuracy over a stream in which a share r of the
// inputs is adversarial is (1 − r)·clean + r·robust (Merkle et al. 2021); candidates are ranked by
// its lower 95 % bound. Known answers on plain data: share 0 ranks by clean accuracy, share 1 is
// exactly today's answer, and on a crafted matrix the winner changes at a share computed by hand
// from the two candidates' lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { AdvisorInputError, gate, prepareSnapshot, recommend, type GateRequest, type MatrixSnapshot, type Recommendation, type Scenario } from "../../src/advisor/index.js";
import { validateGateRequest, validateScenario } from "../../src/advisor/validate.js";
import { compareAtShare, twoSidedNormalP, upperEnvelope } from "../../src/advisor/share.js";
import { fmtShare } from "../../src/advisor/format.js";
import { mulberry32 } from "../../src/engine/random.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { shippedMatrixPath } from "../../src/paths.js";
import { aggregateAccuracy, wilson } from "../../src/vocabulary.js";
import { tempDir } from "../matrix/fixtures.js";
import { candidate, evaluation, mainMatrix, runs } from "./fixtures.js";

const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/**
 * Two candidates at L∞ ε = 0.03 (a grid budget), 1,000 evaluated samples each, clean accuracy on
 * 10,000 test images:
 *   A = dense,               clean 0.9 (9,000), robust 0.2 (200 of 1,000)
 *   B = global-magnitude 4×, clean 0.6 (6,000), robust 0.5 (500 of 1,000)
 * Point estimates (1 − r)·clean + r·robust: A 0.9 − 0.7r, B 0.6 − 0.1r: they cross at r = 0.3 / 0.6 = 0.5.
 */
function crossingMatrix(): MatrixSnapshot {
  const ev = (id: string, d: Float32Array) => evaluation({ id, distances: d, budgets: [0.01, 0.03, 0.1] });
  return {
    version: 3,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 60000, clean: [9000, 10000], evaluations: [ev("A", runs([[0, 100], [0.02, 700], [Infinity, 200]]))] }),
      candidate({ strategy: "global-magnitude", rate: 4, nonZeroParams: 15000, clean: [6000, 10000], evaluations: [ev("B", runs([[0, 400], [0.02, 100], [Infinity, 500]]))] }),
    ],
  };
}
const CROSS: Scenario = { norm: "linf", budget: 0.03, knowledge: "white-box" };

/** The share where the two lower-bound lines cross, by hand from the four Wilson bounds. */
function lowerBoundCrossing(): number {
  const a0 = wilson(9000, 10000).low;
  const a1 = wilson(200, 1000).low;
  const b0 = wilson(6000, 10000).low;
  const b1 = wilson(500, 1000).low;
  // a0 + (a1 − a0)·r = b0 + (b1 − b0)·r
  return (a0 - b0) / (a0 - b0 + (b1 - a1));
}

const winner = (r: Recommendation): string => `${r.recommendation!.strategy}@${r.recommendation!.rate}`;

test("the aggregate and its interval: (1 − r)·clean + r·robust, bounds combined linearly; share 1 and 0 are the parts themselves", () => {
  const clean = { value: 0.9, interval: wilson(9000, 10000) };
  const robust = { value: 0.2, interval: wilson(200, 1000) };
  const one = aggregateAccuracy(clean, robust, 1);
  assert.equal(one.value, 0.2);
  assert.deepEqual(one.interval, robust.interval);
  const zero = aggregateAccuracy(clean, robust, 0);
  assert.equal(zero.value, 0.9);
  assert.deepEqual(zero.interval, clean.interval);
  const mid = aggregateAccuracy(clean, robust, 0.3);
  assert.ok(Math.abs(mid.value - 0.69) < 1e-12);
  assert.ok(Math.abs(mid.interval.low - (0.7 * clean.interval.low + 0.3 * robust.interval.low)) < 1e-12);
  assert.ok(Math.abs(mid.interval.high - (0.7 * clean.interval.high + 0.3 * robust.interval.high)) < 1e-12);
  assert.ok(mid.interval.low < mid.value && mid.value < mid.interval.high);
  assert.throws(() => aggregateAccuracy(clean, robust, 1.5), RangeError);
});

test("the aggregate's lower bound covers the true aggregate at least 95 % of the time (seeded simulation, robust samples a subset of the clean ones)", () => {
  // Per image: correct with probability C; robust (only if correct) with probability R / C.
  // Clean accuracy on 2,000 images, robust accuracy on the first 300 of them — the shipped
  // matrix's layout (whole test split vs evaluated subset) in small.
  const rng = mulberry32(19);
  const C = 0.85;
  const R = 0.4;
  const nClean = 2000;
  const nRobust = 300;
  const trials = 2000;
  for (const share of [0.2, 0.5, 0.8]) {
    const truth = (1 - share) * C + share * R;
    let below = 0;
    let above = 0;
    for (let t = 0; t < trials; t++) {
      let correct = 0;
      let robust = 0;
      for (let i = 0; i < nClean; i++) {
        const ok = rng() < C;
        if (ok) correct++;
        if (i < nRobust && ok && rng() < R / C) robust++;
      }
      const agg = aggregateAccuracy({ value: correct / nClean, interval: wilson(correct, nClean) }, { value: robust / nRobust, interval: wilson(robust, nRobust) }, share);
      if (truth < agg.interval.low) below++;
      if (truth > agg.interval.high) above++;
    }
    assert.ok(below / trials <= 0.05, `share ${share}: the lower bound missed ${below} of ${trials}`);
    assert.ok(above / trials <= 0.05, `share ${share}: the upper bound missed ${above} of ${trials}`);
  }
});

test("share 0 ranks by clean accuracy (main fixture: clean 910, 905, 900, 880, 850 of 1,000)", () => {
  const r = recommend(mainMatrix(), { norm: "linf", budget: 0.1, knowledge: "white-box", adversarialShare: 0 });
  assert.equal(r.status, "ok");
  assert.deepEqual(
    r.alternatives.map((a) => `${a.candidate.strategy}@${a.candidate.rate}`),
    ["dense@1", "global-magnitude@4", "structured-l1@2", "layer-magnitude@8", "random@4"],
  );
  for (const a of r.alternatives) {
    assert.equal(a.score, wilson(a.candidate.cleanAccuracy.correct, a.candidate.cleanAccuracy.n).low);
    assert.deepEqual(a.candidate.aggregatedAccuracy, { share: 0, value: a.candidate.cleanAccuracy.value, interval: a.candidate.cleanAccuracy.interval });
  }
  // At share 1 the same matrix ranks by robust accuracy: global-magnitude 4× (120 of 200) first.
  assert.equal(winner(recommend(mainMatrix(), { norm: "linf", budget: 0.1, knowledge: "white-box" })), "global-magnitude@4");
});

test("crafted matrix: the winner changes where the lower-bound lines cross, and the rationale names that share and the point estimates' 0.5", () => {
  const m = crossingMatrix();
  const cross = lowerBoundCrossing();
  assert.ok(Math.abs(cross - 0.5) < 0.02, `the bounds cross near the point estimates' 0.5: ${cross}`);
  assert.equal(winner(recommend(m, { ...CROSS, adversarialShare: 0 })), "dense@1");
  assert.equal(winner(recommend(m, { ...CROSS, adversarialShare: 0.3 })), "dense@1");
  assert.equal(winner(recommend(m, { ...CROSS, adversarialShare: cross - 0.001 })), "dense@1");
  assert.equal(winner(recommend(m, { ...CROSS, adversarialShare: cross + 0.001 })), "global-magnitude@4");
  assert.equal(winner(recommend(m, { ...CROSS, adversarialShare: 0.7 })), "global-magnitude@4");
  assert.equal(winner(recommend(m, CROSS)), "global-magnitude@4");

  const r = recommend(m, { ...CROSS, adversarialShare: 0.3 });
  // The aggregate of the winner, by hand: 0.7·0.9 + 0.3·0.2 = 0.69.
  const agg = r.recommendation!.aggregatedAccuracy!;
  assert.equal(agg.share, 0.3);
  assert.ok(Math.abs(agg.value - 0.69) < 1e-12);
  assert.ok(Math.abs(agg.interval.low - (0.7 * wilson(9000, 10000).low + 0.3 * wilson(200, 1000).low)) < 1e-12);
  assert.equal(r.recommendation!.score, agg.interval.low);
  // The sweep: dense up to the crossing, global-magnitude after it.
  const sweep = r.shareSweep!;
  assert.deepEqual(sweep.map((g) => g.candidate.strategy), ["dense", "global-magnitude"]);
  assert.equal(sweep[0]!.from, 0);
  assert.ok(Math.abs(sweep[0]!.to - cross) < 1e-12 && sweep[1]!.from === sweep[0]!.to && sweep[1]!.to === 1);
  assert.ok(r.rationale.includes(`the dense model for r ≤ ${fmtShare(cross)} (the recommendation at r = 0.3)`), r.rationale);
  assert.ok(r.rationale.includes(`global-magnitude at 4× for r ≥ ${fmtShare(cross)}`), r.rationale);
  assert.match(r.rationale, /their point estimates alone cross at r = 0\.5\./);
  assert.match(r.rationale, /on inputs of which a share r = 0\.3 is adversarial, the dense model .* highest guaranteed aggregated accuracy/);
  // The lead is tested on the aggregate: 0.69 vs 0.57, clean 0.9 vs 0.6 on 10,000 images — significant.
  assert.equal(r.comparison!.method, "aggregate-normal");
  assert.equal(r.comparison!.share, 0.3);
  assert.ok(Math.abs(r.comparison!.difference - 0.12) < 1e-12);
  assert.equal(r.comparison!.significant, true);
  // Near the crossing the aggregates are equal within noise: not significant, and the answer says so.
  const near = recommend(m, { ...CROSS, adversarialShare: 0.49 });
  assert.equal(near.comparison!.significant, false);
  assert.ok(near.warnings.some((w) => w.code === "margin-not-significant"));
});

test("the aggregated test: its standard error bounds the weighted one, p from the normal tail", () => {
  assert.ok(Math.abs(twoSidedNormalP(1.959963984540054) - 0.05) < 1e-6);
  assert.ok(Math.abs(twoSidedNormalP(3) - 0.0026997960632601) < 1e-7);
  assert.equal(twoSidedNormalP(0), 1);
  const ref = { modelId: "m", architecture: "a", dataset: "d", strategy: "dense" as const, rate: 1 };
  const robust = {
    a: ref,
    b: ref,
    paired: true,
    method: "mcnemar-exact" as const,
    aRobust: 60,
    aN: 100,
    bRobust: 50,
    bN: 100,
    discordant: { aOnly: 14, bOnly: 4 },
    difference: 0.1,
    pValue: 0.03,
    significant: true,
    text: "",
  };
  const c = compareAtShare(robust, { label: "a", clean: { correct: 800, n: 1000 } }, { label: "b", clean: { correct: 800, n: 1000 } }, 0.5);
  // Equal clean accuracy: D = 0.5·0.1; se = 0.5·sqrt(2·0.16/1000) + 0.5·sqrt(18 − 100/100)/100.
  const se = 0.5 * Math.sqrt((2 * 0.16) / 1000) + (0.5 * Math.sqrt(18 - 1)) / 100;
  assert.ok(Math.abs(c.difference - 0.05) < 1e-12);
  assert.ok(Math.abs(c.pValue - twoSidedNormalP(0.05 / se)) < 1e-12);
  assert.equal(c.method, "aggregate-normal");
  assert.deepEqual(c.discordant, robust.discordant);
});

test("upperEnvelope: exact crossings, one range per line, ties to the steeper line then the tie-break", () => {
  // y = 0.9 − 0.7r, 0.6 − 0.1r, 0.3 + 0.3r: the first two cross at 0.5, the last never leads.
  const env = upperEnvelope(
    [
      { item: "A", atZero: 0.9, atOne: 0.2 },
      { item: "B", atZero: 0.6, atOne: 0.5 },
      { item: "C", atZero: 0.3, atOne: 0.6 },
    ],
    (x, y) => x.localeCompare(y),
  );
  assert.deepEqual(env.map((g) => g.item), ["A", "B", "C"]);
  assert.ok(Math.abs(env[0]!.to - 0.5) < 1e-12);
  // B and C cross where 0.6 − 0.1r = 0.3 + 0.3r: r = 0.75.
  assert.ok(Math.abs(env[1]!.to - 0.75) < 1e-12);
  assert.deepEqual(upperEnvelope([{ item: "X", atZero: 0.5, atOne: 0.5 }], () => 0), [{ from: 0, to: 1, item: "X" }]);
  // Identical lines: the tie-break decides everywhere.
  assert.deepEqual(
    upperEnvelope(
      [
        { item: "Y", atZero: 0.5, atOne: 0.4 },
        { item: "X", atZero: 0.5, atOne: 0.4 },
      ],
      (x, y) => x.localeCompare(y),
    ).map((g) => g.item),
    ["X"],
  );
  // Equal at r = 0: the steeper line leads from the start.
  assert.deepEqual(
    upperEnvelope(
      [
        { item: "flat", atZero: 0.5, atOne: 0.1 },
        { item: "steep", atZero: 0.5, atOne: 0.4 },
      ],
      (x, y) => x.localeCompare(y),
    ).map((g) => g.item),
    ["steep"],
  );
  assert.deepEqual(upperEnvelope([], () => 0), []);
});

test("validation: adversarialShare < 0, > 1 or not a number is an input error naming the field; 1 is the default and dropped", () => {
  const base = { norm: "linf", budget: 0.1, knowledge: "white-box" };
  for (const bad of [-0.1, 1.5, "0.5", Number.NaN, Number.POSITIVE_INFINITY, null, true]) {
    assert.throws(
      () => validateScenario({ ...base, adversarialShare: bad }),
      (e: unknown) => e instanceof AdvisorInputError && e.field === "adversarialShare" && /adversarialShare/.test(e.message),
      String(bad),
    );
  }
  assert.throws(
    () => validateGateRequest({ candidate: { strategy: "dense", rate: 1 }, scenario: { ...base, adversarialShare: 2 }, thresholds: { minRobustAccuracy: 0.1 } }),
    (e: unknown) => e instanceof AdvisorInputError && e.field === "scenario.adversarialShare",
  );
  assert.throws(
    () => validateGateRequest({ candidate: { strategy: "dense", rate: 1 }, scenario: base, thresholds: { minAggregatedAccuracy: 1.2 } }),
    (e: unknown) => e instanceof AdvisorInputError && e.field === "thresholds.minAggregatedAccuracy",
  );
  assert.deepEqual(validateScenario({ ...base, adversarialShare: 1 }), base);
  assert.deepEqual(validateScenario({ ...base, adversarialShare: 0 }), { ...base, adversarialShare: 0 });
});

test("gate with a share: minAggregatedAccuracy on the aggregate's lower bound, minRobustAccuracy unchanged, at share 1 the two agree", () => {
  const m = crossingMatrix();
  const req = (thresholds: GateRequest["thresholds"], adversarialShare?: number): GateRequest => ({
    candidate: { strategy: "dense", rate: 1 },
    scenario: { ...CROSS, ...(adversarialShare === undefined ? {} : { adversarialShare }) },
    thresholds,
  });
  const low03 = 0.7 * wilson(9000, 10000).low + 0.3 * wilson(200, 1000).low; // ≈ 0.675
  const pass = gate(m, req({ minAggregatedAccuracy: 0.66, minRobustAccuracy: 0.15 }, 0.3));
  assert.equal(pass.pass, true, pass.reasons.join("\n"));
  assert.deepEqual(pass.checks.map((c) => [c.check, c.field, c.pass]), [
    ["evidence", "scenario.knowledge", true],
    ["minRobustAccuracy", "thresholds.minRobustAccuracy", true],
    ["minAggregatedAccuracy", "thresholds.minAggregatedAccuracy", true],
  ]);
  assert.ok(Math.abs(pass.candidate.score! - low03) < 1e-12);
  assert.match(pass.reasons[2]!, /aggregated accuracy at adversarial share 0\.3, 0\.7·clean \+ 0\.3·robust, is 67\.\d %, meeting minAggregatedAccuracy 66\.0 % \(measured 69\.0 % from clean 90\.0 % of 10,000 images and robust 20\.0 %, 200 of 1,000 samples\)/);
  // The robust threshold still reads the robust bound: 17.6 % < 20 % fails although the aggregate is 67 %.
  const robustFails = gate(m, req({ minAggregatedAccuracy: 0.66, minRobustAccuracy: 0.2 }, 0.3));
  assert.equal(robustFails.pass, false);
  assert.deepEqual(robustFails.checks.filter((c) => !c.pass).map((c) => c.check), ["minRobustAccuracy"]);
  const aggFails = gate(m, req({ minAggregatedAccuracy: 0.7 }, 0.3));
  assert.equal(aggFails.pass, false);
  assert.match(aggFails.reasons[0]!, /is 67\.\d %, below minAggregatedAccuracy 70\.0 %/);
  // At share 1 minAggregatedAccuracy is minRobustAccuracy.
  for (const t of [0.15, 0.2]) {
    const a = gate(m, req({ minAggregatedAccuracy: t }));
    const b = gate(m, req({ minRobustAccuracy: t }));
    assert.equal(a.pass, b.pass);
    assert.equal(a.candidate.score, wilson(200, 1000).low);
  }
  // A share does not change the verdict of a gate without minAggregatedAccuracy, only the score it shows.
  assert.equal(gate(m, req({ minRobustAccuracy: 0.15, maxDropVsDense: 0 }, 0.3)).pass, gate(m, req({ minRobustAccuracy: 0.15, maxDropVsDense: 0 })).pass);
});

// ── on the shipped matrix ──

let shipped: Promise<{ plain: MatrixSnapshot; prepared: MatrixSnapshot }> | null = null;
function shippedMatrix(t: Parameters<typeof tempDir>[0]): Promise<{ plain: MatrixSnapshot; prepared: MatrixSnapshot }> {
  shipped ??= (async () => {
    const dir = await tempDir(t, "advisor-share-");
    const file = path.join(dir, "m.sqlite");
    const store = await MatrixStore.open(file);
    try {
      await seedMatrix(store, shippedMatrixPath, file);
      return { plain: await store.snapshot(), prepared: prepareSnapshot(await store.snapshot()) };
    } finally {
      await store.close();
    }
  })();
  return shipped;
}

const SWEEP: Scenario[] = (["linf", "l2", "l0"] as const).flatMap((norm) =>
  (["white-box", "transfer", "black-box"] as const).flatMap((knowledge) =>
    [{ linf: 0.03, l2: 1, l0: 8 }[norm], { linf: 0.1, l2: 2, l0: 16 }[norm]].flatMap((budget) =>
      [{}, { architecture: "lenet5" }, { sizeLimit: { minCompression: 4 } }].map((extra): Scenario => ({ norm, budget, knowledge, ...extra })),
    ),
  ),
);

test("shipped matrix: share 1 answers exactly as no share (recommend and gate, plain and prepared snapshots)", async (t) => {
  const { plain, prepared } = await shippedMatrix(t);
  for (const m of [plain, prepared]) {
    for (const s of SWEEP) {
      assert.deepStrictEqual(wire(recommend(m, { ...s, adversarialShare: 1 })), wire(recommend(m, s)), JSON.stringify(s));
      if (s.architecture === "lenet5") {
        const request = (sc: Scenario): GateRequest => ({ candidate: { strategy: "global-magnitude", rate: 4 }, scenario: sc, thresholds: { minRobustAccuracy: 0.3, maxDropVsDense: 0.05 } });
        const verdict = (sc: Scenario): unknown => {
          try {
            return wire(gate(m, request(sc)));
          } catch (err) {
            return { error: String(err) };
          }
        };
        assert.deepStrictEqual(verdict({ ...s, adversarialShare: 1 }), verdict(s));
      }
    }
  }
});

test("shipped matrix: share 0 ranks the ranked candidates by clean accuracy; prepared and plain agree at every share", async (t) => {
  const { plain, prepared } = await shippedMatrix(t);
  let checked = 0;
  for (const s of SWEEP) {
    const r = recommend(prepared, { ...s, adversarialShare: 0 });
    if (r.status !== "ok") continue;
    // Every model of the shipped matrix measured clean accuracy on the same 10,000 images, so the
    // order of the clean lower bounds is the order of the clean accuracies.
    for (let i = 1; i < r.alternatives.length; i++) {
      const prev = r.alternatives[i - 1]!.candidate.cleanAccuracy;
      const cur = r.alternatives[i]!.candidate.cleanAccuracy;
      assert.equal(cur.n, 10000);
      assert.ok(prev.value >= cur.value, `${JSON.stringify(s)}: rank ${i} ${prev.value} before rank ${i + 1} ${cur.value}`);
    }
    checked++;
    for (const share of [0, 0.25, 0.5, 0.9]) assert.deepStrictEqual(wire(recommend(prepared, { ...s, adversarialShare: share })), wire(recommend(plain, { ...s, adversarialShare: share })));
  }
  assert.ok(checked > 20, `${checked} scenarios`);
});

test("shipped matrix: over shares the recommendation follows the sweep, and each range's candidate wins inside it", async (t) => {
  const { prepared } = await shippedMatrix(t);
  const s: Scenario = { norm: "linf", budget: 0.03, knowledge: "white-box", architecture: "lenet5" };
  const sweep = recommend(prepared, { ...s, adversarialShare: 0.5 }).shareSweep!;
  assert.ok(sweep.length >= 2, "on lenet5 at L∞ 0.03 the best candidate changes with the share");
  for (const g of sweep) {
    const mid = (g.from + g.to) / 2;
    const r = recommend(prepared, { ...s, adversarialShare: mid }, { alternatives: 1 });
    assert.equal(winner(r), `${g.candidate.strategy}@${g.candidate.rate}`, `share ${mid}`);
    // Every answer at a share below 1 carries the same sweep.
    assert.deepStrictEqual(r.shareSweep, sweep);
  }
});
