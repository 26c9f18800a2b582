import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { mergeDatabases } from "../../src/matrix/builder.js";
import { missingModelDirs } from "../../src/matrix/model-dirs.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { runCli } from "../helpers/cli.js";
import { fixtureEvaluation, fixtureModel, fixtureVariant, runs, tempDir } from "./fixtures.js";

/** A published one-row shard in `dir` whose model directory is `models/fixture` (relative to `dir`). */
async function shardIn(dir: string): Promise<string> {
  const file = path.join(dir, "shard.sqlite");
  const store = await MatrixStore.open(file);
  try {
    const v = await store.createVersion("shard");
    const model = fixtureModel();
    await store.upsertModel(model);
    const variantId = await store.upsertVariant({ ...fixtureVariant({ strategy: "dense", rate: 1 }), modelId: model.id });
    await store.insertEvaluation(fixtureEvaluation({ variantId, version: v, distances: runs([[0, 2], [0.1, 3], [Infinity, 5]]) }));
    await store.publishVersion(v);
  } finally {
    await store.close();
  }
  return file;
}

test("model directories are checked where the rows say they are: a database copied to another folder is reported", async (t) => {
  const home = await tempDir(t);
  const shard = await shardIn(home);
  await mkdir(path.join(home, "models", "fixture"), { recursive: true });

  const inPlace = await mergeDatabases([shard], path.join(home, "merged.sqlite"));
  assert.deepEqual(inPlace.inputs[0]!.missingModelDirs, []);

  // The same file one folder deeper: its relative model directory now points nowhere.
  const elsewhere = path.join(home, "copies");
  await mkdir(elsewhere);
  const copy = path.join(elsewhere, "shard.sqlite");
  await copyFile(shard, copy);
  const moved = await mergeDatabases([copy], path.join(home, "merged2.sqlite"));
  assert.deepEqual(moved.inputs[0]!.missingModelDirs, [path.join(elsewhere, "models", "fixture")]);

  // The merged database re-based the directory to its own folder, so it still resolves.
  const merged = await MatrixStore.open(path.join(home, "merged.sqlite"));
  t.after(() => merged.close());
  assert.deepEqual(await missingModelDirs(merged, home), []);
});

test("matrix export and merge warn on stderr about a copied database's missing model directories, and only then", async (t) => {
  const home = await tempDir(t);
  const shard = await shardIn(home);
  await mkdir(path.join(home, "models", "fixture"), { recursive: true });
  const elsewhere = path.join(home, "copies");
  await mkdir(elsewhere);
  const copy = path.join(elsewhere, "shard.sqlite");
  await copyFile(shard, copy);
  const warning = /^warning: .*shard\.sqlite names 1 model directory that do not exist \(.*copies\/models\/fixture\); .*copied elsewhere/m;

  const inPlace = await runCli(["matrix", "export", "--db", shard, "--out", path.join(home, "a.jsonl")]);
  assert.equal(inPlace.code, 0, inPlace.stderr);
  assert.doesNotMatch(inPlace.stderr, /warning/);

  const moved = await runCli(["matrix", "export", "--db", copy, "--out", path.join(home, "b.jsonl")]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stderr, warning);

  const merged = await runCli(["matrix", "merge", copy, "--db", path.join(home, "m.sqlite")]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stderr, warning);
});
