// `advisor matrix build / merge / stats / export` on a tiny grid (synthetic IDX data, lenet300,
// 1 epoch, 20 samples, tiny attack settings): shards merged equal the unsharded build; a second
// builder is refused; a bad grid or a corrupted database changes nothing; stats names the gaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, writeFile, mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { BuildLedger } from "../../src/matrix/build-state.js";
import { gridHash, loadGrid } from "../../src/matrix/grid.js";
import { exportedRows } from "../helpers/exported-rows.js";
import { functionTimes, type CpuProfile } from "../../bench/cpuprofile-top.js";

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-builder-"));
const dataDir = path.join(work, "data");
await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));
const fixture = await readFile(new URL("../fixtures/grid-tiny.yaml", import.meta.url), "utf8");
const gridFile = path.join(work, "grid.yaml");
await writeFile(gridFile, fixture.replace("dir: ./synthetic", `dir: ${dataDir}`).replace(/epochs: 2/, "epochs: 1"));

test.after(() => rm(work, { recursive: true, force: true }));

async function build(dir: string, extra: string[] = [], modelsDir = path.join(dir, "models"), env: NodeJS.ProcessEnv = {}) {
  return runCli(["matrix", "build", "--grid", gridFile, "--db", path.join(dir, "m.sqlite"), "--models-dir", modelsDir, "--workers", "1", ...extra], env, 80_000);
}

const full = path.join(work, "full");

test("full build publishes every cell; stats shows no gaps; a rerun does nothing", async () => {
  const r = await build(full);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /7 run/);
  assert.match(r.stdout, /matrix version 1 published/);
  // The log (stderr is not a terminal here) has a line per cell with the time left, none after the last.
  assert.match(r.stderr, /^\[1\/7\] train\/lenet300\/s1 done in [\d.]+ s, ETA [\d.]+ (s|min|h)$/m);
  assert.match(r.stderr, /^\[7\/7\] \S+ done in [\d.]+ s$/m);
  const stats = await runCli(["matrix", "stats", "--db", path.join(full, "m.sqlite")]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /9 rows/);
  assert.match(stats.stdout, /knowledge: black-box 3, transfer 3, white-box 3/);
  assert.match(stats.stdout, /gaps: none/);
  const again = await build(full);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /7 done before, 0 run/);
});

test("verify re-runs cells from their provenance (recreating a deleted variant cache) and agrees", async () => {
  await rm(path.join(full, "variants"), { recursive: true, force: true });
  const r = await runCli(["matrix", "verify", "--sample", "3", "--seed", "1", "--db", path.join(full, "m.sqlite")], {}, 80_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3\/3 cells agree/);
  assert.ok(existsSync(path.join(full, "variants")), "the variant cache was not recreated");
});

