// Indicators of attack failure in the matrix (issue 17, item 2): the engine's report is stored with
// the row, survives JSONL export and import, is counted by `matrix stats`, and a row failing one is
// not scored by the advisor (unscored with the indicator named, no gate verdict). Rows from before
// the indicators read as not measured. A grid's convergence probe runs on the cells it chooses
// and its verdict is stored with their white-box rows. The rows here are measured by the engine on
// small known-answer models; the model and variant records around them are test fixtures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { initBackend } from "../../src/engine/backend.js";
import { defaultWhiteBox } from "../../src/engine/evaluation/attack-plan.js";
import { evaluateRobustness, type RobustnessResult, type SampleSet } from "../../src/engine/evaluation/robustness.js";
import type { LayersModel } from "../../src/engine/tf.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { gate, prepareSnapshot, recommend, UnsoundEvidenceError } from "../../src/advisor/index.js";
import { evaluationInputFromResult, MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl, importJsonl, JsonlImportError } from "../../src/matrix/jsonl.js";
import { parseMatrixRow, type MatrixRow } from "../../src/matrix/row.js";
import { formatStats, matrixStats } from "../../src/matrix/stats.js";
import { loadGrid, parseGrid } from "../../src/matrix/grid.js";
import { probedCell } from "../../src/matrix/cells.js";
import { shippedMatrixPath } from "../../src/paths.js";
import { runCli } from "../helpers/cli.js";
import { randomLinear } from "../helpers/linear-attack-models.js";
import { labelledBy, quantised } from "../helpers/indicator-models.js";
import { fixtureEvaluation, fixtureModel, fixtureVariant, runs, tempDir, tempStore } from "./fixtures.js";

await initBackend();

const plain = randomLinear(5, 11);
const masked = quantised(plain.model);

function measure(target: LayersModel, samples: SampleSet): Promise<RobustnessResult> {
  return evaluateRobustness({
    target,
    samples,
    norm: "linf",
    knowledge: "white-box",
    budgets: [0, 0.02, 0.05, 0.1],
    attacks: { "white-box": defaultWhiteBox("linf", { pgd: { steps: 10 }, fmn: { steps: 20 }, apgd: { steps: 20, targets: 2 } }), "black-box": [] },
    batchSize: 20,
    seed: 3,
    unboundedCheck: false,
  });
}

// The healthy classifier stands as the dense model, the quantised one as a "random 2×" variant,
// and a row measured before the indicators existed as "global-magnitude 4×".
const healthy = await measure(plain.model, labelledBy(plain.model, 40, 5));
const quant = await measure(masked, labelledBy(masked, 40, 5));

async function build(store: MatrixStore): Promise<{ quantRow: number; healthyRow: number; oldRow: number }> {
  const v = await store.createVersion("indicators");
  await store.upsertModel(fixtureModel());
  const ids: number[] = [];
  for (const [strategy, rate, result] of [["dense", 1, healthy], ["random", 2, quant]] as const) {
    const variantId = await store.upsertVariant(fixtureVariant({ strategy, rate }));
    ids.push((await store.insertEvaluation(evaluationInputFromResult(result, { variantId, matrixVersion: v, finishedAt: "2024-05-01T12:00:00.000Z" }))).id);
  }
  const oldVariant = await store.upsertVariant(fixtureVariant({ strategy: "global-magnitude", rate: 4 }));
  const old = await store.insertEvaluation(fixtureEvaluation({ variantId: oldVariant, version: v, budgets: [0, 0.02, 0.05, 0.1], sampleIndices: Array.from({ length: 40 }, (_, i) => i), distances: runs([[0, 4], [0.03, 20], [Infinity, 16]]) }));
  await store.publishVersion(v);
  return { healthyRow: ids[0]!, quantRow: ids[1]!, oldRow: old.id };
}

async function exportAll(store: MatrixStore): Promise<string> {
  let text = "";
  await exportJsonl(store, undefined, (line) => void (text += line));
  return text;
}

