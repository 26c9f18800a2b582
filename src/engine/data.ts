// The in-memory data set every loader produces, and the loader of MNIST's IDX format
// (Fashion-MNIST, MNIST, KMNIST, EMNIST, or any IDX images of shape count × H × W [× C]): four files
// in one directory, gzip-compressed or raw. The other formats (CIFAR-10 binary, PNG folders) are in
// cifar10.ts and png-folder.ts; dataset-formats.ts picks one. Pixels are scaled to [0, 1]; every
// check fails with one line naming the file and what is wrong. No TensorFlow here, so the CLI can
// load it cheaply.
import { access, readFile, stat } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { mulberry32, permutation } from "./random.js";

export const DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * Images are stored flat, row-major, channels last ([count, H, W, C], the layout TF.js's NHWC
 * tensors use): image i is images[i*H*W*C, (i+1)*H*W*C).
 */
export interface Dataset {
  name: string;
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** 1 (greyscale) or 3 (RGB). */
  channels: number;
  numClasses: number;
}

/** Values per image: H × W × C. */
export function imageSize(ds: Pick<Dataset, "height" | "width" | "channels">): number {
  return ds.height * ds.width * ds.channels;
}

/** The model input shape of a data set's images: [H, W, C]. */
export function inputShapeOf(ds: Pick<Dataset, "height" | "width" | "channels">): [number, number, number] {
  return [ds.height, ds.width, ds.channels];
}

export interface DataSplits {
  train: Dataset;
  test: Dataset;
}

export class DataError extends Error {
  override name = "DataError";
}

// IDX magic: two zero bytes, the data type (0x08 = unsigned byte) and the number of dimensions.
const IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dimensions: count × H × W
const IMAGES_MAGIC_4D = 0x00000804; // unsigned byte, 4 dimensions: count × H × W × C
const LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dimension
/** The four files, each gzip-compressed (.gz) or raw; image files of 4-D IDX may say idx4 instead of idx3. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** The names a file of IDX_FILES may have: as listed, or idx4 for idx3 (4-D images). */
function idxNames(base: string): string[] {
  return base.includes("-idx3-") ? [base, base.replace("-idx3-", "-idx4-")] : [base];
}

async function readMaybeGzip(dir: string, base: string): Promise<{ file: string; bytes: Buffer }> {
  for (const name of idxNames(base).flatMap((b) => [`${b}.gz`, b])) {
    const file = path.join(dir, name);
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new DataError(`cannot read ${file}: ${(err as Error).message}`);
    }
    if (raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        return { file, bytes: gunzipSync(raw) };
      } catch {
        throw new DataError(`${file}: corrupt gzip data`);
      }
    }
    return { file, bytes: raw };
  }
  throw new DataError(`${path.join(dir, base)}[.gz] not found (a data directory holds the four MNIST-format IDX files)`);
}

/** Whether `dir` holds a file of IDX_FILES named `base` (any of its names, .gz or raw). */
export async function hasIdxFile(dir: string, base: string): Promise<boolean> {
  for (const name of idxNames(base).flatMap((b) => [`${b}.gz`, b])) {
    if (await access(path.join(dir, name)).then(() => true, () => false)) return true;
  }
  return false;
}

/**
 * Why `dir` cannot serve as a data set (a directory of the four IDX files), from a look at the
 * files and not their contents; null when it looks usable. Cheap enough for a start-up check.
 */
