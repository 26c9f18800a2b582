import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { tf, type LayersModel } from "../../src/engine/tf.js";
import { syntheticSplits } from "../../src/engine/synthetic.js";
import { splitValidation } from "../../src/engine/data.js";
import { evaluate, train } from "../../src/engine/train.js";
import { fmn } from "../../src/engine/attacks/fmn.js";
import { pgdL2, pgdLinf } from "../../src/engine/attacks/pgd.js";
import { pgdL0 } from "../../src/engine/attacks/sparse-l0.js";
import { KNOWLEDGE_LEVELS, type Attack, type Knowledge, type Norm } from "../../src/engine/attacks/types.js";
import { EvaluationError, normalizeBudgets, parseBudgets } from "../../src/engine/evaluation/budgets.js";
import { curveOf } from "../../src/engine/evaluation/curve.js";
import { craftTransferExamples, evaluateRobustness, samplesFromDataset, type RobustnessOptions, type RobustnessResult } from "../../src/engine/evaluation/robustness.js";
import { TransferCache } from "../../src/engine/evaluation/transfer-cache.js";
import { MASKING_MIN_SAMPLES, MASKING_MIN_SHARE } from "../../src/engine/evaluation/sanity.js";

await initBackend();
const S = 12;
const CLASSES = 4;
const data = syntheticSplits({ trainCount: 600, testCount: 40, size: S, classes: CLASSES, seed: 3 });
const { train: tr, validation } = splitValidation(data.train, 0.2, 1);
const samples = samplesFromDataset(data.test);

function mlp(hidden: number, seed: number): LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [S, S, 1] }),
      tf.layers.dense({ units: hidden, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

/** Quantises inputs to steps of 1/4: round() has a zero gradient, so gradient attacks see nothing. */
class Quantise extends tf.layers.Layer {
  static className = "Quantise";
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.div(tf.round(tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 4)), 4));
  }
}

// The dense model (also the surrogate), the same classifier behind a quantiser, and a second,
// smaller model standing in for a pruned target.
const dense = mlp(32, 1);
await train(dense, tr, validation, { epochs: 5, seed: 1, batchSize: 32, learningRate: 0.01 });
const input = tf.input({ shape: [S, S, 1] });
const masked = tf.model({ inputs: input, outputs: dense.apply(new Quantise({}).apply(input)) as tf.SymbolicTensor });
const small = mlp(12, 7);
await train(small, tr, validation, { epochs: 5, seed: 2, batchSize: 32, learningRate: 0.01 });

const BUDGETS = [0, 0.05, 0.1, 0.15, 0.2, 0.3];
const base = { samples, norm: "linf", budgets: BUDGETS, queryBudget: 200, batchSize: 25, seed: 5 } as const;

test("the models solve the task (clean accuracy)", () => {
  for (const m of [dense, masked, small]) assert.ok(evaluate(m, data.test).accuracy >= 0.9);
});

test("a gradient-masked model raises the masking flag; the same classifier without the quantiser does not", async () => {
  const m = await evaluateRobustness({ ...base, target: masked, knowledge: "white-box" });
  assert.ok(m.sanity.masking.checked);
  assert.equal(m.sanity.masking.flagged, true, "black-box Square beats what PGD/FMN cannot");
  const worst = m.sanity.masking.perBudget.reduce((a, b) => (b.excess > a.excess ? b : a));
  assert.ok(worst.excess > MASKING_MIN_SAMPLES && worst.excessShare > MASKING_MIN_SHARE);
  assert.ok(worst.byLevel["black-box"] > 0);
  const whiteBox = m.perLevel.find((l) => l.knowledge === "white-box")!;
  const blackBox = m.perLevel.find((l) => l.knowledge === "black-box")!;
  assert.ok(blackBox.curve.some((p, k) => p.robust < whiteBox.curve[k]!.robust), "black-box's own curve lies below the white-box curve");
  assert.equal(m.sanity.pass, false);
  // The gradient attacks cannot beat a masked model even unbounded, but the dataset-seeded attack
  // (no gradient: the nearest pool image of another class, binary-searched towards x) gives every
  // sample a finite distance, so the unbounded check passes by construction; the masking flag
  // above is what catches the masked gradients.
  assert.equal(m.sanity.unbounded.pass, true);
  assert.equal(m.perAttack.find((a) => a.name === "dataset-seed-linf")!.beaten, m.cleanCorrect);

  const p = await evaluateRobustness({ ...base, target: dense, knowledge: "white-box" });
  assert.equal(p.sanity.masking.checked, true);
  assert.equal(p.sanity.masking.flagged, false, JSON.stringify(p.sanity.masking.perBudget));
  assert.equal(p.sanity.unbounded.pass, true, `unbounded success ${p.sanity.unbounded.successRate}`);
  assert.ok(p.sanity.unbounded.successRate! >= 0.99);
  assert.equal(p.sanity.pass, true);
});

