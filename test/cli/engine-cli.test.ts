import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-cli-"));
const data = path.join(work, "data");
await writeIdxDirectory(data, syntheticSplits({ trainCount: 400, testCount: 100, seed: 9 }));
const small = path.join(work, "small");
await writeIdxDirectory(small, syntheticSplits({ trainCount: 50, testCount: 20, size: 20, seed: 9 }));
const dense = path.join(work, "dense");

test.after(() => rm(work, { recursive: true, force: true }));

function assertCleanFailure(r: { code: number | null; stderr: string }, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

test("advisor train writes a model directory with metadata", async () => {
  const r = await runCli(["train", "--arch", "lenet5", "--data", data, "--epochs", "3", "--batch-size", "32", "--out", dense, "--json"], {}, 120_000);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { architecture: string; cleanAccuracy: number; testCount: number; backend: string; weightsSha256: string };
  assert.equal(summary.architecture, "lenet5");
  assert.equal(summary.testCount, 100);
  assert.ok(summary.cleanAccuracy > 0.5, `accuracy ${summary.cleanAccuracy}`);
  assert.match(summary.weightsSha256, /^[0-9a-f]{64}$/);
  const meta = JSON.parse(await readFile(path.join(dense, "metadata.json"), "utf8")) as { weightsSha256: string };
  assert.equal(meta.weightsSha256, summary.weightsSha256);
  assert.match(r.stderr, /epoch 1: loss/, "progress per epoch");
});

test("advisor prune writes a pruned model that records its strategy and achieved rate", async () => {
  const out = path.join(work, "pruned");
  const r = await runCli(
    ["prune", "--model", dense, "--data", data, "--strategy", "global-gradient", "--rate", "8", "--finetune-epochs", "1", "--out", out, "--json"],
    {},
    120_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { pruning: { strategy: string; requestedRate: number; achievedRate: number; nonZeroPrunable: number; prunableParams: number } };
  assert.equal(s.pruning.strategy, "global-gradient");
  assert.equal(s.pruning.nonZeroPrunable, Math.round(s.pruning.prunableParams / 8));
  assert.ok(Math.abs(s.pruning.achievedRate - 8) < 0.01);
});

test("bad input: one clear error, non-zero exit, no output directory", async (t) => {
  const broken = path.join(work, "broken");
  await rm(broken, { recursive: true, force: true });
  await writeFile(path.join(work, "x"), "");
  const { cp } = await import("node:fs/promises");
  await cp(dense, broken, { recursive: true });
  await writeFile(path.join(broken, "model.json"), "{ nope");
  const noWeights = path.join(work, "no-weights");
  await cp(dense, noWeights, { recursive: true });
  await rm(path.join(noWeights, "weights.bin"));

  const out = path.join(work, "out");
  const prune = (extra: string[]): string[] => ["prune", "--model", dense, "--data", data, "--strategy", "random", "--rate", "4", "--out", out, ...extra];
  const cases: [string, string[], number, RegExp][] = [
    ["unknown architecture", ["train", "--arch", "resnet9000", "--data", data, "--out", out], 2, /unknown architecture "resnet9000"/],
    ["unknown strategy", ["prune", "--model", dense, "--data", data, "--strategy", "magic", "--rate", "4", "--out", out], 2, /unknown pruning strategy "magic"/],
    ["rate below 1", prune(["--rate", "0.5"]), 2, /compression rate must be >= 1/],
    ["NaN rate", prune(["--rate", "NaN"]), 2, /compression rate must be a number/],
    ["corrupt model.json", [...prune([]).slice(0, 1), "--model", broken, ...prune([]).slice(3)], 1, /model\.json is not valid JSON/],
    ["missing weight file", [...prune([]).slice(0, 1), "--model", noWeights, ...prune([]).slice(3)], 1, /weight file weights\.bin is missing/],
    ["data of the wrong shape", [...prune([]).slice(0, 3), "--data", small, ...prune([]).slice(5)], 2, /expects 28x28x1 images .* holds 20x20x1 images/],
    ["missing data", ["train", "--arch", "lenet5", "--data", path.join(work, "none"), "--out", out], 1, /data directory .* not found/],
    ["existing output", ["train", "--arch", "lenet5", "--data", data, "--out", dense], 2, /already exists/],
  ];
  for (const [name, args, code, message] of cases) {
    await t.test(name, async () => {
      const r = await runCli(args);
      assertCleanFailure(r, code, message);
      assert.ok(!(await readdir(work)).some((f) => f.startsWith("out")), "no output (or partial) directory left behind");
    });
  }
});