test("two shards merged equal the unsharded build; a partial shard's stats names the gaps", async () => {
  const s1 = path.join(work, "s1");
  const s2 = path.join(work, "s2");
  // Separate model directories: the shards retrain the dense model and must get the same weights.
  // Shard 2's worker runs with extra Node flags (a CPU profile): the flags reach the worker, and
  // the merge below shows they change no row.
  const prof = path.join(s2, "prof");
  const [r1, r2] = await Promise.all([
    build(s1, ["--shard", "1/2"]),
    build(s2, ["--shard", "2/2"], undefined, { ADVISOR_WORKER_NODE_FLAGS: `--cpu-prof --cpu-prof-dir=${prof}` }),
  ]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  // One profile per thread of the worker (through tsx, its module loader runs on a thread of its own).
  const profiles = (await readdir(prof)).filter((f) => f.endsWith(".cpuprofile"));
  assert.ok(profiles.length >= 1, "the worker wrote a CPU profile");
  const functions = await Promise.all(profiles.map(async (f) => functionTimes(JSON.parse(await readFile(path.join(prof, f), "utf8")) as CpuProfile).functions));
  assert.ok(functions.flat().some((f) => f.name.startsWith("evaluateRobustness ") && f.inclusiveS > 0), "the worker's profile holds its evaluation cells");
  const stats = await runCli(["matrix", "stats", "--db", path.join(s1, "m.sqlite")]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /gaps: \d+ missing rows/);
  assert.match(stats.stdout, /missing lenet300\/random\/4x\/s1\/linf\/white-box/);
  // Seen as the shard it is, the same database has every row and cell it should.
  const ownPart = await runCli(["matrix", "stats", "--db", path.join(s1, "m.sqlite"), "--shard", "1/2"]);
  assert.equal(ownPart.code, 0, ownPart.stderr);
  assert.match(ownPart.stdout, /build [0-9a-f]{12}… shard 1\/2: (\d+)\/\1 cells done, (\d+)\/\2 expected rows present/);
  assert.match(ownPart.stdout, /gaps: none/);
  const badShard = await runCli(["matrix", "stats", "--db", path.join(s1, "m.sqlite"), "--shard", "3/2"]);
  assert.equal(badShard.code, 2, badShard.stdout);
  assert.match(badShard.stderr, /invalid shard "3\/2"/);
  const merged = path.join(work, "merged", "m.sqlite");
  const m = await runCli(["matrix", "merge", path.join(s1, "m.sqlite"), path.join(s2, "m.sqlite"), "--db", merged]);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(await exportedRows(merged), await exportedRows(path.join(full, "m.sqlite")));
  // Model directories are recorded relative to the database's folder: re-based by the merge, they still exist.
  const mergedStore = await MatrixStore.open(merged);
  try {
    const models = await mergedStore.listModels();
    assert.ok(models.length > 0);
    for (const m of models) assert.ok(m.modelDir !== null && existsSync(path.resolve(path.dirname(merged), m.modelDir)), `${m.modelDir} exists`);
  } finally {
    await mergedStore.close();
  }
  const mergedStats = await runCli(["matrix", "stats", "--db", merged]);
  assert.match(mergedStats.stdout, /gaps: none/);
  // Against an explicit grid: the partial shard's gaps are summarised per architecture, the merge has none.
  const partial = await runCli(["matrix", "stats", "--db", path.join(s1, "m.sqlite"), "--grid", gridFile]);
  assert.match(partial.stdout, /grid [0-9a-f]{12}… \(tiny test grid \(synthetic data\)\): \d+\/9 expected rows present/);
  assert.match(partial.stdout, /gaps: \d+ missing rows \(lenet300 \d+\)/);
  const complete = await runCli(["matrix", "stats", "--db", merged, "--grid", gridFile]);
  assert.match(complete.stdout, /9\/9 expected rows present/);
  assert.match(complete.stdout, /gaps: none/);
});

test("verify takes an imported version's settings from its rows, not from another grid's build in the same database", async () => {
  // A database that holds a build of another grid (learning rate 0.002, its version 1) and then
  // the full build's rows imported (version 2, no build of theirs): their cells re-run with their
  // own provenance (learning rate 0.001). Taking the other build's grid recreates other weights.
  const mixed = path.join(work, "mixed");
  const otherGrid = path.join(work, "grid-lr.yaml");
  await writeFile(otherGrid, (await readFile(gridFile, "utf8")).replace(/learningRate: 0\.001/, "learningRate: 0.002"));
  const b = await runCli(["matrix", "build", "--grid", otherGrid, "--db", path.join(mixed, "m.sqlite"), "--models-dir", path.join(mixed, "models"), "--workers", "1"], {}, 80_000);
  assert.equal(b.code, 0, b.stderr);
  const jsonl = path.join(full, "export.jsonl");
  assert.equal((await runCli(["matrix", "export", "--db", path.join(full, "m.sqlite"), "--out", jsonl])).code, 0);
  const imp = await runCli(["matrix", "import", jsonl, "--db", path.join(mixed, "m.sqlite")]);
  assert.equal(imp.code, 0, imp.stderr);
  // No build says where the imported rows' data set is: verify asks for it instead of guessing.
  const noData = await runCli(["matrix", "verify", "--sample", "6", "--seed", "1", "--db", path.join(mixed, "m.sqlite")], {}, 120_000);
  assert.equal(noData.code, 1, noData.stdout + noData.stderr);
  assert.match(noData.stdout, /ERROR .*no build of version 2 records where data set "synthetic" is: name its directory with --data/);
  const r = await runCli(["matrix", "verify", "--sample", "6", "--seed", "1", "--db", path.join(mixed, "m.sqlite"), "--data", dataDir], {}, 120_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /6\/6 cells agree/);
});

test("a second builder on the same database is refused with one line; data intact", async () => {
  const db = path.join(full, "m.sqlite");
  const before = await exportedRows(db);
  const store = await MatrixStore.open(db);
  const lock = await new BuildLedger(store.db).acquireLock({ gridHash: gridHash(await loadGrid(gridFile)) });
  try {
    const r = await build(full);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^advisor: another builder holds the build lock/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  } finally {
    await lock.release();
    await store.close();
  }
  assert.deepEqual(await exportedRows(db), before);
});

test("a grid naming an unknown strategy fails clearly and writes nothing", async () => {
  const dir = path.join(work, "bad");
  const bad = path.join(work, "bad-grid.yaml");
  await writeFile(bad, (await readFile(gridFile, "utf8")).replace("random]", "magic]"));
  const r = await runCli(["matrix", "build", "--grid", bad, "--db", path.join(dir, "m.sqlite"), "--models-dir", path.join(dir, "models")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /strategies\[1\]: unknown strategy "magic"/);
  assert.equal(existsSync(dir), false);
  // Against an existing database: unchanged.
  const db = path.join(full, "m.sqlite");
  const bytes = await readFile(db);
  const r2 = await runCli(["matrix", "build", "--grid", bad, "--db", db]);
  assert.equal(r2.code, 1);
  assert.deepEqual(await readFile(db), bytes);
});

test("a corrupted database file: one clear error, the file untouched", async () => {
  const db = path.join(work, "corrupt.sqlite");
  const junk = Buffer.from("this is not a database, just some bytes ".repeat(200));
  await writeFile(db, junk);
  for (const args of [["build", "--grid", gridFile, "--models-dir", path.join(work, "cm")], ["stats"]]) {
    const r = await runCli(["matrix", ...args, "--db", db]);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, /is not a SQLite database/);
    assert.deepEqual(await readFile(db), junk);
  }
  assert.equal(existsSync(db + "-wal"), false);
});
