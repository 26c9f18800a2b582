// The shipped matrix holds measurements on real data only (issue 19, item 3): every row of
// db/matrix.jsonl is Fashion-MNIST's, and none names a data set the tests generate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { shippedMatrixPath } from "../../src/paths.js";
import { isRealDatasetName } from "../../src/engine/data-provenance.js";

test("db/matrix.jsonl has only fashion-mnist rows", async () => {
  const lines = (await readFile(shippedMatrixPath, "utf8")).split("\n").filter((l) => l.trim() !== "");
  assert.ok(lines.length > 0);
  const datasets = new Map<string, number>();
  for (const l of lines) {
    const d = (JSON.parse(l) as { dataset: string }).dataset;
    datasets.set(d, (datasets.get(d) ?? 0) + 1);
  }
  assert.deepEqual([...datasets.keys()], ["fashion-mnist"], `data sets: ${JSON.stringify([...datasets])}`);
  assert.ok(isRealDatasetName("fashion-mnist"));
});
