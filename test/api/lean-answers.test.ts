// Issue 18: lean answers by default, the rest with ?include=; evidence rows by id; conditional
// GETs keyed by the matrix version; the default answer's size on the shipped matrix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { seedMatrix } from "../../src/matrix/seed.js";
import { shippedMatrixPath } from "../../src/paths.js";
import { createRequire } from "node:module";
import { weakETag } from "../../src/api/routes/advisor.js";
import { WIRE_DECIMALS } from "../../src/api/recommendation-view.js";
import { MODEL_A, publishRefresh, startApi } from "./helpers.js";

/** Express's own ETag functions (lib/utils.js), to check the advisor's against. */
const expressUtils = createRequire(import.meta.url)("express/lib/utils.js") as { wetag: (body: Buffer, encoding: string) => string };

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

test("a recommendation is lean by default: best 5 alternatives without their paired tests, no evidence or curve, links that resolve", async (t) => {
  const api = await startApi(t);
  const r = await api.call("POST", "/v1/recommendations", { json: scenario });
  assert.equal(r.status, 200);
  assert.ok(!("evidence" in r.body) && !("curve" in r.body));
  const alts = r.body.alternatives as Record<string, unknown>[];
  assert.ok(alts.length <= 5 && alts.length > 1);
  assert.ok(alts.every((a) => !("comparison" in a) && typeof a.significant !== "undefined"));
  assert.ok(r.body.comparison !== null, "the winner vs runner-up test stays");
  const links = r.body.links as { evidence: string[]; curves: string };
  assert.ok(links.evidence.length >= 2);
  for (const href of links.evidence) {
    const row = await api.call("GET", href);
    assert.equal(row.status, 200, href);
    assert.equal(String(row.body.id), href.split("/").at(-1));
    assert.match(row.headers.get("cache-control") ?? "", /immutable/);
  }
  const curves = await api.call("GET", links.curves);
  assert.equal(curves.status, 200);
  assert.equal((curves.body.curves as unknown[]).length, 2, "recommendation and runner-up");
});

test("?include= adds evidence, curve, details and every alternative; an unknown part is 400 naming include", async (t) => {
  const api = await startApi(t);
  const full = await api.call("POST", "/v1/recommendations?include=evidence,curve,details,all-alternatives", { json: scenario });
  assert.equal(full.status, 200);
  assert.ok((full.body.evidence as unknown[]).length > 0);
  assert.ok((full.body.curve as unknown[]).length > 0);
  const alts = full.body.alternatives as { comparison?: unknown; rank: number }[];
  assert.equal(alts.length, (full.body.counts as { ranked: number }).ranked);
  assert.ok(alts.slice(1).every((a) => a.comparison !== null && typeof a.comparison === "object"));
  const lean = await api.call("POST", "/v1/recommendations", { json: scenario });
  assert.deepEqual(lean.body.recommendation, full.body.recommendation);
  assert.deepEqual(lean.body.comparison, full.body.comparison);
  const only = await api.call("POST", "/v1/recommendations?include=curve", { json: scenario });
  assert.ok("curve" in only.body && !("evidence" in only.body) && !("unscored" in only.body));
  const unscored = await api.call("POST", "/v1/recommendations?include=unscored", { json: { ...scenario, norm: "l2", budget: 1 } });
  assert.ok(Array.isArray(unscored.body.unscored), "listed on request");
  const counts = unscored.body.counts as { feasible: number; ranked: number };
  assert.equal((unscored.body.unscored as unknown[]).length, counts.feasible - counts.ranked);
  const bad = await api.call("POST", "/v1/recommendations?include=evidence,everything", { json: scenario });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, "include");
});

test("GET /v1/matrix/rows/{id}: 400 for a malformed id, 404 for one no published row has", async (t) => {
  const api = await startApi(t);
  assert.equal((await api.call("GET", "/v1/matrix/rows/abc")).status, 400);
  assert.equal((await api.call("GET", "/v1/matrix/rows/0")).status, 400);
  const missing = await api.call("GET", "/v1/matrix/rows/999999");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.field, "id");
});

test("GET endpoints carry an ETag keyed by the matrix version: 304 while it holds, a new tag once a version is published", async (t) => {
  const api = await startApi(t);
  for (const p of ["/v1/matrix/curves?norm=linf", "/v1/matrix?limit=2", "/v1/models"]) {
    const first = await api.call("GET", p);
    const tag = first.headers.get("etag");
    assert.ok(tag, p);
    assert.equal(first.headers.get("cache-control"), "no-cache");
    const again = await api.call("GET", p, { headers: { "if-none-match": tag } });
    assert.equal(again.status, 304, p);
  }
  const before = (await api.call("GET", "/v1/matrix/curves?norm=linf")).headers.get("etag")!;
  await publishRefresh(api.store, "etag");
  const after = await api.call("GET", "/v1/matrix/curves?norm=linf", { headers: { "if-none-match": before } });
  assert.equal(after.status, 200);
  assert.notEqual(after.headers.get("etag"), before);
});

