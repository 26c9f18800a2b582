// `matrix export --architecture NAME` writes only that architecture's rows: how one architecture's
// rebuilt rows are taken out of a build to replace its old rows in the shipped matrix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { MatrixStore } from "../../src/matrix/store.js";
import { runCli } from "../helpers/cli.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempDir } from "./fixtures.js";

/** One published version with a dense row of each of two architectures. */
async function twoArchitectures(file: string): Promise<void> {
  const store = await MatrixStore.open(file);
  try {
    const v = await store.createVersion("two architectures");
    for (const architecture of ["lenet300", "lenet5"]) {
      const model = fixtureModel({ id: fixtureModelId(architecture), architecture });
      await store.upsertModel(model);
      const variantId = await store.upsertVariant({ ...fixtureVariant({ strategy: "dense", rate: 1 }), modelId: model.id });
      await store.insertEvaluation(fixtureEvaluation({ variantId, version: v, distances: runs([[0, 2], [0.1, 3], [Infinity, 5]]) }));
    }
    await store.publishVersion(v);
  } finally {
    await store.close();
  }
}

const architecturesIn = async (file: string): Promise<string[]> =>
  (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { architecture: string }).architecture);

test("matrix export --architecture keeps that architecture's rows only, and says so when there is none", async (t) => {
  const home = await tempDir(t);
  const db = path.join(home, "m.sqlite");
  await twoArchitectures(db);

  const one = await runCli(["matrix", "export", "--db", db, "--architecture", "lenet300", "--out", path.join(home, "one.jsonl")]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(await architecturesIn(path.join(home, "one.jsonl")), ["lenet300"]);
  assert.match(one.stderr, /exported 1 rows/); // of the version's 2

  const none = await runCli(["matrix", "export", "--db", db, "--architecture", "vgg11", "--out", path.join(home, "none.jsonl")]);
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual(await architecturesIn(path.join(home, "none.jsonl")), []);
  assert.match(none.stderr, /no row of architecture "vgg11"/);
});
