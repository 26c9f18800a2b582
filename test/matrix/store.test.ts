import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { Database } from "../../src/matrix/sqlite.js";
import { migrate } from "../../src/matrix/migrations.js";
import { migrationsDir } from "../../src/paths.js";
import { blobToFloat32, blobToUint32, float32ToBlob, fromBase64, sha256Hex, uint32ToBlob, BlobFormatError } from "../../src/matrix/blobs.js";
import { MatrixConflictError, MatrixInputError, MatrixStore, MatrixVersionError } from "../../src/matrix/store.js";
import { BuildLedger, BuildLockedError } from "../../src/matrix/build-state.js";
import { recommend } from "../../src/advisor/index.js";
import type { Strategy } from "../../src/advisor/types.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempDir, tempStore } from "./fixtures.js";

async function schemaOf(db: Database): Promise<string[]> {
  return (await db.all<{ sql: string }>("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")).map((r) => r.sql);
}

test("migration 002 applies on top of 001, keeps existing versions visible, and applying twice = once", async (t) => {
  const dir = await tempDir(t);
  const only001 = path.join(dir, "mig");
  await mkdir(only001);
  await copyFile(path.join(migrationsDir, "001_matrix_versions.sql"), path.join(only001, "001_matrix_versions.sql"));
  const db = await Database.open(path.join(dir, "m.sqlite"));
  t.after(() => db.close());
  assert.deepEqual(await migrate(db, only001), [1]);
  await db.run("INSERT INTO matrix_versions (created_at, description, code_version) VALUES ('2024-01-01T00:00:00.000Z', 'old', '0.0.1')");

  assert.deepEqual(await migrate(db, migrationsDir), [2, 3, 4, 5, 6, 7, 8]);
  const schemaOnce = await schemaOf(db);
  for (const table of ["models", "variants", "evaluations", "builds", "build_cells", "build_locks", "jobs", "matrix_seeds"]) {
    // A table rebuilt by a later migration (ALTER TABLE … RENAME) keeps its name quoted.
    assert.ok(schemaOnce.some((s) => s.startsWith(`CREATE TABLE ${table} `) || s.startsWith(`CREATE TABLE "${table}" `)), `table ${table} exists`);
  }
  // A version from before publication existed stays readable.
  const store = new MatrixStore(db);
  const latest = await store.latestPublishedVersion();
  assert.equal(latest?.id, 1);
  assert.equal(latest?.publishedAt, "2024-01-01T00:00:00.000Z");

  assert.deepEqual(await migrate(db, migrationsDir), []);
  assert.deepEqual(await schemaOf(db), schemaOnce);
});

test("blobs: float32 and uint32 little-endian round trips; Infinity and 0 survive, NaN and bad input are refused", () => {
  const d = Float32Array.from([0, 0.5, Infinity, 1e-8, 3.25, 64]);
  const blob = float32ToBlob(d);
  assert.equal(blob.length, 24);
  assert.equal(blob.readFloatLE(8), Infinity);
  assert.deepEqual(blobToFloat32(blob), d);
  const idx = [0, 1, 9999, 0xffffffff];
  const ib = uint32ToBlob(idx);
  assert.equal(ib.readUInt32LE(8), 9999);
  assert.deepEqual(blobToUint32(ib), idx);
  assert.throws(() => float32ToBlob([NaN]), BlobFormatError);
  assert.throws(() => uint32ToBlob([1.5]), BlobFormatError);
  assert.throws(() => uint32ToBlob([-1]), BlobFormatError);
  assert.throws(() => blobToFloat32(Buffer.alloc(7)), BlobFormatError);
  assert.throws(() => fromBase64("not base64!"), BlobFormatError);
});