test("on the shipped matrix the default answer stays under 8 KB for the README's and docs' scenarios", async (t) => {
  const api = await startApi(t, (store) => seedMatrix(store, shippedMatrixPath, store.db.file));
  const scenarios = [
    { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } },
    { norm: "linf", budget: 0.01, knowledge: "white-box", architecture: "lenet300" },
    { norm: "l0", budget: 8, knowledge: "white-box", architecture: "lenet5" },
    { norm: "l2", budget: 1, knowledge: "black-box" },
    { norm: "linf", budget: 0.1, knowledge: "transfer", sizeLimit: { maxParameters: 20000 } },
  ];
  for (const s of scenarios) {
    const res = await fetch(`${api.baseUrl}/v1/recommendations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(s) });
    const text = await res.text();
    assert.equal(res.status, 200, text.slice(0, 300));
    const bytes = Buffer.byteLength(text);
    t.diagnostic(`${JSON.stringify(s)}: ${bytes} bytes`);
    assert.ok(bytes <= 8192, `${JSON.stringify(s)}: ${bytes} bytes`);
  }
});

test("the same question on the same matrix version is answered from the answer cache, byte for byte; a new version answers anew", async (t) => {
  const api = await startApi(t);
  const ask = async (): Promise<string> => {
    const res = await fetch(`${api.baseUrl}/v1/recommendations?include=evidence`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(scenario) });
    assert.equal(res.status, 200);
    return res.text();
  };
  const first = await ask();
  assert.equal(await ask(), first);
  // Its ETag is the one Express's res.json would send for those bytes (its default "weak" etag).
  const tagged = await fetch(`${api.baseUrl}/v1/recommendations?include=evidence`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(scenario) });
  const bytes = Buffer.from(await tagged.arrayBuffer());
  assert.equal(tagged.headers.get("etag"), expressUtils.wetag(bytes, "utf8"));
  assert.equal(weakETag(Buffer.from("")), expressUtils.wetag(Buffer.from(""), "utf8"));
  // Key order in the request does not matter: the scenario is normalised first.
  const reordered = await fetch(`${api.baseUrl}/v1/recommendations?include=evidence`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ modelId: scenario.modelId, knowledge: scenario.knowledge, budget: scenario.budget, norm: scenario.norm }),
  });
  assert.equal(await reordered.text(), first);
  const metrics = String((await api.call("GET", "/metrics")).body.text);
  assert.match(metrics, /advisor_recommendations_total\{status="ok"\} 4/, "every answer is counted, cached or not");
  await publishRefresh(api.store, "answer cache");
  const after = JSON.parse(await ask()) as { matrixVersion: number };
  assert.notEqual(after.matrixVersion, (JSON.parse(first) as { matrixVersion: number }).matrixVersion);
});

test("recommendations and gate verdicts give their candidates' fractions to WIRE_DECIMALS places; the counts stay exact", async (t) => {
  const api = await startApi(t);
  /** Every number under `v` (any depth) that has more than 6 decimals. */
  const unrounded = (v: unknown, at = ""): string[] => {
    if (typeof v === "number") return Number.isFinite(v) && Number(v.toFixed(WIRE_DECIMALS)) !== v ? [`${at} = ${v}`] : [];
    if (Array.isArray(v)) return v.flatMap((x, i) => unrounded(x, `${at}[${i}]`));
    if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => unrounded(x, `${at}.${k}`));
    return [];
  };
  const rec = await api.call("POST", "/v1/recommendations?include=details", { json: scenario });
  assert.equal(rec.status, 200);
  const alternatives = rec.body.alternatives as { candidate: { pruningSeeds?: unknown } }[];
  assert.deepEqual(unrounded([rec.body.recommendation, rec.body.comparison, alternatives.map((a) => ({ ...a, candidate: { ...a.candidate, pruningSeeds: undefined } }))]), []);
  const g = await api.call("POST", "/v1/gate", { json: { candidate: { strategy: "global-magnitude", rate: 4 }, scenario, thresholds: { minRobustAccuracy: 0.1 } } });
  assert.equal(g.status, 200);
  assert.deepEqual(unrounded([g.body.candidate, g.body.dense, g.body.drop].map((c) => (c && typeof c === "object" ? { ...c, pruningSeeds: undefined } : c))), []);
  const candidate = g.body.candidate as { robustAccuracy: { robust: number; n: number; value: number } };
  assert.equal(candidate.robustAccuracy.value, Number((candidate.robustAccuracy.robust / candidate.robustAccuracy.n).toFixed(WIRE_DECIMALS)));
});
