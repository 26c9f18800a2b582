// The CIFAR-10 binary version (cifar-10-binary.tar.gz, unpacked: cifar-10-batches-bin/): five
// training files data_batch_1.bin … data_batch_5.bin and test_batch.bin, each a sequence of
// 3,073-byte records — 1 label byte (0–9), then 1,024 red, 1,024 green and 1,024 blue bytes, each
// plane the 32×32 image row by row. The real files hold 10,000 records each; any whole number of
// records is accepted (generated test data holds a few). Pixels come back scaled to [0, 1] in the
// channels-last layout of every Dataset ([32, 32, 3]); records keep their order in the files.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { DataError, requireDirectory, type DataSplits, type Dataset } from "./data.js";

export const CIFAR10 = {
  trainFiles: ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
  testFile: "test_batch.bin",
  side: 32,
  channels: 3,
  classes: 10,
  /** 1 label byte + 32 × 32 × 3 pixel bytes. */
  recordBytes: 1 + 32 * 32 * 3,
} as const;

const PLANE = CIFAR10.side * CIFAR10.side;

/** The records of one batch file, or a one-line DataError naming the file. */
function parseBatch(file: string, b: Buffer): { images: Float32Array; labels: Uint8Array } {
  if (b.length === 0) throw new DataError(`${file}: empty (a CIFAR-10 batch holds ${CIFAR10.recordBytes}-byte records)`);
  const count = Math.floor(b.length / CIFAR10.recordBytes);
  const rest = b.length % CIFAR10.recordBytes;
  if (rest !== 0) {
    throw new DataError(
      `${file}: truncated CIFAR-10 record: ${b.length} bytes are ${count} whole ${CIFAR10.recordBytes}-byte records and ${rest} bytes more (1 label byte + 3,072 pixel bytes per record)`,
    );
  }
  const images = new Float32Array(count * PLANE * CIFAR10.channels);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const at = r * CIFAR10.recordBytes;
    const label = b[at]!;
    if (label >= CIFAR10.classes) throw new DataError(`${file}: record ${r} has label ${label}, outside 0..${CIFAR10.classes - 1} (is this the CIFAR-100 binary version?)`);
    labels[r] = label;
    // Planes R, G, B → channels last: pixel p of channel c goes to (r, p, c).
    const out = r * PLANE * CIFAR10.channels;
    for (let c = 0; c < CIFAR10.channels; c++) {
      const plane = at + 1 + c * PLANE;
      for (let p = 0; p < PLANE; p++) images[out + p * CIFAR10.channels + c] = b[plane + p]! / 255;
    }
  }
  return { images, labels };
}

async function readBatch(dir: string, name: string): Promise<{ images: Float32Array; labels: Uint8Array }> {
  const file = path.join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new DataError(`${file} not found (the CIFAR-10 binary version has ${CIFAR10.trainFiles.join(", ")} and ${CIFAR10.testFile})`);
    }
    throw new DataError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseBatch(file, bytes);
}

function dataset(name: string, parts: { images: Float32Array; labels: Uint8Array }[]): Dataset {
  const count = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Float32Array(count * PLANE * CIFAR10.channels);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PLANE * CIFAR10.channels);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return { name, images, labels, count, height: CIFAR10.side, width: CIFAR10.side, channels: CIFAR10.channels, numClasses: CIFAR10.classes };
}

/** Both splits: the five training batches in order, then the test batch. */
export async function loadCifar10Binary(dir: string, name = path.basename(path.resolve(dir))): Promise<DataSplits> {
  await requireDirectory(dir);
  const train: { images: Float32Array; labels: Uint8Array }[] = [];
  for (const f of CIFAR10.trainFiles) train.push(await readBatch(dir, f));
  return { train: dataset(name, train), test: dataset(name, [await readBatch(dir, CIFAR10.testFile)]) };
}

/** The test split alone (what checking an uploaded model needs). */
export async function loadCifar10TestSplit(dir: string, name = path.basename(path.resolve(dir))): Promise<Dataset> {
  await requireDirectory(dir);
  return dataset(name, [await readBatch(dir, CIFAR10.testFile)]);
}
