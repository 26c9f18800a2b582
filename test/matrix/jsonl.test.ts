import { test } from "node:test";
import assert from "node:assert/strict";
import { exportJsonl, importJsonl, JsonlImportError } from "../../src/matrix/jsonl.js";
import { curveFromDistances, parseMatrixRow, type MatrixRow } from "../../src/matrix/row.js";
import { float32ToBlob, toBase64 } from "../../src/matrix/blobs.js";
import type { MatrixStore } from "../../src/matrix/store.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempStore } from "./fixtures.js";

/** A small matrix built in the test: two models, dense and pruned variants, two norms, Infinity distances included. */
async function buildSource(store: MatrixStore): Promise<number> {
  const v = await store.createVersion("source");
  for (const label of ["a", "b"]) {
    const modelId = fixtureModelId(label);
    await store.upsertModel(fixtureModel({ id: modelId, architecture: label === "a" ? "lenet5" : "lenet300" }));
    for (const [strategy, rate] of [["dense", 1], ["global-magnitude", 4], ["structured-l1", 2]] as const) {
      const variantId = await store.upsertVariant({ ...fixtureVariant({ strategy, rate }), modelId, weightsSha256: fixtureModelId(`${label}-${strategy}-${rate}`) });
      await store.insertEvaluation(fixtureEvaluation({ variantId, version: v, distances: runs([[0, 3], [0.04, 4], [0.25, 2], [Infinity, 3]]) }));
      await store.insertEvaluation({
        ...fixtureEvaluation({ variantId, version: v, norm: "l0", knowledge: "black-box", budgets: [0, 1, 4, 16], distances: runs([[0, 2], [3, 5], [Infinity, 5]]) }),
        attacks: [
          { name: "sparse-rs", kind: "fixed-budget", knowledge: "black-box", access: "query", params: { queryBudget: 1000, alphaInit: 0.3 }, budgets: [1, 4, 16], attempted: 30, beaten: 5 },
        ],
        surrogateSha256: null,
        queries: 12345,
      });
    }
  }
  await store.publishVersion(v);
  return v;
}

async function exportAll(store: MatrixStore, version?: number): Promise<string> {
  let text = "";
  await exportJsonl(store, version, (line) => {
    text += line;
  });
  return text;
}

test("JSONL export → import into a fresh database → export again is identical", async (t) => {
  const source = await tempStore(t, "source.sqlite");
  const v = await buildSource(source);
  const first = await exportAll(source);
  const lines = first.trimEnd().split("\n");
  assert.equal(lines.length, 12);
  const row = JSON.parse(lines[0]!) as MatrixRow;
  assert.equal(row.matrixVersion, v);
  assert.equal(row.n, 12);
  assert.equal(row.curve.length, 5);
  assert.ok(parseMatrixRow(row).distances.includes(Infinity), "Infinity survives the base64 blob");

  const target = await tempStore(t, "target.sqlite");
  const result = await importJsonl(target, first);
  assert.deepEqual(result, { version: 1, published: true, rows: 12, inserted: 12, skipped: 0, newModels: 2, newVariants: 6 });
  assert.equal(await exportAll(target), first);
  // The advisor sees the same matrix.
  assert.deepEqual(await target.snapshot(), await source.snapshot());
});

test("importing the same file twice adds nothing; a new measurement of a cell becomes a newer version", async (t) => {
  const source = await tempStore(t, "source.sqlite");
  await buildSource(source);
  const text = await exportAll(source);
  const target = await tempStore(t, "target.sqlite");
  await importJsonl(target, text.split("\n"));
  const before = await target.db.get("SELECT (SELECT count(*) FROM matrix_versions) AS v, (SELECT count(*) FROM evaluations) AS e, (SELECT count(*) FROM variants) AS va");
  const again = await importJsonl(target, text.split("\n"));
  assert.deepEqual(again, { version: null, published: false, rows: 12, inserted: 0, skipped: 12, newModels: 0, newVariants: 0 });
  assert.deepEqual(await target.db.get("SELECT (SELECT count(*) FROM matrix_versions) AS v, (SELECT count(*) FROM evaluations) AS e, (SELECT count(*) FROM variants) AS va"), before);
  // Importing into the source itself adds nothing either.
  assert.equal((await importJsonl(source, text)).inserted, 0);

  // One line re-measured (another run, other distances): only that row is new.
  const rows = text.trimEnd().split("\n").map((l) => JSON.parse(l) as MatrixRow);
  const changed = { ...rows[0]!, finishedAt: "2024-07-01T00:00:00.000Z" };
  const d = Float32Array.from({ length: changed.n }, () => Infinity);
  changed.distances = toBase64(float32ToBlob(d));
  changed.cleanCorrect = changed.n;
  changed.curve = curveFromDistances(d, changed.budgets);
  const r = await importJsonl(target, [JSON.stringify(changed), ...rows.slice(1).map((x) => JSON.stringify(x))]);
  assert.equal(r.inserted, 1);
  assert.equal(r.skipped, 11);
  assert.equal(r.version, 2);
  const latest = (await target.queryRows({}, { limit: 100 })).rows;
  assert.equal(latest.length, 12);
  assert.equal(latest.filter((x) => x.matrixVersion === 2).length, 1);
});

