// Every endpoint over a small fixture matrix: happy paths and bad input. Every response is
// checked against openapi.yaml by the client in helpers.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LINF, MODEL_A, MODEL_B, startApi } from "./helpers.js";

const PROBLEM = /^application\/problem\+json/;

function assertProblem(r: { status: number; contentType: string; body: Record<string, unknown> }, status: number, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.contentType, PROBLEM);
  assert.equal(r.body.status, status);
  if (field !== undefined) assert.equal(r.body.field, field, JSON.stringify(r.body));
}

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

test("POST /v1/recommendations answers from the matrix, citing its version", async (t) => {
  const api = await startApi(t);
  const r = await api.call("POST", "/v1/recommendations?include=evidence,curve,all-alternatives", { json: scenario });
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "ok");
  assert.equal(r.body.matrixVersion, 1);
  const rec = r.body.recommendation as { strategy: string; rate: number };
  // dense and gm4 tie at 60 robust of 100; ties go to the smaller model.
  assert.equal(rec.strategy, "global-magnitude");
  assert.equal(rec.rate, 4);
  assert.equal((r.body.alternatives as unknown[]).length, Object.keys(LINF).length);
  assert.ok((r.body.evidence as unknown[]).length > 0);
  assert.ok((r.body.curve as unknown[]).length > 0);
  assert.match(r.headers.get("x-request-id") ?? "", /./);

  // A size limit that excludes everything is an answer too.
  const inf = await api.call("POST", "/v1/recommendations", { json: { ...scenario, sizeLimit: { maxParameters: 100 } } });
  assert.equal(inf.status, 200);
  assert.equal(inf.body.status, "infeasible");
  assert.deepEqual((inf.body.infeasible as { binding: string[] }).binding, ["maxParameters"]);

  // Structured only, and an L0 question.
  const st = await api.call("POST", "/v1/recommendations", { json: { ...scenario, sizeLimit: { structuredOnly: true } } });
  assert.equal((st.body.recommendation as { strategy: string }).strategy, "dense");
  const l0 = await api.call("POST", "/v1/recommendations", { json: { ...scenario, norm: "l0", budget: 10 } });
  assert.equal(l0.status, 200);
  assert.equal(l0.body.status, "ok");
});

test("POST /v1/recommendations: bad input is a 400/404 problem naming the field", async (t) => {
  const api = await startApi(t);
  const cases: [unknown, number, string][] = [
    [{ ...scenario, norm: "l3" }, 400, "norm"],
    [{ ...scenario, knowledge: "grey-box" }, 400, "knowledge"],
    [{ ...scenario, budget: -0.1 }, 400, "budget"],
    [{ ...scenario, budget: "NaN" }, 400, "budget"],
    [{ ...scenario, budget: null }, 400, "budget"],
    [{ ...scenario, budget: 5 }, 400, "budget"], // L∞ beyond 1
    [{ ...scenario, norm: "l0", budget: 2.5 }, 400, "budget"], // fractional L0
    [{ ...scenario, norm: "l0", budget: 100000 }, 400, "budget"], // more features than the input has
    [{ ...scenario, norm: "l2", budget: 1e6 }, 400, "budget"], // beyond the diameter of [0,1]^784
    [{ norm: "linf", knowledge: "white-box" }, 400, "budget"],
    [{ ...scenario, sizeLimit: {} }, 400, "sizeLimit"],
    [{ ...scenario, sizeLimit: { maxParameters: 0 } }, 400, "sizeLimit.maxParameters"],
    [{ ...scenario, sizeLimit: { maxParameters: 1.5 } }, 400, "sizeLimit.maxParameters"],
    [{ ...scenario, sizeLimit: { minCompression: 0.5 } }, 400, "sizeLimit.minCompression"],
    [{ ...scenario, sizeLimit: { maxBytes: -1 } }, 400, "sizeLimit.maxBytes"],
    [{ ...scenario, sizeLimit: { maxParams: 10 } }, 400, "sizeLimit.maxParams"],
    [{ ...scenario, minCleanAccuracy: 90 }, 400, "minCleanAccuracy"],
    [{ ...scenario, extra: 1 }, 400, "extra"],
    [[scenario], 400, "body"],
    [{ ...scenario, modelId: "nope" }, 404, "modelId"],
    [{ norm: "linf", budget: 0.1, knowledge: "white-box", architecture: "resnet" }, 404, "architecture"],
    // Two data sets in the matrix: a question must choose one.
    [{ norm: "linf", budget: 0.1, knowledge: "white-box" }, 400, "dataset"],
  ];
  for (const [json, status, field] of cases) {
    const r = await api.call("POST", "/v1/recommendations", { json });
    assertProblem(r, status, field);
    assert.equal(typeof r.body.detail, "string");
  }
  const unknownModel = await api.call("POST", "/v1/recommendations", { json: { ...scenario, modelId: "nope" } });
  assert.deepEqual((unknownModel.body.available as { modelId: string }[]).map((m) => m.modelId).sort(), [MODEL_A, MODEL_B].sort());
  // A budget of 1e400 is Infinity after JSON.parse.
  const huge = await api.call("POST", "/v1/recommendations", { body: '{"norm":"l2","budget":1e400,"knowledge":"white-box"}', headers: { "content-type": "application/json" } });
  assertProblem(huge, 400, "budget");
});

