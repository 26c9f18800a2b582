// The shipped default matrix (db/matrix.jsonl, exported from the default build) seeds a database
// that has no published matrix yet, so a fresh `advisor serve` answers out of the box.
//
// The shipped file grows between releases (the default build is resumed across sittings), so a
// database whose published versions ALL came from shipped files takes a changed file in at the
// next start: a new version holding only the rows it did not have (the snapshot keeps the rest).
// A database with versions of its own (a build, an import, a refresh) that measured any model of
// the shipped file is never touched: an operator's matrix always wins. (Refreshes of uploaded
// models measure other models, so they do not stop the shipped rows from being updated.) Which files were applied is kept by content hash in
// matrix_seeds (migration 005), so an unchanged file costs one hash at start-up.
//
// The import is the ordinary JSONL import (validated line by line, one transaction, published at
// the end), so a damaged file changes nothing; the file's hash is recorded in that transaction.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { migrationsDir } from "../paths.js";
import { importJsonl, rebaseModelDir, type ImportResult } from "./jsonl.js";
import { migrate } from "./migrations.js";
import { Database } from "./sqlite.js";
import { MatrixStore } from "./store.js";

export type SeedOutcome =
  /** `update`: the database already held an earlier shipped file's rows. */
  | { seeded: true; update: boolean; file: string; sha256: string; result: ImportResult }
  | { seeded: false; reason: "disabled" | "missing" | "has-matrix" | "up-to-date"; file: string | null };

async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function recordSeed(store: MatrixStore, sha256: string, version: number | null): Promise<void> {
  // OR IGNORE: two services starting on one database may both get here; the first record stands.
  await store.db.run("INSERT OR IGNORE INTO matrix_seeds (file_sha256, applied_at, matrix_version) VALUES (?, ?, ?)", [sha256, new Date().toISOString(), version]);
}

/** Models measured by published versions that did not come from a shipped file. */
async function ownModels(store: MatrixStore): Promise<Set<string>> {
  const rows = await store.db.all<{ id: string }>(
    `SELECT DISTINCT va.model_id AS id FROM evaluations e
       JOIN variants va ON va.id = e.variant_id
       JOIN matrix_versions v ON v.id = e.matrix_version
      WHERE v.published_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM matrix_seeds s WHERE s.matrix_version = v.id)`,
  );
  return new Set(rows.map((r) => r.id));
}

/** The model ids a JSONL file names (lines that do not parse are left to the import to report). */
async function modelsOf(file: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    try {
      const id = (JSON.parse(line) as { modelId?: unknown } | null)?.modelId;
      if (typeof id === "string") ids.add(id);
    } catch {
      // reported by importJsonl
    }
  }
  return ids;
}

export async function seedMatrix(store: MatrixStore, file: string | null, dbFile: string): Promise<SeedOutcome> {
  if (file === null) return { seeded: false, reason: "disabled", file };
  const latest = await store.latestPublishedVersion();
  if (!existsSync(file)) return { seeded: false, reason: latest === null ? "missing" : "has-matrix", file };
  const sha256 = await fileSha256(file);
  if (await store.db.get("SELECT 1 FROM matrix_seeds WHERE file_sha256 = ?", [sha256])) return { seeded: false, reason: "up-to-date", file };
  const own = await ownModels(store);
  if (own.size > 0 && [...(await modelsOf(file))].some((id) => own.has(id))) return { seeded: false, reason: "has-matrix", file };
  const input = createReadStream(file);
  const result = await importJsonl(store, createInterface({ input, crlfDelay: Infinity }), {
    description: `seeded from ${path.basename(file)}${latest === null ? "" : ` (update, sha256 ${sha256.slice(0, 12)}…)`}`,
    // Rows name the models' directories relative to the file's folder (db/models/… next to db/matrix.jsonl).
    modelDir: rebaseModelDir(path.dirname(path.resolve(file)), path.dirname(path.resolve(dbFile))),
    inTransaction: (tx, version) => recordSeed(tx, sha256, version),
  });
  if (result.version === null) {
    // Nothing new (e.g. the same rows in another order): remember the file so it is not read again.
    await recordSeed(store, sha256, null);
    return { seeded: false, reason: "up-to-date", file };
  }
  return { seeded: true, update: latest !== null, file, sha256, result };
}

/** What a seed outcome is worth saying at start-up (the service logs it, the CLI prints it); null: nothing. */
export function describeSeed(seed: SeedOutcome): { level: "info" | "warn"; fields: Record<string, unknown>; msg: string } | null {
  if (seed.seeded) {
    return {
      level: "info",
      fields: { file: seed.file, rows: seed.result.inserted, version: seed.result.version, sha256: seed.sha256 },
      msg: seed.update ? "matrix updated from a newer shipped file (its new rows, as a new version)" : "matrix seeded from the shipped file",
    };
  }
  if (seed.reason === "missing") return { level: "warn", fields: { file: seed.file }, msg: "no matrix yet and no shipped matrix file to seed it from" };
  return null;
}

/**
 * Opens a database file as `advisor serve` does at start-up: created if missing, migrated, then
 * seeded from (or updated by) the shipped matrix `seedFile` (null: none). `onMigrated` hears the
 * migrations applied before the seed runs. On failure the database is closed and the error thrown.
 */
export async function openSeededDatabase(
  file: string,
  seedFile: string | null,
  onMigrated?: (applied: number[]) => void,
): Promise<{ db: Database; seed: SeedOutcome }> {
  const db = await Database.open(file);
  try {
    const applied = await migrate(db, migrationsDir);
    onMigrated?.(applied);
    const seed = await seedMatrix(new MatrixStore(db), seedFile, file);
    return { db, seed };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
