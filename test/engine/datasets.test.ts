// The data set loaders beyond Fashion-MNIST (issue 19, item 3): IDX files of any shape, the
// CIFAR-10 binary version and PNG folders. Known answers: files generated here load back with
// exactly their pixel bytes / 255 and their labels. Malformed files are refused with one line
// naming the file and what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { DataError, type DataSplits, type Dataset } from "../../src/engine/data.js";
import { datasetDirectoryProblem, detectFormat, imageShapeOf, loadDataset, loadDatasetDirectory, loadTestSplit, testSplitCount, type DatasetFormat } from "../../src/engine/dataset-formats.js";
import { GENERATED_MARKER, isGeneratedData } from "../../src/engine/data-provenance.js";
import { cifarRecords, generatedSplits, pngOf, writeCifar10Binary, writeIdx, writePngFolder } from "../helpers/generated-data.js";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-datasets-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const rgb = generatedSplits({ trainCount: 20, testCount: 10, classes: 10, seed: 7 });
const grey = generatedSplits({ trainCount: 12, testCount: 6, classes: 3, size: 9, channels: 1, seed: 8 });

function assertSame(loaded: Dataset, want: Dataset, what: string): void {
  assert.deepEqual([loaded.count, loaded.height, loaded.width, loaded.channels, loaded.numClasses], [want.count, want.height, want.width, want.channels, want.numClasses], `${what}: shape`);
  assert.deepEqual(loaded.labels, want.labels, `${what}: labels`);
  // Exactly the generated values: bytes / 255, in [0, 1].
  assert.deepEqual(loaded.images, want.images, `${what}: pixels`);
  assert.ok(loaded.images.every((v) => v >= 0 && v <= 1 && Math.fround(Math.round(v * 255) / 255) === v), `${what}: bytes / 255`);
}

const writers: [DatasetFormat, (dir: string, s: DataSplits) => Promise<void>, DataSplits][] = [
  ["idx", (d, s) => writeIdx(d, s), rgb],
  ["idx", (d, s) => writeIdx(d, s, false), grey],
  ["cifar10-binary", writeCifar10Binary, rgb],
  ["png-folder", (d, s) => writePngFolder(d, s), rgb],
  ["png-folder", (d, s) => writePngFolder(d, s, ["cat", "dog", "emu"]), grey],
];

for (const [format, write, splits] of writers) {
  const what = `${format}, ${splits.train.height}x${splits.train.width}x${splits.train.channels}`;
  test(`known answer: ${what} loads back exactly (pixels, labels, shapes), by name and by detection`, async (t) => {
    const dir = await tempDir(t);
    await write(dir, splits);
    assert.equal(await detectFormat(dir), format);
    assert.equal(await datasetDirectoryProblem(dir), null);
    assert.ok(await isGeneratedData(dir), "the generator marks its directory");
    const loaded = await loadDataset(dir, format, "gen");
    assertSame(loaded.train, splits.train, `${what} train`);
    assertSame(loaded.test, splits.test, `${what} test`);
    assert.equal(loaded.train.name, "gen");
    assertSame((await loadDatasetDirectory(dir)).test, splits.test, `${what} detected`);
    assertSame(await loadTestSplit(dir, format), splits.test, `${what} test split alone`);
    assert.equal(await testSplitCount(dir, format), splits.test.count);
    assert.deepEqual(await imageShapeOf(dir, format), [splits.test.height, splits.test.width, splits.test.channels]);
  });
}

test("CIFAR-10 records: label byte then the R, G, B planes, each row by row", () => {
  const one = { ...rgb.test, count: 1 };
  const b = cifarRecords(one);
  assert.equal(b.length, 3073);
  assert.equal(b[0], rgb.test.labels[0]);
  // Pixel (row 2, column 5): R at 1 + 2*32+5, G 1024 later, B 2048 later.
  const p = 2 * 32 + 5;
  for (let c = 0; c < 3; c++) assert.equal(b[1 + c * 1024 + p], Math.round(rgb.test.images[p * 3 + c]! * 255));
});

test("Fashion-MNIST's directory is recognised as IDX 28x28x1", { skip: !(await detectFormat("/usr/share/datasets/fashion-mnist").then(() => true, () => false)) }, async () => {
  assert.equal(await detectFormat("/usr/share/datasets/fashion-mnist"), "idx");
  assert.deepEqual(await imageShapeOf("/usr/share/datasets/fashion-mnist", "idx"), [28, 28, 1]);
});

