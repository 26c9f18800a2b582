// Issue 18: a prepared snapshot (what does not depend on the question worked out once per matrix
// version) answers exactly as the plain snapshot does — on the shipped matrix over a sweep of
// scenarios (every norm, knowledge level, budgets on, between, below and beyond the grid, size
// limits, model filters), on the hand-made known-answer matrix, for recommendations and the gate;
// and only the alternatives shown get a paired test, with the rest of the answer unchanged.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { gate, prepareSnapshot, recommend, type Candidate, type GateRequest, type MatrixSnapshot, type Scenario } from "../../src/advisor/index.js";
import { rankCompare } from "../../src/advisor/assess.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { shippedMatrixPath } from "../../src/paths.js";
import { tempDir } from "../matrix/fixtures.js";
import { mainMatrix } from "./fixtures.js";

const BUDGETS: Record<Scenario["norm"], number[]> = {
  linf: [0, 0.005, 0.01, 0.03, 0.04, 0.1, 0.3, 0.6],
  l2: [0, 0.1, 0.5, 1.2, 2, 4, 6],
  l0: [0, 1, 3, 8, 16, 64, 100],
};
const LIMITS: Scenario["sizeLimit"][] = [undefined, { minCompression: 4 }, { maxParameters: 20_000 }, { structuredOnly: true }, { maxParameters: 10 }];

function scenarios(filters: Pick<Scenario, "architecture">[]): Scenario[] {
  const out: Scenario[] = [];
  for (const f of filters)
    for (const norm of ["linf", "l2", "l0"] as const)
      for (const knowledge of ["white-box", "transfer", "black-box"] as const)
        for (const budget of BUDGETS[norm])
          for (const sizeLimit of LIMITS) {
            out.push({ norm, budget, knowledge, ...f, ...(sizeLimit ? { sizeLimit } : {}) });
            // Unsound evidence allowed too (the shipped matrix has 140 unsound rows).
            if (sizeLimit === undefined) out.push({ norm, budget, knowledge, ...f, allowUnsoundEvidence: true });
          }
  return out;
}

/** The answer as it goes on the wire (structured clone drops nothing here: plain data). */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

async function shipped(t: TestContext): Promise<{ plain: MatrixSnapshot; prepared: MatrixSnapshot }> {
  const dir = await tempDir(t, "advisor-prepared-");
  const file = path.join(dir, "m.sqlite");
  const store = await MatrixStore.open(file);
  t.after(() => store.close());
  await seedMatrix(store, shippedMatrixPath, file);
  // Two independent loads: the plain one is never prepared.
  return { plain: await store.snapshot(), prepared: prepareSnapshot(await store.snapshot()) };
}

function assertSameAnswers(plain: MatrixSnapshot, prepared: MatrixSnapshot, list: Scenario[]): number {
  let compared = 0;
  for (const s of list) {
    let a: unknown;
    let b: unknown;
    try {
      a = wire(recommend(plain, s));
    } catch (err) {
      a = { error: String(err) };
    }
    try {
      b = wire(recommend(prepared, s));
    } catch (err) {
      b = { error: String(err) };
    }
    assert.deepStrictEqual(b, a, JSON.stringify(s));
    compared++;
  }
  return compared;
}

test("on the shipped matrix, prepared and plain snapshots give identical recommendations over a sweep of scenarios", async (t) => {
  const { plain, prepared } = await shipped(t);
  const n = assertSameAnswers(plain, prepared, scenarios([{}, { architecture: "lenet5" }]));
  assert.ok(n > 500, `${n} scenarios compared`);
});

test("on the shipped matrix, prepared and plain snapshots give identical gate verdicts", async (t) => {
  const { plain, prepared } = await shipped(t);
  let n = 0;
  for (const architecture of ["lenet300", "lenet5", "convnet"])
    for (const [strategy, rate] of [["dense", 1], ["global-magnitude", 4], ["random", 32], ["structured-l1", 2]] as const)
      for (const scenario of scenarios([{ architecture }]).filter((_, i) => i % 7 === 0)) {
        const request: GateRequest = { candidate: { strategy, rate }, scenario, thresholds: { minRobustAccuracy: 0.3, maxDropVsDense: 0.05 } };
        const verdict = (m: MatrixSnapshot): unknown => {
          try {
            return wire(gate(m, request));
          } catch (err) {
            return { error: String(err) }; // no verdict (unsound evidence) must be the same too
          }
        };
        assert.deepStrictEqual(verdict(prepared), verdict(plain), JSON.stringify(request));
        n++;
      }
  assert.ok(n > 200, `${n} verdicts compared`);
});

