import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { tf } from "../../src/engine/tf.js";
import { createModel } from "../../src/engine/models.js";
import { loadModel, ModelFormatError, saveModel, weightsSha256, type ModelMetadata } from "../../src/engine/model-io.js";
import { syntheticSplits } from "../../src/engine/synthetic.js";
import { splitValidation } from "../../src/engine/data.js";
import { train } from "../../src/engine/train.js";

const backend = await initBackend();

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-model-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const meta: Omit<ModelMetadata, "weightsSha256" | "format"> = {
  architecture: "lenet5",
  dataset: "synthetic",
  inputShape: [28, 28, 1],
  numClasses: 10,
  seed: 1,
  backend: backend.name,
  codeVersion: "test",
  createdAt: "2026-01-01T00:00:00.000Z",
};

test("save then load gives the same predictions and the recorded weight hash", async (t) => {
  const dir = await tempDir(t);
  const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  const saved = await saveModel(model, path.join(dir, "m"), meta);
  assert.deepEqual((await readdir(path.join(dir, "m"))).sort(), ["metadata.json", "model.json", "weights.bin"]);
  assert.equal(saved.weightsSha256, await weightsSha256(model));
  const { model: back, metadata } = await loadModel(path.join(dir, "m"));
  assert.equal(metadata.weightsSha256, saved.weightsSha256);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 7);
  assert.deepEqual(Array.from((back.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()));
});

test("the same seed twice gives the same weight hash after training; another seed does not", async () => {
  const data = syntheticSplits({ trainCount: 300, testCount: 10, seed: 2 });
  const { train: tr, validation } = splitValidation(data.train, 0.2, 1);
  const hashes: string[] = [];
  for (const seed of [11, 11, 12]) {
    const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed });
    await train(model, tr, validation, { epochs: 1, seed, batchSize: 32 });
    hashes.push(await weightsSha256(model));
    model.dispose();
  }
  assert.equal(hashes[0], hashes[1]);
  assert.notEqual(hashes[0], hashes[2]);
});

test("an existing output directory is refused and nothing half-written is left on failure", async (t) => {
  const dir = await tempDir(t);
  const model = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  await saveModel(model, path.join(dir, "m"), { ...meta, architecture: "lenet300" });
  await assert.rejects(saveModel(model, path.join(dir, "m"), meta), /already exists/);
  // A target under a regular file cannot be created: the temporary directory must be gone too.
  await writeFile(path.join(dir, "file"), "x");
  await assert.rejects(saveModel(model, path.join(dir, "file", "m"), meta));
  assert.deepEqual((await readdir(dir)).sort(), ["file", "m"]);
});

async function savedCopy(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await tempDir(t);
  const model = createModel({ architecture: "lenet300", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  await saveModel(model, path.join(dir, "m"), { ...meta, architecture: "lenet300" });
  return path.join(dir, "m");
}

test("corrupt model.json, a missing or short weight file, and a tampered weight are clear errors", async (t) => {
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    ["corrupt json", (d) => writeFile(path.join(d, "model.json"), "{not json"), /model\.json is not valid JSON/],
    ["no topology", (d) => writeFile(path.join(d, "model.json"), '{"weightsManifest": []}'), /no modelTopology/],
    ["missing weights", (d) => rm(path.join(d, "weights.bin")), /weight file weights\.bin is missing/],
    [
      "short weights",
      async (d) => writeFile(path.join(d, "weights.bin"), (await readFile(path.join(d, "weights.bin"))).subarray(8)),
      /hold \d+ bytes, the manifest describes \d+/,
    ],
    [
      "tampered weights",
      async (d) => {
        const b = await readFile(path.join(d, "weights.bin"));
        b[100] = (b[100] ?? 0) ^ 0xff;
        await writeFile(path.join(d, "weights.bin"), b);
      },
      /weights hash .* does not match metadata/,
    ],
    ["missing metadata", (d) => rm(path.join(d, "metadata.json")), /metadata\.json not found/],
  ];
  for (const [name, damage, expected] of cases) {
    const dir = await savedCopy(t);
    await damage(dir);
    await assert.rejects(loadModel(dir), (e: unknown) => e instanceof ModelFormatError && expected.test(e.message), name);
  }
});