export async function idxDirectoryProblem(dir: string): Promise<string | null> {
  try {
    if (!(await stat(dir)).isDirectory()) return `${dir} is not a directory`;
  } catch {
    return `data directory ${dir} not found`;
  }
  const missing: string[] = [];
  for (const base of Object.values(IDX_FILES)) if (!(await hasIdxFile(dir, base))) missing.push(`${base}[.gz]`);
  return missing.length > 0 ? `${dir} lacks ${missing.join(", ")}` : null;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

/**
 * Image files are 3-D (count × H × W, one channel: MNIST and its kin) or 4-D (count × H × W × C,
 * channels last, C = 1 or 3) unsigned bytes.
 */
function parseImages(file: string, b: Buffer): { count: number; height: number; width: number; channels: number; pixels: Float32Array } {
  if (b.length < 4) throw new DataError(`${file}: too short for an IDX image header`);
  const magic = b.readUInt32BE(0);
  if (magic !== IMAGES_MAGIC && magic !== IMAGES_MAGIC_4D) {
    const dims = magic & 0xff;
    const why =
      magic >>> 16 !== 0
        ? "not an IDX file"
        : ((magic >>> 8) & 0xff) !== 0x08
          ? `IDX data type 0x${((magic >>> 8) & 0xff).toString(16).padStart(2, "0")}, only 0x08 (unsigned bytes) is supported`
          : `${dims}-D data, images must be 3-D (count × height × width) or 4-D (count × height × width × channels)`;
    throw new DataError(`${file}: magic number ${hex(magic)}, expected ${hex(IMAGES_MAGIC)} or ${hex(IMAGES_MAGIC_4D)} (${why})`);
  }
  const rank = magic & 0xff;
  const header = 4 + 4 * rank;
  if (b.length < header) throw new DataError(`${file}: too short for an IDX image header`);
  const count = b.readUInt32BE(4);
  const height = b.readUInt32BE(8);
  const width = b.readUInt32BE(12);
  const channels = rank === 4 ? b.readUInt32BE(16) : 1;
  const dims = `${count}x${height}x${width}${rank === 4 ? `x${channels}` : ""}`;
  if (count === 0 || height === 0 || width === 0 || channels === 0) throw new DataError(`${file}: empty dimensions ${dims}`);
  if (channels !== 1 && channels !== 3) throw new DataError(`${file}: ${channels} channels in ${dims}, expected 1 (greyscale) or 3 (RGB)`);
  const expected = header + count * height * width * channels;
  if (b.length !== expected) throw new DataError(`${file}: ${b.length} bytes, expected ${expected} for ${dims}`);
  const pixels = new Float32Array(count * height * width * channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = b[header + i]! / 255;
  return { count, height, width, channels, pixels };
}

function parseLabels(file: string, b: Buffer): Uint8Array {
  if (b.length < 8) throw new DataError(`${file}: too short for an IDX label header`);
  const magic = b.readUInt32BE(0);
  if (magic !== LABELS_MAGIC) throw new DataError(`${file}: magic number ${hex(magic)}, expected ${hex(LABELS_MAGIC)} (labels: 1-D unsigned bytes)`);
  const count = b.readUInt32BE(4);
  if (b.length !== 8 + count) throw new DataError(`${file}: ${b.length} bytes, expected ${8 + count} for ${count} labels`);
  return new Uint8Array(b.subarray(8));
}

async function loadPart(dir: string, images: string, labels: string, name: string): Promise<Omit<Dataset, "numClasses">> {
  const im = await readMaybeGzip(dir, images);
  const lb = await readMaybeGzip(dir, labels);
  const parsed = parseImages(im.file, im.bytes);
  const lab = parseLabels(lb.file, lb.bytes);
  if (lab.length !== parsed.count) {
    throw new DataError(`${lb.file}: ${lab.length} labels for ${parsed.count} images in ${im.file}`);
  }
  return { name, images: parsed.pixels, labels: lab, count: parsed.count, height: parsed.height, width: parsed.width, channels: parsed.channels };
}

/**
 * Loads a directory of the four IDX files. The class count is the largest training label + 1;
 * every class must occur in training and no test label may exceed it.
 */
export async function loadIdxDirectory(dir: string, name = path.basename(path.resolve(dir))): Promise<DataSplits> {
  await requireDirectory(dir);
  const train = await loadPart(dir, IDX_FILES.trainImages, IDX_FILES.trainLabels, name);
  const test = await loadPart(dir, IDX_FILES.testImages, IDX_FILES.testLabels, name);
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    throw new DataError(`${dir}: training images are ${shapeText(train)} but test images ${shapeText(test)}`);
  }
  let max = 0;
  const seen = new Set<number>();
  for (const l of train.labels) {
    seen.add(l);
    if (l > max) max = l;
  }
  const numClasses = max + 1;
  if (numClasses < 2) throw new DataError(`${dir}: training labels name fewer than two classes`);
  if (seen.size !== numClasses) {
    const missing = [...Array(numClasses).keys()].filter((c) => !seen.has(c));
    throw new DataError(`${dir}: labels range 0..${max} but class(es) ${missing.join(", ")} never occur in training`);
  }
  for (const l of test.labels) {
    if (l >= numClasses) throw new DataError(`${dir}: test label ${l} outside the training classes 0..${max}`);
  }
  return { train: { ...train, numClasses }, test: { ...test, numClasses } };
}

/**
 * The test split of a directory of IDX files, without decoding the (much larger) training images:
 * what checking a model against a data set needs. The class count comes from the training labels,
 * as in loadIdxDirectory, so both agree.
 */
export async function loadIdxTestSplit(dir: string, name = path.basename(path.resolve(dir))): Promise<Dataset> {
  await requireDirectory(dir);
  const trainLabels = await readMaybeGzip(dir, IDX_FILES.trainLabels);
  const labels = parseLabels(trainLabels.file, trainLabels.bytes);
  let max = 0;
  for (const l of labels) if (l > max) max = l;
  const numClasses = max + 1;
  if (numClasses < 2) throw new DataError(`${dir}: training labels name fewer than two classes`);
  const test = await loadPart(dir, IDX_FILES.testImages, IDX_FILES.testLabels, name);
  for (const l of test.labels) {
    if (l >= numClasses) throw new DataError(`${dir}: test label ${l} outside the training classes 0..${max}`);
  }
  return { ...test, numClasses };
}

/** Throws DataError unless `dir` is a directory. */
export async function requireDirectory(dir: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    throw new DataError(`data directory ${dir} not found`);
  }
  if (!isDir) throw new DataError(`${dir} is not a directory`);
}

/** "28x28x1": an image shape as messages show it. */
export function shapeText(ds: Pick<Dataset, "height" | "width" | "channels">): string {
  return `${ds.height}x${ds.width}x${ds.channels}`;
}

/** The rows of `ds` at `indices`, as a new data set. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const size = imageSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < ds.count)) throw new DataError(`sample index ${i} outside 0..${ds.count - 1}`);
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, name, images, labels, count: indices.length };
}

/** First `n` rows (or all when n is undefined or larger). */
export function head(ds: Dataset, n: number | undefined): Dataset {
  if (n === undefined || n >= ds.count) return ds;
  return subset(ds, Array.from({ length: n }, (_, i) => i));
}

/** A deterministic train/validation split: the same seed gives the same split. */
export function splitValidation(ds: Dataset, fraction: number, seed: number): { train: Dataset; validation: Dataset } {
  if (!(fraction > 0 && fraction < 1)) throw new DataError(`validation fraction must be in (0, 1), got ${fraction}`);
  const order = permutation(ds.count, mulberry32(seed ^ 0x5eed));
  const nVal = Math.max(1, Math.round(ds.count * fraction));
  return { validation: subset(ds, order.subarray(0, nVal)), train: subset(ds, order.subarray(nVal)) };
}
