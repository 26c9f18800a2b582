// The cheap checks of an uploaded model, without TensorFlow.js: model.json is JSON of a TF.js
// layers model, and its weightsManifest matches the files (every path a plain file name that was
// uploaded, byte counts equal, nothing extra). register.ts runs them before it starts the
// validation child, so a malformed upload is refused at once instead of queueing behind a
// running check; the child runs them again on what it reads.
import { readFile } from "node:fs/promises";
import type { tf } from "../engine/tf.js";
import { ModelUploadError } from "./errors.js";
import { FILE_NAME, METADATA_JSON, MODEL_JSON, type ModelFile } from "./upload-types.js";

const MAX_JSON_BYTES = 8 * 1024 * 1024;
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

export interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

export async function readJsonFile(f: ModelFile): Promise<Record<string, unknown>> {
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

export function checkManifest(json: Record<string, unknown>, files: Map<string, ModelFile>, strictFiles: boolean): { topology: object; groups: ManifestGroup[] } {
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

