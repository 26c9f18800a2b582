// The storage layout of uploaded models: leftovers of a crashed process are swept, complete
// models and young work in progress are not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { modelsDirFor, storedModelDir, sweepStale } from "../../src/models/storage.js";
import { tempDir } from "../matrix/fixtures.js";
import { listTree } from "./helpers.js";

test("sweepStale removes old staged uploads and partial model writes, keeps models and young work", async (t) => {
  const root = await tempDir(t, "advisor-sweep-");
  const modelsDir = modelsDirFor(path.join(root, "matrix.sqlite"));
  assert.equal(modelsDir, path.join(root, "models"));
  const id = "a".repeat(64);
  const old = new Date(Date.now() - 2 * 3600 * 1000);
  const paths = {
    model: storedModelDir(modelsDir, id),
    oldStaging: path.join(modelsDir, ".staging", "upload-old"),
    youngStaging: path.join(modelsDir, ".staging", "upload-young"),
    oldPartial: path.join(modelsDir, `${"b".repeat(64)}.partial-1-2`),
  };
  for (const p of Object.values(paths)) {
    await mkdir(p, { recursive: true });
    await writeFile(path.join(p, "model.json"), "{}");
  }
  for (const p of [paths.model, paths.oldStaging, paths.oldPartial]) await utimes(p, old, old);
  const removed = await sweepStale(modelsDir);
  assert.deepEqual(removed.sort(), [paths.oldPartial, paths.oldStaging].sort());
  assert.deepEqual(await listTree(modelsDir), [".staging", ".staging/upload-young", ".staging/upload-young/model.json", id, `${id}/model.json`]);
  assert.throws(() => storedModelDir(modelsDir, "../etc"), /not a model id/);
});
