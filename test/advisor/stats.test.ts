// Exact tests, sample alignment, the conservative budget rule and the knowledge lattice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { alignSamples, compare, fisherExact, mcnemarExact } from "../../src/advisor/paired.js";
import { conservativeBudget, isRobustAt, measuredGrid, robustCount } from "../../src/advisor/curve.js";
import { strongerLevels, weakerLevels } from "../../src/advisor/lattice.js";
import type { CandidateRef } from "../../src/advisor/types.js";

test("McNemar exact two-sided p-values on known tables", () => {
  // b = 10, c = 2: 2·P(X <= 2), X ~ Bin(12, 1/2) = 2·79/4096 = 0.03857.
  assert.ok(Math.abs(mcnemarExact(10, 2) - 0.0386) < 5e-5);
  assert.equal(mcnemarExact(10, 2), mcnemarExact(2, 10));
  assert.equal(mcnemarExact(0, 0), 1);
  assert.equal(mcnemarExact(5, 5), 1);
  assert.ok(Math.abs(mcnemarExact(10, 0) - 2 / 1024) < 1e-15);
  // Large counts stay finite and tiny.
  const p = mcnemarExact(3000, 2000);
  assert.ok(p > 0 && p < 1e-20, String(p));
  assert.throws(() => mcnemarExact(-1, 2), RangeError);
});

test("Fisher exact two-sided p-values on known tables", () => {
  // Robust 3 of 4 vs 1 of 4: p = 0.4857 (R: fisher.test(matrix(c(3,1,1,3), 2))).
  assert.ok(Math.abs(fisherExact(3, 4, 1, 4) - 0.4857) < 5e-5);
  // Tea tasting, 4/4 vs 0/4: p = 2/70 = 0.02857.
  assert.ok(Math.abs(fisherExact(4, 4, 0, 4) - 2 / 70) < 1e-12);
  assert.equal(fisherExact(5, 10, 5, 10), 1);
});

test("samples are paired by index, in any order; different sets are not paired", () => {
  assert.deepEqual(Array.from(alignSamples([1, 2, 3], [3, 1, 2])!), [1, 2, 0]);
  assert.equal(alignSamples([1, 2, 3], [1, 2, 4]), null);
  assert.equal(alignSamples([1, 2], [1, 2, 3]), null);
  const ref: CandidateRef = { modelId: "m", architecture: "a", dataset: "d", strategy: "dense", rate: 1 };
  // a robust on samples 10, 11, 12; b (listed in another order) robust on 12 only.
  const c = compare(
    { ref, label: "a", indicators: Uint8Array.from([1, 1, 1, 0]), sampleIndices: [10, 11, 12, 13], robust: 3, n: 4 },
    { ref, label: "b", indicators: Uint8Array.from([1, 0, 0, 0]), sampleIndices: [12, 13, 10, 11], robust: 1, n: 4 },
  );
  assert.equal(c.paired, true);
  assert.deepEqual(c.discordant, { aOnly: 2, bOnly: 0 });
  assert.equal(c.pValue, 0.5);
  assert.equal(c.difference, 0.5);
  const u = compare(
    { ref, label: "a", indicators: Uint8Array.from([1, 1, 1, 0]), sampleIndices: [0, 1, 2, 3], robust: 3, n: 4 },
    { ref, label: "b", indicators: Uint8Array.from([1, 0, 0, 0]), sampleIndices: [4, 5, 6, 7], robust: 1, n: 4 },
  );
  assert.equal(u.paired, false);
  assert.equal(u.method, "fisher-exact");
  assert.equal(u.discordant, null);
  assert.match(u.text, /unpaired/);
});