test("the store round-trips distances and sample indices through SQLite, Infinity included", async (t) => {
  const store = await tempStore(t);
  await store.upsertModel(fixtureModel());
  const variantId = await store.upsertVariant(fixtureVariant({ strategy: "dense", rate: 1 }));
  const v = await store.createVersion("round trip");
  const distances = Float32Array.from([0, 0.013, Infinity, 0.3, Infinity, 0.05]);
  const indices = [5, 17, 4_000_000_000, 3, 9, 12];
  await store.insertEvaluation(fixtureEvaluation({ variantId, version: v, distances, sampleIndices: indices }));
  await store.publishVersion(v);

  const snap = await store.snapshot();
  const e = snap.candidates[0]!.evaluations[0]!;
  assert.ok(e.distances instanceof Float32Array);
  assert.deepEqual(e.distances, distances);
  assert.deepEqual(e.sampleIndices, indices);

  const { rows } = await store.queryRows();
  const row = rows[0]!;
  assert.deepEqual(blobToFloat32(fromBase64(row.distances)), distances);
  assert.deepEqual(blobToUint32(fromBase64(row.sampleIndices)), indices);
  assert.equal(row.sampleHash, sha256Hex(uint32ToBlob(indices)));
  assert.equal(row.cleanCorrect, 5);
  // The curve is computed from the distances: robust at ε iff d > ε.
  assert.deepEqual(
    row.curve.map((p) => [p.budget, p.robust, p.n]),
    [
      [0.02, 4, 6],
      [0.05, 3, 6],
      [0.1, 3, 6],
      [0.2, 3, 6],
      [0.3, 2, 6],
    ],
  );
  assert.ok(row.curve.every((p) => p.low <= p.accuracy && p.accuracy <= p.high));
});

test("inserts are idempotent: models, variants and evaluations are never duplicated", async (t) => {
  const store = await tempStore(t);
  const model = fixtureModel();
  assert.equal(await store.upsertModel(model), model.id);
  assert.equal(await store.upsertModel(model), model.id);
  const variant = fixtureVariant({ strategy: "global-magnitude", rate: 4 });
  const id1 = await store.upsertVariant(variant);
  const id2 = await store.upsertVariant({ ...variant, createdAt: "2030-01-01T00:00:00.000Z" });
  assert.equal(id1, id2);
  const v = await store.createVersion();
  const ev = fixtureEvaluation({ variantId: id1, version: v, distances: runs([[0, 2], [0.04, 3], [Infinity, 5]]) });
  const first = await store.insertEvaluation(ev);
  const again = await store.insertEvaluation({ ...ev, finishedAt: "2024-05-02T00:00:00.000Z" });
  assert.equal(first.inserted, true);
  assert.equal(again.inserted, false);
  assert.equal(again.id, first.id);
  const counts = await store.db.get<{ m: number; v: number; e: number }>(
    "SELECT (SELECT count(*) FROM models) AS m, (SELECT count(*) FROM variants) AS v, (SELECT count(*) FROM evaluations) AS e",
  );
  assert.deepEqual(counts, { m: 1, v: 1, e: 1 });

  // Same key, different identity: refused, not overwritten.
  await assert.rejects(store.upsertVariant({ ...variant, weightsSha256: sha256Hex("other weights") }), MatrixConflictError);
  await assert.rejects(store.upsertModel({ ...model, architecture: "convnet" }), MatrixConflictError);
  await assert.rejects(store.upsertModel({ ...model, id: "lenet5-fmnist" }), MatrixInputError);
  await assert.rejects(store.upsertVariant(fixtureVariant({ strategy: "random", rate: 4, modelId: fixtureModelId("missing") })), /upsert the model first/);
  // Inconsistent evaluation data is refused before anything is written.
  await assert.rejects(store.insertEvaluation({ ...ev, knowledge: "transfer", cleanCorrect: 10 }), /cleanCorrect/);
  await assert.rejects(store.insertEvaluation({ ...ev, knowledge: "transfer", budgets: [0.1, 0.05] }), /budgets\[1\]/);
  await assert.rejects(store.insertEvaluation({ ...ev, knowledge: "transfer", budgets: [1.5] }), /exceeds 1/);
});