function checkInvariants(r: RobustnessResult, knowledge: Knowledge): void {
  assert.equal(r.knowledge, knowledge);
  assert.equal(r.n, samples.labels.length);
  assert.deepEqual(r.sampleIndices, Array.from(samples.indices));
  assert.equal(r.distances.length, r.n);
  assert.deepEqual(r.budgets, BUDGETS);
  // acc(0) = clean accuracy; the curve never rises; the curve is the distances' curve.
  assert.equal(r.curve[0]!.robust, r.cleanCorrect);
  assert.ok(r.sanity.cleanAccuracy.pass && r.sanity.monotone.pass);
  for (let k = 1; k < r.curve.length; k++) assert.ok(r.curve[k]!.robust <= r.curve[k - 1]!.robust);
  assert.deepEqual(r.curve, curveOf(r.distances, r.budgets));
  for (const p of r.curve) assert.ok(p.interval.low <= p.accuracy && p.accuracy <= p.interval.high && p.n === r.n);
  // Per sample, the overall distance is the minimum over the attacks.
  for (let i = 0; i < r.n; i++) assert.equal(r.distances[i], Math.min(...r.perAttack.map((a) => a.distances[i]!)));
  assert.equal(r.backend.name, "wasm");
}

test("curves never rise, acc(0) = clean accuracy, and white-box <= transfer <= black-box at every budget", async () => {
  const cache = new TransferCache();
  const results = {} as Record<Knowledge, RobustnessResult>;
  for (const knowledge of KNOWLEDGE_LEVELS) {
    const before = tf.memory().numTensors;
    results[knowledge] = await evaluateRobustness({ ...base, target: small, surrogate: { model: dense }, knowledge, transferCache: cache });
    assert.equal(tf.memory().numTensors, before, `${knowledge}: no tensors left behind`);
    checkInvariants(results[knowledge], knowledge);
  }
  assert.deepEqual(
    results["white-box"].perLevel.map((l) => l.knowledge),
    ["white-box", "transfer", "black-box"],
  );
  assert.deepEqual(
    results.transfer.perLevel.map((l) => l.knowledge),
    ["transfer", "black-box"],
  );
  assert.deepEqual(
    results["black-box"].perLevel.map((l) => l.knowledge),
    ["black-box"],
  );
  assert.ok(results["black-box"].queries > 0);
  BUDGETS.forEach((b, k) => {
    const [wb, tr2, bb] = KNOWLEDGE_LEVELS.map((l) => results[l].curve[k]!.robust);
    assert.ok(wb! <= tr2! && tr2! <= bb!, `at ${b}: white-box ${wb}, transfer ${tr2}, black-box ${bb}`);
  });
  // The white-box attacks actually bite on this model.
  assert.ok(results["white-box"].curve.at(-1)!.robust < results["white-box"].cleanCorrect);
});

