// Issue 19, item 2, through the HTTP API and the CLI: adversarialShare in recommendations and the
// gate (validated, answered, cached per share), GET /v1/matrix/curves?vs=share, and the CLI flags.
// Every response is checked against openapi.yaml by the client in helpers.ts. The fixture (model
// A, 100 samples at L∞, clean accuracy on 1,000 images): at ε = 0.1 dense and global-magnitude 4×
// are both robust on 60, and dense is cleaner (910 vs 900 of 1,000).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { wilson } from "../../src/vocabulary.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../matrix/fixtures.js";
import { buildFixtureMatrix, MODEL_A, startApi } from "./helpers.js";

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

type Body = Record<string, unknown>;
const rec = (b: Body): { strategy: string; score: number; aggregatedAccuracy?: { share: number; value: number; interval: { low: number } } } =>
  b.recommendation as { strategy: string; score: number; aggregatedAccuracy?: { share: number; value: number; interval: { low: number } } };

test("POST /v1/recommendations with adversarialShare: ranks by the aggregate's lower bound, answers cached per share", async (t) => {
  const api = await startApi(t);
  const ask = (extra: Body) => api.call("POST", "/v1/recommendations", { json: { ...scenario, ...extra } });

  // Share 0 first: if the answer cache ignored the share, the later questions would get this answer.
  const zero = await ask({ adversarialShare: 0 });
  assert.equal(zero.status, 200);
  assert.equal(rec(zero.body).strategy, "dense", "share 0: the cleanest candidate");
  // Answers give fractions to WIRE_DECIMALS places (src/api/recommendation-view.ts).
  assert.ok(Math.abs(rec(zero.body).score - wilson(910, 1000).low) <= 5e-7);
  const today = await ask({});
  assert.equal(rec(today.body).strategy, "global-magnitude", "share 1: tie on robust accuracy, the smaller model");
  assert.equal(rec(today.body).aggregatedAccuracy, undefined);
  assert.equal(today.body.shareSweep, undefined);
  const one = await ask({ adversarialShare: 1 });
  assert.equal(JSON.stringify(one.body), JSON.stringify(today.body), "share 1 is the answer without a share, byte for byte");

  const mid = await ask({ adversarialShare: 0.3 });
  assert.equal(rec(mid.body).strategy, "dense");
  const agg = rec(mid.body).aggregatedAccuracy!;
  assert.equal(agg.share, 0.3);
  assert.ok(Math.abs(agg.value - (0.7 * 0.91 + 0.3 * 0.6)) < 1e-12);
  assert.ok(Math.abs(agg.interval.low - (0.7 * wilson(910, 1000).low + 0.3 * wilson(60, 100).low)) <= 5e-7);
  assert.deepEqual((mid.body.scenario as Body).adversarialShare, 0.3);
  const sweep = mid.body.shareSweep as { from: number; to: number; candidate: { strategy: string } }[];
  assert.deepEqual(sweep.map((g) => [g.from, g.to, g.candidate.strategy]), [[0, 1, "dense"]], "dense's line is above global-magnitude's below share 1");
  assert.match(mid.body.rationale as string, /At every adversarial share from 0 to 1 the dense model has the highest lower bound/);
  assert.equal((mid.body.comparison as { method: string }).method, "aggregate-normal");
  // The answer links to the winner's and runner-up's aggregate against the share.
  const link = (mid.body.links as { curves: string }).curves;
  assert.match(link, /[?&]vs=share(&|$)/);
  const linked = await api.call("GET", link);
  assert.equal(linked.status, 200);
  assert.deepEqual((linked.body.curves as { strategy: string; aggregated: unknown[] }[]).map((c) => [c.strategy, c.aggregated.length]), [["dense", 11], ["global-magnitude", 11]]);
  assert.doesNotMatch((today.body.links as { curves: string }).curves, /vs=/);

  const metrics = String((await api.call("GET", "/metrics")).body.text);
  assert.match(metrics, /advisor_recommendations_total\{status="ok"\} 4/);
});