test("unpublished versions are invisible to readers; published versions are immutable", async (t) => {
  const store = await tempStore(t);
  await store.upsertModel(fixtureModel());
  const variantId = await store.upsertVariant(fixtureVariant({ strategy: "dense", rate: 1 }));
  const v1 = await store.createVersion("building");
  await store.insertEvaluation(fixtureEvaluation({ variantId, version: v1, distances: runs([[0.1, 10]]) }));

  await assert.rejects(store.snapshot(), MatrixVersionError);
  await assert.rejects(store.queryRows(), /no published version/);
  await assert.rejects(store.snapshot(v1), /not published/);
  await assert.rejects(store.queryRows({ version: v1 }), /not published/);
  await assert.rejects(store.listModels(), MatrixVersionError);
  assert.equal(await store.latestPublishedVersion(), null);
  assert.deepEqual(await store.listVersions(), []);
  assert.equal((await store.listVersions({ includeUnpublished: true })).length, 1);

  const empty = await store.createVersion("empty");
  await assert.rejects(store.publishVersion(empty), /holds no evaluations/);

  const info = await store.publishVersion(v1);
  assert.equal(info.publishedSeq, 1);
  assert.equal((await store.snapshot()).version, v1);
  await assert.rejects(store.publishVersion(v1), /already published/);
  // Nothing can be added to, changed in or removed from a published version.
  await assert.rejects(
    store.insertEvaluation(fixtureEvaluation({ variantId, version: v1, knowledge: "black-box", distances: runs([[0.1, 10]]) })),
    /published versions are immutable/,
  );
  await assert.rejects(store.db.run("UPDATE evaluations SET seed = 8"), /immutable/);
  await assert.rejects(store.db.run("DELETE FROM evaluations"), /cannot be deleted/);
  await assert.rejects(store.db.run("UPDATE matrix_versions SET published_at = NULL WHERE id = ?", [v1]), /immutable/);
  await assert.rejects(store.discardVersion(v1), /cannot be discarded/);
  await store.discardVersion(empty);
  assert.equal(await store.version(empty), null);
});

/** The hand-built matrix: 200 samples, L∞ white-box; robust counts at ε = 0.1 in the comments. */
async function handBuiltMatrix(store: MatrixStore): Promise<{ v1: number; ids: Record<string, number> }> {
  await store.upsertModel(fixtureModel());
  const ids: Record<string, number> = {};
  const add = async (strategy: Strategy, rate: number, clean: [number, number]): Promise<number> =>
    (ids[`${strategy}-${rate}`] = await store.upsertVariant(fixtureVariant({ strategy, rate, clean })));
  await add("dense", 1, [910, 1000]);
  await add("global-magnitude", 4, [905, 1000]);
  await add("random", 4, [850, 1000]);
  const v1 = await store.createVersion("hand-built v1");
  const distances: Record<string, Float32Array> = {
    "dense-1": runs([[0, 20], [0.03, 40], [0.08, 40], [0.15, 40], [Infinity, 60]]), // 100
    "global-magnitude-4": runs([[0, 20], [0.03, 20], [0.08, 40], [0.15, 20], [0.25, 20], [Infinity, 80]]), // 120
    "random-4": runs([[0, 20], [0.03, 60], [0.08, 40], [0.15, 40], [Infinity, 40]]), // 80
  };
  for (const [key, d] of Object.entries(distances)) await store.insertEvaluation(fixtureEvaluation({ variantId: ids[key]!, version: v1, distances: d }));
  await store.publishVersion(v1);
  return { v1, ids };
}

const SCENARIO = { norm: "linf", budget: 0.1, knowledge: "white-box" } as const;

