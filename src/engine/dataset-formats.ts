// The data set formats and the one entry point that loads any of them:
//   idx             four MNIST-format IDX files (Fashion-MNIST, MNIST, KMNIST, EMNIST, or any IDX
//                   images count × H × W [× C]): data.ts;
//   cifar10-binary  the CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin): cifar10.ts;
//   png-folder      train/<class>/*.png and test/<class>/*.png: png-folder.ts.
// A grid names its format (default idx); a configured data set directory (ADVISOR_DATASETS, the
// CLI's --data) is recognised by its files (detectFormat). No TensorFlow here.
import { access, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import { CIFAR10, loadCifar10Binary, loadCifar10TestSplit } from "./cifar10.js";
import { DataError, hasIdxFile, IDX_FILES, idxDirectoryProblem, loadIdxDirectory, loadIdxTestSplit, type DataSplits, type Dataset } from "./data.js";
import { loadPngFolder, loadPngFolderTestSplit, PNG_SPLITS, pngFolderImageShape, pngFolderTestCount } from "./png-folder.js";

export const DATASET_FORMATS = ["idx", "cifar10-binary", "png-folder"] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
export const DEFAULT_DATASET_FORMAT: DatasetFormat = "idx";

/** What each format's directory holds, for messages. */
export const FORMAT_LAYOUTS: Readonly<Record<DatasetFormat, string>> = {
  idx: "the four MNIST-format IDX files",
  "cifar10-binary": `the CIFAR-10 binary batches (${CIFAR10.trainFiles[0]} … ${CIFAR10.trainFiles.at(-1)}, ${CIFAR10.testFile})`,
  "png-folder": "train/<class>/*.png and test/<class>/*.png",
};

export function parseDatasetFormat(text: string): DatasetFormat {
  if ((DATASET_FORMATS as readonly string[]).includes(text)) return text as DatasetFormat;
  throw new DataError(`unknown data set format ${JSON.stringify(text)} (known: ${DATASET_FORMATS.join(", ")})`);
}

/** Both splits of the data set in `dir`. */
export function loadDataset(dir: string, format: DatasetFormat, name?: string): Promise<DataSplits> {
  switch (format) {
    case "idx":
      return loadIdxDirectory(dir, name);
    case "cifar10-binary":
      return loadCifar10Binary(dir, name);
    case "png-folder":
      return loadPngFolder(dir, name);
  }
}

/** The test split alone, with the class count the full load would give (checking a model needs no more). */
export function loadTestSplit(dir: string, format: DatasetFormat, name?: string): Promise<Dataset> {
  switch (format) {
    case "idx":
      return loadIdxTestSplit(dir, name);
    case "cifar10-binary":
      return loadCifar10TestSplit(dir, name);
    case "png-folder":
      return loadPngFolderTestSplit(dir, name);
  }
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const isDir = (p: string): Promise<boolean> => stat(p).then((s) => s.isDirectory(), () => false);

/** The formats whose files `dir` holds (any of them), by a look at file names only. */
async function formatsIn(dir: string): Promise<DatasetFormat[]> {
  const found: DatasetFormat[] = [];
  for (const base of Object.values(IDX_FILES)) {
    if (await hasIdxFile(dir, base)) {
      found.push("idx");
      break;
    }
  }
  for (const f of [...CIFAR10.trainFiles, CIFAR10.testFile]) {
    if (await exists(path.join(dir, f))) {
      found.push("cifar10-binary");
      break;
    }
  }
  if ((await isDir(path.join(dir, PNG_SPLITS.train))) || (await isDir(path.join(dir, PNG_SPLITS.test)))) found.push("png-folder");
  return found;
}

/** The format of the data set in `dir`, from its file names; a DataError when none or several match. */
export async function detectFormat(dir: string): Promise<DatasetFormat> {
  if (!(await isDir(dir))) {
    throw new DataError((await exists(dir)) ? `${dir} is not a directory` : `data directory ${dir} not found`);
  }
  const found = await formatsIn(dir);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new DataError(`${dir} holds no data set: expected ${DATASET_FORMATS.map((f) => `${FORMAT_LAYOUTS[f]} (${f})`).join(", or ")}`);
  }
  throw new DataError(`${dir} holds files of several data set formats (${found.join(", ")}): keep one data set per directory`);
}

/**
 * Why `dir` cannot serve as a data set of `format` (detected when not given), from a look at the
 * file names and not their contents; null when it looks usable. Cheap enough for a start-up check.
 */
export async function datasetDirectoryProblem(dir: string, format?: DatasetFormat): Promise<string | null> {
  let f: DatasetFormat;
  try {
    f = format ?? (await detectFormat(dir));
  } catch (err) {
    return (err as Error).message;
  }
  if (f === "idx") return idxDirectoryProblem(dir);
  if (!(await isDir(dir))) return `data directory ${dir} not found`;
  const wanted = f === "cifar10-binary" ? [...CIFAR10.trainFiles, CIFAR10.testFile] : [PNG_SPLITS.train, PNG_SPLITS.test];
  const missing: string[] = [];
  for (const name of wanted) if (!(await exists(path.join(dir, name)))) missing.push(f === "png-folder" ? `${name}/` : name);
  return missing.length > 0 ? `${dir} lacks ${missing.join(", ")}` : null;
}

/** Images in the test split, from headers, sizes or the listing (no image decoded). */
export async function testSplitCount(dir: string, format: DatasetFormat): Promise<number> {
  if (format === "cifar10-binary") {
    const file = path.join(dir, CIFAR10.testFile);
    const size = await stat(file).then(
      (s) => s.size,
      () => {
        throw new DataError(`${file} not found`);
      },
    );
    if (size % CIFAR10.recordBytes !== 0) throw new DataError(`${file}: truncated CIFAR-10 record (${size} bytes is not a multiple of ${CIFAR10.recordBytes})`);
    return size / CIFAR10.recordBytes;
  }
  if (format === "png-folder") return pngFolderTestCount(dir);
  let raw: Buffer | undefined;
  for (const name of [`${IDX_FILES.testLabels}.gz`, IDX_FILES.testLabels]) {
    raw = await readFile(path.join(dir, name)).catch(() => undefined);
    if (raw) break;
  }
  if (!raw) throw new DataError(`no ${IDX_FILES.testLabels}[.gz] in ${dir}`);
  const b = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  if (b.length < 8 || b.readUInt32BE(0) !== 0x00000801) throw new DataError(`${IDX_FILES.testLabels} in ${dir} is not an IDX label file`);
  return b.readUInt32BE(4);
}

/** The first `n` bytes of a file, gunzipped when it is gzip-compressed (without inflating the rest). */
async function headBytes(file: string, n: number): Promise<Buffer> {
  const raw = await readFile(file);
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw.subarray(0, n);
  try {
    // The start of the stream, flushed as far as it goes: a header needs no more.
    return gunzipSync(raw.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, n);
  } catch {
    throw new DataError(`${file}: corrupt gzip data`);
  }
}

/**
 * The image shape [H, W, C] of the data set in `dir`, from a header or one image (the test split's
 * IDX header, CIFAR-10's fixed 32×32×3, the first training PNG): cheap, for messages that compare
 * data sets. A DataError when it cannot be read.
 */
export async function imageShapeOf(dir: string, format: DatasetFormat): Promise<[number, number, number]> {
  const problem = await datasetDirectoryProblem(dir, format);
  if (problem !== null) throw new DataError(problem);
  if (format === "cifar10-binary") return [CIFAR10.side, CIFAR10.side, CIFAR10.channels];
  if (format === "png-folder") return pngFolderImageShape(dir);
  for (const name of [IDX_FILES.testImages, IDX_FILES.testImages.replace("-idx3-", "-idx4-")].flatMap((b) => [`${b}.gz`, b])) {
    const file = path.join(dir, name);
    if (!(await exists(file))) continue;
    const b = await headBytes(file, 20);
    const rank = b.length >= 4 ? b.readUInt32BE(0) - 0x800 : 0;
    if ((rank !== 3 && rank !== 4) || b.length < 4 + 4 * rank) throw new DataError(`${file}: not an IDX image file`);
    return [b.readUInt32BE(8), b.readUInt32BE(12), rank === 4 ? b.readUInt32BE(16) : 1];
  }
  throw new DataError(`no ${IDX_FILES.testImages}[.gz] in ${dir}`);
}

/** A data set directory of any format (recognised by its files), both splits: what --data names. */
export async function loadDatasetDirectory(dir: string, name?: string): Promise<DataSplits> {
  return loadDataset(dir, await detectFormat(dir), name);
}