test("malformed JSON → 400, body over 64 KiB → 413, not JSON → 415, all problem+json", async (t) => {
  const api = await startApi(t);
  const bad = await api.call("POST", "/v1/recommendations", { body: '{"norm": "linf",', headers: { "content-type": "application/json" } });
  assertProblem(bad, 400);
  const big = await api.call("POST", "/v1/gate", { json: { ...scenario, pad: "x".repeat(70 * 1024) } });
  assertProblem(big, 413);
  const form = await api.call("POST", "/v1/recommendations", { body: "norm=linf", headers: { "content-type": "application/x-www-form-urlencoded" } });
  assertProblem(form, 415);
  const none = await api.call("POST", "/v1/recommendations");
  assertProblem(none, 400, "body");
});

test("POST /v1/gate: pass, fail, unknown candidate, bad thresholds", async (t) => {
  const api = await startApi(t);
  const base = { candidate: { strategy: "global-magnitude", rate: 4 }, scenario };
  const pass = await api.call("POST", "/v1/gate", { json: { ...base, thresholds: { minRobustAccuracy: 0.4, maxDropVsDense: 0.02 } } });
  assert.equal(pass.status, 200);
  assert.equal(pass.body.pass, true, JSON.stringify(pass.body.reasons));
  assert.equal(pass.body.matrixVersion, 1);

  const fail = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "random", rate: 4 }, scenario, thresholds: { maxDropVsDense: 0.05 } } });
  assert.equal(fail.status, 200);
  assert.equal(fail.body.pass, false);
  assert.ok((fail.body.checks as { check: string; pass: boolean }[]).some((c) => c.check === "maxDropVsDense" && !c.pass));

  const unknown = await api.call("POST", "/v1/gate", { json: { ...base, candidate: { strategy: "random", rate: 64 }, thresholds: { minRobustAccuracy: 0.1 } } });
  assertProblem(unknown, 404, "candidate");
  assert.deepEqual(unknown.body.available, [
    { strategy: "dense", rate: 1 },
    { strategy: "global-magnitude", rate: 4 },
    { strategy: "layer-magnitude", rate: 8 },
    { strategy: "random", rate: 4 },
    { strategy: "structured-l1", rate: 2 },
  ]);
  assertProblem(await api.call("POST", "/v1/gate", { json: { ...base, thresholds: {} } }), 400, "thresholds");
  assertProblem(await api.call("POST", "/v1/gate", { json: { ...base, thresholds: { minRobustAccuracy: 40 } } }), 400, "thresholds.minRobustAccuracy");
  assertProblem(await api.call("POST", "/v1/gate", { json: { ...base, candidate: { strategy: "prune-all", rate: 4 }, thresholds: { minRobustAccuracy: 0.1 } } }), 400, "candidate.strategy");
  assertProblem(await api.call("POST", "/v1/gate", { json: { ...base, scenario: { ...scenario, budget: 3 }, thresholds: { minRobustAccuracy: 0.1 } } }), 400, "scenario.budget");
  assertProblem(await api.call("POST", "/v1/gate", { json: { ...base, scenario: { ...scenario, modelId: "x" }, thresholds: { minRobustAccuracy: 0.1 } } }), 404, "scenario.modelId");
  assertProblem(await api.call("POST", "/v1/gate", { json: { candidate: base.candidate, scenario } }), 400, "thresholds");
});

