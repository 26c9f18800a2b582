// Input validation: every error is an AdvisorInputError naming its field (the HTTP layer turns it
// into a 400); unknown models are UnknownModelError; inconsistent matrices AdvisorDataError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { recommend } from "../../src/advisor/recommend.js";
import { validateScenario } from "../../src/advisor/validate.js";
import { AdvisorDataError, AdvisorInputError, UnknownModelError } from "../../src/advisor/errors.js";
import type { Scenario } from "../../src/advisor/types.js";
import { candidate, evaluation, mainMatrix, runs } from "./fixtures.js";

const base = { norm: "linf", budget: 0.1, knowledge: "white-box" };

function fieldOf(input: unknown): string | undefined {
  try {
    recommend(mainMatrix(), input as Scenario);
  } catch (e) {
    if (e instanceof AdvisorInputError) return e.field;
    throw e;
  }
  return undefined;
}

test("bad scenarios are rejected with the offending field", () => {
  const cases: [unknown, string][] = [
    [{ ...base, budget: -0.1 }, "budget"],
    [{ ...base, budget: Number.NaN }, "budget"],
    [{ ...base, budget: Number.POSITIVE_INFINITY }, "budget"],
    [{ ...base, budget: "0.1" }, "budget"],
    [{ ...base, budget: undefined }, "budget"],
    [{ ...base, norm: "l0", budget: 1.5 }, "budget"],
    [{ ...base, norm: "linf", budget: 1.5 }, "budget"],
    [{ ...base, norm: "l3" }, "norm"],
    [{ ...base, norm: "Linf" }, "norm"],
    [{ ...base, knowledge: "grey-box" }, "knowledge"],
    [{ ...base, sizeLimit: { maxParameters: 0 } }, "sizeLimit.maxParameters"],
    [{ ...base, sizeLimit: { maxParameters: -5 } }, "sizeLimit.maxParameters"],
    [{ ...base, sizeLimit: { maxParameters: 1000.5 } }, "sizeLimit.maxParameters"],
    [{ ...base, sizeLimit: { minCompression: 0.5 } }, "sizeLimit.minCompression"],
    [{ ...base, sizeLimit: { maxBytes: 0 } }, "sizeLimit.maxBytes"],
    [{ ...base, sizeLimit: { maxBytes: Number.NaN } }, "sizeLimit.maxBytes"],
    [{ ...base, sizeLimit: { structuredOnly: "yes" } }, "sizeLimit.structuredOnly"],
    [{ ...base, sizeLimit: { maxParams: 1000 } }, "sizeLimit.maxParams"],
    [{ ...base, sizeLimit: 5 }, "sizeLimit"],
    [{ ...base, minCleanAccuracy: 90 }, "minCleanAccuracy"],
    [{ ...base, minCleanAccuracy: -0.1 }, "minCleanAccuracy"],
    [{ ...base, modelId: "" }, "modelId"],
    [{ ...base, budgett: 0.1 }, "budgett"],
    [null, "scenario"],
  ];
  for (const [input, field] of cases) assert.equal(fieldOf(input), field, JSON.stringify(input));
});

test("valid edge cases are accepted: empty size limit, L0 integer budget, L∞ 1, budget 0", () => {
  assert.deepEqual(validateScenario({ ...base, sizeLimit: {} }), { norm: "linf", budget: 0.1, knowledge: "white-box", sizeLimit: {} });
  assert.equal(recommend(mainMatrix(), { ...base, sizeLimit: {} } as Scenario).status, "ok");
  assert.equal(validateScenario({ ...base, norm: "l0", budget: 12 }).budget, 12);
  assert.equal(validateScenario({ ...base, budget: 1 }).budget, 1);
  assert.equal(validateScenario({ ...base, budget: 0 }).budget, 0);
  assert.equal(validateScenario({ ...base, norm: "l2", budget: 3.5 }).budget, 3.5);
  // minCompression 1 and an explicit structuredOnly false are no-ops.
  assert.equal(recommend(mainMatrix(), { ...base, sizeLimit: { minCompression: 1, structuredOnly: false } } as Scenario).counts.feasible, 5);
});

test("unknown models and ambiguous selections", () => {
  assert.throws(
    () => recommend(mainMatrix(), { ...base, modelId: "resnet" } as Scenario),
    (e: unknown) => e instanceof UnknownModelError && e.field === "modelId" && e.available.length === 1 && /lenet5-fmnist/.test(e.message),
  );
  assert.throws(
    () => recommend(mainMatrix(), { ...base, dataset: "mnist" } as Scenario),
    (e: unknown) => e instanceof UnknownModelError && e.field === "dataset",
  );
  assert.throws(() => recommend({ version: 1, candidates: [] }, base as Scenario), UnknownModelError);
  const m = mainMatrix();
  m.candidates.push(candidate({ modelId: "lenet5-mnist", dataset: "mnist", strategy: "dense", rate: 1, nonZeroParams: 60000, evaluations: [] }));
  assert.throws(
    () => recommend(m, base as Scenario),
    (e: unknown) => e instanceof AdvisorInputError && e.field === "dataset",
  );
  assert.equal(recommend(m, { ...base, dataset: "fashion-mnist" } as Scenario).status, "ok");
});

test("an inconsistent matrix is an AdvisorDataError, not an input error", () => {
  const m = mainMatrix();
  m.candidates[0]!.evaluations.push(evaluation({ distances: runs([[Infinity, 3]]), sampleIndices: [1, 2], knowledge: "transfer" }));
  assert.throws(() => recommend(m, base as Scenario), AdvisorDataError);
  const m2 = mainMatrix();
  m2.candidates[0]!.clean = { correct: 11, n: 10 };
  assert.throws(() => recommend(m2, base as Scenario), AdvisorDataError);
});