test("snapshot() feeds recommend(): the expected winner, the newest published version wins, unpublished rows never count", async (t) => {
  const store = await tempStore(t);
  const { v1, ids } = await handBuiltMatrix(store);

  const snap1 = await store.snapshot();
  assert.equal(snap1.version, v1);
  assert.equal(snap1.candidates.length, 3);
  const gm = snap1.candidates.find((c) => c.strategy === "global-magnitude")!;
  assert.equal(gm.rate, 4);
  assert.equal(gm.nonZeroParams, Math.round(61_470 / 4) + 236);
  assert.deepEqual(gm.clean, { correct: 905, n: 1000 });
  assert.deepEqual(gm.evaluations[0]!.attacks, [{ name: "pgd-linf", params: { steps: 40, restarts: 2, relativeStepSize: 0.0625 } }]);
  const r1 = recommend(snap1, SCENARIO);
  assert.equal(r1.status, "ok");
  assert.equal(r1.matrixVersion, v1);
  assert.equal(r1.recommendation?.strategy, "global-magnitude");
  assert.equal(r1.recommendation?.robustAccuracy?.robust, 120);
  assert.deepEqual(
    r1.alternatives.map((a) => a.candidate.strategy),
    ["global-magnitude", "dense", "random"],
  );

  // v2 re-measures random 4× (now 160 robust at 0.1): it wins in v2, v1's answer is unchanged.
  const v2 = await store.createVersion("refresh random");
  await store.insertEvaluation(
    fixtureEvaluation({ variantId: ids["random-4"]!, version: v2, distances: runs([[0, 20], [0.03, 20], [Infinity, 160]]), finishedAt: "2024-06-01T00:00:00.000Z" }),
  );
  // v3 (never published) would make dense the winner.
  const v3 = await store.createVersion("unpublished");
  await store.insertEvaluation(fixtureEvaluation({ variantId: ids["dense-1"]!, version: v3, distances: runs([[Infinity, 200]]) }));
  assert.equal((await store.snapshot()).version, v1, "v2 is not published yet");
  await store.publishVersion(v2);

  const snap2 = await store.snapshot();
  assert.equal(snap2.version, v2);
  assert.equal(snap2.candidates.length, 3, "one candidate per variant; v1 rows of the other variants carry over");
  const random = snap2.candidates.find((c) => c.strategy === "random")!;
  assert.equal(random.evaluations.length, 1, "the newest version's row replaces the older one");
  assert.equal(recommend(snap2, SCENARIO).recommendation?.strategy, "random");
  assert.equal(recommend(await store.snapshot(v1), SCENARIO).recommendation?.strategy, "global-magnitude");
  assert.ok(!(await store.queryRows({}, { limit: 1000 })).rows.some((r) => r.matrixVersion === v3));

  const models = await store.listModels();
  assert.equal(models.length, 1);
  assert.equal(models[0]!.variants, 3);
  assert.equal(models[0]!.evaluations, 3);
  assert.deepEqual(
    (await store.listVersions()).map((v) => v.id),
    [v1, v2],
  );

  const { curves } = await store.curves({ strategy: "random" }, { at: [0, 0.1, 0.5] });
  assert.equal(curves.length, 1);
  assert.deepEqual(
    curves[0]!.points.map((p) => [p.budget, p.robust, p.kind]),
    [
      [0, 180, "distances"],
      [0.1, 160, "grid"],
      [0.5, 160, "distances"],
    ],
  );
});

test("versions are ordered by publication: a version published late never changes an earlier snapshot", async (t) => {
  const store = await tempStore(t);
  const { ids } = await handBuiltMatrix(store);
  const slow = await store.createVersion("long build");
  const quick = await store.createVersion("quick import");
  await store.insertEvaluation(fixtureEvaluation({ variantId: ids["random-4"]!, version: slow, distances: runs([[Infinity, 200]]) }));
  await store.insertEvaluation(fixtureEvaluation({ variantId: ids["random-4"]!, version: quick, distances: runs([[0, 200]]) }));
  await store.publishVersion(quick);
  const before = await store.snapshot(quick);
  await store.publishVersion(slow);
  assert.deepEqual(await store.snapshot(quick), before);
  // The later publication wins in its own snapshot.
  const latest = await store.snapshot();
  assert.equal(latest.version, slow);
  assert.equal(latest.candidates.find((c) => c.strategy === "random")!.evaluations[0]!.distances[0], Infinity);
});