test("transfer examples are crafted once per surrogate and reused for the next target", async () => {
  let runs = 0;
  const counted = (a: Attack): Attack => {
    const run = a.run.bind(a) as (...args: unknown[]) => Promise<tf.Tensor4D>;
    return { ...a, run: ((...args: unknown[]) => (runs++, run(...args))) as Attack["run"] } as Attack;
  };
  const cache = new TransferCache();
  const opts = (target: LayersModel): RobustnessOptions => ({
    ...base,
    budgets: [0.05, 0.1, 0.2],
    target,
    surrogate: { model: dense },
    knowledge: "transfer",
    transferCache: cache,
    attacks: { transfer: [counted(pgdLinf()), counted(fmn("linf"))], "black-box": [] },
  });
  const first = await evaluateRobustness(opts(small));
  const crafted = runs;
  assert.ok(crafted > 0);
  assert.equal(first.transfer!.runs, crafted);
  assert.equal(first.transfer!.reused, 0);
  // fmn once + pgd at three budgets, each for every sample.
  assert.equal(first.transfer!.crafted, 4 * samples.labels.length);
  assert.equal(cache.size, 4 * samples.labels.length);

  const second = await evaluateRobustness(opts(masked));
  assert.equal(runs, crafted, "no attack ran on the surrogate for the second target");
  assert.equal(second.transfer!.crafted, 0);
  assert.ok(second.transfer!.reused > 0);
  assert.equal(second.transfer!.surrogateSha256, first.transfer!.surrogateSha256);

  // Another seed is another set of examples.
  await evaluateRobustness({ ...opts(masked), seed: 6 });
  assert.ok(runs > crafted);
});

test("tensors stay flat across a long run of evaluations (all norms, all levels)", async () => {
  const few = samplesFromDataset(data.test, [0, 1, 2, 3, 4, 5, 6, 7]);
  // Every attack kind of every norm, shortened (the point here is memory, not strength).
  const light = (norm: Norm): Attack[] => [norm === "linf" ? pgdLinf({ steps: 10 }) : norm === "l2" ? pgdL2({ steps: 10 }) : pgdL0({ steps: 10 }), fmn(norm, { steps: 20 })];
  const plans: Pick<RobustnessOptions, "norm" | "budgets" | "attacks">[] = (
    [
      ["linf", [0.1, 0.2]],
      ["l2", [0.5, 2]],
      ["l0", [2, 10]],
    ] as const
  ).map(([norm, budgets]) => ({ norm, budgets: [...budgets], attacks: { "white-box": light(norm), transfer: light(norm) } }));
  const before = tf.memory().numTensors;
  const cache = new TransferCache();
  for (let round = 0; round < 2; round++) {
    for (const plan of plans) {
      await evaluateRobustness({ ...plan, samples: few, target: small, surrogate: { model: dense }, knowledge: "white-box", queryBudget: 30, transferCache: cache, seed: round });
      assert.equal(tf.memory().numTensors, before, `${plan.norm}, round ${round}`);
    }
  }
});

test("bad budgets and bad configurations are rejected with a clear error", async () => {
  const bad: [RobustnessOptions["norm"], number[], RegExp][] = [
    ["l0", [1.5], /L0 budget 1\.5 must be an integer/],
    ["l2", [-1], /negative/],
    ["linf", [NaN], /NaN is not a finite number/],
    ["l2", [Infinity], /not a finite number/],
    ["linf", [1.5], /exceeds 1/],
    ["linf", [], /at least one budget/],
  ];
  for (const [norm, budgets, message] of bad) {
    assert.throws(() => normalizeBudgets(norm, budgets), (e: unknown) => e instanceof EvaluationError && message.test(e.message));
    await assert.rejects(evaluateRobustness({ ...base, norm, budgets, target: small, knowledge: "black-box" }), message);
  }
  assert.deepEqual(normalizeBudgets("linf", [0.3, 0.1, 0.1, 0]), [0, 0.1, 0.3]);
  assert.deepEqual(parseBudgets("l0", "12, 3"), [3, 12]);
  assert.throws(() => parseBudgets("linf", "0.1,abc"), /"abc" is not a number/);
  assert.throws(() => parseBudgets("linf", "0.1,,0.2"), /empty budget/);

  await assert.rejects(evaluateRobustness({ ...base, target: small, knowledge: "transfer" }), /transfer needs a surrogate/);
  await assert.rejects(evaluateRobustness({ ...base, target: small, knowledge: "white-box", attacks: { "white-box": [fmn("l2")] } }), /fmn-l2 is an l2 attack/);
  const other = mlp(8, 3);
  const wrongClasses = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [S, S, 1] }), tf.layers.dense({ units: 3 })] });
  await assert.rejects(evaluateRobustness({ ...base, target: small, surrogate: { model: wrongClasses }, knowledge: "transfer" }), /does not match the target/);
  other.dispose();
  wrongClasses.dispose();
});

