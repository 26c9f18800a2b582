// Checks a TF.js layers model (model.json + weight files) against a data set and registers it in
// the matrix database, content-addressed by the sha256 of its weights as the engine serialises
// them (the same id the matrix uses for models it trained). Used by POST /v1/models and
// `advisor models add`. Imports TensorFlow.js: load this module only when a model arrives.
//
// Everything is checked before anything is stored: the manifest against the files (every path
// present and a plain file name, byte counts, nothing extra), that TF.js builds the model, that
// its one input is the data set's [H, W, 1] and its one output has the data set's class count,
// and that it predicts finite values on real test images. Then the model is written under
// <models dir>/<id>/ (temporary sibling renamed into place, see storage.ts) and its row inserted;
// a model that is already registered is not stored again.
//
// Runs in-process: building a model and one forward pass over the test split take a second or
// two for the models this service is made for (LeNet/ConvNet sized, a few MB). The forward pass
// runs in batches with a yield to the event loop between them, and one registration runs at a
// time per process, so other requests keep being answered meanwhile; multi-hundred-MB models
// would want a worker process instead (and are refused by the upload size limit first).
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { initBackend } from "../engine/backend.js";
import { loadIdxTestSplit, type Dataset } from "../engine/data.js";
import { loadModel, saveModel, weightsSha256, type ModelMetadata } from "../engine/model-io.js";
import type { Architecture } from "../engine/models.js";
import { measureSparsity } from "../engine/pruning/accounting.js";
import { tf, type LayersModel } from "../engine/tf.js";
import type { MatrixStore } from "../matrix/store.js";
import { packageVersion } from "../paths.js";
import { findModel, storedModelDir, UPLOAD_SOURCE, type RegisteredModel } from "./storage.js";

