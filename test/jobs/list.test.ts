// GET /v1/jobs: the jobs newest first, filtered by state and model, paged with `before`; bad
// query parameters are a 400 naming the parameter; reads follow ADVISOR_PROTECT_READS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureModelId } from "../matrix/fixtures.js";
import { AUTH, TINY_GRID, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

interface JobList {
  jobs: JobBody[];
  nextBefore: number | null;
}

test("GET /v1/jobs lists jobs newest first, by state and model, one page at a time", async (t) => {
  const api = await startJobsApi(t);
  const { id: model } = await uploadTiny(api, t);
  const ids: number[] = [];
  for (const seeds of [[1], [2], [3]]) {
    const res = await refresh(api, model, { grid: { ...TINY_GRID, seeds } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push((res.body.job as JobBody).id);
  }
  // The first runs to the end; the two behind it are cancelled while they wait.
  for (const id of ids.slice(1)) assert.equal((await api.call("DELETE", `/v1/jobs/${id}`, { headers: AUTH })).status, 200);
  assert.equal((await waitForJob((p) => api.call("GET", p), ids[0]!)).state, "succeeded");

  const list = async (query: string): Promise<JobList> => {
    const res = await api.call("GET", `/v1/jobs${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as unknown as JobList;
  };
  const all = await list("");
  assert.deepEqual(all.jobs.map((j) => j.id), [...ids].reverse());
  assert.deepEqual(all.jobs.map((j) => j.state), ["cancelled", "cancelled", "succeeded"]);
  assert.equal(all.nextBefore, null);

  assert.deepEqual((await list("?state=succeeded")).jobs.map((j) => j.id), [ids[0]]);
  assert.deepEqual((await list("?state=running")).jobs, []);
  assert.deepEqual((await list(`?model=${model}&state=cancelled`)).jobs.map((j) => j.id), [ids[2], ids[1]]);
  assert.deepEqual((await list(`?model=${fixtureModelId("api-a")}`)).jobs, [], "a model without jobs");

  // Paging: two pages of 2 and 1, the cursor being the last id of the page.
  const first = await list("?limit=2");
  assert.deepEqual(first.jobs.map((j) => j.id), [ids[2], ids[1]]);
  assert.equal(first.nextBefore, ids[1]);
  const second = await list(`?limit=2&before=${first.nextBefore}`);
  assert.deepEqual(second.jobs.map((j) => j.id), [ids[0]]);
  assert.equal(second.nextBefore, null);
});

test("GET /v1/jobs: a bad query parameter is a 400 naming it; reads follow the read protection", async (t) => {
  const api = await startJobsApi(t, { protectReads: true });
  assert.equal((await api.call("GET", "/v1/jobs")).status, 401);
  const cases: [string, string, RegExp][] = [
    ["?state=done", "state", /unknown job state "done" \(known: queued, running, succeeded, failed, cancelled\)/],
    ["?limit=0", "limit", /limit/],
    ["?limit=201", "limit", /limit/],
    ["?before=abc", "before", /before must be an integer/],
    ["?model=", "model", /must not be empty/],
    ["?page=2", "page", /unknown field "page"/],
  ];
  for (const [query, field, detail] of cases) {
    const res = await api.call("GET", `/v1/jobs${query}`, { headers: AUTH });
    assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.field, field, query);
    assert.match(String(res.body.detail), detail, query);
  }
  const empty = await api.call("GET", "/v1/jobs", { headers: AUTH });
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, { jobs: [], nextBefore: null });
});