test("adversarialShare < 0, > 1 or not a number: 400 naming the field, in recommendations and the gate", async (t) => {
  const api = await startApi(t);
  for (const bad of [-0.1, 1.5, "half", "0.5", null, true, {}]) {
    const r = await api.call("POST", "/v1/recommendations", { json: { ...scenario, adversarialShare: bad } });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.body.field, "adversarialShare", JSON.stringify(r.body));
    assert.match(r.body.detail as string, /^adversarialShare: /);
    const g = await api.call("POST", "/v1/gate", {
      json: { candidate: { strategy: "dense", rate: 1 }, scenario: { ...scenario, adversarialShare: bad }, thresholds: { minAggregatedAccuracy: 0.5 } },
    });
    assert.equal(g.status, 400);
    assert.equal(g.body.field, "scenario.adversarialShare");
  }
  const out = await api.call("POST", "/v1/recommendations", { json: { ...scenario, adversarialShare: 1.5 } });
  assert.equal(out.body.detail, "adversarialShare: adversarialShare is the share of adversarial inputs, a fraction in [0, 1] (0.3 = 30 %), got 1.5");
  const t2 = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "dense", rate: 1 }, scenario, thresholds: { minAggregatedAccuracy: 2 } } });
  assert.equal(t2.status, 400);
  assert.equal(t2.body.field, "thresholds.minAggregatedAccuracy");
});

test("POST /v1/gate with a share: minAggregatedAccuracy against the aggregate's lower bound", async (t) => {
  const api = await startApi(t);
  const low = 0.7 * wilson(910, 1000).low + 0.3 * wilson(60, 100).low; // ≈ 0.775
  const gateAt = (threshold: number) =>
    api.call("POST", "/v1/gate", {
      json: { candidate: { strategy: "dense", rate: 1 }, scenario: { ...scenario, adversarialShare: 0.3 }, thresholds: { minRobustAccuracy: 0.4, minAggregatedAccuracy: threshold } },
    });
  const pass = await gateAt(Math.floor(low * 100) / 100);
  assert.equal(pass.status, 200);
  assert.equal(pass.body.pass, true, JSON.stringify(pass.body.reasons));
  const checks = pass.body.checks as { check: string; field: string; pass: boolean }[];
  assert.deepEqual(checks.map((c) => c.check), ["evidence", "minRobustAccuracy", "minAggregatedAccuracy"]);
  const fail = await gateAt(Math.ceil(low * 100) / 100);
  assert.equal(fail.body.pass, false);
  assert.deepEqual((fail.body.checks as { check: string; pass: boolean }[]).filter((c) => !c.pass).map((c) => c.check), ["minAggregatedAccuracy"]);
});

