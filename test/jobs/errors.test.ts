// Acceptance 4 of refresh jobs: bad input is a clear problem+json naming the field, and queues
// nothing — unknown model 404, bad grid 400 (the grid field named), no key 401, wrong key 403,
// unknown job 404 — plus the models a server cannot refresh (409) and the read protection of GET.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureModel, fixtureModelId } from "../matrix/fixtures.js";
import { buildFixtureMatrix, startApi } from "../api/helpers.js";
import { AUTH, KEY, TINY_GRID, keys, refresh, startJobsApi, uploadTiny } from "./helpers.js";

test("refresh and jobs: unknown model 404, bad grid 400 naming the field, no key 401, wrong key 403, unknown job 404; nothing queued", async (t) => {
  const NO_FILES = fixtureModelId("imported without files");
  const KMNIST = fixtureModelId("on a data set this server does not know");
  const api = await startJobsApi(t, {
    fill: async (store) => {
      await buildFixtureMatrix(store);
      await store.upsertModel({ ...fixtureModel({ id: NO_FILES }), modelDir: null });
      await store.upsertModel(fixtureModel({ id: KMNIST, dataset: "kmnist" }));
    },
  });
  const { id } = await uploadTiny(api, t);
  const problem = async (res: Awaited<ReturnType<typeof refresh>>, status: number, field: string | undefined, detail: RegExp): Promise<void> => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.match(res.contentType, /^application\/problem\+json/);
    assert.equal(res.body.field, field, JSON.stringify(res.body));
    assert.match(String(res.body.detail), detail);
  };

  // Unknown models.
  await problem(await refresh(api, fixtureModelId("nobody"), { grid: TINY_GRID }), 404, "id", /no model has id "[0-9a-f]{64}"/);
  await problem(await refresh(api, "not-a-model-id", { grid: "default" }), 404, "id", /no model has id "not-a-model-id"/);
  // Models this server cannot refresh.
  await problem(await refresh(api, NO_FILES, { grid: "default" }), 409, "id", /imported matrix without its files/);
  await problem(await refresh(api, KMNIST, { grid: "default" }), 409, "id", /registered for data set kmnist, which this server does not know \(known: synthetic/);

  // Bad grids: the field is named, with the grid files' own messages.
  const bad: [string, unknown, string, RegExp][] = [
    ["unknown strategy", { ...TINY_GRID, strategies: ["global-magnitude", "magic"] }, "grid.strategies[1]", /unknown strategy "magic" \(known: global-magnitude/],
    ["dense as a strategy", { ...TINY_GRID, strategies: ["dense"] }, "grid.strategies[0]", /dense is not a pruning strategy/],
    ["no samples", { ...TINY_GRID, samples: 0 }, "grid.samples", /must be at least 1/],
    ["missing budgets", { ...TINY_GRID, budgets: undefined }, "grid.budgets", /grid\.budgets is required/],
    ["a norm without budgets", { ...TINY_GRID, norms: ["linf", "l2"] }, "grid.budgets.l2", /needs at least one budget/],
    ["fractional L0 budget", { ...TINY_GRID, norms: ["l0"], budgets: { l0: [0, 1.5] } }, "grid.budgets.l0[1]", /must be an integer/],
    ["a typo", { ...TINY_GRID, finetune: { epoch: 1 } }, "grid.finetune.epoch", /unknown field "epoch"/],
    ["a model in the grid", { ...TINY_GRID, model: { id, architecture: "x", dir: "/etc" } }, "grid.model", /unknown field "model"/],
    ["more samples than the test split", { ...TINY_GRID, samples: 61 }, "grid.samples", /asks for 61 samples per cell, but the test split of data set synthetic holds 60 images/],
    [
      "a rate that would empty a layer (an 18-weight conv)",
      { ...TINY_GRID, strategies: ["global-magnitude", "layer-magnitude", "random"], rates: [1, 4, 32, 64] },
      "grid.rates",
      /cannot prune model [0-9a-f]{12}… to layer-magnitude at 32×, random at 32×, layer-magnitude at 64×, random at 64×: layer-wise pruning at 32× would remove every weight of layer "[^"]+" \(18 weights\); leave out rate\(s\) 32, 64/,
    ],
    ["another data set", { ...TINY_GRID, dataset: { name: "fashion-mnist", dir: "/usr/share/datasets/fashion-mnist" } }, "grid.dataset.name", /registered for data set synthetic, not fashion-mnist/],
  ];
  for (const [name, grid, field, detail] of bad) {
    const res = await refresh(api, id, { grid });
    assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.field, field, `${name}: ${JSON.stringify(res.body)}`);
    assert.match(String(res.body.detail), detail, name);
  }
  await problem(await refresh(api, id, { gird: TINY_GRID }), 400, "gird", /unknown field "gird"/);
  // The server's default grid (500 samples per cell) does not fit this data set's 60 test images.
  await problem(await refresh(api, id, { grid: "default" }), 409, "grid.samples", /default grid asks for 500 samples .* send a grid with samples <= 60/);
  const text = await api.call("POST", `/v1/models/${id}/refresh`, { body: "grid: {}", headers: { "content-type": "text/yaml", ...AUTH } });
  assert.equal(text.status, 415);

  // Keys: none → 401 with WWW-Authenticate, wrong → 403; for refresh and cancel alike.
  const noKey = await refresh(api, id, { grid: TINY_GRID }, {});
  await problem(noKey, 401, undefined, /needs an API key/);
  assert.match(noKey.headers.get("www-authenticate") ?? "", /^Bearer /);
  await problem(await refresh(api, id, { grid: TINY_GRID }, { authorization: `Bearer ${KEY}-wrong` }), 403, undefined, /not valid/);
  await problem(await api.call("DELETE", "/v1/jobs/1"), 401, undefined, /needs an API key/);
  await problem(await api.call("DELETE", "/v1/jobs/1", { headers: { "x-api-key": "wrong-key-0123456789abcdefghijklmnopqrstuvwxyz" } }), 403, undefined, /not valid/);

  // Unknown jobs.
  await problem(await api.call("GET", "/v1/jobs/999"), 404, "id", /no job has id 999/);
  await problem(await api.call("GET", "/v1/jobs/abc"), 404, "id", /no job has id abc/);
  await problem(await api.call("DELETE", "/v1/jobs/999", { headers: AUTH }), 404, "id", /no job has id 999/);

  // None of it queued anything.
  assert.equal((await api.store.db.get<{ n: number }>("SELECT count(*) AS n FROM jobs"))!.n, 0);
});

test("GET /v1/jobs/{id} follows the read protection; without a job manager the write endpoints answer 503", async (t) => {
  const protectedApi = await startJobsApi(t, { protectReads: true });
  const res = await protectedApi.call("GET", "/v1/jobs/1");
  assert.equal(res.status, 401);
  const withKey = await protectedApi.call("GET", "/v1/jobs/1", { headers: AUTH });
  assert.equal(withKey.status, 404);

  const noJobs = await startApi(t, undefined, { keys });
  const r = await noJobs.call("POST", `/v1/models/${fixtureModelId("api-a")}/refresh`, { headers: AUTH });
  assert.equal(r.status, 503);
  assert.match(String(r.body.detail), /refresh jobs are not enabled/);
  assert.equal((await noJobs.call("GET", "/v1/jobs/1")).status, 404);
});