test("GET /v1/matrix: filters, and pagination covers every row exactly once", async (t) => {
  const api = await startApi(t);
  const all = await api.call("GET", "/v1/matrix?limit=1000");
  assert.equal(all.status, 200);
  assert.equal(all.body.version, 1);
  const allIds = (all.body.rows as { id: number }[]).map((r) => r.id);
  assert.equal(allIds.length, 11);
  assert.equal(all.body.nextCursor, null);

  for (const limit of [1, 3, 4]) {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/matrix?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await api.call("GET", q);
      assert.equal(page.status, 200);
      seen.push(...(page.body.rows as { id: number }[]).map((r) => r.id));
      cursor = page.body.nextCursor as string | null;
      pages++;
    } while (cursor);
    assert.deepEqual(seen, allIds, `limit ${limit}`);
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(pages, Math.ceil(allIds.length / limit));
  }

  const f = await api.call("GET", `/v1/matrix?model=${MODEL_A}&norm=l0&strategy=global-magnitude&rate=4&knowledge=white-box&dataset=fashion-mnist&architecture=lenet5&version=1`);
  assert.equal((f.body.rows as unknown[]).length, 1);
  const b = await api.call("GET", `/v1/matrix?model=${MODEL_B}`);
  assert.equal((b.body.rows as { dataset: string }[])[0]!.dataset, "mnist");

  assertProblem(await api.call("GET", "/v1/matrix?norm=l3"), 400, "norm");
  assertProblem(await api.call("GET", "/v1/matrix?knowledge=god"), 400, "knowledge");
  assertProblem(await api.call("GET", "/v1/matrix?limit=0"), 400, "limit");
  assertProblem(await api.call("GET", "/v1/matrix?limit=abc"), 400, "limit");
  assertProblem(await api.call("GET", "/v1/matrix?rate=0.5"), 400, "rate");
  assertProblem(await api.call("GET", "/v1/matrix?cursor=garbage"), 400, "cursor");
  assertProblem(await api.call("GET", "/v1/matrix?colour=red"), 400, "colour");
  assertProblem(await api.call("GET", "/v1/matrix?norm=l2&norm=l0"), 400, "norm");
  assertProblem(await api.call("GET", "/v1/matrix?version=9"), 404, "version");
  // A cursor is pinned to its filter.
  const p1 = await api.call("GET", "/v1/matrix?limit=2&norm=linf");
  assertProblem(await api.call("GET", `/v1/matrix?limit=2&norm=l0&cursor=${encodeURIComponent(p1.body.nextCursor as string)}`), 400, "cursor");
});

