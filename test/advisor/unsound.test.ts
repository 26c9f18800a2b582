// Issue 17 item 3: only sound evidence is scored. On the shipped matrix of 2026-11-28, 140 rows
// failed the engine's own sanity checks (26 the unbounded check, all 140 the masking check); the
// rebuilt architectures have fewer (their counts are read from db/matrix.jsonl below). Such evidence
// is listed as unscored naming the failed checks, scored only with allowUnsoundEvidence (and an
// unsound-evidence warning), and the gate gives no verdict on it.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { gate, prepareSnapshot, recommend, UnsoundEvidenceError, type MatrixSnapshot } from "../../src/advisor/index.js";
import { failedChecksOf, MatrixStore } from "../../src/matrix/store.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { shippedMatrixPath } from "../../src/paths.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../matrix/fixtures.js";
import { readFile } from "node:fs/promises";

interface ShippedRow {
  sanity?: { pass?: boolean; unbounded?: { pass?: boolean | null } };
  indicators?: { failed?: string[] };
}

async function shipped(t: TestContext): Promise<{ snapshot: MatrixSnapshot; file: string }> {
  const dir = await tempDir(t, "advisor-unsound-");
  const file = path.join(dir, "m.sqlite");
  const store = await MatrixStore.open(file);
  t.after(() => store.close());
  await seedMatrix(store, shippedMatrixPath, file);
  return { snapshot: prepareSnapshot(await store.snapshot()), file };
}

test("a stored sanity report's failed checks are named", () => {
  assert.deepEqual(failedChecksOf(JSON.stringify({ cleanAccuracy: { pass: true }, unbounded: { pass: false }, masking: { flagged: true, pass: null }, pass: false })), ["unbounded", "masking"]);
  assert.deepEqual(failedChecksOf(JSON.stringify({ pass: false })), ["sanity"]);
});

test("the shipped matrix's unsound rows are marked, and never ranked without allowUnsoundEvidence", async (t) => {
  const { snapshot } = await shipped(t);
  const rows = snapshot.candidates.flatMap((c) => c.evaluations);
  const unsound = rows.filter((e) => (e.failedChecks ?? []).length > 0);
  // The same counts straight from the file's JSON (sanity.pass false, or an indicator failed).
  const lines = (await readFile(shippedMatrixPath, "utf8")).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as ShippedRow);
  const failing = lines.filter((r) => r.sanity?.pass === false || (r.indicators?.failed ?? []).length > 0);
  assert.ok(failing.length > 0);
  assert.equal(unsound.length, failing.length);
  assert.equal(unsound.filter((e) => e.failedChecks!.includes("unbounded")).length, lines.filter((r) => r.sanity?.unbounded?.pass === false).length);

  // The issue's case: at L∞ ε = 1 no robustness is possible. The old rows' winner there (random 64×,
  // unbounded check failed) was rebuilt; today's shipped case is a degenerate variant:
  // kernel/random-local 16× of lenet5 gives one class for every input (clean accuracy 10 %), so no
  // attack can change its answers — it fails as a degenerate (constant) model, not as an attack
  // that failed the unbounded check, and would win if it were scored.
  const r = recommend(snapshot, { norm: "linf", budget: 1, knowledge: "white-box", architecture: "lenet5" });
  assert.equal(r.status, "ok");
  assert.equal(r.recommendation!.robustAccuracy!.robust, 0, "nothing resists an L∞ attacker with ε = 1");
  const degenerate = r.unscored.find((u) => u.candidate.strategy === "kernel/random-local" && u.candidate.rate === 16);
  assert.ok(degenerate, "kernel/random-local 16× is listed as unscored");
  assert.match(degenerate.reason, /failed the engine's indicators of attack failure \(row \d+ \(white-box\): zero-gradients, degenerate-model\)/);
  assert.ok(!degenerate.reason.includes("unbounded"));
  for (const a of r.alternatives) {
    const ids = a.candidate.robustAccuracy!.evaluationIds;
    assert.ok(ids.every((id) => !unsound.some((e) => e.id === id)), `ranked ${a.candidate.strategy} ${a.candidate.rate}× rests on an unsound row`);
  }

  const allowed = recommend(snapshot, { norm: "linf", budget: 1, knowledge: "white-box", architecture: "lenet5", allowUnsoundEvidence: true });
  assert.equal(allowed.unscored.length, 0);
  assert.deepEqual([allowed.recommendation!.strategy, allowed.recommendation!.rate], ["kernel/random-local", 16], "scored anyway, the degenerate variant wins");
  assert.ok(allowed.warnings.some((w) => w.code === "unsound-evidence") || allowed.alternatives.some((a) => a.warnings.some((w) => w.code === "unsound-evidence")));
});

test("the gate gives no verdict on unsound evidence (UnsoundEvidenceError; CLI exit 2 with a JUnit error); allowed, it judges with the warning in the JUnit properties", async (t) => {
  const { snapshot, file } = await shipped(t);
  // lenet5 layer-magnitude 64×: its white-box L∞ row is flagged for gradient masking (shipped, rebuilt rows).
  const request = { candidate: { strategy: "layer-magnitude" as const, rate: 64 }, scenario: { norm: "linf" as const, budget: 0.1, knowledge: "white-box" as const, architecture: "lenet5" }, thresholds: { minRobustAccuracy: 0.2 } };
  assert.throws(() => gate(snapshot, request), (err: unknown) => err instanceof UnsoundEvidenceError && /no verdict for layer-magnitude at 64×.*masking/.test(err.message));
  const judged = gate(snapshot, { ...request, scenario: { ...request.scenario, allowUnsoundEvidence: true } });
  assert.ok(judged.warnings.some((w) => w.code === "unsound-evidence"));

  const dir = path.dirname(file);
  const stats = await runCli(["matrix", "stats", "--db", file]);
  assert.equal(stats.code, 0, stats.stderr);
  // Since 2026-12-02 no shipped row fails the unbounded check (convnet's last four were rebuilt), so stats names masking only.
  assert.match(stats.stdout, /^sanity checks: \d+ of \d+ rows fail \(masking \d+\); the advisor does not score them$/m);
  const args = ["gate", "--db", file, "--norm", "linf", "--budget", "0.1", "--architecture", "lenet5", "--strategy", "layer-magnitude", "--rate", "64", "--min-robust-accuracy", "0.2"];
  const none = await runCli([...args, "--junit", path.join(dir, "none.xml")]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(await readFile(path.join(dir, "none.xml"), "utf8"), /<error message="[^"]*no verdict for layer-magnitude at 64×/);
  const anyway = await runCli([...args, "--allow-unsound-evidence", "--junit", path.join(dir, "anyway.xml")]);
  assert.ok(anyway.code === 0 || anyway.code === 1, anyway.stderr);
  const junit = await readFile(path.join(dir, "anyway.xml"), "utf8");
  assert.match(junit, /<property name="warning\.\d+\.unsound-evidence" value="[^"]*row \d+: masking/);
  assert.match(junit, /<property name="warning\.\d+\.gradient-masking"/, "every warning is listed, the masking one too");
});
