// Helpers for the model upload tests: a small synthetic data set written as IDX files, tiny
// TF.js models made with the engine and saved as the engine saves them, and multipart bodies.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { saveModel, type ModelMetadata } from "../../src/engine/model-io.js";
import type { Architecture } from "../../src/engine/models.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { tf } from "../../src/engine/tf.js";
import { train } from "../../src/engine/train.js";
import { tempDir } from "../matrix/fixtures.js";

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

export const SIZE = 8;
export const CLASSES = 3;

/** A synthetic data set of 8x8 images and 3 classes in a temp directory. */
export async function syntheticData(t: TestContext): Promise<{ name: string; dir: string }> {
  const dir = await tempDir(t, "advisor-data-");
  await writeIdxDirectory(dir, syntheticSplits({ trainCount: 30, testCount: 60, classes: CLASSES, size: SIZE, seed: 3 }));
  return { name: "synthetic", dir };
}

/** A tiny conv + dense model saved by the engine (model.json, weights.bin, metadata.json). */
export async function tinyModel(
  t: TestContext,
  o: { seed?: number; inputShape?: number[]; classes?: number; softmax?: boolean; architecture?: string } = {},
): Promise<{ dir: string; metadata: ModelMetadata }> {
  await initBackend();
  const seed = o.seed ?? 1;
  const inputShape = o.inputShape ?? [SIZE, SIZE, 1];
  const model = tf.sequential();
  if (inputShape.length === 3) {
    model.add(tf.layers.conv2d({ inputShape, filters: 2, kernelSize: 3, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
    model.add(tf.layers.flatten());
  } else {
    model.add(tf.layers.dense({ inputShape, units: 4, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  }
  model.add(tf.layers.dense({ units: o.classes ?? CLASSES, activation: o.softmax ? "softmax" : "linear", kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }) }));
  // Trained a little on the synthetic data set's training split, so it is above chance on its
  // test split (registration refuses untrained models). Models of other shapes are for checks
  // that refuse them before any forward pass.
  const fits = inputShape.length === 3 && inputShape[0] === SIZE && inputShape[1] === SIZE && (o.classes ?? CLASSES) === CLASSES;
  if (fits) {
    const splits = syntheticSplits({ trainCount: 30, testCount: 60, classes: CLASSES, size: SIZE, seed: 3 });
    await train(model, splits.train, splits.train, { epochs: 15, seed, batchSize: 10, learningRate: 0.05 });
  }
  const saved = await saveTestModel(t, model, { architecture: o.architecture ?? "tiny", size: SIZE, classes: o.classes ?? CLASSES, seed });
  model.dispose();
  return saved;
}

/** Saves a test model as the engine saves models, in a temp directory. */
async function saveTestModel(
  t: TestContext,
  model: tf.Sequential,
  m: { architecture: string; size: number; classes: number; seed: number },
): Promise<{ dir: string; metadata: ModelMetadata }> {
  const dir = path.join(await tempDir(t, "advisor-model-"), "model");
  const metadata = await saveModel(model, dir, {
    architecture: m.architecture as Architecture,
    dataset: "synthetic",
    inputShape: [m.size, m.size, 1],
    numClasses: m.classes,
    seed: m.seed,
    backend: tf.getBackend(),
    codeVersion: "test",
    createdAt: new Date().toISOString(),
  });
  return { dir, metadata };
}

/**
 * The issue-16 case: a few KB of weights, a lot of compute (UpSampling2D 8x → Conv2D 64 →
 * GlobalAveragePooling → Dense): ≈ 32 M multiply-accumulates per 28×28 input (macs.ts).
 */
export async function heavyModel(t: TestContext, o: { size?: number; classes?: number } = {}): Promise<{ dir: string; metadata: ModelMetadata }> {
  await initBackend();
  const size = o.size ?? 28;
  const classes = o.classes ?? 10;
  const model = tf.sequential();
  model.add(tf.layers.upSampling2d({ inputShape: [size, size, 1], size: [8, 8] }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: classes, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  const saved = await saveTestModel(t, model, { architecture: "heavy", size, classes, seed: 1 });
  model.dispose();
  return saved;
}

/** A model whose every weight is 0: it answers one class for every input (chance level). */
export async function zeroModel(t: TestContext): Promise<{ dir: string; metadata: ModelMetadata }> {
  await initBackend();
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [SIZE, SIZE, 1] }));
  model.add(tf.layers.dense({ units: CLASSES, kernelInitializer: "zeros" }));
  const saved = await saveTestModel(t, model, { architecture: "zeros", size: SIZE, classes: CLASSES, seed: 1 });
  model.dispose();
  return saved;
}

export interface Part {
  name: string;
  filename?: string;
  content: Buffer | string;
}

/** The files of a model directory as upload parts (field name "files"). */
export async function modelParts(dir: string, o: { skip?: string[] } = {}): Promise<Part[]> {
  const parts: Part[] = [];
  for (const f of (await readdir(dir)).sort()) {
    if (o.skip?.includes(f)) continue;
    parts.push({ name: "files", filename: f, content: await readFile(path.join(dir, f)) });
  }
  return parts;
}

/** A multipart/form-data body and its content type. */
export function multipart(parts: Part[]): { body: Buffer; contentType: string } {
  const boundary = `----advisor-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = p.filename === undefined ? `form-data; name="${p.name}"` : `form-data; name="${p.name}"; filename="${p.filename}"`;
    const type = p.filename === undefined ? "" : "Content-Type: application/octet-stream\r\n";
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), Buffer.isBuffer(p.content) ? p.content : Buffer.from(p.content), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Every file below `dir` (relative paths), for "nothing left behind" checks. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      await walk(p, r);
    }
  };
  await walk(dir, "");
  return out;
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value));
}
