// Issue 16.8: the endpoints agree with each other and with what they say about themselves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApi } from "../api/helpers.js";
import { fixtureModel, fixtureModelId } from "../matrix/fixtures.js";

test("/v1/matrix/curves and /v1/recommendations agree on the valid L∞ (and L0) budgets", async (t) => {
  const api = await startApi(t);
  const recommend = (norm: string, budget: number): ReturnType<typeof api.call> => api.call("POST", "/v1/recommendations", { json: { norm, budget, knowledge: "white-box", dataset: "fashion-mnist" } });
  const curves = (norm: string, at: number): ReturnType<typeof api.call> => api.call("GET", `/v1/matrix/curves?norm=${norm}&at=${at}`);
  for (const [norm, budget, valid] of [["linf", 1, true], ["linf", 1.5, false], ["l0", 5, true], ["l0", 2.5, false]] as const) {
    const r = await recommend(norm, budget);
    const c = await curves(norm, budget);
    assert.equal(r.status === 400, !valid, `recommendations ${norm} ${budget}: ${r.status}`);
    assert.equal(c.status === 400, !valid, `curves ${norm} ${budget}: ${c.status}`);
    if (!valid) {
      assert.equal(c.body.field, "at");
      assert.equal(c.body.detail, r.body.detail, "the same rule, the same words");
    }
  }
});

test("the recommendations counter's help names the statuses the advisor really answers", async (t) => {
  const api = await startApi(t);
  const ask = { norm: "linf", budget: 0.1, knowledge: "white-box", dataset: "fashion-mnist" };
  assert.equal((await api.call("POST", "/v1/recommendations", { json: ask })).body.status, "ok");
  assert.equal((await api.call("POST", "/v1/recommendations", { json: { ...ask, sizeLimit: { maxParameters: 1 } } })).body.status, "infeasible");
  const text = String((await api.call("GET", "/metrics")).body.text);
  const help = /# HELP advisor_recommendations_total (.*)/.exec(text)?.[1] ?? "";
  const seen = [...text.matchAll(/advisor_recommendations_total\{status="([^"]+)"\}/g)].map((m) => m[1]!);
  assert.ok(seen.includes("infeasible") && seen.includes("ok"), `statuses counted: ${seen.join(", ")}`);
  for (const s of [...seen, "no-evidence"]) assert.match(help, new RegExp(`\\b${s}\\b`), `help text "${help}" names ${s}`);
  assert.doesNotMatch(help, /no-feasible-candidate/);
});

test("GET /v1/models lists a registered model without rows as not-measured, the measured ones as measured", async (t) => {
  const api = await startApi(t);
  const uploaded = fixtureModelId("uploaded, not refreshed");
  await api.store.upsertModel({ ...fixtureModel({ id: uploaded, architecture: "custom" }), metadata: { source: "upload" } });
  const res = await api.call("GET", "/v1/models");
  assert.equal(res.status, 200);
  const models = res.body.models as { modelId: string; state: string; variants: number; evaluations: number }[];
  const mine = models.find((m) => m.modelId === uploaded);
  assert.ok(mine, "the uploaded model is listed");
  assert.deepEqual({ state: mine.state, variants: mine.variants, evaluations: mine.evaluations }, { state: "not-measured", variants: 0, evaluations: 0 });
  const others = models.filter((m) => m.modelId !== uploaded);
  assert.ok(others.length >= 2 && others.every((m) => m.state === "measured" && m.evaluations > 0));
});
