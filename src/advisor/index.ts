// The advisor: pure decision logic over a matrix snapshot (plain data). See types.ts for the
// contract (input and output types, units). Rules in one place:
// - candidates: every (strategy, rate) of the selected model(s) meeting every limit, dense included
//   (limits.ts); several models only if they share one data set (select.ts);
// - evidence: the evaluation at the scenario's knowledge level, else the nearest STRONGER measured
//   level with a warning; weaker levels are never used alone; weaker rows on the same samples are
//   merged per sample (lattice.ts);
// - budget: a grid budget as measured; between grid budgets the next one up; below the grid the
//   smallest; ε = 0 the clean accuracy of the evaluated samples; beyond the grid the distances at ε,
//   with a warning (curve.ts); float32 comparison d > fround(ε), as the engine stores distances;
// - score: lower Wilson 95 % bound; ties (1e-12) to fewer non-zero parameters, then fewer bytes;
//   with an adversarial share r below 1 the lower bound of (1 − r)·clean + r·robust (share.ts);
// - significance: McNemar exact when paired on the same samples, Fisher exact otherwise; α = 0.05.
export * from "./types.js";
export { AdvisorError, AdvisorInputError, AdvisorDataError, UnknownModelError, UnknownCandidateError, UnsoundEvidenceError, type ModelInfo } from "./errors.js";
export { recommend, type RecommendOptions } from "./recommend.js";
export { prepareSnapshot, evidenceCacheOf } from "./prepared.js";
export { gate, RATE_TOLERANCE } from "./gate.js";
export { validateScenario, validateSizeLimit, validateThresholds, validateGateRequest, checkBudget, parseNorm, parseKnowledge, parseStrategy } from "./validate.js";
export { ALPHA, mcnemarExact, fisherExact, alignSamples, compare } from "./paired.js";
export { conservativeBudget, measuredGrid, robustCount, isRobustAt, estimateAt, BUDGET_EQUALITY_TOLERANCE } from "./curve.js";
export { strongerLevels, weakerLevels } from "./lattice.js";
export { COMPRESSION_TOLERANCE, activeLimits, passesLimit } from "./limits.js";
export { FEW_SAMPLES, SCORE_TIE } from "./assess.js";
