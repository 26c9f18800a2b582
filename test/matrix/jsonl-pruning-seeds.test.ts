// Pruning seeds through JSON Lines: a variant measured with two pruning seeds round-trips (both
// rows, both variants, both candidates of the advisor's snapshot); rows written before pruning
// seeds existed (the shipped db/matrix.jsonl: variantSeed = seed) import as the default seed — the
// default grid's keys, one candidate per variant.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { packageRoot } from "../../src/paths.js";
import { exportJsonl, importJsonl } from "../../src/matrix/jsonl.js";
import type { MatrixRow } from "../../src/matrix/row.js";
import { loadGrid } from "../../src/matrix/grid.js";
import { matrixStats } from "../../src/matrix/stats.js";
import type { MatrixStore } from "../../src/matrix/store.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempStore } from "./fixtures.js";

async function exportAll(store: MatrixStore): Promise<string> {
  let text = "";
  await exportJsonl(store, undefined, (line) => void (text += line));
  return text;
}

test("a variant measured with two pruning seeds: JSONL export → import → export is identical", async (t) => {
  const source = await tempStore(t, "source.sqlite");
  const v = await source.createVersion("two pruning seeds");
  const modelId = fixtureModelId("seeds");
  await source.upsertModel(fixtureModel({ id: modelId }));
  const dense = await source.upsertVariant({ ...fixtureVariant({ strategy: "dense", rate: 1 }), modelId });
  await source.insertEvaluation({ ...fixtureEvaluation({ variantId: dense, version: v, distances: runs([[0, 2], [0.2, 8]]) }), seed: 1 });
  for (const [pruningSeed, distances] of [
    [1, runs([[0, 3], [0.04, 4], [Infinity, 3]])],
    [2, runs([[0, 3], [0.25, 5], [Infinity, 2]])],
  ] as const) {
    const variantId = await source.upsertVariant({ ...fixtureVariant({ strategy: "random", rate: 4, seed: pruningSeed }), modelId });
    // Both attacked with the training seed 1: only the pruning seed differs.
    await source.insertEvaluation({ ...fixtureEvaluation({ variantId, version: v, distances }), seed: 1 });
  }
  await source.publishVersion(v);

  const first = await exportAll(source);
  const rows = first.trimEnd().split("\n").map((l) => JSON.parse(l) as MatrixRow);
  assert.deepEqual(
    rows.map((r) => [r.strategy, r.variantSeed, r.seed]),
    [
      ["dense", 1, 1],
      ["random", 1, 1],
      ["random", 2, 1],
    ],
  );
  const target = await tempStore(t, "target.sqlite");
  const result = await importJsonl(target, first);
  assert.deepEqual([result.inserted, result.newVariants], [3, 3], "two variants of random 4×, one per pruning seed");
  assert.equal(await exportAll(target), first);
  const snap = await target.snapshot();
  assert.deepEqual(
    snap.candidates.map((c) => [c.strategy, c.rate, c.pruningSeed]),
    [
      ["dense", 1, 1],
      ["random", 4, 1],
      ["random", 4, 2],
    ],
  );
  assert.deepEqual(snap, await source.snapshot());
  // Importing again adds nothing: the pruning seed is part of each row's identity.
  assert.equal((await importJsonl(target, first)).inserted, 0);
});

test("rows from before pruning seeds (the shipped matrix) import as the default seed", async (t) => {
  const shipped = path.join(packageRoot, "db", "matrix.jsonl");
  // The first 40 rows of the default grid pruned with their training seed (the rebuilt architectures
  // also hold second pruning seeds and the paper's granularity/rule strategies, which it lacks).
  const lines: string[] = [];
  for await (const line of createInterface({ input: createReadStream(shipped), crlfDelay: Infinity })) {
    if (lines.length >= 40) break;
    const r = JSON.parse(line) as MatrixRow;
    if (r.variantSeed === r.seed && !r.strategy.includes("/")) lines.push(line);
  }
  const rows = lines.map((l) => JSON.parse(l) as MatrixRow);
  assert.equal(rows.length, 40);
  const store = await tempStore(t);
  const result = await importJsonl(store, lines);
  assert.equal(result.inserted, lines.length);
  // Each is a row of the default grid (whose cells carry no pruning-seed suffix): none is unexpected.
  const grid = await loadGrid(path.join(packageRoot, "db", "grids", "default.yaml"));
  const stats = await matrixStats(store, { grid });
  assert.equal(stats.grid!.expectedRows - stats.gaps.length, lines.length);
  // The advisor sees one candidate per variant, with the training seed as its pruning seed.
  const snap = await store.snapshot();
  const variants = new Set(rows.map((r) => r.variantId));
  assert.equal(snap.candidates.length, variants.size);
  for (const c of snap.candidates) assert.equal(c.pruningSeed, 1);
});