/** A problem with the model or the request; `status` is the HTTP status it maps to. */
export class ModelUploadError extends Error {
  override name = "ModelUploadError";
  constructor(
    readonly status: 400 | 409 | 413 | 422 | 503,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const MODEL_JSON = "model.json";
export const METADATA_JSON = "metadata.json";
/** File names a model may consist of: plain names, no directories, no leading dot. */
export const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const ARCHITECTURE_LABEL = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
const PROBE_BATCH = 64;
const EVAL_BATCH = 250;

export interface ModelFile {
  /** The file's name as the manifest refers to it. */
  name: string;
  /** Where it is on disk. */
  path: string;
  size: number;
}

export interface DatasetRef {
  name: string;
  dir: string;
}

export interface ModelSummary {
  id: string;
  architecture: string;
  dataset: string;
  inputShape: number[];
  numClasses: number;
  parameters: { total: number; trainable: number; prunable: number };
  /** On the data set's whole test split. */
  clean: { correct: number; n: number } | null;
  /** Relative to the database's folder. */
  modelDir: string | null;
  created: boolean;
  warnings: string[];
}

interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

// ───────────────────────── data sets (cached per process) ─────────────────────────

const testSplits = new Map<string, Promise<Dataset>>();

function testSplit(ds: DatasetRef): Promise<Dataset> {
  const key = `${path.resolve(ds.dir)}|${ds.name}`;
  let p = testSplits.get(key);
  if (!p) {
    p = loadIdxTestSplit(ds.dir, ds.name).catch((err: unknown) => {
      testSplits.delete(key);
      throw new ModelUploadError(503, `data set ${ds.name} cannot be loaded from ${ds.dir}: ${(err as Error).message}`, "dataset");
    });
    testSplits.set(key, p);
  }
  return p;
}

// ───────────────────────── checks ─────────────────────────

async function readJsonFile(f: ModelFile): Promise<Record<string, unknown>> {
  if (f.size > MAX_JSON_BYTES) throw new ModelUploadError(413, `${f.name} is ${f.size} bytes; at most ${MAX_JSON_BYTES} are accepted`, f.name);
  let v: unknown;
  try {
    v = JSON.parse(await readFile(f.path, "utf8"));
  } catch (err) {
    throw new ModelUploadError(400, `${f.name} is not valid JSON: ${(err as Error).message}`, f.name);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new ModelUploadError(400, `${f.name} must hold a JSON object`, f.name);
  return v as Record<string, unknown>;
}

function checkManifest(json: Record<string, unknown>, files: Map<string, ModelFile>, strictFiles: boolean): { topology: object; groups: ManifestGroup[] } {
  if (json.format !== undefined && json.format !== "layers-model") {
    throw new ModelUploadError(400, `model.json has format ${JSON.stringify(json.format)}; only TF.js layers models ("layers-model") are accepted`, MODEL_JSON);
  }
  const topology = json.modelTopology;
  if (!topology || typeof topology !== "object" || Array.isArray(topology)) {
    throw new ModelUploadError(400, "model.json has no modelTopology object: not a TF.js layers model", MODEL_JSON);
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw new ModelUploadError(400, "model.json has no weightsManifest (a non-empty array of {paths, weights})", "weightsManifest");
  const seen = new Set<string>();
  const groups: ManifestGroup[] = [];
  manifest.forEach((g: unknown, gi: number) => {
    const at = `weightsManifest[${gi}]`;
    const group = g as Partial<ManifestGroup> | null;
    if (!group || typeof group !== "object" || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelUploadError(400, `${at} must be an object with arrays paths and weights`, at);
    }
    if (group.paths.length === 0) throw new ModelUploadError(400, `${at}.paths is empty`, `${at}.paths`);
    let bytes = 0;
    group.paths.forEach((p: unknown, pi: number) => {
      const field = `${at}.paths[${pi}]`;
      if (typeof p !== "string" || !FILE_NAME.test(p) || p === MODEL_JSON || p === METADATA_JSON) {
        throw new ModelUploadError(400, `${field} ${JSON.stringify(p)} is not a plain weight file name (no directories, no "..", letters, digits, '.', '_', '-')`, field);
      }
      if (seen.has(p)) throw new ModelUploadError(400, `${field}: weight file ${p} is listed twice`, field);
      seen.add(p);
      const f = files.get(p);
      if (!f) throw new ModelUploadError(400, `weight file ${p} named in ${at}.paths is missing`, field);
      bytes += f.size;
    });
    let want = 0;
    group.weights.forEach((e: unknown, ei: number) => {
      const field = `${at}.weights[${ei}]`;
      const w = e as Partial<tf.io.WeightsManifestEntry> | null;
      if (!w || typeof w.name !== "string" || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new ModelUploadError(400, `${field} must have a name and a shape of non-negative integers`, field);
      }
      const size = DTYPE_BYTES[String(w.dtype)];
      if (size === undefined || w.quantization) {
        throw new ModelUploadError(400, `${field} (${w.name}): dtype ${String(w.dtype)}${w.quantization ? " with quantization" : ""} is not supported (float32, int32 or bool, unquantised)`, field);
      }
      want += size * w.shape.reduce((a, b) => a * b, 1);
    });
    if (bytes !== want) {
      throw new ModelUploadError(400, `the weight files of ${at} (${group.paths.join(", ")}) hold ${bytes} bytes, but its weights describe ${want}`, at);
    }
    groups.push({ paths: group.paths, weights: group.weights as tf.io.WeightsManifestEntry[] });
  });
  if (strictFiles) {
    const extra = [...files.keys()].filter((n) => n !== MODEL_JSON && n !== METADATA_JSON && !seen.has(n));
    if (extra.length > 0) throw new ModelUploadError(400, `file ${extra[0]} is not named in model.json's weightsManifest`, extra[0]);
  }
  return { topology: topology as object, groups };
}

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

/** The model's one input must be [batch, H, W, 1] and its one output [batch, classes] of the data set. */
function checkShapes(model: LayersModel, ds: Dataset): void {
  const want = [null, ds.height, ds.width, 1];
  if (model.inputs.length !== 1) throw new ModelUploadError(422, `the model has ${model.inputs.length} inputs; exactly one is supported`, MODEL_JSON);
  const input = model.inputs[0]!.shape;
  if (input.length !== 4 || input.some((d, i) => d !== want[i])) {
    throw new ModelUploadError(
      422,
      `the model's input shape ${shapeText(input)} does not match data set ${ds.name}: its images need ${shapeText(want)} (height, width, 1 channel, values in [0, 1])`,
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

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Predicts a real batch (finite values of the right shape), then the clean accuracy on the whole test split. */
async function probe(model: LayersModel, ds: Dataset): Promise<{ correct: number; n: number }> {
  const size = ds.height * ds.width;
  const batch = (start: number, n: number): tf.Tensor4D => tf.tensor4d(ds.images.subarray(start * size, (start + n) * size), [n, ds.height, ds.width, 1]);
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
    await yieldToEventLoop();
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

// ───────────────────────── registration ─────────────────────────

let queue: Promise<unknown> = Promise.resolve();

/** One registration at a time per process (memory and CPU of the in-process check). */
function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

export interface AddModelOptions {
  files: ModelFile[];
  /** Refuse files the manifest does not name (uploads); a directory may hold other files (CLI). */
  strictFiles: boolean;
  dataset: DatasetRef;
  /** A label for the architecture; default: metadata.json's `architecture`, else "custom". */
  architecture?: string;
  store: MatrixStore;
  /** Where models are kept (<db dir>/models); model_dir is recorded relative to dbDir. */
  modelsDir: string;
  dbDir: string;
}

/** Lists a directory's regular files as ModelFiles (for `advisor models add`). */
export async function filesOfDirectory(dir: string): Promise<ModelFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ModelUploadError(400, `${dir} is not a readable directory`, "dir");
  }
  const out: ModelFile[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    const s = await stat(p);
    if (s.isFile()) out.push({ name, path: p, size: s.size });
  }
  return out;
}

export function addModel(o: AddModelOptions): Promise<ModelSummary> {
  return serialised(() => addModelNow(o));
}

async function addModelNow(o: AddModelOptions): Promise<ModelSummary> {
  const files = new Map(o.files.map((f) => [f.name, f]));
  const modelFile = files.get(MODEL_JSON);
  if (!modelFile) throw new ModelUploadError(400, "no model.json among the files (a TF.js layers model is model.json plus its weight files)", MODEL_JSON);
  if (o.architecture !== undefined && !ARCHITECTURE_LABEL.test(o.architecture)) {
    throw new ModelUploadError(400, "architecture must be 1-64 letters, digits, '.', '_' or '-'", "architecture");
  }
  const json = await readJsonFile(modelFile);
  const { topology, groups } = checkManifest(json, files, o.strictFiles);
  const metaFile = files.get(METADATA_JSON);
  const uploadedMeta = metaFile ? await readJsonFile(metaFile) : {};
  const ds = await testSplit(o.dataset);

  const backend = await initBackend();
  const model = await buildModel(topology, groups, files);
  try {
    checkShapes(model, ds);
    const clean = await probe(model, ds);
    const sparsity = measureSparsity(model);
    const id = await weightsSha256(model);
    const trainable = model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    const parameters = { total: sparsity.totalParams, trainable, prunable: sparsity.prunableParams };
    const warnings: string[] = [];
    if (lastActivation(topology) === "softmax") {
      warnings.push("the last layer applies softmax: the attacks work on logits, and saturated softmax outputs can weaken gradient attacks (gradient masking); prefer a model that outputs logits");
    }
    if (sparsity.prunableParams === 0) warnings.push("the model has no Conv2D or Dense kernels, so there is nothing to prune");

    const existing = await findModel(o.store.db, id);
    if (existing) {
      if (existing.dataset !== o.dataset.name) {
        throw new ModelUploadError(409, `model ${id} is already registered for data set ${existing.dataset}, not ${o.dataset.name}`, "dataset");
      }
      let modelDir = existing.modelDir;
      if (modelDir === null) {
        // Known from an import without its files: keep the files now.
        modelDir = (await store(model, o, id, { architecture: existing.architecture, ds, clean, backend: backend.label, seed: existing.seed })).relative;
        await o.store.db.run("UPDATE models SET model_dir = ? WHERE id = ? AND model_dir IS NULL", [modelDir, id]);
      }
      return summary(existing, parameters, modelDir, false, warnings);
    }

    const architecture = o.architecture ?? labelFrom(uploadedMeta.architecture) ?? "custom";
    const seed = Number.isSafeInteger(uploadedMeta.seed) ? (uploadedMeta.seed as number) : 0;
    const stored = await store(model, o, id, { architecture, ds, clean, backend: backend.label, seed });
    const modelDir = stored.relative;
    const createdAt = new Date().toISOString();
    const row = {
      id,
      architecture,
      dataset: o.dataset.name,
      inputShape: [ds.height, ds.width, 1],
      numClasses: ds.numClasses,
      seed,
      clean,
      backend: backend.label,
      codeVersion: packageVersion(),
      createdAt,
      modelDir,
      metadata: { source: UPLOAD_SOURCE, parameters, files: o.files.map((f) => ({ name: f.name, bytes: f.size })) },
    };
    try {
      await o.store.upsertModel(row);
    } catch (err) {
      // Nothing half-registered: the files go again if this call wrote them.
      if (stored.wrote) await rm(storedModelDir(o.modelsDir, id), { recursive: true, force: true });
      throw err;
    }
    const registered = await findModel(o.store.db, id);
    return summary(registered!, parameters, modelDir, true, warnings);
  } finally {
    model.dispose();
  }
}

function labelFrom(v: unknown): string | undefined {
  return typeof v === "string" && ARCHITECTURE_LABEL.test(v) ? v : undefined;
}

/**
 * Writes the model as the engine saves models (model.json, weights.bin, metadata.json) under
 * <models dir>/<id>, unless a complete copy with the same weights is already there (a crash
 * between writing and registering, or a concurrent add). Returns model_dir relative to dbDir.
 */
async function store(
  model: LayersModel,
  o: AddModelOptions,
  id: string,
  m: { architecture: string; ds: Dataset; clean: { correct: number; n: number }; backend: string; seed: number },
): Promise<{ relative: string; wrote: boolean }> {
  const dir = storedModelDir(o.modelsDir, id);
  const relative = path.relative(o.dbDir, dir);
  if (await sameModelAt(dir, id)) return { relative, wrote: false };
  await rm(dir, { recursive: true, force: true }); // not a complete copy of this model
  const metadata: Omit<ModelMetadata, "weightsSha256" | "format"> = {
    // Uploaded models carry a free-form architecture label; the engine only reads it back as a label.
    architecture: m.architecture as Architecture,
    dataset: m.ds.name,
    inputShape: [m.ds.height, m.ds.width, 1],
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

function summary(r: RegisteredModel, parameters: ModelSummary["parameters"], modelDir: string | null, created: boolean, warnings: string[]): ModelSummary {
  return {
    id: r.id,
    architecture: r.architecture,
    dataset: r.dataset,
    inputShape: r.inputShape,
    numClasses: r.numClasses,
    parameters,
    clean: r.clean,
    modelDir,
    created,
    warnings,
  };
}