test("the quantised model's row fails zero-gradients: stored, and unscored by the advisor with the indicator named", async (t) => {
  assert.deepEqual(quant.indicators.failed, ["zero-gradients"]);
  assert.equal(quant.sanity.pass, true, "only the indicator catches it");
  assert.deepEqual(healthy.indicators.failed, []);

  const store = await tempStore(t);
  const { quantRow, healthyRow, oldRow } = await build(store);
  const rows = prepareSnapshot(await store.snapshot()).candidates.flatMap((c) => c.evaluations);
  assert.deepEqual(rows.find((e) => e.id === quantRow)!.failedChecks, ["zero-gradients"]);
  assert.equal(rows.find((e) => e.id === healthyRow)!.failedChecks, undefined);
  assert.equal(rows.find((e) => e.id === oldRow)!.failedChecks, undefined, "not measured is not a failure");

  const snapshot = prepareSnapshot(await store.snapshot());
  const scenario = { norm: "linf" as const, budget: 0.02, knowledge: "white-box" as const };
  const r = recommend(snapshot, scenario);
  const random2 = r.unscored.find((u) => u.candidate.strategy === "random");
  assert.ok(random2, "the quantised variant is listed as unscored");
  assert.match(random2.reason, new RegExp(`failed the engine's indicators of attack failure \\(row ${quantRow} \\(white-box\\): zero-gradients\\)`));
  assert.ok(r.alternatives.every((a) => a.candidate.strategy !== "random") && r.recommendation?.strategy !== "random");
  assert.match(r.warnings.find((w) => w.code === "no-evidence")!.message, /The first's evidence failed the engine's indicators of attack failure/);

  const request = { candidate: { strategy: "random" as const, rate: 2 }, scenario, thresholds: { minRobustAccuracy: 0.1 } };
  assert.throws(() => gate(snapshot, request), (err: unknown) => err instanceof UnsoundEvidenceError && /zero-gradients/.test(err.message));
  const judged = gate(snapshot, { ...request, scenario: { ...scenario, allowUnsoundEvidence: true } });
  assert.ok(judged.warnings.some((w) => w.code === "unsound-evidence" && /indicators of attack failure \(row \d+: zero-gradients\)/.test(w.message)));
});

test("JSONL export → import → export keeps the indicators; old rows stay without them; a bad indicator name is refused", async (t) => {
  const source = await tempStore(t, "source.sqlite");
  await build(source);
  const text = await exportAll(source);
  const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l) as MatrixRow);
  assert.deepEqual(lines.map((l) => l.indicators?.failed ?? "absent"), [[], ["zero-gradients"], "absent"]);
  assert.equal(lines[1]!.indicators!.zeroGradients && (lines[1]!.indicators!.zeroGradients as { samples: number }).samples, 40);
  assert.ok(!("indicators" in lines[2]!), "a row without indicators exports without the field");

  const target = await tempStore(t, "target.sqlite");
  const imported = await importJsonl(target, text);
  assert.equal(imported.inserted, 3);
  assert.equal(await exportAll(target), text);
  assert.deepEqual(await target.snapshot(), await source.snapshot());
  assert.equal((await importJsonl(target, text)).inserted, 0, "the same file again adds nothing (content hashes include the indicators)");

  // A row measured before the indicators existed (a shipped row without its `indicators` field, as
  // every row of the 999-row matrix of 2026-11-28 was) parses as not measured.
  const shipped = JSON.parse((await readFile(shippedMatrixPath, "utf8")).split("\n", 1)[0]!) as Record<string, unknown>;
  delete shipped.indicators;
  assert.equal(parseMatrixRow(shipped).row.indicators, undefined);

  const bad = JSON.stringify({ ...lines[1], indicators: { ...lines[1]!.indicators, failed: ["gradient-voodoo"] } });
  await assert.rejects(importJsonl(await tempStore(t, "bad.sqlite"), bad), (err: unknown) => err instanceof JsonlImportError && err.field === "indicators.failed[0]");
});

