// The model side of a registration, run in the validation child process (validate-process.ts),
// never in the API's: it brings TensorFlow.js in, builds the uploaded model and runs it over the
// data set's test split, which for a compute-heavy model takes long and much memory.
//
// Checked in this order, cheapest first: the manifest against the files (every path present and
// a plain file name, byte counts, nothing extra), that TF.js builds the model, that its one input
// is the data set's [H, W, C] (28×28×1 for Fashion-MNIST, 32×32×3 for CIFAR-10; a mismatch names
// the configured data sets whose images would fit, or says that none does) and its one output has
// the data set's class count, that one input
// costs at most `maxMacs` multiply-accumulates (macs.ts: before any forward pass), that it
// predicts finite values on real test images, and that its clean accuracy is above chance. Then,
// when the parent asks, the model is written under <models dir>/<id>/ (storeModel).
import { readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { initBackend } from "../engine/backend.js";
import { inputShapeOf, shapeText as datasetShapeText, type Dataset } from "../engine/data.js";
import { detectFormat, imageShapeOf, loadTestSplit } from "../engine/dataset-formats.js";
import { loadModel, saveModel, weightsSha256, type ModelMetadata } from "../engine/model-io.js";
import type { Architecture } from "../engine/models.js";
import { measureSparsity } from "../engine/pruning/accounting.js";
import { tf, type LayersModel } from "../engine/tf.js";
import { packageVersion } from "../paths.js";
import { ModelUploadError } from "./errors.js";
import { modelMacs } from "./macs.js";
import { storedModelDir } from "./storage.js";
import { checkManifest, readJsonFile, type ManifestGroup } from "./manifest.js";
import { ARCHITECTURE_LABEL, METADATA_JSON, MODEL_JSON, type DatasetRef, type ModelFile } from "./upload-types.js";

const PROBE_BATCH = 64;
const EVAL_BATCH = 250;

// ───────────────────────── data sets (cached per process) ─────────────────────────

const testSplits = new Map<string, Promise<Dataset>>();

function testSplit(ds: DatasetRef): Promise<Dataset> {
  const key = `${path.resolve(ds.dir)}|${ds.name}`;
  let p = testSplits.get(key);
  if (!p) {
    p = (async () => loadTestSplit(ds.dir, ds.format ?? (await detectFormat(ds.dir)), ds.name))().catch((err: unknown) => {
      testSplits.delete(key);
      throw new ModelUploadError(503, `data set ${ds.name} is not usable here (configured directory ${ds.dir}): ${(err as Error).message}`, "dataset");
    });
    testSplits.set(key, p);
  }
  return p;
}

// ───────────────────────── checks ─────────────────────────

async function buildModel(topology: object, groups: ManifestGroup[], files: Map<string, ModelFile>): Promise<LayersModel> {
  const parts: Buffer[] = [];
  for (const g of groups) for (const p of g.paths) parts.push(await readFile(files.get(p)!.path));
  const data = Buffer.concat(parts);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: groups.flatMap((g) => g.weights), weightData }));
  } catch (err) {
    throw new ModelUploadError(422, `TF.js cannot build the model from model.json and its weights: ${(err as Error).message.split("\n")[0]}`, MODEL_JSON);
  }
}

const shapeText = (s: readonly (number | null)[]): string => `[${s.map((d) => (d === null ? "batch" : String(d))).join(", ")}]`;

/**
 * What the other configured data sets offer a model whose input does not fit the named one: the
 * ones whose images have its shape, or a sentence that none does (with each one's shape, or why
 * it cannot be read — e.g. CIFAR-10 not installed).
 */
async function otherDatasetsFor(input: readonly (number | null)[], others: readonly DatasetRef[]): Promise<string> {
  const want = input.length === 4 ? `${String(input[1])}x${String(input[2])}x${String(input[3])}` : null;
  const seen: string[] = [];
  const fit: string[] = [];
  for (const o of others) {
    try {
      const shape = (await imageShapeOf(o.dir, o.format ?? (await detectFormat(o.dir)))).join("x");
      if (shape === want) fit.push(o.name);
      seen.push(`${o.name}: ${shape}`);
    } catch (err) {
      seen.push(`${o.name}: not usable here, ${(err as Error).message}`);
    }
  }
  if (fit.length > 0) return `; data set ${fit.join(", ")} has ${want} images: name it in the field dataset`;
  if (want === null) return "";
  const configured = seen.length > 0 ? ` (the others: ${seen.join("; ")})` : "";
  const hint = want === "32x32x3" ? " — for CIFAR-10 the binary version (data_batch_1.bin … data_batch_5.bin, test_batch.bin) —" : "";
  return `; no configured data set has ${want} images${configured}: install one${hint} and add it to ADVISOR_DATASETS as name=directory`;
}