test("fixed-budget attacks on the target search budgets from the largest down and give a sample up after a failure", async () => {
  // An attack that never moves the input: it fails everywhere, so each correct sample is attacked once (at the largest budget).
  const budgetsSeen: number[] = [];
  const idle: Attack = {
    kind: "fixed-budget",
    name: "idle-linf",
    norm: "linf",
    access: "gradient",
    params: {},
    run: async (_access: unknown, batch: { x: tf.Tensor4D }, budget: number) => (budgetsSeen.push(budget), batch.x.clone()),
  } as Attack;
  const r = await evaluateRobustness({ ...base, target: small, knowledge: "white-box", attacks: { "white-box": [idle], "black-box": [] }, unboundedCheck: false });
  const rec = r.perAttack.find((a) => a.name === "idle-linf")!;
  assert.equal(rec.attempted, r.cleanCorrect, "one failed run per correct sample, not one per budget");
  assert.equal(rec.beaten, 0);
  assert.deepEqual([...new Set(budgetsSeen)], [0.3], "only the largest budget ran");
  assert.equal(r.curve.at(-1)!.robust, r.cleanCorrect);

  // PGD: every sample is attacked at a budget only while it was beaten at the next larger one.
  const p = await evaluateRobustness({ ...base, target: small, knowledge: "white-box", attacks: { "white-box": [pgdLinf({ steps: 10 })] }, unboundedCheck: false });
  const pgd = p.perAttack.find((a) => a.name === "pgd-linf" && !a.sanity)!;
  assert.ok(pgd.attempted <= p.cleanCorrect + pgd.beaten, `${pgd.attempted} runs for ${p.cleanCorrect} samples and ${pgd.beaten} successes`);
  assert.ok(pgd.beaten > 0);
  checkInvariants(p, "white-box");
});

test("transfer examples crafted ahead of time (craftTransferExamples) and saved to a file are the ones an evaluation would craft", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-transfer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts = { ...base, budgets: [0, 0.05, 0.1], target: small, surrogate: { model: dense }, knowledge: "transfer" } as const;
  const fresh = await evaluateRobustness({ ...opts, transferCache: new TransferCache() });

  const ahead = new TransferCache();
  const crafted = await craftTransferExamples({ surrogate: { model: dense }, samples, norm: "linf", budgets: opts.budgets, batchSize: base.batchSize, seed: base.seed, cache: ahead });
  assert.equal(crafted.crafted, 5 * samples.labels.length, "fmn once + pgd and pgd-ce at two positive budgets each");
  const file = path.join(dir, "t.bin");
  assert.equal(await ahead.writeFile(file), ahead.size);
  const loaded = new TransferCache();
  assert.equal(await loaded.readFile(file), ahead.size);

  const fromFile = await evaluateRobustness({ ...opts, transferCache: loaded });
  assert.equal(fromFile.transfer!.crafted, 0, "nothing crafted again");
  assert.deepEqual(Array.from(fromFile.distances), Array.from(fresh.distances));
  assert.deepEqual(fromFile.curve, fresh.curve);

  await writeFile(path.join(dir, "junk.bin"), "not a cache");
  await assert.rejects(new TransferCache().readFile(path.join(dir, "junk.bin")), /not a transfer-example cache/);
  const bytes = await readFile(file);
  await writeFile(path.join(dir, "short.bin"), bytes.subarray(0, bytes.length - 7));
  await assert.rejects(new TransferCache().readFile(path.join(dir, "short.bin")), /truncated|trailing/);
});
