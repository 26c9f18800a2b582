// GET /metrics: Prometheus text format, open without a key even when reads are protected; requests
// counted per route template (not per raw URL), the advisor's answers, the loaded matrix, jobs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { MODEL_A, startApi } from "./helpers.js";

const KEY = "metrics-test-key-0123456789abcdefghijklmnopqrstuvwxyz";

/** The value of one sample line (`name{labels} value`), or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("GET /metrics counts requests by route template and status, answers by status, and shows the matrix and jobs", async (t) => {
  const api = await startApi(t, undefined, { keys: new ApiKeys(parseKeyEntries(keyLine("ops", KEY))), protectReads: true });
  const auth = { authorization: `Bearer ${KEY}` };
  const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };
  for (let i = 0; i < 2; i++) assert.equal((await api.call("POST", "/v1/recommendations", { json: scenario, headers: auth })).status, 200);
  const gate = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "dense", rate: 1 }, scenario, thresholds: { minRobustAccuracy: 0.99 } }, headers: auth });
  assert.equal(gate.status, 200);
  assert.equal(gate.body.pass, false);
  assert.equal((await api.call("GET", "/v1/jobs/123", { headers: auth })).status, 404);
  assert.equal((await api.call("GET", "/v1/jobs/456", { headers: auth })).status, 404);
  assert.equal((await api.call("GET", "/v1/models")).status, 401, "reads are protected …");

  const res = await api.call("GET", "/metrics");
  assert.equal(res.status, 200, "… /metrics is not");
  assert.match(res.contentType, /^text\/plain; version=0\.0\.4/);
  const text = (res.body as { text: string }).text;
  assert.equal(sample(text, 'advisor_http_requests_total{method="POST",route="/v1/recommendations",status="200"}'), 2);
  assert.equal(sample(text, 'advisor_http_requests_total{method="POST",route="/v1/gate",status="200"}'), 1);
  assert.equal(sample(text, 'advisor_http_requests_total{method="GET",route="/v1/jobs/:id",status="404"}'), 2, "one series for both ids");
  assert.equal(sample(text, 'advisor_http_requests_total{method="GET",route="unmatched",status="401"}'), 1);
  assert.doesNotMatch(text, /route="\/v1\/jobs\/123"/);
  assert.equal(sample(text, 'advisor_http_request_duration_seconds_count{method="POST",route="/v1/recommendations",status="200"}'), 2);
  assert.equal(sample(text, 'advisor_recommendations_total{status="ok"}'), 2);
  assert.equal(sample(text, 'advisor_gate_verdicts_total{verdict="fail"}'), 1);
  assert.equal(sample(text, "advisor_matrix_version"), 1);
  assert.ok(sample(text, "advisor_matrix_candidates")! > 0);
  assert.ok(sample(text, "advisor_matrix_loaded_timestamp_seconds")! > 1.7e9);
  assert.equal(sample(text, 'advisor_jobs{state="queued"}'), 0);
  assert.ok(sample(text, "advisor_process_resident_memory_bytes")! > 0, "process metrics");
});

test("two apps in one process keep their own counters", async (t) => {
  const a = await startApi(t);
  const b = await startApi(t);
  await a.call("GET", "/healthz");
  const text = async (api: typeof a): Promise<string> => ((await api.call("GET", "/metrics")).body as { text: string }).text;
  assert.equal(sample(await text(a), 'advisor_http_requests_total{method="GET",route="/healthz",status="200"}'), 1);
  assert.equal(sample(await text(b), 'advisor_http_requests_total{method="GET",route="/healthz",status="200"}'), undefined);
});