test("GET /v1/matrix/curves?vs=share: aggregated accuracy against the adversarial share (contract, values, errors, ETag)", async (t) => {
  const api = await startApi(t);
  const base = `/v1/matrix/curves?model=${MODEL_A}&norm=linf&candidates=dense@1,global-magnitude@4&vs=share&at=0.1`;
  const r = await api.call("GET", `${base}&shares=1,0,0.5`);
  assert.equal(r.status, 200);
  const curves = r.body.curves as { strategy: string; cleanAccuracy: number; points: { budget: number; accuracy: number; low: number; high: number }[]; aggregated: { share: number; accuracy: number; low: number; high: number }[] }[];
  assert.deepEqual(curves.map((c) => c.strategy), ["dense", "global-magnitude"]);
  const dense = curves[0]!;
  assert.deepEqual(dense.points.map((p) => p.budget), [0.1], "the one robust point the aggregate rests on");
  assert.deepEqual(dense.aggregated.map((p) => p.share), [0, 0.5, 1], "ascending");
  const [s0, s5, s1] = dense.aggregated as [typeof dense.aggregated[0], typeof dense.aggregated[0], typeof dense.aggregated[0]];
  assert.equal(s0.accuracy, dense.cleanAccuracy);
  assert.equal(s0.low, wilson(910, 1000).low);
  assert.deepEqual([s1.accuracy, s1.low, s1.high], [dense.points[0]!.accuracy, dense.points[0]!.low, dense.points[0]!.high]);
  assert.ok(Math.abs(s5.accuracy - (0.91 + 0.6) / 2) < 1e-12);
  assert.ok(Math.abs(s5.low - (wilson(910, 1000).low + wilson(60, 100).low) / 2) < 1e-12);

  // The same number as the advisor's aggregate for that candidate (ε = 0.1 is a grid budget).
  const advised = await api.call("POST", "/v1/recommendations", { json: { ...scenario, adversarialShare: 0.5 } });
  assert.equal(rec(advised.body).strategy, "dense");
  assert.ok(Math.abs(rec(advised.body).aggregatedAccuracy!.interval.low - s5.low) <= 5e-7, "the answer rounds to 6 places, the curve does not");

  const defaults = await api.call("GET", base);
  assert.deepEqual((defaults.body.curves as typeof curves)[0]!.aggregated.map((p) => p.share), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  // Without vs=share nothing changes: no aggregated field.
  const plain = await api.call("GET", `/v1/matrix/curves?model=${MODEL_A}&norm=linf&candidates=dense@1&at=0.1`);
  assert.equal((plain.body.curves as Body[])[0]!.aggregated, undefined);

  const problems: [string, string][] = [
    [`/v1/matrix/curves?model=${MODEL_A}&vs=share`, "at"],
    [`/v1/matrix/curves?model=${MODEL_A}&vs=share&at=0.05,0.1`, "at"],
    [`/v1/matrix/curves?model=${MODEL_A}&at=0.1&shares=0,1`, "shares"],
    [`${base}&shares=1.5`, "shares"],
    [`${base}&shares=0,half`, "shares"],
    [`${base}&shares=-0.1`, "shares"],
    [`/v1/matrix/curves?vs=bogus&at=0.1`, "vs"],
  ];
  for (const [p, field] of problems) {
    const bad = await api.call("GET", p);
    assert.equal(bad.status, 400, p);
    assert.equal(bad.body.field, field, `${p}: ${JSON.stringify(bad.body)}`);
  }

  // The ETag is keyed by the query: other shares, another tag; the same request, 304.
  const tagA = (await api.call("GET", `${base}&shares=0,1`)).headers.get("etag")!;
  const tagB = (await api.call("GET", `${base}&shares=0,0.5,1`)).headers.get("etag")!;
  assert.notEqual(tagA, tagB);
  assert.equal((await api.call("GET", `${base}&shares=0,1`, { headers: { "if-none-match": tagA } })).status, 304);
});

test("CLI: --adversarial-share for recommend and gate, --min-aggregated-accuracy, a bad share exits 2 naming the flag", async (t) => {
  const dir = await tempDir(t, "advisor-cli-share-");
  const db = path.join(dir, "matrix.sqlite");
  const store = await MatrixStore.open(db);
  await buildFixtureMatrix(store);
  await store.close();
  const args = ["--db", db, "--norm", "linf", "--budget", "0.1", "--knowledge", "white-box", "--model", MODEL_A];
  const r = await runCli(["recommend", ...args, "--adversarial-share", "0.3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^recommendation: dense 1× .*; aggregated at share 0\.3 81\.7 % \[77\.4 %, 85\.6 %\]$/m);
  assert.match(r.stdout, /At every adversarial share from 0 to 1 the dense model has the highest lower bound/);
  const gateArgs = [...args, "--strategy", "dense", "--rate", "1", "--adversarial-share", "0.3"];
  const pass = await runCli(["gate", ...gateArgs, "--min-aggregated-accuracy", "0.75"]);
  assert.equal(pass.code, 0, pass.stderr + pass.stdout);
  assert.match(pass.stdout, /ok {3}minAggregatedAccuracy: The lower 95 % bound of the dense model's aggregated accuracy at adversarial share 0\.3, 0\.7·clean \+ 0\.3·robust, is 77\.\d %, meeting/);
  const fail = await runCli(["gate", ...gateArgs, "--min-aggregated-accuracy", "0.8"]);
  assert.equal(fail.code, 1, fail.stderr);
  assert.match(fail.stdout, /^FAIL: dense 1×[\s\S]*FAIL minAggregatedAccuracy/);
  const bad = await runCli(["recommend", ...args, "--adversarial-share", "1.5"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^advisor: --adversarial-share: adversarialShare is the share of adversarial inputs, a fraction in \[0, 1\] \(0\.3 = 30 %\), got 1\.5/);
  const nan = await runCli(["gate", ...args, "--strategy", "dense", "--rate", "1", "--adversarial-share", "half", "--min-robust-accuracy", "0.1"]);
  assert.equal(nan.code, 2);
  assert.match(nan.stderr, /--adversarial-share must be a number, got "half"/);
});
