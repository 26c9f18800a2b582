// Crash safety of `advisor matrix build`: the builder (and its workers) killed with SIGKILL in the
// middle of a tiny grid, then run again, gives exactly what one uninterrupted build gives — same
// cells, same values, no duplicate rows — without redoing finished cells.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { root, runCli } from "../helpers/cli.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { Database } from "../../src/matrix/sqlite.js";
import { exportedRows } from "../helpers/exported-rows.js";

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-builder-crash-"));
const dataDir = path.join(work, "data");
await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));
const fixture = await readFile(new URL("../fixtures/grid-tiny.yaml", import.meta.url), "utf8");
const gridFile = path.join(work, "grid.yaml");
await writeFile(gridFile, fixture.replace("dir: ./synthetic", `dir: ${dataDir}`).replace(/epochs: 2/, "epochs: 1"));

test.after(() => rm(work, { recursive: true, force: true }));

async function evaluationRows(db: string): Promise<number> {
  const conn = await Database.open(db, { readonly: true });
  try {
    return (await conn.get<{ n: number }>("SELECT count(*) AS n FROM evaluations"))!.n;
  } finally {
    await conn.close();
  }
}

const buildArgs = (dir: string, workers: number): string[] => [
  "matrix",
  "build",
  "--grid",
  gridFile,
  "--db",
  path.join(dir, "m.sqlite"),
  "--models-dir",
  path.join(dir, "models"),
  "--workers",
  String(workers),
];

async function doneCells(db: string): Promise<number> {
  if (!existsSync(db)) return 0;
  let conn: Database | undefined;
  try {
    conn = await Database.open(db, { readonly: true });
    const r = await conn.get<{ n: number }>("SELECT count(*) AS n FROM build_cells WHERE status = 'done'");
    return r?.n ?? 0;
  } catch {
    return 0;
  } finally {
    await conn?.close().catch(() => undefined);
  }
}

test("SIGKILL mid-build, then resume: equals the uninterrupted build, no duplicates, finished cells not redone", async () => {
  const crashed = path.join(work, "crashed");
  const db = path.join(crashed, "m.sqlite");
  /** Starts the build and SIGKILLs it (its whole process group: builder and workers) once `n` cells are done. */
  const killAfter = async (n: number): Promise<number> => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/cli/main.ts"), ...buildArgs(crashed, 2)], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "ignore", "ignore"],
    });
    const exited = once(child, "exit");
    const deadline = Date.now() + 60_000;
    let done = 0;
    while (Date.now() < deadline && (done = await doneCells(db)) < n) await new Promise((r) => setTimeout(r, 50));
    assert.ok(done >= n, `fewer than ${n} cells finished within 60 s`);
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    return doneCells(db);
  };
  const first = await killAfter(1);
  assert.ok(first < 7, `the build finished before the first kill (${first} cells done)`);
  const atKill = await killAfter(Math.min(6, first + 2));
  assert.ok(atKill < 7, `the build finished before the second kill (${atKill} cells done)`);

  // The finished rows of the interrupted build can be exported (e.g. to ship a partial matrix);
  // the build's database is left as it was: its version stays unpublished.
  const evaluated = await evaluationRows(db);
  const partial = path.join(work, "partial.jsonl");
  const exported = await runCli(["matrix", "export", "--in-progress", "--db", db, "--out", partial]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stderr, /in progress, not published in .*: build [0-9a-f]{12}…: \d+\/7 cells done/);
  assert.equal((await readFile(partial, "utf8")).split("\n").filter(Boolean).length, evaluated);
  const still = await Database.open(db, { readonly: true });
  try {
    assert.equal((await still.get<{ n: number }>("SELECT count(*) AS n FROM matrix_versions WHERE published_at IS NOT NULL"))?.n, 0);
  } finally {
    await still.close();
  }

  const resumed = await runCli(buildArgs(crashed, 1), {}, 80_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`${atKill} done before, ${7 - atKill} run`));
  assert.match(resumed.stdout, /matrix version 1 published/);

  const conn = await Database.open(db, { readonly: true });
  try {
    const rows = await conn.all<{ n: number }>("SELECT count(*) AS n FROM evaluations GROUP BY variant_id, norm, knowledge");
    assert.equal(rows.length, 9);
    assert.ok(rows.every((r) => r.n === 1), "duplicate evaluation rows");
    const versions = await conn.get<{ n: number }>("SELECT count(*) AS n FROM matrix_versions");
    assert.equal(versions?.n, 1);
  } finally {
    await conn.close();
  }

  const oneGo = path.join(work, "one-go");
  const r = await runCli(buildArgs(oneGo, 1), {}, 80_000);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await exportedRows(db), await exportedRows(path.join(oneGo, "m.sqlite")));
});
