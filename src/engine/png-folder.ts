// A folder of PNG images with labels by sub-folder:
//
//   <dir>/train/<class>/*.png      <dir>/test/<class>/*.png
//
// The classes are the sub-folders of train/, numbered in numeric-aware name order (folders 0 … 9
// are labels 0 … 9; airplane, automobile, bird … are numbered alphabetically); every folder of
// test/ must be one of them. Every class folder must hold at least one image; files whose names
// start with "." are ignored, anything else that is not a PNG image is an error. Every image must
// have the size of the first training image; when that one is greyscale the data set has one
// channel (and every image must be grey), otherwise three (R, G, B; a grey image becomes R = G = B).
// Alpha is ignored, 16-bit images are scaled to 8 bits (pngjs), pixels to [0, 1].
// Images are ordered round-robin over the classes — the first image of every class, then the
// second, … — each class's files in numeric-aware name order, so the first N test images (what a
// grid evaluates) cover every class.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PNG } from "pngjs";
import { DataError, requireDirectory, type DataSplits, type Dataset } from "./data.js";

export const PNG_SPLITS = { train: "train", test: "test" } as const;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const byName = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true });

interface Decoded {
  width: number;
  height: number;
  /** The PNG's colour type says grey (0, 4). */
  grey: boolean;
  /** RGBA, 8 bits per value. */
  rgba: Buffer;
}

function decode(file: string, bytes: Buffer): Decoded {
  if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw new DataError(`${file}: not a PNG file (a class folder holds PNG images only)`);
  }
  try {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, grey: png.colorType === 0 || png.colorType === 4, rgba: png.data };
  } catch (err) {
    throw new DataError(`${file}: not a valid PNG image (${(err as Error).message})`);
  }
}

async function entries(dir: string): Promise<{ name: string; isDir: boolean; isFile: boolean }[]> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list.filter((e) => !e.name.startsWith(".")).map((e) => ({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile() }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DataError(`${dir} not found (a PNG data set holds train/<class>/*.png and test/<class>/*.png)`);
    throw new DataError(`cannot read ${dir}: ${(err as Error).message}`);
  }
}

/** The class folders of one split, by name order. */
async function classFolders(splitDir: string): Promise<string[]> {
  const list = await entries(splitDir);
  const stray = list.find((e) => !e.isDir);
  if (stray) throw new DataError(`${path.join(splitDir, stray.name)}: not a class folder (${splitDir} holds one folder per class, nothing else)`);
  if (list.length === 0) throw new DataError(`${splitDir}: no class folders`);
  return list.map((e) => e.name).sort(byName);
}

/** The image files of one class folder, by name order; an empty folder or a sub-folder is an error. */
async function classFiles(classDir: string): Promise<string[]> {
  const list = await entries(classDir);
  const sub = list.find((e) => !e.isFile);
  if (sub) throw new DataError(`${path.join(classDir, sub.name)}: not a file (a class folder holds PNG images only)`);
  if (list.length === 0) throw new DataError(`${classDir}: empty class folder (every class needs at least one image)`);
  return list.map((e) => path.join(classDir, e.name)).sort(byName);
}

/** The files of a split in round-robin order over its classes, with their labels. */
async function listSplit(dir: string, split: string, classes: readonly string[]): Promise<{ file: string; label: number }[]> {
  const splitDir = path.join(dir, split);
  const folders = await classFolders(splitDir);
  const unknown = folders.find((f) => !classes.includes(f));
  if (unknown !== undefined) throw new DataError(`${path.join(splitDir, unknown)}: class ${JSON.stringify(unknown)} has no folder in ${path.join(dir, PNG_SPLITS.train)}`);
  const perClass = await Promise.all(folders.map(async (f) => ({ label: classes.indexOf(f), files: await classFiles(path.join(splitDir, f)) })));
  const out: { file: string; label: number }[] = [];
  const longest = Math.max(...perClass.map((c) => c.files.length));
  for (let i = 0; i < longest; i++) for (const c of perClass) if (i < c.files.length) out.push({ file: c.files[i]!, label: c.label });
  return out;
}

