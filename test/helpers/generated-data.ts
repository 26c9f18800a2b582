// Data sets the tests generate in every format the engine reads, since only Fashion-MNIST can be
// installed on the build machine: class-separable images (src/engine/synthetic.ts: a random
// blocky prototype per class and channel plus noise, bytes exactly), written as IDX files
// (3-D or 4-D), as the CIFAR-10 binary version, or as train/ and test/ PNG folders. Every
// directory written here is marked as generated (src/engine/data-provenance.ts), so the matrix
// builder refuses it under a real data set's name and its rows cannot be shipped.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { PNG } from "pngjs";
import type { DataSplits, Dataset } from "../../src/engine/data.js";
import { markGenerated } from "../../src/engine/data-provenance.js";
import { CIFAR10 } from "../../src/engine/cifar10.js";
import { syntheticSplits, writeIdxDirectory, type SyntheticOptions } from "../../src/engine/synthetic.js";

/** syntheticSplits' options; here the defaults are CIFAR-like: 10 classes, 32x32, 3 channels, seed 1, noise 0.3 (a few hundred steps separate the classes). */
export type GeneratedOptions = SyntheticOptions;

/** Class-separable images whose pixels are whole bytes / 255, labels 0, 1, 2, … in turn. */
export function generatedSplits(o: GeneratedOptions): DataSplits {
  return syntheticSplits({ trainCount: o.trainCount, testCount: o.testCount, classes: o.classes ?? 10, size: o.size ?? 32, channels: o.channels ?? 3, seed: o.seed ?? 1, noise: o.noise ?? 0.3 });
}

const byte = (v: number): number => Math.round(v * 255);

/** One CIFAR-10 record per image: the label byte, then the R, G and B planes. */
export function cifarRecords(ds: Dataset): Buffer {
  if (ds.height !== CIFAR10.side || ds.width !== CIFAR10.side || ds.channels !== CIFAR10.channels) throw new Error("CIFAR-10 images are 32x32x3");
  const plane = CIFAR10.side * CIFAR10.side;
  const out = Buffer.alloc(ds.count * CIFAR10.recordBytes);
  for (let i = 0; i < ds.count; i++) {
    const at = i * CIFAR10.recordBytes;
    out[at] = ds.labels[i]!;
    for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) out[at + 1 + c * plane + p] = byte(ds.images[(i * plane + p) * 3 + c]!);
  }
  return out;
}

/** The CIFAR-10 binary version: the training images split in order over data_batch_1..5.bin (each non-empty), test_batch.bin. */
export async function writeCifar10Binary(dir: string, splits: DataSplits): Promise<void> {
  const n = splits.train.count;
  if (n < CIFAR10.trainFiles.length) throw new Error(`writeCifar10Binary needs at least ${CIFAR10.trainFiles.length} training images`);
  await mkdir(dir, { recursive: true });
  const records = cifarRecords(splits.train);
  for (const [k, name] of CIFAR10.trainFiles.entries()) {
    const from = Math.floor((k * n) / CIFAR10.trainFiles.length);
    const to = Math.floor(((k + 1) * n) / CIFAR10.trainFiles.length);
    await writeFile(path.join(dir, name), records.subarray(from * CIFAR10.recordBytes, to * CIFAR10.recordBytes));
  }
  await writeFile(path.join(dir, CIFAR10.testFile), cifarRecords(splits.test));
  await writeFile(path.join(dir, "batches.meta.txt"), Array.from({ length: CIFAR10.classes }, (_, c) => `class${c}`).join("\n") + "\n");
  await markGenerated(dir, "writeCifar10Binary (test/helpers/generated-data.ts)");
}

/** Image `i` of `ds` as PNG bytes: greyscale (colour type 0) for one channel, RGB (2) for three. */
export function pngOf(ds: Dataset, i: number): Buffer {
  const png = new PNG({ width: ds.width, height: ds.height });
  const pixels = ds.height * ds.width;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) png.data[4 * p + c] = byte(ds.images[(i * pixels + p) * ds.channels + (ds.channels === 1 ? 0 : c)]!);
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: ds.channels === 1 ? 0 : 2 });
}

/**
 * <dir>/train/<class>/<k>.png and <dir>/test/<class>/<k>.png, k the image's position within its
 * class, class folders named `classNames[label]` (default the label). With labels 0, 1, 2, … in
 * turn (generatedSplits), the loader's round-robin order gives back the images in their order.
 */
export async function writePngFolder(dir: string, splits: DataSplits, classNames?: readonly string[]): Promise<void> {
  for (const [split, ds] of [["train", splits.train], ["test", splits.test]] as const) {
    const seen = new Map<number, number>();
    for (let i = 0; i < ds.count; i++) {
      const label = ds.labels[i]!;
      const k = seen.get(label) ?? 0;
      seen.set(label, k + 1);
      const folder = path.join(dir, split, classNames?.[label] ?? String(label));
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, `${k}.png`), pngOf(ds, i));
    }
  }
  await markGenerated(dir, "writePngFolder (test/helpers/generated-data.ts)");
}

/** The IDX files (4-D for three channels), gzip-compressed or raw. */
export async function writeIdx(dir: string, splits: DataSplits, gzip = true): Promise<void> {
  await writeIdxDirectory(dir, splits, gzip);
}
