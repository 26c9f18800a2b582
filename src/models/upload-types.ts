// Names, limits and shapes a model registration shares between the API side (register.ts), the
// validation child process (validate-process.ts, inspect.ts) and the HTTP route. No TensorFlow.
import type { DatasetFormat } from "../engine/dataset-formats.js";
export const MODEL_JSON = "model.json";
export const METADATA_JSON = "metadata.json";
/** File names a model may consist of: plain names, no directories, no leading dot. */
export const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const ARCHITECTURE_LABEL = /^[A-Za-z0-9._-]{1,64}$/;

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
  /** Its format; recognised from the directory's files when left out (configured data sets). */
  format?: DatasetFormat;
}

/**
 * Caps on checking one model, applied in the validation child process: the cost of one input
 * (rejected before any forward pass), the child's wall time and its resident memory.
 */
export interface ValidationLimits {
  maxMacs: number;
  maxSeconds: number;
  maxMemoryBytes: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  // LeNet-5 ≈ 0.4 M, ResNet-8 on 32×32×3 ≈ 12 M; raise it for larger models (VGG-11 ≈ 150 M)
  // knowing that every attack step of a matrix build pays it again.
  maxMacs: 20e6,
  maxSeconds: 120,
  maxMemoryBytes: 1536 * 1024 * 1024,
};