interface Geometry {
  height: number;
  width: number;
  channels: number;
  /** The image that fixed the geometry, for messages. */
  from: string;
}

async function geometryOf(file: string): Promise<Geometry> {
  const d = decode(file, await readFile(file));
  return { height: d.height, width: d.width, channels: d.grey ? 1 : 3, from: file };
}

async function loadSplit(list: { file: string; label: number }[], g: Geometry, name: string, numClasses: number): Promise<Dataset> {
  const size = g.height * g.width * g.channels;
  const images = new Float32Array(list.length * size);
  const labels = new Uint8Array(list.length);
  for (const [i, { file, label }] of list.entries()) {
    const d = decode(file, await readFile(file));
    if (d.width !== g.width || d.height !== g.height) {
      throw new DataError(`${file}: ${d.width}x${d.height} pixels, expected ${g.width}x${g.height} like ${g.from} (every image of a data set has one size)`);
    }
    const out = i * size;
    for (let p = 0; p < g.height * g.width; p++) {
      const r = d.rgba[4 * p]!;
      const gr = d.rgba[4 * p + 1]!;
      const b = d.rgba[4 * p + 2]!;
      if (g.channels === 1) {
        if (r !== gr || r !== b) throw new DataError(`${file}: colour pixels in a greyscale data set (its first training image ${g.from} is greyscale)`);
        images[out + p] = r / 255;
      } else {
        images[out + 3 * p] = r / 255;
        images[out + 3 * p + 1] = gr / 255;
        images[out + 3 * p + 2] = b / 255;
      }
    }
    labels[i] = label;
  }
  return { name, images, labels, count: list.length, height: g.height, width: g.width, channels: g.channels, numClasses };
}

async function classesOf(dir: string): Promise<string[]> {
  await requireDirectory(dir);
  const classes = await classFolders(path.join(dir, PNG_SPLITS.train));
  if (classes.length < 2) throw new DataError(`${path.join(dir, PNG_SPLITS.train)}: ${classes.length} class folder, at least two are needed`);
  if (classes.length > 256) throw new DataError(`${path.join(dir, PNG_SPLITS.train)}: ${classes.length} class folders, at most 256 are supported`);
  return classes;
}

/** Both splits of a PNG folder data set (see the header for the layout and the rules). */
export async function loadPngFolder(dir: string, name = path.basename(path.resolve(dir))): Promise<DataSplits> {
  const classes = await classesOf(dir);
  const trainList = await listSplit(dir, PNG_SPLITS.train, classes);
  const testList = await listSplit(dir, PNG_SPLITS.test, classes);
  const g = await geometryOf(trainList[0]!.file);
  return { train: await loadSplit(trainList, g, name, classes.length), test: await loadSplit(testList, g, name, classes.length) };
}

/** The image geometry, from the first training image (as loadPngFolder fixes it). */
async function firstGeometry(dir: string, classes: readonly string[]): Promise<Geometry> {
  return geometryOf((await classFiles(path.join(dir, PNG_SPLITS.train, classes[0]!)))[0]!);
}

/** The test split alone; the classes and the image geometry come from train/ as in loadPngFolder. */
export async function loadPngFolderTestSplit(dir: string, name = path.basename(path.resolve(dir))): Promise<Dataset> {
  const classes = await classesOf(dir);
  const g = await firstGeometry(dir, classes);
  return loadSplit(await listSplit(dir, PNG_SPLITS.test, classes), g, name, classes.length);
}

/** [H, W, C] of the data set's images, from its first training image alone. */
export async function pngFolderImageShape(dir: string): Promise<[number, number, number]> {
  const g = await firstGeometry(dir, await classesOf(dir));
  return [g.height, g.width, g.channels];
}

/** Images in the test split, from the folder listing alone (nothing decoded). */
export async function pngFolderTestCount(dir: string): Promise<number> {
  const classes = await classesOf(dir);
  return (await listSplit(dir, PNG_SPLITS.test, classes)).length;
}
