// Versioned schema migrations: db/migrations/NNN_name.sql, applied in order, each in its own
// transaction together with its row in schema_migrations, so a failing migration leaves the
// database exactly at the previous version.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Database } from "./sqlite.js";

export interface Migration {
  file: string;
  version: number;
  name: string;
  sql: string;
}

export interface SchemaStatus {
  current: number;
  latest: number;
}

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export class MigrationError extends Error {
  override name = "MigrationError";
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`migration file ${file} is not named NNN_name.sql`);
    const version = Number(match[1]);
    const expected = migrations.length + 1;
    if (version !== expected) {
      throw new MigrationError(`migration ${file}: expected version ${expected} (versions must be 1, 2, 3, … without gaps)`);
    }
    migrations.push({ file, version, name: match[2] ?? file, sql: await readFile(path.join(dir, file), "utf8") });
  }
  return migrations;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

async function currentVersion(db: Database): Promise<number> {
  const row = await db.get<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
  return row?.v ?? 0;
}

/** Applies every pending migration; returns the versions applied (empty when up to date). */
export async function migrate(db: Database, dir: string): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  await db.exec(CREATE_TABLE);
  const before = await currentVersion(db);
  if (before > migrations.length) {
    throw new MigrationError(
      `database ${db.file} is at schema version ${before}, newer than this program knows (${migrations.length}); upgrade the program`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations.slice(before)) {
    // A migration that rebuilds a table others refer to (SQLite cannot alter a constraint) needs
    // foreign keys off while it swaps the tables; the pragma is a no-op inside a transaction, so
    // it is set around it, and every foreign key is checked before the migration commits.
    const foreignKeysOff = FOREIGN_KEYS_OFF.test(m.sql);
    if (foreignKeysOff) await db.exec("PRAGMA foreign_keys = OFF");
    try {
      await applyOne(db, m, applied);
    } finally {
      if (foreignKeysOff) await db.exec("PRAGMA foreign_keys = ON");
    }
  }
  return applied;
}

/** `-- migrate: foreign keys off` on a line of its own. */
const FOREIGN_KEYS_OFF = /^--\s*migrate:\s*foreign keys off\s*$/m;

async function applyOne(db: Database, m: Migration, applied: number[]): Promise<void> {
  await db.transaction(async (tx) => {
    // Another process may have applied it while we waited for the write lock.
    if ((await currentVersion(tx)) >= m.version) return;
    try {
      await tx.exec(m.sql);
    } catch (err) {
      throw new MigrationError(`migration ${m.file} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (FOREIGN_KEYS_OFF.test(m.sql)) {
      const broken = await tx.all<{ table: string }>("PRAGMA foreign_key_check");
      if (broken.length > 0) throw new MigrationError(`migration ${m.file} failed: it leaves ${broken.length} broken foreign key(s) (first in table ${broken[0]!.table})`);
    }
    await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [
      m.version,
      m.name,
      new Date().toISOString(),
    ]);
    applied.push(m.version);
  });
}

/** For readiness: where the database is against what the program expects. */
export async function schemaStatus(db: Database, dir: string): Promise<SchemaStatus> {
  const latest = (await loadMigrations(dir)).length;
  const exists = await db.get<{ n: number }>(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
  );
  return { current: exists?.n ? await currentVersion(db) : 0, latest };
}