test("cursor pagination returns every row of the snapshot exactly once, pinned to its version", async (t) => {
  const store = await tempStore(t);
  await store.upsertModel(fixtureModel());
  const variants: number[] = [];
  for (const [strategy, rate] of [["dense", 1], ["global-magnitude", 2], ["layer-magnitude", 8], ["random", 16]] as const) {
    variants.push(await store.upsertVariant(fixtureVariant({ strategy, rate })));
  }
  const v1 = await store.createVersion();
  for (const variantId of variants) {
    for (const norm of ["l2", "linf"] as const) {
      for (const knowledge of ["white-box", "black-box"] as const) {
        await store.insertEvaluation(fixtureEvaluation({ variantId, version: v1, norm, knowledge, budgets: [0.5, 1], distances: runs([[0.7, 5], [Infinity, 5]]) }));
      }
    }
  }
  await store.publishVersion(v1);
  const v2 = await store.createVersion();
  // Two rows re-measured, one new cell.
  await store.insertEvaluation(fixtureEvaluation({ variantId: variants[0]!, version: v2, norm: "l2", knowledge: "white-box", budgets: [0.5, 1], distances: runs([[0.2, 10]]) }));
  await store.insertEvaluation(fixtureEvaluation({ variantId: variants[1]!, version: v2, norm: "linf", knowledge: "black-box", distances: runs([[0.2, 10]]) }));
  await store.insertEvaluation(fixtureEvaluation({ variantId: variants[1]!, version: v2, norm: "l0", knowledge: "white-box", budgets: [1, 2], distances: runs([[1, 10]]) }));
  await store.publishVersion(v2);

  const all = (await store.queryRows({}, { limit: 1000 })).rows;
  assert.equal(all.length, 17);
  const ids = all.map((r) => r.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "stable order by id");

  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Awaited<ReturnType<MatrixStore["queryRows"]>> = await store.queryRows({}, { limit: 5, cursor });
    assert.equal(page.version, v2);
    seen.push(...page.rows.map((r) => r.id));
    cursor = page.nextCursor;
    pages++;
    // A version published mid-paging does not disturb the pages.
    if (pages === 1) {
      const v3 = await store.createVersion();
      await store.insertEvaluation(fixtureEvaluation({ variantId: variants[3]!, version: v3, norm: "l0", knowledge: "white-box", budgets: [1], distances: runs([[1, 3]]) }));
      await store.publishVersion(v3);
    }
  } while (cursor);
  assert.equal(pages, 4);
  assert.deepEqual(seen, ids);

  // Filters, and their cursors.
  const l2 = await store.queryRows({ version: v2, norm: "l2", knowledge: "white-box" }, { limit: 3 });
  assert.equal(l2.rows.length, 3);
  assert.ok(l2.rows.every((r) => r.norm === "l2" && r.knowledge === "white-box"));
  const rest = await store.queryRows({ version: v2, norm: "l2", knowledge: "white-box" }, { limit: 3, cursor: l2.nextCursor });
  assert.equal(rest.rows.length, 1);
  assert.equal(rest.nextCursor, null);
  assert.equal(rest.rows[0]!.matrixVersion, v2, "the re-measured dense row of v2 replaces v1's");
  await assert.rejects(store.queryRows({ norm: "linf" }, { cursor: l2.nextCursor }), /another filter/);
  await assert.rejects(store.queryRows({}, { cursor: "garbage" }), /invalid cursor/);
  await assert.rejects(store.queryRows({}, { limit: 0 }), /page limit/);
  await assert.rejects(store.queryRows({ strategy: "magic" as Strategy }), /unknown strategy "magic"/);
  assert.equal((await store.queryRows({ strategy: "layer-magnitude", rate: 8, version: v1 })).rows.length, 4);
  assert.equal((await store.queryRows({ dataset: "mnist" })).rows.length, 0);
  assert.equal((await store.queryRows({ architecture: "lenet5", modelId: fixtureModelId() }, { limit: 1000 })).rows.length, 18);
});