// ───────────────────────── malformed files: one clear line each ─────────────────────────

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, `a DataError, got ${String(e)}`);
    assert.doesNotMatch(e.message, /\n/, "one line");
    assert.match(e.message, pattern);
    return true;
  });
}

test("CIFAR-10: a truncated record, a label outside 0..9 and a missing batch are named", async (t) => {
  const dir = await tempDir(t);
  await writeCifar10Binary(dir, rgb);
  const file = path.join(dir, "data_batch_3.bin");
  const whole = await readFile(file);
  await writeFile(file, whole.subarray(0, whole.length - 100));
  await rejects(loadDataset(dir, "cifar10-binary"), /data_batch_3\.bin: truncated CIFAR-10 record: 12192 bytes are 3 whole 3073-byte records and 2973 bytes more/);
  await writeFile(file, whole);
  const test = path.join(dir, "test_batch.bin");
  const t0 = await readFile(test);
  const bad = Buffer.from(t0);
  bad[3073 * 2] = 12;
  await writeFile(test, bad);
  await rejects(loadTestSplit(dir, "cifar10-binary"), /test_batch\.bin: record 2 has label 12, outside 0\.\.9/);
  await writeFile(test, Buffer.alloc(0));
  await rejects(loadDataset(dir, "cifar10-binary"), /test_batch\.bin: empty/);
  await rm(test);
  await rejects(loadDataset(dir, "cifar10-binary"), /test_batch\.bin not found \(the CIFAR-10 binary version has data_batch_1\.bin/);
  assert.match((await datasetDirectoryProblem(dir))!, /lacks test_batch\.bin/);
});

async function editIdx(dir: string, file: string, edit: (b: Buffer) => Buffer): Promise<void> {
  const p = path.join(dir, `${file}.gz`);
  await writeFile(p, gzipSync(edit(gunzipSync(await readFile(p)))));
}

test("IDX: a bad magic number, a non-byte type, wrong dimensions and channel counts are named", async (t) => {
  const fresh = async (): Promise<string> => {
    const d = await tempDir(t);
    await writeIdx(d, rgb);
    return d;
  };
  let dir = await fresh();
  await editIdx(dir, "train-images-idx4-ubyte", (b) => (b.writeUInt32BE(0x12340804, 0), b));
  await rejects(loadDataset(dir, "idx"), /train-images-idx4-ubyte\.gz: magic number 0x12340804, expected 0x00000803 or 0x00000804 \(not an IDX file\)/);
  dir = await fresh();
  await editIdx(dir, "t10k-images-idx4-ubyte", (b) => (b.writeUInt32BE(0x00000d04, 0), b));
  await rejects(loadDataset(dir, "idx"), /t10k-images-idx4-ubyte\.gz: .*IDX data type 0x0d, only 0x08 \(unsigned bytes\) is supported/);
  dir = await fresh();
  await editIdx(dir, "t10k-images-idx4-ubyte", (b) => (b.writeUInt32BE(0x00000802, 0), b));
  await rejects(loadTestSplit(dir, "idx"), /2-D data, images must be 3-D \(count × height × width\) or 4-D/);
  dir = await fresh();
  await editIdx(dir, "train-images-idx4-ubyte", (b) => (b.writeUInt32BE(5, 16), b));
  await rejects(loadDataset(dir, "idx"), /train-images-idx4-ubyte\.gz: 5 channels in 20x32x32x5, expected 1 \(greyscale\) or 3 \(RGB\)/);
  dir = await fresh();
  await editIdx(dir, "train-images-idx4-ubyte", (b) => (b.writeUInt32BE(31, 8), b));
  await rejects(loadDataset(dir, "idx"), /train-images-idx4-ubyte\.gz: \d+ bytes, expected \d+ for 20x31x32x3/);
  dir = await fresh();
  await editIdx(dir, "t10k-labels-idx1-ubyte", (b) => (b.writeUInt32BE(0x00000803, 0), b));
  await rejects(loadTestSplit(dir, "idx"), /t10k-labels-idx1-ubyte\.gz: magic number 0x00000803, expected 0x00000801 \(labels: 1-D unsigned bytes\)/);
});

test("IDX: training and test images of different shapes are refused", async (t) => {
  const dir = await tempDir(t);
  await writeIdx(dir, { train: rgb.train, test: generatedSplits({ trainCount: 1, testCount: 10, size: 28, channels: 3 }).test });
  await rejects(loadDataset(dir, "idx"), /training images are 32x32x3 but test images 28x28x3/);
});

/** A PNG folder data set written from `rgb`, then edited. */
async function pngDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await tempDir(t);
  await writePngFolder(dir, rgb);
  return dir;
}