test("on the known-answer matrix, prepared and plain snapshots give identical recommendations", () => {
  const n = assertSameAnswers(mainMatrix(), prepareSnapshot(mainMatrix()), scenarios([{}]));
  assert.ok(n > 100);
});

test("only the alternatives shown are compared; everything else in the answer is the same as with all of them", async (t) => {
  const { prepared } = await shipped(t);
  const s: Scenario = { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } };
  const all = wire(recommend(prepared, s)) as { alternatives: unknown[]; counts: { ranked: number } };
  const top = wire(recommend(prepared, s, { alternatives: 5 })) as typeof all;
  assert.equal(top.alternatives.length, 5);
  assert.ok(all.alternatives.length === all.counts.ranked && all.counts.ranked > 5);
  assert.deepStrictEqual(top.alternatives, all.alternatives.slice(0, 5));
  assert.deepStrictEqual({ ...top, alternatives: [] }, { ...all, alternatives: [] });
  const one = wire(recommend(prepared, s, { alternatives: 1 })) as typeof all & { comparison: unknown; warnings: unknown };
  assert.equal(one.alternatives.length, 1);
  assert.deepStrictEqual(one.comparison, (all as unknown as { comparison: unknown }).comparison, "the runner-up is still compared for the answer's comparison");
});

test("without evidence rows, curves and the unscored list (evidence/curve/unscored false), everything else in the answer is the same", async (t) => {
  const { prepared } = await shipped(t);
  let withRows = 0;
  let manyUnscored = 0;
  for (const s of scenarios([{}]).filter((_, i) => i % 5 === 0)) {
    const full = wire(recommend(prepared, s, { alternatives: 5 })) as { evidence: unknown[]; curve: unknown[]; unscored: unknown[]; status: string };
    const lean = wire(recommend(prepared, s, { alternatives: 5, evidence: false, curve: false, unscored: false })) as typeof full;
    // Without a ranked candidate the unscored list is the answer's substance: it stays.
    assert.deepStrictEqual(lean, { ...full, evidence: [], curve: [], unscored: full.status === "no-evidence" ? full.unscored : [] }, JSON.stringify(s));
    assert.deepStrictEqual(wire(recommend(prepared, s, { alternatives: 5, evidence: true, curve: true, unscored: true })), full);
    if (full.evidence.length > 0 && full.curve.length > 0) withRows++;
    // The no-evidence warning names six and counts the rest: the same text when only six are assessed.
    if (full.status === "ok" && full.unscored.length > 6) manyUnscored++;
  }
  assert.ok(withRows > 20, `${withRows} answers had evidence rows and curves to leave out`);
  assert.ok(manyUnscored > 5, `${manyUnscored} answers left more than six candidates unscored`);
});

test("on the shipped matrix, every ranking is rankCompare's order (scores, then the smaller model, strategy, rate, model), and the top 5 alone are its first five", async (t) => {
  // recommend sorts by precomputed tie ranks (src/advisor/scoring.ts); the order must be the documented one.
  const { prepared } = await shipped(t);
  let rankings = 0;
  for (const s of scenarios([{}])) {
    const r = recommend(prepared, s);
    // A summary carries everything rankCompare reads of a candidate (size, strategy, rate, model).
    const ranked = r.alternatives.map((a) => ({ score: a.score, candidate: a.candidate as unknown as Candidate }));
    const expected = [...ranked].sort(rankCompare);
    assert.deepStrictEqual(
      ranked.map((x) => `${x.candidate.strategy}@${x.candidate.rate}`),
      expected.map((x) => `${x.candidate.strategy}@${x.candidate.rate}`),
      JSON.stringify(s),
    );
    // With few alternatives shown (as the API asks), the best few are picked without a sort: the same ones.
    const top = recommend(prepared, s, { alternatives: 5 });
    assert.deepStrictEqual(
      top.alternatives.map((a) => [a.candidate.strategy, a.candidate.rate, a.score]),
      r.alternatives.slice(0, 5).map((a) => [a.candidate.strategy, a.candidate.rate, a.score]),
      JSON.stringify(s),
    );
    if (ranked.length > 1) rankings++;
  }
  assert.ok(rankings > 100, `${rankings} rankings checked`);
});
