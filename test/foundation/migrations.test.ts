import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Database } from "../../src/matrix/sqlite.js";
import { migrate, MigrationError, schemaStatus } from "../../src/matrix/migrations.js";
import { migrationsDir } from "../../src/paths.js";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-mig-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function schemaOf(db: Database): Promise<string[]> {
  const rows = await db.all<{ sql: string }>("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name");
  return rows.map((r) => r.sql);
}

test("the shipped migrations applied twice leave the schema as after once", async (t) => {
  const dir = await tempDir(t);
  const db = await Database.open(path.join(dir, "a.sqlite"));
  t.after(() => db.close());
  const first = await migrate(db, migrationsDir);
  assert.deepEqual(first, (await readdir(migrationsDir)).map((_, i) => i + 1));
  const schemaOnce = await schemaOf(db);
  const versionsOnce = await db.all("SELECT version, name FROM schema_migrations ORDER BY version");
  assert.deepEqual(await migrate(db, migrationsDir), []);
  assert.deepEqual(await schemaOf(db), schemaOnce);
  assert.deepEqual(await db.all("SELECT version, name FROM schema_migrations ORDER BY version"), versionsOnce);
  const status = await schemaStatus(db, migrationsDir);
  assert.equal(status.current, status.latest);
});

test("the database uses WAL journaling and enforces foreign keys", async (t) => {
  const dir = await tempDir(t);
  const db = await Database.open(path.join(dir, "a.sqlite"));
  t.after(() => db.close());
  assert.deepEqual(await db.get("PRAGMA journal_mode"), { journal_mode: "wal" });
  assert.deepEqual(await db.get("PRAGMA foreign_keys"), { foreign_keys: 1 });
});

test("a migration that fails halfway leaves the database at the previous version", async (t) => {
  const dir = await tempDir(t);
  const migDir = path.join(dir, "migrations");
  await mkdir(migDir);
  await writeFile(path.join(migDir, "001_first.sql"), "CREATE TABLE a (id INTEGER PRIMARY KEY);");
  const db = await Database.open(path.join(dir, "a.sqlite"));
  t.after(() => db.close());
  assert.deepEqual(await migrate(db, migDir), [1]);
  await db.run("INSERT INTO a (id) VALUES (7)");
  const before = await schemaOf(db);

  // Its first statements succeed, then one fails: none of them may stick.
  await writeFile(
    path.join(migDir, "002_broken.sql"),
    "CREATE TABLE b (id INTEGER);\nINSERT INTO a (id) VALUES (8);\nALTER TABLE a ADD COLUMN x TEXT;\nCREATE TABLE oops (;\n",
  );
  await assert.rejects(migrate(db, migDir), (err: unknown) => err instanceof MigrationError && /002_broken/.test(err.message));
  assert.deepEqual(await schemaOf(db), before);
  assert.deepEqual(await db.all("SELECT id FROM a"), [{ id: 7 }]);
  assert.deepEqual(await schemaStatus(db, migDir), { current: 1, latest: 2 });

  // Once fixed, it applies on the next start.
  await writeFile(path.join(migDir, "002_broken.sql"), "CREATE TABLE b (id INTEGER);");
  assert.deepEqual(await migrate(db, migDir), [2]);
});

test("misnamed or gapped migration files are refused before anything runs", async (t) => {
  const dir = await tempDir(t);
  const migDir = path.join(dir, "migrations");
  await mkdir(migDir);
  await copyFile(path.join(migrationsDir, "001_matrix_versions.sql"), path.join(migDir, "001_matrix_versions.sql"));
  await writeFile(path.join(migDir, "003_skipped.sql"), "CREATE TABLE c (id INTEGER);");
  const db = await Database.open(path.join(dir, "a.sqlite"));
  t.after(() => db.close());
  await assert.rejects(migrate(db, migDir), /expected version 2/);
  assert.deepEqual(await db.all("SELECT name FROM sqlite_master"), []);
});

test("a database newer than the program is refused", async (t) => {
  const dir = await tempDir(t);
  const db = await Database.open(path.join(dir, "a.sqlite"));
  t.after(() => db.close());
  await migrate(db, migrationsDir);
  await db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')");
  await assert.rejects(migrate(db, migrationsDir), /newer than this program knows/);
});
