// Models on disk in the TF.js layers format (model.json + weights.bin) plus metadata.json.
// Writes go to a temporary sibling directory renamed into place at the end, so a failure never
// leaves a half-written model behind; loads check the manifest before TF.js sees anything.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { tf, type LayersModel } from "./tf.js";
import type { Architecture } from "./models.js";

export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";
export const METADATA_FILE = "metadata.json";

export interface PruningProvenance {
  strategy: string;
  requestedRate: number;
  achievedRate: number;
  prunableParams: number;
  nonZeroPrunable: number;
  sparseBytes: number;
  /** The model this one was pruned from: the dense model, or (cumulative schedule) the previous rate's fine-tuned variant. */
  parentWeightsSha256: string;
  finetuneEpochs: number;
  /** Kernel and filter strategies: bytes of the dense model with the removable filters dropped (pruning/dropped.ts), when the layers can be chained. */
  droppedBytes?: number;
  /** Present for the cumulative schedule only (absent: one-shot, as every model written before schedules). */
  schedule?: "cumulative";
  /** Cumulative schedule: the dense model at the root of the chain. */
  denseWeightsSha256?: string;
}

export interface ModelMetadata {
  format: "pruning-advisor-model/1";
  architecture: Architecture;
  dataset: string;
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  weightsSha256: string;
  /** Test-set accuracy measured when the model was written, and on how many images. */
  cleanAccuracy?: number;
  testCount?: number;
  backend: string;
  codeVersion: string;
  createdAt: string;
  training?: { epochs: number; bestEpoch: number; batchSize: number; learningRate: number; validationAccuracy: number };
  pruning?: PruningProvenance;
}

export class ModelFormatError extends Error {
  override name = "ModelFormatError";
}

interface SavedArtifacts {
  artifacts: tf.io.ModelArtifacts;
  weights: Buffer;
}

async function serialize(model: LayersModel): Promise<SavedArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      captured = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  if (!captured?.weightData || !captured.weightSpecs) throw new Error("TF.js returned no weights while saving");
  return { artifacts: captured, weights: Buffer.from(tf.io.concatenateArrayBuffers(captured.weightData)) };
}

/** sha256 of the weights exactly as they are stored in weights.bin. */
export async function weightsSha256(model: LayersModel): Promise<string> {
  return createHash("sha256").update((await serialize(model)).weights).digest("hex");
}

/**
 * Saves into `dir`, which must not exist yet unless `overwrite` is set.
 * The metadata's weightsSha256 is filled in here from the bytes actually written.
 */
export async function saveModel(
  model: LayersModel,
  dir: string,
  metadata: Omit<ModelMetadata, "weightsSha256" | "format">,
  options: { overwrite?: boolean } = {},
): Promise<ModelMetadata> {
  const target = path.resolve(dir);
  if (!options.overwrite && (await exists(target))) throw new ModelFormatError(`${dir} already exists (choose another --out or remove it)`);
  const { artifacts, weights } = await serialize(model);
  const full: ModelMetadata = {
    format: "pruning-advisor-model/1",
    ...metadata,
    weightsSha256: createHash("sha256").update(weights).digest("hex"),
  };
  const modelJson = {
    format: "layers-model",
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
  };
  const tmp = `${target}.partial-${process.pid}-${Date.now()}`;
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await mkdir(tmp);
    await writeFile(path.join(tmp, WEIGHTS_FILE), weights);
    await writeFile(path.join(tmp, MODEL_FILE), JSON.stringify(modelJson));
    await writeFile(path.join(tmp, METADATA_FILE), JSON.stringify(full, null, 2) + "\n");
    if (options.overwrite) await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return full;
}

interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function expectedBytes(entries: tf.io.WeightsManifestEntry[], file: string): number {
  let total = 0;
  for (const e of entries) {
    const bytes = DTYPE_BYTES[e.dtype];
    if (!bytes || e.quantization) throw new ModelFormatError(`${file}: weight ${e.name} has unsupported dtype ${e.dtype}`);
    total += bytes * e.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** Loads a model directory; every inconsistency is a ModelFormatError naming the file. */
export async function loadModel(dir: string): Promise<{ model: LayersModel; metadata: ModelMetadata }> {
  const modelFile = path.join(dir, MODEL_FILE);
  const json = await readJson(modelFile);
  const topology = json.modelTopology;
  const manifest = json.weightsManifest as ManifestGroup[] | undefined;
  if (!topology || typeof topology !== "object") throw new ModelFormatError(`${modelFile}: no modelTopology (not a TF.js layers model)`);
  if (!Array.isArray(manifest) || manifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))) {
    throw new ModelFormatError(`${modelFile}: weightsManifest missing or malformed`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    const parts: Buffer[] = [];
    for (const p of group.paths) {
      if (typeof p !== "string" || p.includes("..") || path.isAbsolute(p)) throw new ModelFormatError(`${modelFile}: bad weight path ${String(p)}`);
      const file = path.join(dir, p);
      try {
        parts.push(await readFile(file));
      } catch {
        throw new ModelFormatError(`${modelFile}: weight file ${p} is missing`);
      }
    }
    const data = Buffer.concat(parts);
    const want = expectedBytes(group.weights, modelFile);
    if (data.length !== want) throw new ModelFormatError(`${modelFile}: weight files hold ${data.length} bytes, the manifest describes ${want}`);
    specs.push(...group.weights);
    buffers.push(data);
  }
  const weights = Buffer.concat(buffers);
  const metadata = (await readJson(path.join(dir, METADATA_FILE))) as unknown as ModelMetadata;
  if (metadata.format !== "pruning-advisor-model/1") throw new ModelFormatError(`${path.join(dir, METADATA_FILE)}: unknown format`);
  const sha = createHash("sha256").update(weights).digest("hex");
  if (sha !== metadata.weightsSha256) {
    throw new ModelFormatError(`${dir}: weights hash ${sha.slice(0, 12)}… does not match metadata ${String(metadata.weightsSha256).slice(0, 12)}…`);
  }
  try {
    const ab = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology as object, weightSpecs: specs, weightData: ab }));
    return { model, metadata };
  } catch (err) {
    throw new ModelFormatError(`${modelFile}: TF.js cannot build the model: ${(err as Error).message}`);
  }
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ModelFormatError(`${file} not found`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ModelFormatError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
