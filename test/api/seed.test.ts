// A fresh database is seeded from the shipped matrix file (ADVISOR_SEED_MATRIX, default
// db/matrix.jsonl) so `advisor serve` answers out of the box; a database with a matrix is never
// touched, and a damaged file is one clear line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startService, runCli } from "../helpers/cli.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl } from "../../src/matrix/jsonl.js";
import { buildFixtureMatrix } from "./helpers.js";

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
