// GET /v1/models for the web page (issue 20): each model says whether it was uploaded and what
// the matrix holds for it per norm and knowledge level — variants with a row, and how many of
// those rows passed the engine's sanity checks (the ones the advisor scores by default).
import { test } from "node:test";
import assert from "node:assert/strict";
import { UPLOAD_SOURCE } from "../../src/models/storage.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId } from "../matrix/fixtures.js";
import { buildFixtureMatrix, LINF, MODEL_A, MODEL_B, startApi } from "./helpers.js";

interface Listed {
  modelId: string;
  state: string;
  uploaded: boolean;
  coverage: { norm: string; knowledge: string; variants: number; sound: number }[];
}

test("GET /v1/models: uploaded or not, and the coverage per norm and knowledge level with the sound rows counted", async (t) => {
  const unmeasured = fixtureModelId("api-unmeasured");
  const api = await startApi(t, async (store) => {
    const version = await buildFixtureMatrix(store, { publish: false });
    // One more row for model A, at the transfer level, whose sanity report failed.
    const variantId = (await store.findVariant({ modelId: MODEL_A, strategy: "layer-magnitude", requestedRate: 8, seed: 1 }))!;
    await store.insertEvaluation({ ...fixtureEvaluation({ variantId, version, distances: LINF.lm8!.d, knowledge: "transfer" }), sanity: { pass: false, unbounded: { checked: true, pass: false } } });
    await store.publishVersion(version);
    await store.db.run("UPDATE models SET metadata = json_set(metadata, '$.source', ?) WHERE id = ?", [UPLOAD_SOURCE, MODEL_B]);
    await store.upsertModel({ ...fixtureModel({ id: unmeasured, architecture: "custom" }), metadata: { source: UPLOAD_SOURCE } });
  });
  const res = await api.call("GET", "/v1/models");
  assert.equal(res.status, 200);
  const models = res.body.models as unknown as Listed[];
  const byId = new Map(models.map((m) => [m.modelId, m]));
  assert.deepEqual(
    { uploaded: byId.get(MODEL_A)!.uploaded, coverage: byId.get(MODEL_A)!.coverage },
    {
      uploaded: false,
      coverage: [
        { norm: "l0", knowledge: "white-box", variants: 5, sound: 5 },
        { norm: "linf", knowledge: "white-box", variants: 5, sound: 5 },
        { norm: "linf", knowledge: "transfer", variants: 1, sound: 0 },
      ],
    },
  );
  assert.deepEqual({ uploaded: byId.get(MODEL_B)!.uploaded, coverage: byId.get(MODEL_B)!.coverage }, { uploaded: true, coverage: [{ norm: "linf", knowledge: "white-box", variants: 1, sound: 1 }] });
  assert.deepEqual({ state: byId.get(unmeasured)!.state, uploaded: byId.get(unmeasured)!.uploaded, coverage: byId.get(unmeasured)!.coverage }, { state: "not-measured", uploaded: true, coverage: [] });
});
