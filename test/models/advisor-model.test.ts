// POST /v1/recommendations and /v1/gate with a modelId: answers from that model's rows only; 404
// for an id no model has; 409 for a registered (uploaded) model the matrix holds no rows for yet.
// Without a modelId the default model set answers: uploaded models are left out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { UPLOAD_SOURCE } from "../../src/models/storage.js";
import { buildFixtureMatrix, MODEL_A, MODEL_B, startApi } from "../api/helpers.js";
import { fixtureModel, fixtureModelId } from "../matrix/fixtures.js";
import { modelParts, multipart, syntheticData, tinyModel } from "./helpers.js";

const KEY = "another-test-key-abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("ci", KEY)));
const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" } as const;
const gateBody = (modelId?: string) => ({ candidate: { strategy: "dense", rate: 1 }, scenario: { ...scenario, ...(modelId ? { modelId } : {}) }, thresholds: { minRobustAccuracy: 0.1 } });

/** The fixture matrix with model B marked as uploaded (it has rows: as after a refresh). */
async function fixtureWithUploadedB(store: MatrixStore): Promise<void> {
  await buildFixtureMatrix(store);
  await store.db.run("UPDATE models SET metadata = json_set(metadata, '$.source', ?) WHERE id = ?", [UPLOAD_SOURCE, MODEL_B]);
}

function modelIdsCited(body: Record<string, unknown>): string[] {
  const rows = body.evidence as { candidate: { modelId: string } }[];
  return [...new Set(rows.map((r) => r.candidate.modelId))];
}

test("with a modelId whose rows exist, the answer cites only that model's rows; an unknown id is 404 naming modelId", async (t) => {
  const api = await startApi(t);
  for (const id of [MODEL_A, MODEL_B]) {
    const res = await api.call("POST", "/v1/recommendations?include=evidence", { json: { ...scenario, modelId: id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(modelIdsCited(res.body), [id]);
    assert.equal((res.body.recommendation as { modelId: string }).modelId, id);
  }
  const unknown = fixtureModelId("nobody");
  const res = await api.call("POST", "/v1/recommendations", { json: { ...scenario, modelId: unknown } });
  assert.equal(res.status, 404);
  assert.equal(res.body.field, "modelId");
  assert.match(String(res.body.detail), new RegExp(`no model matches modelId "${unknown}"`));
  const g = await api.call("POST", "/v1/gate", { json: gateBody(unknown) });
  assert.equal(g.status, 404);
  assert.equal(g.body.field, "scenario.modelId");
});

test("an uploaded model without matrix rows is 409 saying a refresh is needed, for recommendations and the gate", async (t) => {
  const data = await syntheticData(t);
  const api = await startApi(t, undefined, { keys, uploads: { datasets: new Map([["synthetic", data.dir]]) } });
  const model = await tinyModel(t, { seed: 9 });
  const { body, contentType } = multipart([{ name: "dataset", content: "synthetic" }, ...(await modelParts(model.dir))]);
  const up = await api.call("POST", "/v1/models", { body, headers: { "content-type": contentType, "x-api-key": KEY } });
  assert.equal(up.status, 201);
  const id = up.body.id as string;

  const rec = await api.call("POST", "/v1/recommendations?include=evidence", { json: { ...scenario, modelId: id } });
  assert.equal(rec.status, 409, JSON.stringify(rec.body));
  assert.equal(rec.body.field, "modelId");
  assert.match(String(rec.body.detail), /is registered, but matrix version 1 holds no rows for it yet: refresh/);
  const g = await api.call("POST", "/v1/gate", { json: gateBody(id) });
  assert.equal(g.status, 409);
  assert.equal(g.body.field, "scenario.modelId");

  // The default answers are unchanged by the upload.
  const def = await api.call("POST", "/v1/recommendations?include=evidence", { json: { ...scenario, dataset: "fashion-mnist" } });
  assert.equal(def.status, 200);
  assert.deepEqual(modelIdsCited(def.body), [MODEL_A]);
});

test("without a modelId the default model set answers: uploaded models (even measured ones) are left out", async (t) => {
  const api = await startApi(t, fixtureWithUploadedB);
  // Models A and B are on different data sets; with B uploaded, A alone is the default set.
  const def = await api.call("POST", "/v1/recommendations?include=evidence", { json: scenario });
  assert.equal(def.status, 200, JSON.stringify(def.body));
  assert.deepEqual(modelIdsCited(def.body), [MODEL_A]);
  const byDataset = await api.call("POST", "/v1/recommendations", { json: { ...scenario, dataset: "mnist" } });
  assert.equal(byDataset.status, 404, "B's data set is not in the default set");
  assert.equal(byDataset.body.field, "dataset");
  const byId = await api.call("POST", "/v1/recommendations?include=evidence", { json: { ...scenario, modelId: MODEL_B } });
  assert.equal(byId.status, 200);
  assert.deepEqual(modelIdsCited(byId.body), [MODEL_B]);
  const gate = await api.call("POST", "/v1/gate", { json: gateBody() });
  assert.equal(gate.status, 200);
  assert.equal((gate.body.candidate as { modelId: string }).modelId, MODEL_A);
});

test("a matrix of uploaded models only: a question without modelId is 404 asking for one", async (t) => {
  const api = await startApi(t, async (store) => {
    await buildFixtureMatrix(store);
    await store.db.run("UPDATE models SET metadata = json_set(metadata, '$.source', ?)", [UPLOAD_SOURCE]);
    await store.upsertModel(fixtureModel({ id: fixtureModelId("registered only") }));
  });
  const res = await api.call("POST", "/v1/recommendations", { json: scenario });
  assert.equal(res.status, 404);
  assert.equal(res.body.field, "modelId");
  assert.match(String(res.body.detail), /only uploaded models/);
});
