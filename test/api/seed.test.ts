// A fresh database is seeded from the shipped matrix file (ADVISOR_SEED_MATRIX, default
// db/matrix.jsonl) so `advisor serve` answers out of the box; a database with a matrix of its own
// is never touched, one seeded from shipped files takes a newer one in, and a damaged file is one
// clear line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startService, runCli } from "../helpers/cli.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl, importJsonl } from "../../src/matrix/jsonl.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { migrationsDir } from "../../src/paths.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempDir } from "../matrix/fixtures.js";
import { buildFixtureMatrix, publishRefresh } from "./helpers.js";

test("a fresh database is seeded from the shipped matrix once; an existing matrix wins; a damaged file fails clearly", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-seed-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const source = await MatrixStore.open(path.join(dir, "source.sqlite"));
  const lines: string[] = [];
  try {
    await buildFixtureMatrix(source);
    await exportJsonl(source, undefined, (l) => void lines.push(l));
  } finally {
    await source.close();
  }
  const file = path.join(dir, "shipped", "matrix.jsonl");
  await mkdir(path.dirname(file));
  await writeFile(file, lines.join(""));

  const db = path.join(dir, "svc", "advisor.sqlite");
  const versionsOf = async (baseUrl: string): Promise<{ id: number; description: string }[]> =>
    ((await (await fetch(`${baseUrl}/v1/matrix/versions`)).json()) as { versions: { id: number; description: string }[] }).versions;
  for (let round = 0; round < 2; round++) {
    const svc = await startService(["--db", db], { ADVISOR_SEED_MATRIX: file });
    try {
      const versions = await versionsOf(svc.baseUrl);
      assert.equal(versions.length, 1, `round ${round}: one version, imported once`);
      assert.match(versions[0]!.description, /seeded from matrix\.jsonl/);
      const rows = (await (await fetch(`${svc.baseUrl}/v1/matrix?limit=500`)).json()) as { rows: unknown[] };
      assert.equal(rows.rows.length, lines.length);
      if (round === 0) assert.match(svc.logs(), /matrix seeded from the shipped file/);
    } finally {
      svc.child.kill("SIGKILL");
    }
  }

  // A database that has its own matrix is left alone.
  const own = path.join(dir, "own", "advisor.sqlite");
  await mkdir(path.dirname(own));
  const store = await MatrixStore.open(own);
  try {
    await buildFixtureMatrix(store);
  } finally {
    await store.close();
  }
  const svc = await startService(["--db", own], { ADVISOR_SEED_MATRIX: file });
  try {
    const versions = await versionsOf(svc.baseUrl);
    assert.ok(versions.every((v) => !/seeded/.test(v.description)));
  } finally {
    svc.child.kill("SIGKILL");
  }

  // A damaged file: one line, exit 1, nothing imported.
  const bad = path.join(dir, "bad.jsonl");
  await writeFile(bad, (await readFile(file, "utf8")).replace(/"norm":"linf"/, '"norm":"l7"'));
  const r = await runCli(["serve", "--port", "0", "--db", path.join(dir, "fresh", "a.sqlite")], { ADVISOR_SEED_MATRIX: bad });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), /^advisor: .*line 1: norm/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("a database seeded from shipped files takes a newer shipped file in as a new version; its own measurements of those models win", async (t) => {
  const dir = await tempDir(t, "advisor-reseed-");
  const lines = await fixtureLines(dir, "source.sqlite");
  const write = async (name: string, content: string[]): Promise<string> => {
    const f = path.join(dir, "shipped", name, "matrix.jsonl");
    await mkdir(path.dirname(f), { recursive: true });
    await writeFile(f, content.join(""));
    return f;
  };
  const partial = await write("partial", lines.slice(0, 6));
  const full = await write("full", lines);
  const reordered = await write("reordered", [...lines].reverse());
  const rowsIn = async (store: MatrixStore): Promise<number> => {
    let n = 0;
    await exportJsonl(store, undefined, () => void n++);
    return n;
  };

  const dbFile = path.join(dir, "svc.sqlite");
  const store = await MatrixStore.open(dbFile);
  t.after(() => store.close());
  const first = await seedMatrix(store, partial, dbFile);
  assert.ok(first.seeded && !first.update && first.result.inserted === 6, JSON.stringify(first));
  assert.deepEqual(await seedMatrix(store, partial, dbFile), { seeded: false, reason: "up-to-date", file: partial });
  const second = await seedMatrix(store, full, dbFile);
  assert.ok(second.seeded && second.update, JSON.stringify(second));
  assert.equal(second.result.inserted, lines.length - 6, "only the rows it did not hold");
  assert.match((await store.latestPublishedVersion())!.description, /^seeded from matrix\.jsonl \(update, sha256 [0-9a-f]{12}…\)$/);
  assert.equal(await rowsIn(store), lines.length, "the latest snapshot holds every row");
  // The same rows in another order: nothing new, no version, and the file is not read again.
  assert.deepEqual(await seedMatrix(store, reordered, dbFile), { seeded: false, reason: "up-to-date", file: reordered });
  assert.equal((await store.listVersions()).length, 2);
  assert.equal((await store.db.get<{ n: number }>("SELECT count(*) AS n FROM matrix_seeds WHERE matrix_version IS NULL"))!.n, 1);

  // An operator re-measures a model of the shipped file: a newer shipped file no longer touches the database.
  await publishRefresh(store, "operator");
  const newer = await write("newer", await fixtureLines(dir, "other.sqlite", "refreshed"));
  assert.deepEqual(await seedMatrix(store, newer, dbFile), { seeded: false, reason: "has-matrix", file: newer });
  assert.equal((await store.listVersions()).length, 3);

  // A refresh of a model the shipped file does not have (an upload) does not stop the update.
  const other = path.join(dir, "other-svc.sqlite");
  const s2 = await MatrixStore.open(other);
  t.after(() => s2.close());
  await seedMatrix(s2, partial, other);
  const v = await s2.createVersion("refresh of an uploaded model");
  await s2.upsertModel(fixtureModel({ id: fixtureModelId("uploaded") }));
  const variantId = await s2.upsertVariant(fixtureVariant({ modelId: fixtureModelId("uploaded"), strategy: "dense", rate: 1 }));
  await s2.insertEvaluation(fixtureEvaluation({ variantId, version: v, distances: runs([[0, 5], [0.1, 5], [Infinity, 10]]) }));
  await s2.publishVersion(v);
  const updated = await seedMatrix(s2, full, other);
  assert.ok(updated.seeded && updated.update && updated.result.inserted === lines.length - 6, JSON.stringify(updated));
});