/** The model's one input must be [batch, H, W, C] and its one output [batch, classes] of the data set. */
async function checkShapes(model: LayersModel, ds: Dataset, others: readonly DatasetRef[]): Promise<void> {
  const want = [null, ...inputShapeOf(ds)];
  if (model.inputs.length !== 1) throw new ModelUploadError(422, `the model has ${model.inputs.length} inputs; exactly one is supported`, MODEL_JSON);
  const input = model.inputs[0]!.shape;
  if (input.length !== 4 || input.some((d, i) => d !== want[i])) {
    throw new ModelUploadError(
      422,
      `the model's input shape ${shapeText(input)} does not match data set ${ds.name}: its images need ${shapeText(want)} (height, width, channels; ${datasetShapeText(ds)}, values in [0, 1])${await otherDatasetsFor(input, others)}`,
      "inputShape",
    );
  }
  if (model.outputs.length !== 1) throw new ModelUploadError(422, `the model has ${model.outputs.length} outputs; exactly one (the class scores) is supported`, MODEL_JSON);
  const output = model.outputs[0]!.shape;
  if (output.length !== 2 || output[1] !== ds.numClasses) {
    throw new ModelUploadError(
      422,
      `the model's output shape ${shapeText(output)} does not match data set ${ds.name}, which has ${ds.numClasses} classes: expected ${shapeText([null, ds.numClasses])}`,
      "numClasses",
    );
  }
}

/** Predicts a real batch (finite values of the right shape), then the clean accuracy on the whole test split. */
async function probe(model: LayersModel, ds: Dataset): Promise<{ correct: number; n: number }> {
  const size = ds.height * ds.width * ds.channels;
  const batch = (start: number, n: number): tf.Tensor4D => tf.tensor4d(ds.images.subarray(start * size, (start + n) * size), [n, ds.height, ds.width, ds.channels]);
  const n0 = Math.min(PROBE_BATCH, ds.count);
  const x = batch(0, n0);
  const out = model.predict(x) as tf.Tensor;
  const shape = out.shape;
  const values = out.dataSync();
  tf.dispose([x, out]);
  const i = values.findIndex((v) => !Number.isFinite(v));
  const bad =
    shape.length !== 2 || shape[0] !== n0 || shape[1] !== ds.numClasses
      ? `predicted shape ${shapeText(shape)} for ${n0} images`
      : i >= 0
        ? `predicted a non-finite value (${String(values[i])}) for test image ${Math.floor(i / ds.numClasses)}`
        : null;
  if (bad) throw new ModelUploadError(422, `the model ${bad} of data set ${ds.name}; it must give ${ds.numClasses} finite class scores per image`, MODEL_JSON);
  let correct = 0;
  for (let start = 0; start < ds.count; start += EVAL_BATCH) {
    const n = Math.min(EVAL_BATCH, ds.count - start);
    correct += tf.tidy(() => {
      const pred = tf.argMax(model.predict(batch(start, n)) as tf.Tensor2D, 1);
      return tf.equal(pred, tf.tensor1d(ds.labels.subarray(start, start + n), "int32")).sum().dataSync()[0] ?? 0;
    });
  }
  return { correct, n: ds.count };
}

function lastActivation(topology: object): string | undefined {
  const layers = ((topology as { model_config?: { config?: { layers?: unknown } } }).model_config?.config?.layers ?? (topology as { config?: { layers?: unknown } }).config?.layers) as
    | { config?: { activation?: unknown } }[]
    | undefined;
  const last = Array.isArray(layers) ? layers.at(-1) : undefined;
  const a = last?.config?.activation;
  return typeof a === "string" ? a : undefined;
}


/** Below this share of correct answers over chance (1 / classes), a model is refused as untrained. */
const CHANCE_MARGIN = 0.05;

/**
 * A model no better than guessing (all-zero weights answer one class: 10 % on Fashion-MNIST)
 * would make every pruning look free: refuse it. The bar is chance + 5 points, on the test split.
 */
function checkAboveChance(clean: { correct: number; n: number }, ds: Dataset): void {
  const chance = 1 / ds.numClasses;
  const accuracy = clean.correct / clean.n;
  if (accuracy <= chance + CHANCE_MARGIN) {
    const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
    throw new ModelUploadError(
      422,
      `the model's clean accuracy on ${ds.name} is ${pct(accuracy)} (${clean.correct} of ${clean.n}), at chance level (${pct(chance)} for ${ds.numClasses} classes; at least ${pct(chance + CHANCE_MARGIN)} is required): upload a trained model`,
      MODEL_JSON,
    );
  }
}

function checkMacs(model: LayersModel, maxMacs: number): number {
  const macs = modelMacs(model);
  if (macs > maxMacs) {
    const m = (v: number): string => `${(v / 1e6).toFixed(1)} M`;
    throw new ModelUploadError(
      422,
      `the model costs about ${m(macs)} multiply-accumulates per input, over this server's limit of ${m(maxMacs)} (ADVISOR_UPLOAD_MAX_MACS): every attack step runs the model, so a matrix for it would take too long to build`,
      MODEL_JSON,
    );
  }
  return macs;
}

export interface InspectRequest {
  files: ModelFile[];
  /** Refuse files the manifest does not name (uploads); a directory may hold other files (CLI). */
  strictFiles: boolean;
  dataset: DatasetRef;
  /** The server's other configured data sets: named in the message when the model's input fits one of them instead. */
  otherDatasets?: DatasetRef[];
  /** Largest accepted cost of one input, in multiply-accumulates. */
  maxMacs: number;
}