test("a second builder on the same database is refused; a dead or silent holder is taken over", async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, "build.sqlite");
  const a = await MatrixStore.open(file);
  const b = await MatrixStore.open(file);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const first = await new BuildLedger(a.db).acquireLock({ gridHash: "ab".repeat(32) });
  const second = new BuildLedger(b.db);
  await assert.rejects(second.acquireLock(), (err: unknown) => {
    assert.ok(err instanceof BuildLockedError);
    assert.match(err.message, /another builder holds the build lock/);
    assert.match(err.message, new RegExp(`process ${process.pid}`));
    assert.match(err.message, /grid abababababab/);
    return true;
  });
  await first.heartbeat();
  await first.release();
  const again = await second.acquireLock();
  await assert.rejects(first.heartbeat(), /taken over/);
  await again.release();

  // A holder on this host whose process is gone.
  await second.acquireLock({ pid: 2 ** 22 + 12345 });
  const takeover = await second.acquireLock();
  assert.equal(takeover.tookOver?.pid, 2 ** 22 + 12345);
  await takeover.release();

  // A holder elsewhere that stopped sending heartbeats.
  await second.acquireLock({ host: "elsewhere", now: () => new Date(Date.now() - 60 * 60 * 1000) });
  await assert.rejects(second.acquireLock({ staleAfterMs: 2 * 60 * 60 * 1000 }), BuildLockedError);
  const late = await second.acquireLock();
  assert.equal(late.tookOver?.host, "elsewhere");
  assert.equal((await second.currentLock())?.pid, process.pid);
});

test("the build ledger checkpoints cells: done cells are skipped on resume, interrupted and failed ones rerun", async (t) => {
  const store = await tempStore(t);
  const ledger = new BuildLedger(store.db);
  const hash = sha256Hex("grid");
  const version = await store.createVersion("build");
  await assert.rejects(ledger.startCell(hash, { key: "train/lenet300/s1", kind: "train" }), /beginBuild first/);
  const info = await ledger.beginBuild(hash, { samples: 20 }, version);
  assert.equal(info.matrixVersion, version);
  assert.equal((await ledger.beginBuild(hash, { samples: 20 }, 999)).matrixVersion, version, "an existing build is resumed, not replaced");
  const plan = [
    { key: "train/lenet300/s1", kind: "train" as const },
    { key: "prune/lenet300/random/4x/s1", kind: "prune" as const },
    { key: "eval/lenet300/random/4x/s1/linf", kind: "evaluate" as const },
  ];
  await ledger.startCell(hash, plan[0]!, "worker-1");
  await ledger.finishCell(hash, plan[0]!.key, { modelId: fixtureModelId() });
  await ledger.startCell(hash, plan[1]!, "worker-1");
  await ledger.failCell(hash, plan[1]!.key, "out of memory");
  await ledger.startCell(hash, plan[2]!, "worker-2"); // then the process dies
  assert.deepEqual(
    (await ledger.pending(hash, plan)).map((c) => c.key),
    [plan[1]!.key, plan[2]!.key],
  );
  await ledger.startCell(hash, plan[1]!, "worker-1");
  const cells = await ledger.cells(hash);
  const prune = cells.find((c) => c.key === plan[1]!.key)!;
  assert.equal(prune.attempts, 2);
  assert.equal(prune.status, "running");
  assert.equal(prune.error, null);
  assert.deepEqual(cells.find((c) => c.key === plan[0]!.key)!.output, { modelId: fixtureModelId() });
  await store.discardVersion(version);
  assert.equal((await ledger.build(hash))?.matrixVersion, null);
  await ledger.resetBuild(hash);
  assert.deepEqual(await ledger.cells(hash), []);
});