test("a database seeded before seeds were recorded (migration 005) is still updated by a newer shipped file", async (t) => {
  const dir = await tempDir(t, "advisor-reseed-old-");
  const lines = await fixtureLines(dir, "source.sqlite");
  const oldMigrations = path.join(dir, "migrations");
  await mkdir(oldMigrations);
  for (const f of (await readdir(migrationsDir)).filter((f) => f < "005")) await copyFile(path.join(migrationsDir, f), path.join(oldMigrations, f));
  const dbFile = path.join(dir, "old.sqlite");
  const old = await MatrixStore.open(dbFile, { migrationsDir: oldMigrations });
  await importJsonl(old, lines.slice(0, 6).join(""), { description: "seeded from matrix.jsonl" });
  await old.close();
  const file = path.join(dir, "matrix.jsonl");
  await writeFile(file, lines.join(""));
  const store = await MatrixStore.open(dbFile);
  t.after(() => store.close());
  const out = await seedMatrix(store, file, dbFile);
  assert.ok(out.seeded && out.update && out.result.inserted === lines.length - 6, JSON.stringify(out));
});

/** The JSONL lines of the API fixture matrix (optionally after a refresh of model A's dense row). */
async function fixtureLines(dir: string, name: string, refresh?: string): Promise<string[]> {
  const store = await MatrixStore.open(path.join(dir, name));
  const lines: string[] = [];
  try {
    await buildFixtureMatrix(store);
    if (refresh !== undefined) await publishRefresh(store, refresh);
    await exportJsonl(store, undefined, (l) => void lines.push(l));
  } finally {
    await store.close();
  }
  return lines;
}