/** What the checks found; everything the parent needs to register the model. */
export interface Inspection {
  id: string;
  inputShape: number[];
  numClasses: number;
  parameters: { total: number; trainable: number; prunable: number };
  clean: { correct: number; n: number };
  macs: number;
  warnings: string[];
  /** metadata.json's architecture label and seed, when the upload had them. */
  uploadedArchitecture: string | undefined;
  uploadedSeed: number;
  backend: string;
}

export interface StoredModel {
  /** model_dir relative to the database's folder. */
  relative: string;
  /** Whether this call wrote the files (so a failed registration removes them again). */
  wrote: boolean;
}

/** Runs every check; the built model stays loaded so the caller can store it. */
export async function inspectModel(o: InspectRequest): Promise<{ model: LayersModel; ds: Dataset; inspection: Inspection }> {
  const files = new Map(o.files.map((f) => [f.name, f]));
  const modelFile = files.get(MODEL_JSON);
  if (!modelFile) throw new ModelUploadError(400, "no model.json among the files (a TF.js layers model is model.json plus its weight files)", MODEL_JSON);
  const json = await readJsonFile(modelFile);
  const { topology, groups } = checkManifest(json, files, o.strictFiles);
  const metaFile = files.get(METADATA_JSON);
  const uploadedMeta = metaFile ? await readJsonFile(metaFile) : {};
  const ds = await testSplit(o.dataset);

  const backend = await initBackend();
  const model = await buildModel(topology, groups, files);
  try {
    await checkShapes(model, ds, o.otherDatasets ?? []);
    const macs = checkMacs(model, o.maxMacs);
    const clean = await probe(model, ds);
    checkAboveChance(clean, ds);
    const sparsity = measureSparsity(model);
    const id = await weightsSha256(model);
    const trainable = model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    const warnings: string[] = [];
    if (lastActivation(topology) === "softmax") {
      warnings.push("the last layer applies softmax: the attacks work on logits, and saturated softmax outputs can weaken gradient attacks (gradient masking); prefer a model that outputs logits");
    }
    if (sparsity.prunableParams === 0) warnings.push("the model has no Conv2D or Dense kernels, so there is nothing to prune");
    const label = uploadedMeta.architecture;
    const inspection: Inspection = {
      id,
      inputShape: inputShapeOf(ds),
      numClasses: ds.numClasses,
      parameters: { total: sparsity.totalParams, trainable, prunable: sparsity.prunableParams },
      clean,
      macs,
      warnings,
      uploadedArchitecture: typeof label === "string" && ARCHITECTURE_LABEL.test(label) ? label : undefined,
      uploadedSeed: Number.isSafeInteger(uploadedMeta.seed) ? (uploadedMeta.seed as number) : 0,
      backend: backend.label,
    };
    return { model, ds, inspection };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

// ───────────────────────── storing ─────────────────────────

/**
 * Writes the model as the engine saves models (model.json, weights.bin, metadata.json) under
 * <models dir>/<id>, unless a complete copy with the same weights is already there (a crash
 * between writing and registering, or a concurrent add). Returns model_dir relative to dbDir.
 */
export async function storeModel(
  model: LayersModel,
  o: { modelsDir: string; dbDir: string },
  id: string,
  m: { architecture: string; ds: Dataset; clean: { correct: number; n: number }; backend: string; seed: number },
): Promise<StoredModel> {
  const dir = storedModelDir(o.modelsDir, id);
  const relative = path.relative(o.dbDir, dir);
  if (await sameModelAt(dir, id)) return { relative, wrote: false };
  await rm(dir, { recursive: true, force: true }); // not a complete copy of this model
  const metadata: Omit<ModelMetadata, "weightsSha256" | "format"> = {
    // Uploaded models carry a free-form architecture label; the engine only reads it back as a label.
    architecture: m.architecture as Architecture,
    dataset: m.ds.name,
    inputShape: inputShapeOf(m.ds),
    numClasses: m.ds.numClasses,
    seed: m.seed,
    cleanAccuracy: m.clean.correct / m.clean.n,
    testCount: m.clean.n,
    backend: m.backend,
    codeVersion: packageVersion(),
    createdAt: new Date().toISOString(),
  };
  try {
    const saved = await saveModel(model, dir, metadata);
    if (saved.weightsSha256 !== id) throw new Error(`saved weights hash ${saved.weightsSha256} differs from ${id}`);
  } catch (err) {
    if (await sameModelAt(dir, id)) return { relative, wrote: false }; // another process stored it meanwhile
    throw err;
  }
  return { relative, wrote: true };
}

async function sameModelAt(dir: string, id: string): Promise<boolean> {
  try {
    await stat(dir);
  } catch {
    return false;
  }
  try {
    const loaded = await loadModel(dir);
    loaded.model.dispose();
    return loaded.metadata.weightsSha256 === id;
  } catch {
    return false;
  }
}

