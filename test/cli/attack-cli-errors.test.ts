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

await initBackend();
const work = await mkdtemp(path.join(os.tmpdir(), "advisor-attack-errors-"));
test.after(() => rm(work, { recursive: true, force: true }));

const S = 12;
const data = path.join(work, "data");
await writeIdxDirectory(data, syntheticSplits({ trainCount: 40, testCount: 10, size: S, classes: 4, seed: 5 }));

/** An untrained model directory: the errors under test come before any attack runs. */
async function tinyModel(dir: string, size: number, classes: number): Promise<string> {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [size, size, 1] }), tf.layers.dense({ units: classes })] });
  const out = path.join(work, dir);
  await saveModel(model, out, {
    architecture: "lenet300",
    dataset: "synthetic",
    inputShape: [size, size, 1],
    numClasses: classes,
    seed: 1,
    backend: "wasm",
    codeVersion: "test",
    createdAt: new Date().toISOString(),
  });
  model.dispose();
  return out;
}

const target = await tinyModel("target", S, 4);
const otherShape = await tinyModel("other-shape", 10, 4);
const otherClasses = await tinyModel("other-classes", S, 3);

function assertCleanFailure(r: { code: number | null; stderr: string }, message: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

test("advisor attack, bad input: one clear error line, exit 2", async (t) => {
  const args = (extra: string[]): string[] => ["attack", "--model", target, "--data", data, "--samples", "5", ...extra];
  const cases: [string, string[], RegExp][] = [
    ["fractional L0 budget", args(["--norm", "l0", "--budgets", "1.5"]), /L0 budget 1\.5 must be an integer/],
    ["negative budget", args(["--norm", "l2", "--budgets", "0.5,-1"]), /budget -1 is negative/],
    ["NaN budget", args(["--norm", "l2", "--budgets", "NaN"]), /not a number/],
    ["L∞ budget above 1", args(["--norm", "linf", "--budgets", "0.1,1.5"]), /L∞ budget 1\.5 exceeds 1/],
    ["unknown norm", args(["--norm", "l3", "--budgets", "1"]), /unknown norm "l3"/],
    ["unknown knowledge", args(["--norm", "linf", "--knowledge", "grey-box", "--budgets", "0.1"]), /unknown attacker knowledge "grey-box"/],
    ["transfer without a surrogate", args(["--norm", "linf", "--knowledge", "transfer", "--budgets", "0.1"]), /--knowledge transfer needs --surrogate/],
    ["surrogate with another input shape", args(["--norm", "linf", "--surrogate", otherShape, "--budgets", "0.1"]), /surrogate .* \(inputs 10x10x1, 4 classes\) does not match the model/],
    ["surrogate with another class count", args(["--norm", "linf", "--surrogate", otherClasses, "--budgets", "0.1"]), /\(inputs 12x12x1, 3 classes\) does not match the model .* 4 classes/],
  ];
  for (const [name, argv, message] of cases) {
    await t.test(name, async () => assertCleanFailure(await runCli(argv), message));
  }
});