test("a malformed line is rejected with its line number and nothing is imported", async (t) => {
  const source = await tempStore(t, "source.sqlite");
  await buildSource(source);
  const lines = (await exportAll(source)).trimEnd().split("\n");
  const target = await tempStore(t, "target.sqlite");
  const counts = (): Promise<unknown> =>
    target.db.get("SELECT (SELECT count(*) FROM matrix_versions) AS v, (SELECT count(*) FROM evaluations) AS e, (SELECT count(*) FROM models) AS m, (SELECT count(*) FROM variants) AS va");
  const empty = await counts();

  const withLine = (n: number, replace: (row: Record<string, unknown>) => unknown): string[] =>
    lines.map((l, i) => (i === n - 1 ? (typeof replace === "function" ? JSON.stringify(replace(JSON.parse(l) as Record<string, unknown>)) : l) : l));
  const cases: [string, string[], RegExp][] = [
    ["not JSON", lines.map((l, i) => (i === 6 ? l.slice(0, 40) : l)), /^line 7: not valid JSON/],
    ["unknown strategy", withLine(5, (r) => ({ ...r, strategy: "magic" })), /^line 5: strategy: unknown strategy "magic"/],
    ["missing field", withLine(3, (r) => ({ ...r, norm: undefined })), /^line 3: norm: /],
    ["wrong curve", withLine(9, (r) => ({ ...r, curve: (r.curve as { robust: number }[]).map((p, i) => (i === 1 ? { ...p, robust: p.robust + 1 } : p)) })), /^line 9: curve\[1\]\.robust: is \d+, the distances give \d+/],
    ["bad sample hash", withLine(2, (r) => ({ ...r, sampleHash: "0".repeat(64) })), /^line 2: sampleHash: does not match/],
    ["truncated distances", withLine(4, (r) => ({ ...r, distances: toBase64(float32ToBlob([1, 2])) })), /^line 4: distances: holds 2 distances, n is 12/],
    ["fractional L0 budget", withLine(2, (r) => ({ ...r, budgets: [0, 1.5, 4, 16] })), /^line 2: budgets\[1\]: L0 budget 1\.5 must be an integer/],
    ["bad model id", withLine(12, (r) => ({ ...r, modelId: "lenet5" })), /^line 12: modelId: expected a sha256/],
  ];
  for (const [name, input, expected] of cases) {
    await assert.rejects(
      importJsonl(target, input),
      (err: unknown) => {
        assert.ok(err instanceof JsonlImportError, name);
        assert.match(err.message, expected, name);
        return true;
      },
      name,
    );
    assert.deepEqual(await counts(), empty, `${name}: nothing imported`);
  }

  // Two lines measuring the same cell differently.
  const dup = JSON.parse(lines[0]!) as MatrixRow;
  const other = { ...dup, finishedAt: "2025-01-01T00:00:00.000Z" };
  await assert.rejects(importJsonl(target, [JSON.stringify(dup), "", JSON.stringify(other)]), /line 3: repeats the cell of line 1 .* with a different measurement$/);
  // A conflict only found while writing (same variant key, other weights) rolls everything back too.
  const clash = { ...(JSON.parse(lines[0]!) as MatrixRow), weightsSha256: "f".repeat(64), finishedAt: "2025-01-01T00:00:00.000Z" };
  await assert.rejects(importJsonl(target, [lines[0]!, lines[1]!, JSON.stringify({ ...clash, knowledge: "transfer" })]), /line 3: .*already in the matrix with other weights/);
  assert.deepEqual(await counts(), empty);
  // Blank lines and CRLF endings are fine.
  const ok = await importJsonl(target, lines.map((l) => `${l}\r`).join("\n\n") + "\n");
  assert.equal(ok.inserted, 12);
});

test("export refuses unpublished versions and names the version it wrote", async (t) => {
  const store = await tempStore(t);
  await assert.rejects(exportAll(store), /no published version/);
  const v = await buildSource(store);
  const draft = await store.createVersion("draft");
  await assert.rejects(exportAll(store, draft), /not published/);
  let n = 0;
  const res = await exportJsonl(store, v, () => void n++, { norm: "l0" });
  assert.deepEqual(res, { version: v, rows: 6 });
  assert.equal(n, 6);
});
