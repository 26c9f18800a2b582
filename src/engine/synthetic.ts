// A small generated data set for tests and smoke runs: each class is a random blocky prototype
// (per channel, so RGB classes differ in colour too), each sample that prototype plus noise, so
// small models learn it in a few steps. It can be written as IDX files so it travels through
// exactly the loader real data uses; the directory is marked as generated (data-provenance.ts).
import { mkdir, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import type { DataSplits, Dataset } from "./data.js";
import { markGenerated } from "./data-provenance.js";
import { mulberry32, type Rng } from "./random.js";

export interface SyntheticOptions {
  trainCount: number;
  testCount: number;
  classes?: number;
  size?: number;
  /** 1 (greyscale, the default) or 3 (RGB). */
  channels?: number;
  seed?: number;
  /** Noise amplitude in [0, 1]; larger is harder. */
  noise?: number;
}

/** Per class, an image [size, size, channels] (channels last) of random blocks. */
function prototypes(classes: number, size: number, channels: number, rng: Rng): Float32Array[] {
  const cell = Math.max(1, Math.floor(size / 7));
  return Array.from({ length: classes }, () => {
    const p = new Float32Array(size * size * channels);
    for (let by = 0; by < size; by += cell)
      for (let bx = 0; bx < size; bx += cell)
        for (let ch = 0; ch < channels; ch++) {
          const v = rng() < 0.35 ? 0.6 + 0.4 * rng() : 0.1 * rng();
          for (let y = by; y < Math.min(size, by + cell); y++) for (let x = bx; x < Math.min(size, bx + cell); x++) p[(y * size + x) * channels + ch] = v;
        }
    return p;
  });
}

function sample(protos: Float32Array[], count: number, size: number, channels: number, noise: number, rng: Rng, name: string): Dataset {
  const n = size * size * channels;
  const images = new Float32Array(count * n);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % protos.length;
    labels[i] = c;
    const p = protos[c]!;
    for (let j = 0; j < n; j++) {
      // Quantised to bytes so the data survives a round trip through any byte format unchanged.
      const v = Math.min(1, Math.max(0, p[j]! * (0.8 + 0.2 * rng()) + noise * (rng() - 0.5)));
      images[i * n + j] = Math.round(v * 255) / 255;
    }
  }
  return { name, images, labels, count, height: size, width: size, channels, numClasses: protos.length };
}

export function syntheticSplits(opts: SyntheticOptions): DataSplits {
  const classes = opts.classes ?? 10;
  const size = opts.size ?? 28;
  const channels = opts.channels ?? 1;
  const rng = mulberry32(opts.seed ?? 1);
  const protos = prototypes(classes, size, channels, rng);
  const noise = opts.noise ?? 0.5;
  return {
    train: sample(protos, opts.trainCount, size, channels, noise, rng, "synthetic"),
    test: sample(protos, opts.testCount, size, channels, noise, rng, "synthetic"),
  };
}

/** 3-D IDX (count × H × W) for one channel, 4-D (count × H × W × C) otherwise. */
function idxImages(ds: Dataset): Buffer {
  const rank = ds.channels === 1 ? 3 : 4;
  const header = Buffer.alloc(4 + 4 * rank);
  header.writeUInt32BE(0x00000800 + rank, 0);
  header.writeUInt32BE(ds.count, 4);
  header.writeUInt32BE(ds.height, 8);
  header.writeUInt32BE(ds.width, 12);
  if (rank === 4) header.writeUInt32BE(ds.channels, 16);
  const body = Buffer.alloc(ds.images.length);
  for (let i = 0; i < ds.images.length; i++) body[i] = Math.round(ds.images[i]! * 255);
  return Buffer.concat([header, body]);
}

function idxLabels(ds: Dataset): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x00000801, 0);
  header.writeUInt32BE(ds.count, 4);
  return Buffer.concat([header, Buffer.from(ds.labels)]);
}

/**
 * Writes the four IDX files (gzip-compressed unless gzip is false) into `dir`, image files named
 * idx3 for one channel and idx4 for more, and marks the directory as generated.
 */
export async function writeIdxDirectory(dir: string, splits: DataSplits, gzip = true): Promise<void> {
  await mkdir(dir, { recursive: true });
  const rank = splits.train.channels === 1 ? 3 : 4;
  const files: [string, Buffer][] = [
    [`train-images-idx${rank}-ubyte`, idxImages(splits.train)],
    ["train-labels-idx1-ubyte", idxLabels(splits.train)],
    [`t10k-images-idx${rank}-ubyte`, idxImages(splits.test)],
    ["t10k-labels-idx1-ubyte", idxLabels(splits.test)],
  ];
  for (const [name, bytes] of files) {
    await writeFile(path.join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  }
  await markGenerated(dir, "writeIdxDirectory (src/engine/synthetic.ts)");
}
