// The shipped default matrix (db/matrix.jsonl, exported from the default build) seeds a database
// that has no published matrix yet, so a fresh `advisor serve` answers out of the box. A database
// that already holds a published version is never touched: an operator's matrix always wins.
// The import is the ordinary JSONL import (validated line by line, one transaction, published at
// the end), so a damaged file changes nothing.
import { createReadStream, existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { importJsonl, rebaseModelDir, type ImportResult } from "./jsonl.js";
import type { MatrixStore } from "./store.js";

export type SeedOutcome =
  | { seeded: true; file: string; result: ImportResult }
  | { seeded: false; reason: "disabled" | "missing" | "has-matrix"; file: string | null };

export async function seedMatrix(store: MatrixStore, file: string | null, dbFile: string): Promise<SeedOutcome> {
  if (file === null) return { seeded: false, reason: "disabled", file };
  if ((await store.latestPublishedVersion()) !== null) return { seeded: false, reason: "has-matrix", file };
  if (!existsSync(file)) return { seeded: false, reason: "missing", file };
  const input = createReadStream(file);
  const result = await importJsonl(store, createInterface({ input, crlfDelay: Infinity }), {
    description: `seeded from ${path.basename(file)}`,
    // Rows name the models' directories relative to the file's folder (db/models/… next to db/matrix.jsonl).
    modelDir: rebaseModelDir(path.dirname(path.resolve(file)), path.dirname(path.resolve(dbFile))),
  });
  return { seeded: true, file, result };
}
