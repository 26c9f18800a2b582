/**
 * A model's recorded directory is relative to the folder of the database (or JSONL file) holding
 * it. Copying a database to another folder silently breaks that link — verify and transfer
 * re-runs then cannot find the dense models — so merge and export report directories that do
 * not exist where the rows say they are.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { MatrixStore } from "./store.js";

/** The recorded model directories of `store` that do not exist when resolved against `folder`. */
export async function missingModelDirs(store: MatrixStore, folder: string): Promise<string[]> {
  const dirs = await store.db.all<{ model_dir: string }>("SELECT DISTINCT model_dir FROM models WHERE model_dir IS NOT NULL ORDER BY model_dir");
  return dirs.map((d) => path.resolve(folder, d.model_dir)).filter((abs) => !existsSync(abs));
}

/** The warning for the missing directories of `source`, or null when none is missing. */
export function missingModelDirsWarning(source: string, missing: string[]): string | null {
  if (missing.length === 0) return null;
  return (
    `warning: ${source} names ${missing.length} model director${missing.length === 1 ? "y" : "ies"} that do not exist (${missing.join(", ")}); ` +
    "a relative model directory is relative to its database's folder — was the database copied elsewhere? verify and transfer re-runs need the models"
  );
}