test("GET /v1/matrix/curves, /v1/models and /v1/matrix/versions", async (t) => {
  const api = await startApi(t);
  const c = await api.call("GET", `/v1/matrix/curves?model=${MODEL_A}&norm=linf&candidates=dense@1,global-magnitude@4`);
  assert.equal(c.status, 200);
  const curves = c.body.curves as { strategy: string; points: { budget: number; accuracy: number; kind: string }[] }[];
  assert.deepEqual(curves.map((x) => x.strategy), ["dense", "global-magnitude"]);
  assert.deepEqual(curves[0]!.points.map((p) => p.budget), [0.02, 0.05, 0.1, 0.2, 0.3]);
  assert.equal(curves[0]!.points[2]!.accuracy, 0.6);

  const at = await api.call("GET", `/v1/matrix/curves?model=${MODEL_A}&norm=linf&candidates=random@4&at=0,0.1,0.12`);
  const pts = (at.body.curves as { points: { kind: string }[] }[])[0]!.points;
  assert.deepEqual(pts.map((p) => p.kind), ["distances", "grid", "distances"]);
  assertProblem(await api.call("GET", "/v1/matrix/curves?candidates=dense"), 400, "candidates");
  assertProblem(await api.call("GET", "/v1/matrix/curves?candidates=bogus@2"), 400, "candidates");
  assertProblem(await api.call("GET", "/v1/matrix/curves?at=-1"), 400, "at");
  assertProblem(await api.call("GET", "/v1/matrix/curves?at=0.1,NaN"), 400, "at");

  const m = await api.call("GET", "/v1/models");
  assert.equal(m.status, 200);
  assert.equal(m.body.version, 1);
  assert.deepEqual((m.body.models as { modelId: string }[]).map((x) => x.modelId).sort(), [MODEL_A, MODEL_B].sort());

  const v = await api.call("GET", "/v1/matrix/versions");
  assert.equal(v.status, 200);
  assert.equal(v.body.latest, 1);
  assert.equal((v.body.versions as unknown[]).length, 1);
});

test("an empty matrix answers 503 'matrix is empty' while readiness stays about the database", async (t) => {
  const api = await startApi(t, async () => undefined);
  const r = await api.call("POST", "/v1/recommendations", { json: scenario });
  assertProblem(r, 503);
  assert.equal(r.body.detail, "matrix is empty");
  assertProblem(await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "dense", rate: 1 }, scenario, thresholds: { minRobustAccuracy: 0.1 } } }), 503);
  assertProblem(await api.call("GET", "/v1/models"), 503);
  assertProblem(await api.call("GET", "/v1/matrix"), 503);
  assertProblem(await api.call("GET", "/v1/matrix/curves"), 503);
  const v = await api.call("GET", "/v1/matrix/versions");
  assert.deepEqual(v.body, { latest: null, versions: [] });
  // Bad input is still a 400 first.
  assertProblem(await api.call("POST", "/v1/recommendations", { json: { ...scenario, norm: "l9" } }), 400, "norm");
  const ready = await api.call("GET", "/readyz");
  assert.equal(ready.status, 200);
  const health = await api.call("GET", "/healthz");
  assert.equal(health.status, 200);
  assertProblem(await api.call("GET", "/healthz/x"), 404);
});

test("odd bodies and queries never cause a 500", async (t) => {
  const api = await startApi(t);
  const bodies = [
    '"text"',
    "123",
    "true",
    "null",
    "[]",
    "{}",
    '{"norm":{},"budget":[],"knowledge":1}',
    '{"__proto__":{"norm":"linf"},"budget":0.1,"knowledge":"white-box"}',
    '{"constructor":{"prototype":{}}}',
    '{"norm":"linf","budget":0.1,"knowledge":"white-box","sizeLimit":null}',
    '{"norm":"linf","budget":0.1,"knowledge":"white-box","sizeLimit":[1]}',
    '{"norm":"linf","budget":1e-400,"knowledge":"white-box","modelId":""}',
    `{"norm":"linf","budget":0.1,"knowledge":"white-box","modelId":${JSON.stringify("x".repeat(10000))}}`,
    "[".repeat(5000) + "]".repeat(5000),
    '{"candidate":"dense@1","scenario":{},"thresholds":[]}',
  ];
  for (const route of ["/v1/recommendations", "/v1/gate"]) {
    for (const body of bodies) {
      const r = await api.call("POST", route, { body, headers: { "content-type": "application/json" } });
      assert.ok(r.status >= 400 && r.status < 500, `${route} ${body.slice(0, 60)} → ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
  for (const q of ["limit=1e3", "version=0", "version=1.5", "rate=NaN", "rate=Infinity", "cursor=", "model=", "limit=99999999999999999999", "at="]) {
    const r = await api.call("GET", `/v1/matrix?${q}`);
    assert.ok(r.status >= 400 && r.status < 500, `/v1/matrix?${q} → ${r.status}`);
  }
});