test("paired on distances read at each side's budget, the counts are those of the per-sample indicators (float32 budgets, NaN, Infinity)", () => {
  const ref: CandidateRef = { modelId: "m", architecture: "a", dataset: "d", strategy: "dense", rate: 1 };
  // Each side at its own budget; 0.1 is not a float32, so a distance of fround(0.1) is beaten at 0.1.
  const da = Float32Array.from([0.05, 0.1, 0.2, NaN, Infinity, 0.3, 0, 0.15, 0.11, 0.5]);
  const db = Float32Array.from([0.2, 0.3, 0.05, 0.4, NaN, 0.3, 0.12, 0.15, 0.09, Infinity]);
  const indicators = (d: Float32Array, budget: number): Uint8Array => Uint8Array.from(d, (x) => (isRobustAt(x, budget) ? 1 : 0));
  const samples = Array.from(da, (_, i) => i);
  for (const [ba, bb] of [[0.1, 0.1], [0.1, 0.12], [0, 0.3], [0.15, 0.05]] as const) {
    const side = (label: string, d: Float32Array, budget: number, asIndicators: boolean) => ({
      ref,
      label,
      indicators: asIndicators ? indicators(d, budget) : { distances: d, budget },
      sampleIndices: samples,
      robust: robustCount(d, budget),
      n: d.length,
    });
    const fromDistances = compare(side("a", da, ba, false), side("b", db, bb, false));
    const fromIndicators = compare(side("a", da, ba, true), side("b", db, bb, true));
    assert.deepEqual(fromDistances.discordant, fromIndicators.discordant, `budgets ${ba}, ${bb}`);
    assert.equal(fromDistances.pValue, fromIndicators.pValue);
  }
  // Worked by hand at 0.1 / 0.1: a robust on 2, 4, 5, 7, 8, 9 (0.1 itself and NaN beaten); b on 0, 1, 3, 5, 6, 7, 9.
  const both = compare(
    { ref, label: "a", indicators: { distances: da, budget: 0.1 }, sampleIndices: samples, robust: 6, n: 10 },
    { ref, label: "b", indicators: { distances: db, budget: 0.1 }, sampleIndices: samples, robust: 7, n: 10 },
  );
  assert.deepEqual(both.discordant, { aOnly: 3, bOnly: 4 });
});

test("conservative budget mapping", () => {
  const grid = measuredGrid([0.3, 0.1, 0.05, 0.1]);
  assert.deepEqual(grid, [0.05, 0.1, 0.3]);
  assert.deepEqual(conservativeBudget(grid, 0.1), { budget: 0.1, budgetUsed: 0.1, rule: "measured" });
  assert.deepEqual(conservativeBudget(grid, 0.1 + 1e-12), { budget: 0.1 + 1e-12, budgetUsed: 0.1, rule: "measured" });
  assert.deepEqual(conservativeBudget(grid, 0.2), { budget: 0.2, budgetUsed: 0.3, rule: "next-up" });
  assert.deepEqual(conservativeBudget(grid, 0.01), { budget: 0.01, budgetUsed: 0.05, rule: "below-grid" });
  assert.deepEqual(conservativeBudget(grid, 0), { budget: 0, budgetUsed: 0, rule: "clean" });
  assert.deepEqual(conservativeBudget(grid, 0.5), { budget: 0.5, budgetUsed: 0.5, rule: "beyond-range" });
  assert.deepEqual(conservativeBudget([], 0.5), { budget: 0.5, budgetUsed: 0.5, rule: "beyond-range" });
  // L0 grids are integers.
  assert.deepEqual(conservativeBudget([1, 5, 10, 20], 12), { budget: 12, budgetUsed: 20, rule: "next-up" });
});

test("robustness is decided in float32, like the engine stores distances", () => {
  // 0.1 stored as float32 is 0.10000000149…: a sample beaten at exactly 0.1 counts as beaten at 0.1.
  const d = Float32Array.from([0.1, 0.2, Infinity, 0, Number.NaN]);
  assert.equal(isRobustAt(d[0]!, 0.1), false);
  assert.equal(robustCount(d, 0.1), 2);
  assert.equal(robustCount(d, 0), 3);
});

test("knowledge lattice order", () => {
  assert.deepEqual(strongerLevels("black-box"), ["transfer", "white-box"]);
  assert.deepEqual(strongerLevels("transfer"), ["white-box"]);
  assert.deepEqual(strongerLevels("white-box"), []);
  assert.deepEqual(weakerLevels("white-box"), ["transfer", "black-box"]);
});
