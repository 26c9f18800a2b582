// The pruning set over HTTP (answers checked against openapi.yaml by the helpers): a
// `<granularity>/<rule>` alias names the variant stored under today's name (gate, matrix filter,
// curves' candidate list), a new strategy's variant is answered with its droppedBytes and schedule,
// and an unknown name is a 400 naming the field and listing the accepted names.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MatrixStore } from "../../src/matrix/store.js";
import { fixtureEvaluation, fixtureVariant, runs } from "../matrix/fixtures.js";
import { LINF, MODEL_A, buildFixtureMatrix, startApi } from "./helpers.js";

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

/** The API fixture plus kernel/magnitude-global 4× (one-shot, droppedBytes measured) and a cumulative global-magnitude 4×. */
async function withPruningSet(store: MatrixStore): Promise<void> {
  await buildFixtureMatrix(store);
  const version = await store.createVersion("TEST FIXTURE pruning set");
  const kernel = await store.upsertVariant({ ...fixtureVariant({ modelId: MODEL_A, strategy: "kernel/magnitude-global", rate: 4 }), droppedBytes: 180_000 });
  await store.insertEvaluation(fixtureEvaluation({ variantId: kernel, version, distances: runs([[0, 10], [0.03, 10], [0.08, 10], [0.15, 30], [Infinity, 40]]) }));
  const cumulative = await store.upsertVariant({ ...fixtureVariant({ modelId: MODEL_A, strategy: "global-magnitude", rate: 4, weights: "c".repeat(64) }), schedule: "cumulative" });
  await store.insertEvaluation(fixtureEvaluation({ variantId: cumulative, version, distances: runs([[0, 10], [0.03, 40], [Infinity, 50]]) }));
  await store.publishVersion(version);
}

test("aliases name today's variants, new strategies answer with droppedBytes, the schedule keeps variants apart", async (t) => {
  assert.equal(LINF.sl2!.strategy, "structured-l1");
  const api = await startApi(t, withPruningSet);

  // filter/magnitude-local IS structured-l1.
  const gate = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "filter/magnitude-local", rate: 2 }, scenario, thresholds: { minRobustAccuracy: 0.3 } } });
  assert.equal(gate.status, 200, JSON.stringify(gate.body));
  assert.equal((gate.body.candidate as { strategy: string }).strategy, "structured-l1");

  const kernelGate = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "kernel/magnitude-global", rate: 4 }, scenario, thresholds: { minRobustAccuracy: 0.3 } } });
  assert.equal(kernelGate.status, 200, JSON.stringify(kernelGate.body));
  const candidate = kernelGate.body.candidate as { strategy: string; droppedBytes?: number; structured: boolean };
  assert.equal(candidate.strategy, "kernel/magnitude-global");
  assert.equal(candidate.droppedBytes, 180_000);
  assert.equal(candidate.structured, false);

  // The matrix filter takes an alias too; the evidence rows carry droppedBytes and the schedule.
  const rows = await api.call("GET", "/v1/matrix?strategy=unstructured/magnitude-global&norm=linf");
  assert.equal(rows.status, 200);
  const gm = rows.body.rows as { strategy: string; requestedRate: number; schedule?: string; droppedBytes?: number }[];
  assert.deepEqual(gm.map((r) => [r.strategy, r.requestedRate, r.schedule ?? "one-shot"]).sort(), [
    ["global-magnitude", 4, "cumulative"],
    ["global-magnitude", 4, "one-shot"],
  ]);
  // `schedule` keeps one of them (the dense model's rows count as one-shot), in rows and curves alike.
  for (const schedule of ["one-shot", "cumulative"] as const) {
    const one = await api.call("GET", `/v1/matrix?strategy=global-magnitude&norm=linf&schedule=${schedule}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual((one.body.rows as { schedule?: string }[]).map((r) => r.schedule ?? "one-shot"), [schedule]);
    const c = await api.call("GET", `/v1/matrix/curves?candidates=dense@1,global-magnitude@4&norm=linf&knowledge=white-box&model=${MODEL_A}&schedule=${schedule}`);
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const names = (c.body.curves as { strategy: string; schedule?: string }[]).map((k) => `${k.strategy}/${k.schedule ?? "one-shot"}`).sort();
    assert.deepEqual(names, schedule === "one-shot" ? ["dense/one-shot", "global-magnitude/one-shot"] : ["global-magnitude/cumulative"]);
  }
  const both = await api.call("GET", `/v1/matrix/curves?candidates=global-magnitude@4&norm=linf&knowledge=white-box&model=${MODEL_A}`);
  assert.equal((both.body.curves as unknown[]).length, 2, "without the filter, both schedules' curves");
  const badSchedule = await api.call("GET", "/v1/matrix?schedule=iterative");
  assert.equal(badSchedule.status, 400);
  assert.equal(badSchedule.body.field, "schedule");
  assert.match(String(badSchedule.body.detail), /one-shot.*cumulative/);
  const kernelRows = await api.call("GET", "/v1/matrix?strategy=kernel/magnitude-global");
  assert.deepEqual((kernelRows.body.rows as { droppedBytes?: number }[]).map((r) => r.droppedBytes), [180_000]);
  const detail = await api.call("GET", `/v1/matrix/rows/${(kernelRows.body.rows as { id: number }[])[0]!.id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.body.droppedBytes, 180_000);

  // The gate judges the one-shot variant unless asked for the cumulative one.
  for (const schedule of [undefined, "cumulative"] as const) {
    const g = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "global-magnitude", rate: 4, ...(schedule ? { schedule } : {}) }, scenario, thresholds: { minRobustAccuracy: 0.3 } } });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    const c = g.body.candidate as { schedule?: string; robustAccuracy: { robust: number } };
    assert.equal(c.schedule, schedule);
    assert.equal(c.robustAccuracy.robust, schedule ? 50 : 60, "each schedule's own evidence");
  }

  // The recommendation ranks the cumulative variant as its own candidate, labelled by its schedule.
  const rec = await api.call("POST", "/v1/recommendations", { json: scenario });
  assert.equal(rec.status, 200);
  type Alt = { candidate: { strategy: string; rate: number; schedule?: string } };
  const all = [rec.body.recommendation as Alt["candidate"], ...(rec.body.alternatives as Alt[]).map((a) => a.candidate)];
  assert.deepEqual(all.filter((c) => c.strategy === "global-magnitude").map((c) => c.schedule ?? "one-shot").sort(), ["cumulative", "one-shot"]);

  const curves = await api.call("GET", "/v1/matrix/curves?candidates=dense@1,filter/magnitude-local@2&norm=linf");
  assert.equal(curves.status, 200, JSON.stringify(curves.body));
  assert.deepEqual([...new Set((curves.body.curves as { strategy: string }[]).map((c) => c.strategy))].sort(), ["dense", "structured-l1"]);

  const bad = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "kernel/magic", rate: 4 }, scenario, thresholds: { minRobustAccuracy: 0.3 } } });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.detail), /unknown strategy "kernel\/magic" \(known: dense, .*kernel\/magnitude-global.*filter\/magnitude-local\)/);
  assert.equal(bad.body.field, "candidate.strategy");
});
