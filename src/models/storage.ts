// Where uploaded models live, and how to find one from its id — without TensorFlow, so the API
// can use it cheaply.
//
// Layout, next to the database file:
//   <db dir>/models/<id>/            one directory per model, named by its id (the sha256 of its
//                                    weights as the engine serialises them): model.json,
//                                    weights.bin, metadata.json, loadable with loadModel();
//   <db dir>/models/.staging/<tmp>/  uploads being received and checked; removed on every path
//                                    (success or error), swept at start-up if a crash left one;
//   <db dir>/models/<id>.partial-*   a model being written (saveModel writes a temporary sibling
//                                    and renames it into place, so <id>/ is complete or absent).
// The models table records `model_dir` relative to the database's folder ("models/<id>") and the
// data set's name; `modelLocation(db, dbFile, id)` turns that back into a directory. A refresh job
// (or anything else) finds an uploaded model's files and data set from its id that way, and the
// data set's directory from its name through the configured data sets (ADVISOR_DATASETS).
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Database } from "../matrix/sqlite.js";
import { modelFields, type ModelFields, type ModelFieldsRow, type ModelSummary } from "../matrix/store.js";

export const MODELS_SUBDIR = "models";
export const STAGING_SUBDIR = ".staging";
/** The `source` recorded in an uploaded model's metadata (models.metadata). */
export const UPLOAD_SOURCE = "upload";
const MODEL_ID = /^[0-9a-f]{64}$/;

export function isModelId(id: string): boolean {
  return MODEL_ID.test(id);
}

/** <db dir>/models */
export function modelsDirFor(dbFile: string): string {
  return path.join(path.dirname(path.resolve(dbFile)), MODELS_SUBDIR);
}

/** <models dir>/<id> */
export function storedModelDir(modelsDir: string, id: string): string {
  if (!isModelId(id)) throw new Error(`not a model id: ${JSON.stringify(id)}`);
  return path.join(modelsDir, id);
}

/** A fresh, empty staging directory for one upload. */
export async function newStagingDir(modelsDir: string): Promise<string> {
  const root = path.join(modelsDir, STAGING_SUBDIR);
  await mkdir(root, { recursive: true });
  return mkdtemp(path.join(root, "upload-"));
}

/**
 * Removes what a crashed process left behind: staging directories and partially written models
 * older than `maxAgeMs` (young ones may belong to another process working right now).
 */
export async function sweepStale(modelsDir: string, maxAgeMs = 60 * 60 * 1000, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const candidates: string[] = [];
  const staging = path.join(modelsDir, STAGING_SUBDIR);
  for (const name of await readdir(staging).catch(() => [] as string[])) candidates.push(path.join(staging, name));
  for (const name of await readdir(modelsDir).catch(() => [] as string[])) {
    if (/^[0-9a-f]{64}\.partial-/.test(name)) candidates.push(path.join(modelsDir, name));
  }
  for (const p of candidates) {
    const s = await stat(p).catch(() => null);
    if (s && now - s.mtimeMs > maxAgeMs) {
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return removed;
}

export interface RegisteredModel extends ModelFields {
  id: string;
  metadata: Record<string, unknown>;
}

/** A model of the models table, whether or not any matrix version holds rows for it. */
export async function findModel(db: Database, id: string): Promise<RegisteredModel | null> {
  const r = await db.get<ModelFieldsRow & { id: string; metadata: string }>(
    "SELECT id, architecture, dataset, input_shape, num_classes, seed, clean_correct, clean_n, model_dir, created_at, metadata FROM models WHERE id = ?",
    [id],
  );
  if (!r) return null;
  return { id: r.id, ...modelFields(r), metadata: JSON.parse(r.metadata) as Record<string, unknown> };
}

/** Registered models whose ids are not in `measured`, with no variants or rows counted. */
export async function modelsOutside(db: Database, measured: ReadonlySet<string>): Promise<ModelSummary[]> {
  const rows = await db.all<ModelFieldsRow & { id: string; backend: string; code_version: string }>(
    "SELECT id, architecture, dataset, input_shape, num_classes, seed, clean_correct, clean_n, model_dir, created_at, backend, code_version FROM models ORDER BY dataset, architecture, seed, id",
  );
  return rows.filter((r) => !measured.has(r.id)).map((r) => ({ modelId: r.id, ...modelFields(r), backend: r.backend, codeVersion: r.code_version, variants: 0, evaluations: 0 }));
}

/** Ids of the models registered by upload (not part of the default model set). */
export async function uploadedModelIds(db: Database): Promise<Set<string>> {
  const rows = await db.all<{ id: string }>("SELECT id FROM models WHERE json_extract(metadata, '$.source') = ?", [UPLOAD_SOURCE]);
  return new Set(rows.map((r) => r.id));
}

/** The directory and data set name of a registered model, or null if unknown or its files are not kept. */
export async function modelLocation(db: Database, dbFile: string, id: string): Promise<{ dir: string; dataset: string } | null> {
  const m = await findModel(db, id);
  if (!m || m.modelDir === null) return null;
  return { dir: path.resolve(path.dirname(path.resolve(dbFile)), m.modelDir), dataset: m.dataset };
}
