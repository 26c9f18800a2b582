import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { DataError, loadIdxDirectory, splitValidation } from "../../src/engine/data.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-data-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const splits = syntheticSplits({ trainCount: 60, testCount: 20, classes: 4, size: 12, seed: 5 });

for (const gzip of [true, false]) {
  test(`IDX files ${gzip ? "gzip-compressed" : "raw"} load back exactly`, async (t) => {
    const dir = await tempDir(t);
    await writeIdxDirectory(dir, splits, gzip);
    const loaded = await loadIdxDirectory(dir, "synthetic");
    for (const part of ["train", "test"] as const) {
      assert.equal(loaded[part].count, splits[part].count);
      assert.equal(loaded[part].height, 12);
      assert.equal(loaded[part].numClasses, 4);
      assert.deepEqual(loaded[part].labels, splits[part].labels);
      assert.deepEqual(loaded[part].images, splits[part].images);
    }
  });
}

async function corrupt(t: { after: (fn: () => Promise<void>) => void }, file: string, edit: (b: Buffer) => Buffer): Promise<string> {
  const dir = await tempDir(t);
  await writeIdxDirectory(dir, splits);
  const p = path.join(dir, `${file}.gz`);
  await writeFile(p, gzipSync(edit(gunzipSync(await readFile(p)))));
  return dir;
}

test("a wrong magic number is named", async (t) => {
  const dir = await corrupt(t, "train-images-idx3-ubyte", (b) => (b.writeUInt32BE(0x00000801, 0), b));
  await assert.rejects(loadIdxDirectory(dir), (e: unknown) => e instanceof DataError && /train-images.*magic number 0x00000801, expected 0x00000803/.test(e.message));
});

test("a truncated image file is named with its expected size", async (t) => {
  const dir = await corrupt(t, "t10k-images-idx3-ubyte", (b) => b.subarray(0, b.length - 7));
  await assert.rejects(loadIdxDirectory(dir), (e: unknown) => e instanceof DataError && /t10k-images.*bytes, expected/.test(e.message));
});

test("label and image counts must agree", async (t) => {
  const dir = await corrupt(t, "train-labels-idx1-ubyte", (b) => {
    const c = Buffer.from(b.subarray(0, b.length - 1));
    c.writeUInt32BE(c.readUInt32BE(4) - 1, 4);
    return c;
  });
  await assert.rejects(loadIdxDirectory(dir), /59 labels for 60 images/);
});

test("a test label outside the training classes is refused", async (t) => {
  const dir = await corrupt(t, "t10k-labels-idx1-ubyte", (b) => ((b[8] = 9), b));
  await assert.rejects(loadIdxDirectory(dir), /test label 9 outside the training classes 0\.\.3/);
});

test("a class that never occurs in training is refused", async (t) => {
  const dir = await corrupt(t, "train-labels-idx1-ubyte", (b) => {
    for (let i = 8; i < b.length; i++) if (b[i] === 2) b[i] = 1;
    return b;
  });
  await assert.rejects(loadIdxDirectory(dir), /class\(es\) 2 never occur/);
});

test("a missing file or directory is a clear error", async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(loadIdxDirectory(path.join(dir, "nope")), /data directory .*nope not found/);
  await writeIdxDirectory(dir, splits);
  await rm(path.join(dir, "t10k-labels-idx1-ubyte.gz"));
  await assert.rejects(loadIdxDirectory(dir), /t10k-labels-idx1-ubyte\[\.gz\] not found/);
});

test("the validation split is deterministic, disjoint and complete", () => {
  const a = splitValidation(splits.train, 0.25, 3);
  const b = splitValidation(splits.train, 0.25, 3);
  const c = splitValidation(splits.train, 0.25, 4);
  assert.equal(a.validation.count, 15);
  assert.equal(a.train.count, 45);
  assert.deepEqual(a.validation.images, b.validation.images);
  assert.notDeepEqual(a.validation.images, c.validation.images);
  assert.throws(() => splitValidation(splits.train, 1.5, 1), /validation fraction/);
});
