// Migration 008 (the pruning set): variants rebuilt with the new strategies, dropped_bytes and
// schedule — rows, ids and the evaluations pointing at them kept, foreign keys on again afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { Database } from "../../src/matrix/sqlite.js";
import { migrate } from "../../src/matrix/migrations.js";
import { migrationsDir } from "../../src/paths.js";
import { MatrixInputError, MatrixStore } from "../../src/matrix/store.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempDir } from "./fixtures.js";

const VARIANT_COLUMNS = [
  "model_id",
  "strategy",
  "requested_rate",
  "achieved_rate",
  "prunable_params",
  "nonzero_prunable",
  "total_params",
  "nonzero_params",
  "sparse_bytes",
  "dense_bytes",
  "structured",
  "weights_sha256",
  "clean_correct",
  "clean_n",
  "finetune_epochs",
  "seed",
  "backend",
  "code_version",
  "created_at",
];

test("migration 008 keeps a 007 database's variants (ids, evaluations) and adds the pruning set, dropped_bytes and schedule", async (t) => {
  const dir = await tempDir(t);
  const upTo007 = path.join(dir, "mig");
  await mkdir(upTo007);
  for (const f of (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql") && Number(f.slice(0, 3)) <= 7)) await copyFile(path.join(migrationsDir, f), path.join(upTo007, f));
  const db = await Database.open(path.join(dir, "m.sqlite"));
  t.after(() => db.close());
  assert.deepEqual(await migrate(db, upTo007), [1, 2, 3, 4, 5, 6, 7]);
  const store = new MatrixStore(db);
  await store.upsertModel(fixtureModel());
  // Variants as a 007 database holds them (no dropped_bytes, no schedule), one with a gap in the ids.
  const insert = async (id: number, strategy: "dense" | "global-magnitude" | "structured-l1", rate: number): Promise<void> => {
    const v = fixtureVariant({ strategy, rate });
    const values = [v.modelId, v.strategy, v.requestedRate, v.achievedRate, v.prunableParams, v.nonZeroPrunable, v.totalParams, v.nonZeroParams, v.sparseBytes, v.denseBytes, v.structured ? 1 : 0, v.weightsSha256, v.clean.correct, v.clean.n, v.finetuneEpochs, v.seed, v.backend, v.codeVersion, v.createdAt];
    await db.run(`INSERT INTO variants (id, ${VARIANT_COLUMNS.join(", ")}) VALUES (?, ${VARIANT_COLUMNS.map(() => "?").join(", ")})`, [id, ...values]);
  };
  await insert(1, "dense", 1);
  await insert(2, "global-magnitude", 4);
  await insert(5, "structured-l1", 4);
  const version = await store.createVersion("before 008");
  for (const variantId of [1, 2, 5]) await store.insertEvaluation(fixtureEvaluation({ variantId, version, distances: runs([[0.5, 10]]) }));
  await store.publishVersion(version);
  // Before: the new strategies are refused by the CHECK constraint.
  await assert.rejects(insert(9, "kernel/magnitude-local" as "dense", 4), /CHECK constraint/);

  assert.deepEqual(await migrate(db, migrationsDir), [8]);
  const rows = await db.all<{ id: number; strategy: string; dropped_bytes: number | null; schedule: string }>("SELECT id, strategy, dropped_bytes, schedule FROM variants ORDER BY id");
  assert.deepEqual(rows, [
    { id: 1, strategy: "dense", dropped_bytes: null, schedule: "one-shot" },
    { id: 2, strategy: "global-magnitude", dropped_bytes: null, schedule: "one-shot" },
    { id: 5, strategy: "structured-l1", dropped_bytes: null, schedule: "one-shot" },
  ]);
  assert.deepEqual(await db.all("PRAGMA foreign_key_check"), [], "every evaluation still points at its variant");
  assert.equal((await db.get<{ foreign_keys: number }>("PRAGMA foreign_keys"))!.foreign_keys, 1, "foreign keys are on again");
  const snapshot = await store.snapshot();
  assert.deepEqual(snapshot.candidates.map((c) => [c.strategy, c.rate, c.droppedBytes, c.schedule]).sort(), [
    ["dense", 1, undefined, undefined],
    ["global-magnitude", 4, undefined, undefined],
    ["structured-l1", 4, undefined, undefined],
  ]);

  // After: the new strategies, droppedBytes, and both schedules of one (model, strategy, rate, seed).
  const kernel = { ...fixtureVariant({ strategy: "kernel/magnitude-local", rate: 8 }), droppedBytes: 200_000 };
  const k1 = await store.upsertVariant(kernel);
  const k2 = await store.upsertVariant({ ...kernel, schedule: "cumulative", weightsSha256: fixtureModelId("cumulative weights") });
  assert.notEqual(k1, k2, "a cumulative variant is another variant");
  assert.equal(await store.findVariant({ modelId: kernel.modelId, strategy: "kernel/magnitude-local", requestedRate: 8, seed: 1, schedule: "cumulative" }), k2);
  assert.equal(await store.upsertVariant(kernel), k1, "upsert finds the one-shot variant again");
  const stored = await db.get<{ dropped_bytes: number; schedule: string }>("SELECT dropped_bytes, schedule FROM variants WHERE id = ?", [k2]);
  assert.deepEqual(stored, { dropped_bytes: 200_000, schedule: "cumulative" });
  await assert.rejects(store.upsertVariant({ ...kernel, droppedBytes: kernel.denseBytes + 4, weightsSha256: fixtureModelId("x") }), MatrixInputError);
  await assert.rejects(store.upsertVariant({ ...fixtureVariant({ strategy: "dense", rate: 1 }), schedule: "cumulative" }), MatrixInputError);
  // The database refuses them too (not only the store's checks).
  await assert.rejects(db.run("UPDATE variants SET schedule = 'weekly' WHERE id = ?", [k1]), /CHECK constraint/);
  await assert.rejects(db.run("UPDATE variants SET strategy = 'filter/magic' WHERE id = ?", [k1]), /CHECK constraint/);
  await assert.rejects(db.run("DELETE FROM variants WHERE id = 2"), /FOREIGN KEY/, "foreign keys are enforced again");
});
