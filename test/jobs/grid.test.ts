// The grid of a refresh: a grid naming a given dense model (src/matrix/grid.ts) — planned by the
// model's label, hashed with its id (two models never share a build), round-tripping through the
// grid validation as the builds table stores it — and the refresh grid schema (a grid file's
// fields, dataset and architectures optional, no model).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { loadGrid, gridHash, planCells, refreshGrid, validateGrid, validateRefreshGrid, loadRefreshGrid, GridError } from "../../src/matrix/grid.js";
import { tempDir } from "../matrix/fixtures.js";
import { TINY_GRID } from "./helpers.js";

const A = "a".repeat(64);
const B = "b".repeat(64);

test("a refresh grid is the measurement fields of a grid file: dataset and architectures optional, model refused", () => {
  const r = validateRefreshGrid(TINY_GRID);
  assert.deepEqual(r.seeds, [1], "defaults filled in");
  assert.equal(r.finetune?.epochs, 1);
  // A whole grid file is accepted too (its architectures and dataset dir are ignored by the refresh).
  validateRefreshGrid({ ...TINY_GRID, dataset: { name: "synthetic", dir: "/data" }, architectures: ["lenet5"] });
  const err = (input: unknown): string[] => {
    try {
      validateRefreshGrid(input, "body");
    } catch (e) {
      assert.ok(e instanceof GridError);
      return e.issues;
    }
    assert.fail("accepted");
  };
  assert.deepEqual(err({ ...TINY_GRID, model: { id: A, architecture: "x", dir: "/m" } }), ['unknown field "model"']);
  assert.deepEqual(err({ ...TINY_GRID, strategies: ["dense"] }), ["strategies[0]: dense is not a pruning strategy (rate 1 gives the dense model)"]);
  assert.deepEqual(err({ ...TINY_GRID, norms: ["l2"] }), ["budgets.l2: missing: norm l2 is in norms and needs at least one budget"]);
});

test("a grid naming a model: planned by its label, hashed with its id (not its directory), valid again as stored", async (t) => {
  const r = validateRefreshGrid(TINY_GRID);
  const ds = { name: "synthetic", dir: "/data/synthetic" };
  const g = refreshGrid(r, { id: A, architecture: "tiny-cnn", dir: "/models/a" }, ds);
  assert.deepEqual(g.architectures, []);
  assert.deepEqual(
    planCells(g).map((c) => c.key),
    ["train/tiny-cnn/s1", "eval/tiny-cnn/dense/1x/s1/linf", "prune/tiny-cnn/global-magnitude/4x/s1", "eval/tiny-cnn/global-magnitude/4x/s1/linf"],
  );
  const other = refreshGrid(r, { id: B, architecture: "tiny-cnn", dir: "/models/a" }, ds);
  assert.notEqual(gridHash(g), gridHash(other), "two models never share a build");
  const moved = refreshGrid(r, { id: A, architecture: "tiny-cnn", dir: "/elsewhere/a" }, { ...ds, dir: "/elsewhere/data" });
  assert.equal(gridHash(g), gridHash(moved), "locations are not part of the hash");
  assert.equal(gridHash(refreshGrid({ ...r, description: "another description" }, g.model!, ds)), gridHash(g));
  // As the builds table stores it (JSON), it validates to the same grid.
  assert.deepEqual(validateGrid(JSON.parse(JSON.stringify(g))), g);

  // The same as a grid file: model.dir resolves against the file's folder, architectures must be left out.
  const dir = await tempDir(t);
  const file = path.join(dir, "grid.json");
  await writeFile(file, JSON.stringify({ ...TINY_GRID, dataset: { name: "synthetic", dir: "data" }, model: { id: A, architecture: "tiny-cnn", dir: "m" } }));
  const loaded = await loadGrid(file);
  assert.equal(loaded.model?.dir, path.join(dir, "m"));
  assert.equal(gridHash(loaded), gridHash(g));
  assert.throws(
    () => validateGrid({ ...TINY_GRID, dataset: ds, architectures: ["lenet5"], model: { id: A, architecture: "x", dir: "/m" } }),
    /architectures: a grid naming a model measures that model/,
  );
  assert.throws(() => validateGrid({ ...TINY_GRID, dataset: ds }), /architectures: missing/);
  assert.throws(() => validateGrid({ ...TINY_GRID, dataset: ds, model: { id: "abc", architecture: "x", dir: "/m" } }), /model\.id: must be a model id/);
  await assert.rejects(loadRefreshGrid(path.join(dir, "missing.yaml")), /not found/);
});
