// The grid's data set format and the CIFAR-sized architectures (issue 19, item 3): `format`
// defaults to idx, so grids written before it existed read, plan and hash exactly as before.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { packageRoot } from "../../src/paths.js";
import { DATASET_FORMATS } from "../../src/engine/dataset-formats.js";
import { GRID_DATASET_FORMATS, GridError, gridHash, loadGrid, planCells, refreshGrid, validateGrid, validateRefreshGrid } from "../../src/matrix/grid.js";

const base = {
  dataset: { name: "generated-cifar10", dir: "/data" },
  architectures: ["vgg11", "resnet8"],
  strategies: ["global-magnitude"],
  rates: [1, 4],
  norms: ["linf"],
  budgets: { linf: [0, 0.1] },
  samples: 10,
};

test("the grid lists the engine's data set formats", () => {
  assert.deepEqual([...GRID_DATASET_FORMATS], [...DATASET_FORMATS]);
});

test("format defaults to idx and stays out of the hash then; another format changes the hash", () => {
  const plain = validateGrid(base);
  assert.equal(plain.dataset.format, "idx");
  const idx = validateGrid({ ...base, dataset: { ...base.dataset, format: "idx" } });
  assert.equal(gridHash(idx), gridHash(plain));
  const cifar = validateGrid({ ...base, dataset: { ...base.dataset, format: "cifar10-binary" } });
  assert.equal(cifar.dataset.format, "cifar10-binary");
  assert.notEqual(gridHash(cifar), gridHash(plain));
  const png = validateGrid({ ...base, dataset: { ...base.dataset, format: "png-folder" } });
  assert.notEqual(gridHash(png), gridHash(cifar));
  // Canonical order of the zoo: resnet8 before vgg11; one train cell each.
  assert.deepEqual(cifar.architectures, ["resnet8", "vgg11"]);
  assert.deepEqual(planCells(cifar).filter((c) => c.kind === "train").map((c) => c.key), ["train/resnet8/s1", "train/vgg11/s1"]);
});

test("an unknown format is one line naming the field and the known formats", () => {
  assert.throws(
    () => validateGrid({ ...base, dataset: { ...base.dataset, format: "cifar100" } }, "g.yaml"),
    (e: unknown) => e instanceof GridError && e.message === 'g.yaml: dataset.format: unknown data set format "cifar100" (known: idx, cifar10-binary, png-folder)',
  );
});

test("the shipped grids have no format and read as idx", async () => {
  for (const f of ["db/grids/default.yaml", "test/fixtures/grid-tiny.yaml"]) assert.equal((await loadGrid(path.join(packageRoot, f))).dataset.format, "idx", f);
});

test("a refresh grid may carry the format (ignored: the server's directory decides); refreshGrid takes the given one", () => {
  const r = validateRefreshGrid({ strategies: [], rates: [1], norms: ["linf"], budgets: { linf: [0, 0.1] }, samples: 5, dataset: { name: "c", format: "cifar10-binary" } });
  const model = { id: "a".repeat(64), architecture: "my-resnet", dir: "/m" };
  assert.equal(refreshGrid(r, model, { name: "c", dir: "/d", format: "png-folder" }).dataset.format, "png-folder");
  assert.equal(refreshGrid(r, model, { name: "c", dir: "/d" }).dataset.format, "idx");
});
