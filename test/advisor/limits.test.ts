// Size limits, minimum clean accuracy and infeasible scenarios over the main fixture:
//   dense 1× 60,000 (structured, clean 91.0 %), global-magnitude 4× 15,000 (achieved 3.9995, 90.5 %),
//   layer-magnitude 8× 7,500 (88.0 %), random 4× 15,000 (85.0 %), structured-l1 2× 30,000 (achieved 1.9, 90.0 %);
//   sparseBytes = 6 × non-zero parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { recommend } from "../../src/advisor/recommend.js";
import type { Recommendation, Scenario, SizeLimit } from "../../src/advisor/types.js";
import { mainMatrix } from "./fixtures.js";

const base: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box" };

function feasibleSet(r: Recommendation): string[] {
  return [...r.alternatives.map((a) => a.candidate), ...r.unscored.map((u) => u.candidate)].map((c) => `${c.strategy}@${c.rate}`).sort();
}

function withLimit(sizeLimit: SizeLimit, minCleanAccuracy?: number): Recommendation {
  return recommend(mainMatrix(), { ...base, sizeLimit, ...(minCleanAccuracy === undefined ? {} : { minCleanAccuracy }) });
}

test("each limit excludes exactly what it must", () => {
  assert.deepEqual(feasibleSet(withLimit({})), ["dense@1", "global-magnitude@4", "layer-magnitude@8", "random@4", "structured-l1@2"]);
  // maxParameters is inclusive.
  assert.deepEqual(feasibleSet(withLimit({ maxParameters: 15000 })), ["global-magnitude@4", "layer-magnitude@8", "random@4"]);
  assert.deepEqual(feasibleSet(withLimit({ maxParameters: 14999 })), ["layer-magnitude@8"]);
  // minCompression uses the achieved rate, with 0.1 % tolerance: 3.9995 counts as 4×, 1.9 is not 2×.
  assert.deepEqual(feasibleSet(withLimit({ minCompression: 4 })), ["global-magnitude@4", "layer-magnitude@8", "random@4"]);
  assert.deepEqual(feasibleSet(withLimit({ minCompression: 2 })), ["global-magnitude@4", "layer-magnitude@8", "random@4"]);
  assert.deepEqual(feasibleSet(withLimit({ minCompression: 1.9 })), ["global-magnitude@4", "layer-magnitude@8", "random@4", "structured-l1@2"]);
  assert.deepEqual(feasibleSet(withLimit({ minCompression: 1 })).length, 5);
  // maxBytes (6 bytes per parameter here).
  assert.deepEqual(feasibleSet(withLimit({ maxBytes: 180000 })), ["global-magnitude@4", "layer-magnitude@8", "random@4", "structured-l1@2"]);
  assert.deepEqual(feasibleSet(withLimit({ maxBytes: 45000 })), ["layer-magnitude@8"]);
  // structuredOnly keeps dense and structured-l1; false is no limit.
  assert.deepEqual(feasibleSet(withLimit({ structuredOnly: true })), ["dense@1", "structured-l1@2"]);
  assert.equal(feasibleSet(withLimit({ structuredOnly: false })).length, 5);
  // minCleanAccuracy compares the clean point estimate (inclusive).
  assert.deepEqual(feasibleSet(withLimit({}, 0.9)), ["dense@1", "global-magnitude@4", "structured-l1@2"]);
  assert.deepEqual(feasibleSet(withLimit({}, 0.905)), ["dense@1", "global-magnitude@4"]);
  // Combined.
  assert.deepEqual(feasibleSet(withLimit({ structuredOnly: true, maxParameters: 30000 })), ["structured-l1@2"]);
});

test("the best feasible candidate wins under a limit, and the rationale names the limits", () => {
  const r = withLimit({ structuredOnly: true });
  assert.equal(r.status, "ok");
  // At 0.1: dense 100, structured-l1 90.
  assert.equal(r.recommendation!.strategy, "dense");
  assert.deepEqual(r.counts, { considered: 5, feasible: 2, ranked: 2 });
  assert.match(r.rationale, /2 of 5 candidates met the limits \(structuredOnly\)/);
});

test("an infeasible scenario names the binding limit and what the nearest candidate would need", () => {
  const r = withLimit({ maxParameters: 5000 });
  assert.equal(r.status, "infeasible");
  assert.equal(r.recommendation, null);
  assert.deepEqual(r.alternatives, []);
  const inf = r.infeasible!;
  assert.deepEqual(inf.binding, ["maxParameters"]);
  assert.deepEqual(inf.limits, [{ limit: "maxParameters", field: "sizeLimit.maxParameters", value: 5000, excludes: 5 }]);
  assert.equal(inf.nearest.candidate.strategy, "layer-magnitude");
  assert.deepEqual(
    inf.nearest.needs.map((n) => [n.limit, n.required, n.actual]),
    [["maxParameters", 5000, 7500]],
  );
  assert.match(inf.nearest.needs[0]!.text, /has 7,500 non-zero parameters; maxParameters is 5,000/);
  assert.match(r.rationale, /maxParameters is the binding one/);
  assert.match(r.rationale, /layer-magnitude at 8×, has 7,500 non-zero parameters; maxParameters is 5,000/);
});

test("the binding limit is found among several: only the one whose removal helps", () => {
  // structuredOnly alone leaves dense and structured-l1; maxBytes 100,000 excludes both of them
  // but not the unstructured ones. Removing either limit makes a candidate feasible.
  const r = withLimit({ structuredOnly: true, maxBytes: 100000 });
  assert.equal(r.status, "infeasible");
  assert.deepEqual([...r.infeasible!.binding].sort(), ["maxBytes", "structuredOnly"]);
  // minCompression 2 excludes dense and structured-l1 too, but removing it alone helps nothing.
  const r2 = withLimit({ maxParameters: 5000, minCompression: 2 });
  assert.deepEqual(r2.infeasible!.binding, ["maxParameters"]);
  assert.deepEqual(r2.infeasible!.relaxations.map((x) => x.remove), [["maxParameters"]]);
  // minCleanAccuracy binding: nearest is the most accurate candidate meeting the size limits.
  const r3 = withLimit({ maxParameters: 15000 }, 0.95);
  assert.deepEqual(r3.infeasible!.binding, ["minCleanAccuracy"]);
  assert.equal(r3.infeasible!.nearest.candidate.strategy, "global-magnitude");
  assert.match(r3.infeasible!.nearest.needs[0]!.text, /clean accuracy 90\.5 %; minCleanAccuracy is 95\.0 %/);
});

test("when no single limit is to blame, the minimal combination is reported", () => {
  // maxParameters 5,000 and maxBytes 10,000 each exclude everything.
  const r = withLimit({ maxParameters: 5000, maxBytes: 10000 });
  const inf = r.infeasible!;
  assert.deepEqual(inf.relaxations.map((x) => x.remove), [["maxParameters", "maxBytes"]]);
  assert.deepEqual(inf.binding, ["maxParameters", "maxBytes"]);
  assert.equal(inf.nearest.candidate.strategy, "layer-magnitude");
  assert.deepEqual(inf.nearest.needs.map((n) => n.limit), ["maxParameters", "maxBytes"]);
  assert.match(r.rationale, /no single limit is to blame: it takes removing maxParameters and maxBytes together/);
});
