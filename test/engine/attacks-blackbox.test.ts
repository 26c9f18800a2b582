import { test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../../src/engine/backend.js";
import { tf } from "../../src/engine/tf.js";
import { syntheticSplits } from "../../src/engine/synthetic.js";
import { splitValidation } from "../../src/engine/data.js";
import { evaluate, train } from "../../src/engine/train.js";
import { pick, sparseRs, sparseRsSchedule } from "../../src/engine/attacks/sparse-rs.js";
import { mulberry32 } from "../../src/engine/random.js";
import { squareL2, squareLinf, squareSchedule } from "../../src/engine/attacks/square.js";
import { DISTANCE_TOLERANCE, distances, inBox, verify } from "../../src/engine/attacks/verify.js";
import type { FixedBudgetAttack, PredictFn, QueryAccess } from "../../src/engine/attacks/types.js";

await initBackend();
const S = 12;
const N = 60;
const data = syntheticSplits({ trainCount: 600, testCount: N, size: S, classes: 4, seed: 3 });
const { train: tr, validation } = splitValidation(data.train, 0.2, 1);
// A linear model: the easiest target there is.
const linear = tf.sequential({
  layers: [tf.layers.flatten({ inputShape: [S, S, 1] }), tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })],
});
await train(linear, tr, validation, { epochs: 5, seed: 1, batchSize: 32, learningRate: 0.01 });
const predict: PredictFn = (x) => linear.predict(x) as tf.Tensor2D;
const x = tf.tensor4d(data.test.images, [N, S, S, 1]);
const y = tf.tensor1d(data.test.labels, "int32");

/** Counts calls and rows of a predict function. */
function counting(): { access: (queryBudget: number) => QueryAccess; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    access: (queryBudget) => ({
      kind: "query",
      queryBudget,
      predict: (a) => {
        calls.push(a.shape[0]);
        return predict(a);
      },
    }),
  };
}

test("the linear model is accurate (the attacks have something to beat)", () => {
  assert.equal(evaluate(linear, data.test).accuracy, 1);
});

const cases: [FixedBudgetAttack<QueryAccess>, number][] = [
  [squareLinf(), 0.3],
  [squareL2(), 4],
  [sparseRs(), 20],
];
for (const [attack, budget] of cases) {
  test(`${attack.name} at ${budget}: proposals stay in the box and within budget, query budget respected, easy samples beaten`, async () => {
    const queryBudget = 200;
    const c = counting();
    const before = tf.memory().numTensors;
    const adv = await attack.run(c.access(queryBudget), { x, y, seed: 7 }, budget);
    assert.deepEqual(adv.shape, x.shape);
    assert.ok(inBox(adv).every(Boolean), "every proposal inside [0, 1]");
    const d = distances(x, adv, attack.norm);
    const limit = attack.norm === "l0" ? budget : budget + DISTANCE_TOLERANCE;
    for (const v of d) assert.ok(v <= limit, `distance ${v} exceeds budget ${budget}`);
    // One row per active sample per call, at most queryBudget calls: no sample exceeds its budget.
    assert.ok(c.calls.length <= queryBudget, `${c.calls.length} calls`);
    assert.ok(c.calls.every((rows) => rows <= N));
    // Beaten samples stop being queried: the active set only shrinks, and far fewer rows than N × queryBudget are sent.
    for (let k = 1; k < c.calls.length; k++) assert.ok(c.calls[k]! <= c.calls[k - 1]!, "a beaten sample is never queried again");
    const rows = c.calls.reduce((a, b) => a + b, 0);
    assert.ok(rows < 0.75 * N * queryBudget, `${rows} rows queried`);
    const v = verify(predict, x, y, adv, attack.norm, budget);
    const beaten = v.success.filter(Boolean).length;
    assert.ok(beaten >= 0.9 * N, `${attack.name} beat ${beaten} of ${N}`);
    adv.dispose();
    assert.equal(tf.memory().numTensors, before + 0, "no tensors left behind");
  });
}

test("a sample's search does not depend on the rest of its batch (per-sample random streams)", async () => {
  for (const [attack, budget] of [[squareLinf(), 0.15], [sparseRs(), 8]] as const) {
    const full = await attack.run({ kind: "query", predict, queryBudget: 50 }, { x, y, seed: 3 }, budget);
    const x5 = tf.slice(x, [5, 0, 0, 0], [3, S, S, 1]);
    const y5 = tf.slice(y, [5], [3]);
    const part = await attack.run({ kind: "query", predict, queryBudget: 50 }, { x: x5, y: y5, seed: 3 }, budget);
    const same = tf.tidy(() => Array.from(tf.slice(full, [5, 0, 0, 0], [3, S, S, 1]).dataSync()));
    assert.deepEqual(Array.from(part.dataSync()), same, attack.name);
    tf.dispose([full, x5, y5, part]);
  }
});

test("budget 0 returns the inputs unchanged without querying", async () => {
  for (const attack of [squareLinf(), squareL2(), sparseRs()]) {
    const c = counting();
    const adv = await attack.run(c.access(100), { x, y, seed: 1 }, 0);
    assert.equal(c.calls.length, 0, attack.name);
    assert.ok(distances(x, adv, attack.norm).every((v) => v === 0));
    adv.dispose();
  }
});

test("sparse-rs with a budget of every feature still changes at most every feature and stays in the box", async () => {
  const xs = tf.slice(x, [0, 0, 0, 0], [4, S, S, 1]);
  const ys = tf.slice(y, [0], [4]);
  const adv = await sparseRs().run({ kind: "query", predict, queryBudget: 20 }, { x: xs, y: ys, seed: 1 }, 10 * S * S);
  assert.ok(inBox(adv).every(Boolean));
  assert.ok(distances(xs, adv, "l0").every((v) => v <= S * S));
  tf.dispose([xs, ys, adv]);
});

test("p and α schedules follow the papers (rescaled to the query budget)", () => {
  assert.equal(squareSchedule(0.05, 0, 10_000), 0.05);
  assert.equal(squareSchedule(0.05, 30, 10_000), 0.025);
  assert.equal(squareSchedule(0.05, 9_000, 10_000), 0.05 / 512);
  assert.equal(squareSchedule(0.1, 100, 1_000), 0.1 / 16); // 100/1000 of the way = iteration 1000 of 10 000
  assert.equal(sparseRsSchedule(0.3, 0, 1000), 0.3);
  assert.equal(sparseRsSchedule(0.3, 1, 1000), 0.15);
  assert.equal(sparseRsSchedule(0.3, 999, 1000), 0.3 / 20);
});

test("sparse-rs's pick: the map-backed shuffle draws exactly the positions of a full Fisher-Yates on the same stream", () => {
  /** The partial Fisher-Yates on a filled array (what pick did before the map). */
  const reference = (n: number, k: number, rng: () => number): number[] => {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (n - i));
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a.slice(0, k);
  };
  let mapped = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const shape = mulberry32(seed);
    const n = 1 + Math.floor(shape() * 800);
    const k = Math.floor(shape() * Math.min(n, seed % 2 === 0 ? 8 : n));
    if (4 * k < n) mapped++;
    const got = pick(n, k, mulberry32(1000 + seed));
    assert.deepEqual(got, reference(n, k, mulberry32(1000 + seed)), `n ${n}, k ${k}`);
    assert.equal(new Set(got).size, k);
  }
  assert.ok(mapped >= 50, `the map-backed path ran (${mapped} of 200 draws)`);
});
