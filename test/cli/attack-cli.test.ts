import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { initBackend } from "../../src/engine/backend.js";
import { tf } from "../../src/engine/tf.js";
import { saveModel } from "../../src/engine/model-io.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { splitValidation } from "../../src/engine/data.js";
import { train } from "../../src/engine/train.js";

await initBackend();
const work = await mkdtemp(path.join(os.tmpdir(), "advisor-attack-"));
test.after(() => rm(work, { recursive: true, force: true }));

const S = 12;
const splits = syntheticSplits({ trainCount: 300, testCount: 30, size: S, classes: 4, seed: 5 });
const data = path.join(work, "data");
await writeIdxDirectory(data, splits);

async function tinyModel(dir: string, size: number, classes: number, seed: number, trainIt: boolean): Promise<string> {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [size, size, 1] }),
      tf.layers.dense({ units: 16, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: classes, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  if (trainIt) {
    const { train: tr, validation } = splitValidation(splits.train, 0.2, seed);
    await train(model, tr, validation, { epochs: 4, seed, batchSize: 32, learningRate: 0.01 });
  }
  const out = path.join(work, dir);
  await saveModel(model, out, {
    architecture: "lenet300",
    dataset: "synthetic",
    inputShape: [size, size, 1],
    numClasses: classes,
    seed,
    backend: "wasm",
    codeVersion: "test",
    createdAt: new Date().toISOString(),
  });
  model.dispose();
  return out;
}

const dense = await tinyModel("dense", S, 4, 1, true);
const target = await tinyModel("target", S, 4, 3, true);

test("advisor attack --json: curve, per-attack results, sanity report, provenance", async () => {
  const r = await runCli(
    ["attack", "--model", target, "--surrogate", dense, "--data", data, "--norm", "linf", "--knowledge", "transfer", "--budgets", "0.2,0.05", "--samples", "20", "--queries", "50", "--batch-size", "10", "--json"],
    {},
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    norm: string;
    knowledge: string;
    budgets: number[];
    sampleIndices: number[];
    n: number;
    cleanCorrect: number;
    distances: (number | null)[];
    curve: { budget: number; robust: number; n: number; accuracy: number; interval: { low: number; high: number } }[];
    perAttack: { name: string; knowledge: string }[];
    sanity: { cleanAccuracy: { pass: boolean }; monotone: { pass: boolean }; unbounded: { checked: boolean }; masking: { checked: boolean } };
    backend: { name: string };
    transfer: { surrogateSha256: string; crafted: number };
    seconds: number;
    queries: number;
  };
  assert.equal(out.norm, "linf");
  assert.equal(out.knowledge, "transfer");
  assert.deepEqual(out.budgets, [0.05, 0.2]);
  assert.deepEqual(out.sampleIndices, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(out.distances.length, 20);
  assert.equal(out.curve.length, 2);
  assert.ok(out.curve[1]!.robust <= out.curve[0]!.robust);
  assert.ok(out.perAttack.some((a) => a.knowledge === "transfer" && a.name === "pgd-linf"));
  assert.ok(out.perAttack.some((a) => a.knowledge === "black-box" && a.name === "square-linf"));
  assert.ok(out.sanity.cleanAccuracy.pass && out.sanity.monotone.pass);
  assert.equal(out.sanity.unbounded.checked, false, "no white-box attacks for a transfer attacker");
  assert.match(out.transfer.surrogateSha256, /^[0-9a-f]{64}$/);
  assert.equal(out.backend.name, "wasm");
  assert.match(r.stderr, /black-box square-linf @ 0\.05: beaten \d+ of \d+ attacked/, "progress on stderr");
});

test("advisor attack prints the curve, the attacks and the sanity report", async () => {
  const r = await runCli(["attack", "--model", target, "--data", data, "--norm", "l2", "--budgets", "0.5,2", "--samples", "10", "--queries", "30"], {}, 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /clean accuracy/);
  assert.match(r.stdout, /^budget\s+robust acc\s+95 % interval\s+robust\/n/m);
  assert.match(r.stdout, /^2\s+\d+\.\d\d%\s+\[\d+\.\d\d%, \d+\.\d\d%\]\s+\d+\/10$/m);
  assert.match(r.stdout, /white-box pgd-l2/);
  assert.match(r.stdout, /white-box fmn-l2/);
  assert.match(r.stdout, /black-box square-l2/);
  assert.match(r.stdout, /^sanity: (PASS|FAIL)/m);
  assert.match(r.stdout, /unbounded white-box success \(pgd-l2 at 12\)/);
  assert.match(r.stdout, /gradient masking: (not flagged|FLAGGED)/);
  assert.match(r.stdout, /\d+\.\d s on wasm/);
});