test("PNG folders: an image of the wrong size, a non-PNG file, an empty class folder are named", async (t) => {
  let dir = await pngDir(t);
  const small = new PNG({ width: 30, height: 32 });
  small.data.fill(200);
  await writeFile(path.join(dir, "test", "4", "0.png"), PNG.sync.write(small));
  await rejects(loadDataset(dir, "png-folder"), /test\/4\/0\.png: 30x32 pixels, expected 32x32 like .*train\/0\/0\.png \(every image of a data set has one size\)/);

  dir = await pngDir(t);
  await writeFile(path.join(dir, "train", "3", "notes.txt"), "not an image");
  await rejects(loadDataset(dir, "png-folder"), /train\/3\/notes\.txt: not a PNG file \(a class folder holds PNG images only\)/);
  await writeFile(path.join(dir, "train", "3", "notes.txt"), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("garbage")]));
  await rejects(loadDataset(dir, "png-folder"), /train\/3\/notes\.txt: not a valid PNG image \(/);

  dir = await pngDir(t);
  await rm(path.join(dir, "test", "7"), { recursive: true });
  await mkdir(path.join(dir, "test", "7"));
  await writeFile(path.join(dir, "test", "7", ".DS_Store"), "hidden files are ignored");
  await rejects(loadTestSplit(dir, "png-folder"), /test\/7: empty class folder \(every class needs at least one image\)/);
});

test("PNG folders: stray files, unknown test classes, nested folders and colour in a greyscale set are named", async (t) => {
  let dir = await pngDir(t);
  await writeFile(path.join(dir, "train", "README"), "x");
  await rejects(loadDataset(dir, "png-folder"), /train\/README: not a class folder/);

  dir = await pngDir(t);
  await mkdir(path.join(dir, "test", "horse"));
  await writeFile(path.join(dir, "test", "horse", "0.png"), pngOf(rgb.test, 0));
  await rejects(loadTestSplit(dir, "png-folder"), /test\/horse: class "horse" has no folder in .*train/);

  dir = await pngDir(t);
  await mkdir(path.join(dir, "train", "2", "more"));
  await rejects(loadDataset(dir, "png-folder"), /train\/2\/more: not a file/);

  dir = await tempDir(t);
  await writePngFolder(dir, grey);
  await writeFile(path.join(dir, "test", "1", "0.png"), pngOf({ ...generatedSplits({ trainCount: 1, testCount: 1, size: 9, channels: 3 }).test }, 0));
  await rejects(loadDataset(dir, "png-folder"), /test\/1\/0\.png: colour pixels in a greyscale data set/);

  dir = await tempDir(t);
  await rejects(loadDataset(path.join(dir, "nope"), "png-folder"), /data directory .*nope not found/);
  await mkdir(path.join(dir, "train", "only"), { recursive: true });
  await rejects(loadDataset(dir, "png-folder"), /train: 1 class folder, at least two are needed/);
});

test("format detection: none, several, or a missing directory is one clear line", async (t) => {
  const dir = await tempDir(t);
  await rejects(detectFormat(path.join(dir, "missing")), /data directory .*missing not found/);
  await rejects(detectFormat(dir), /holds no data set: expected the four MNIST-format IDX files \(idx\), or .*\(cifar10-binary\), or train\/<class>\/\*\.png and test\/<class>\/\*\.png \(png-folder\)/);
  await writeCifar10Binary(dir, rgb);
  await writeIdx(dir, rgb);
  await rejects(detectFormat(dir), /holds files of several data set formats \(idx, cifar10-binary\)/);
  assert.ok((await readFile(path.join(dir, GENERATED_MARKER), "utf8")).includes("never be shipped"));
});