test("matrix stats counts the rows failing each indicator and the rows not measured", async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, "m.sqlite");
  const store = await MatrixStore.open(file);
  await build(store);
  const s = await matrixStats(store);
  await store.close();
  assert.deepEqual(s.indicators.measuredRows, 2);
  assert.deepEqual([s.indicators.failedRows, s.indicators.byIndicator], [1, { "zero-gradients": 1 }]);
  const line = formatStats(s).find((l) => l.startsWith("indicators of attack failure"));
  assert.equal(line, "indicators of attack failure: measured on 2 of 3 rows; 1 of them fail (zero-gradients 1); the advisor does not score them");
  const cli = await runCli(["matrix", "stats", "--db", file]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^indicators of attack failure: measured on 2 of 3 rows; 1 of them fail \(zero-gradients 1\)/m);
  assert.match(cli.stdout, /^sanity checks: every row passes$/m);
});

test("the convergence probe is opt-in; it runs on every n-th evaluation cell and its verdict is stored with the white-box row", async (t) => {
  const fixture = await readFile(new URL("../fixtures/grid-tiny.yaml", import.meta.url), "utf8");
  // Without the option the grid is what it was: no field, no probe.
  const plainGrid = parseGrid(fixture);
  assert.ok(!("convergenceProbe" in plainGrid.attacks));
  const every2 = parseGrid(fixture.replace("attacks:\n", "attacks:\n  convergenceProbe:\n    every: 2\n"));
  assert.deepEqual(every2.attacks.convergenceProbe, { every: 2 });
  const evalKeys = ["eval/lenet300/dense/1x/s1/linf", "eval/lenet300/global-magnitude/4x/s1/linf", "eval/lenet300/random/4x/s1/linf"];
  assert.deepEqual(evalKeys.map((k) => probedCell(every2, k)), [true, false, true]);
  assert.deepEqual(evalKeys.map((k) => probedCell(plainGrid, k)), [false, false, false]);
  assert.throws(() => parseGrid(fixture.replace("attacks:\n", "attacks:\n  convergenceProbe:\n    every: 0\n")), /attacks\.convergenceProbe\.every/);

  const dir = await tempDir(t, "advisor-probe-");
  const dataDir = path.join(dir, "data");
  await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));
  const gridFile = path.join(dir, "grid.yaml");
  await writeFile(
    gridFile,
    fixture
      .replace("dir: ./synthetic", `dir: ${dataDir}`)
      .replace(/epochs: 2/, "epochs: 1")
      .replace("attacks:\n", "attacks:\n  convergenceProbe:\n    every: 2\n"),
  );
  const grid = await loadGrid(gridFile);
  assert.deepEqual(grid.attacks.convergenceProbe, { every: 2 });
  const db = path.join(dir, "m.sqlite");
  const r = await runCli(["matrix", "build", "--grid", gridFile, "--db", db, "--models-dir", path.join(dir, "models"), "--workers", "1"], {}, 120_000);
  assert.equal(r.code, 0, r.stderr);
  const store = await MatrixStore.open(db);
  t.after(() => store.close());
  const rows: MatrixRow[] = [];
  for await (const row of store.rows()) rows.push(row);
  assert.equal(rows.length, 9);
  for (const row of rows) {
    const convergence = row.indicators!.convergence as { checked: boolean; maxMove?: number; perBudget?: unknown[] };
    const probed = row.knowledge === "white-box" && row.strategy !== "global-magnitude";
    assert.equal(convergence.checked, probed, `${row.strategy} ${row.knowledge}`);
    if (probed) assert.equal(convergence.perBudget!.length, row.budgets.length);
  }
  const stats = await runCli(["matrix", "stats", "--db", db]);
  assert.match(stats.stdout, /^indicators of attack failure: measured on 9 of 9 rows/m);
});
