// Validation of the advisor's questions. The advisor may be called directly (CLI, tests, other
// code) with untyped JSON, so it checks everything itself and names the offending field; the
// HTTP layer turns AdvisorInputError into a 400 problem with that field.
import { AdvisorInputError } from "./errors.js";
import {
  DEFAULT_ADVERSARIAL_SHARE,
  KNOWLEDGE_LEVELS,
  NORMS,
  STRATEGY_NAMES,
  canonicalCandidateStrategy,
  type GateRequest,
  type GateThresholds,
  type Knowledge,
  type Norm,
  type Scenario,
  type SizeLimit,
  type Strategy,
} from "./types.js";

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Float32Array);
}

function show(v: unknown): string {
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "undefined";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function rejectUnknownKeys(obj: Obj, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new AdvisorInputError(`unknown field "${key}" (known: ${known.join(", ")})`, join(prefix, key));
    }
  }
}

function finiteNumber(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new AdvisorInputError(`${field} must be a finite number, got ${show(v)}`, field);
  return v;
}

function fraction(v: unknown, field: string, low = 0): number {
  const x = finiteNumber(v, field);
  if (x < low || x > 1) {
    throw new AdvisorInputError(`${field} is a fraction in [${low}, 1] (0.9 = 90 %), got ${show(v)}`, field);
  }
  return x;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim() === "") throw new AdvisorInputError(`${field} must be a non-empty string, got ${show(v)}`, field);
  return v;
}

export function parseNorm(v: unknown, field = "norm"): Norm {
  if (typeof v === "string" && (NORMS as readonly string[]).includes(v)) return v as Norm;
  throw new AdvisorInputError(`unknown norm ${show(v)} (known: ${NORMS.join(", ")})`, field);
}

export function parseKnowledge(v: unknown, field = "knowledge"): Knowledge {
  if (typeof v === "string" && (KNOWLEDGE_LEVELS as readonly string[]).includes(v)) return v as Knowledge;
  throw new AdvisorInputError(`unknown attacker knowledge ${show(v)} (known: ${KNOWLEDGE_LEVELS.join(", ")})`, field);
}

/** A candidate strategy's stored name, from a stored name or a `<granularity>/<rule>` alias. */
export function parseStrategy(v: unknown, field = "strategy"): Strategy {
  const canonical = canonicalCandidateStrategy(v);
  if (canonical !== undefined) return canonical;
  throw new AdvisorInputError(`unknown strategy ${show(v)} (known: ${STRATEGY_NAMES.join(", ")})`, field);
}

/** ε in the units of the norm: finite, >= 0, an integer for L0 (changed features), at most 1 for L∞ (inputs in [0, 1]). */
export function checkBudget(norm: Norm, v: unknown, field = "budget"): number {
  if (typeof v !== "number") throw new AdvisorInputError(`budget must be a number, got ${show(v)}`, field);
  if (Number.isNaN(v)) throw new AdvisorInputError("budget is NaN", field);
  if (!Number.isFinite(v)) throw new AdvisorInputError(`budget ${show(v)} is not finite`, field);
  if (v < 0) throw new AdvisorInputError(`budget ${show(v)} is negative`, field);
  if (norm === "l0" && !Number.isInteger(v)) {
    throw new AdvisorInputError(`an L0 budget counts changed input features and must be an integer, got ${show(v)}`, field);
  }
  if (norm === "linf" && v > 1) {
    throw new AdvisorInputError(`an L∞ budget is in pixel units of inputs scaled to [0, 1] and cannot exceed 1, got ${show(v)}`, field);
  }
  return v;
}

const SIZE_LIMIT_KEYS = ["maxParameters", "minCompression", "maxBytes", "structuredOnly"] as const;

/** An empty object is accepted and means "no size limit"; unknown keys are rejected (a typo must not silently lift a limit). */
export function validateSizeLimit(v: unknown, prefix = "sizeLimit"): SizeLimit {
  if (!isObject(v)) throw new AdvisorInputError(`${prefix} must be an object, got ${show(v)}`, prefix);
  rejectUnknownKeys(v, SIZE_LIMIT_KEYS, prefix);
  const out: SizeLimit = {};
  if (v.maxParameters !== undefined) {
    const field = join(prefix, "maxParameters");
    const x = finiteNumber(v.maxParameters, field);
    if (x <= 0) throw new AdvisorInputError(`${field} must be at least 1 non-zero parameter, got ${show(x)}`, field);
    if (!Number.isInteger(x)) throw new AdvisorInputError(`${field} counts parameters and must be an integer, got ${show(x)}`, field);
    out.maxParameters = x;
  }
  if (v.minCompression !== undefined) {
    const field = join(prefix, "minCompression");
    const x = finiteNumber(v.minCompression, field);
    if (x < 1) throw new AdvisorInputError(`${field} must be at least 1 (the dense model is 1×), got ${show(x)}`, field);
    out.minCompression = x;
  }
  if (v.maxBytes !== undefined) {
    const field = join(prefix, "maxBytes");
    const x = finiteNumber(v.maxBytes, field);
    if (x <= 0) throw new AdvisorInputError(`${field} must be positive, got ${show(x)}`, field);
    out.maxBytes = x;
  }
  if (v.structuredOnly !== undefined) {
    const field = join(prefix, "structuredOnly");
    if (typeof v.structuredOnly !== "boolean") throw new AdvisorInputError(`${field} must be a boolean, got ${show(v.structuredOnly)}`, field);
    out.structuredOnly = v.structuredOnly;
  }
  return out;
}

const SCENARIO_KEYS = ["norm", "budget", "knowledge", "sizeLimit", "minCleanAccuracy", "modelId", "architecture", "dataset", "allowUnsoundEvidence", "adversarialShare"] as const;

/** Validates a scenario (typed or raw JSON) and returns a normalised copy; throws AdvisorInputError naming the field. */
export function validateScenario(input: unknown, prefix = ""): Scenario {
  if (!isObject(input)) throw new AdvisorInputError(`the scenario must be an object, got ${show(input)}`, prefix || "scenario");
  rejectUnknownKeys(input, SCENARIO_KEYS, prefix);
  const norm = parseNorm(input.norm, join(prefix, "norm"));
  const knowledge = parseKnowledge(input.knowledge, join(prefix, "knowledge"));
  const budget = checkBudget(norm, input.budget, join(prefix, "budget"));
  const out: Scenario = { norm, budget, knowledge };
  if (input.sizeLimit !== undefined) out.sizeLimit = validateSizeLimit(input.sizeLimit, join(prefix, "sizeLimit"));
  if (input.minCleanAccuracy !== undefined) out.minCleanAccuracy = fraction(input.minCleanAccuracy, join(prefix, "minCleanAccuracy"));
  for (const key of ["modelId", "architecture", "dataset"] as const) {
    const s = optionalString(input[key], join(prefix, key));
    if (s !== undefined) out[key] = s;
  }
  if (input.allowUnsoundEvidence !== undefined) {
    const field = join(prefix, "allowUnsoundEvidence");
    if (typeof input.allowUnsoundEvidence !== "boolean") throw new AdvisorInputError(`${field} must be true or false, got ${show(input.allowUnsoundEvidence)}`, field);
    // false is the default: kept out, so the same question has one normal form.
    if (input.allowUnsoundEvidence) out.allowUnsoundEvidence = true;
  }
  if (input.adversarialShare !== undefined) {
    const field = join(prefix, "adversarialShare");
    const r = finiteNumber(input.adversarialShare, field);
    if (r < 0 || r > 1) throw new AdvisorInputError(`${field} is the share of adversarial inputs, a fraction in [0, 1] (0.3 = 30 %), got ${show(r)}`, field);
    // 1 is the default: kept out, so the same question has one normal form (and one answer).
    if (r !== DEFAULT_ADVERSARIAL_SHARE) out.adversarialShare = r;
  }
  return out;
}

const THRESHOLD_KEYS = ["minRobustAccuracy", "minAggregatedAccuracy", "maxDropVsDense"] as const;

/** At least one threshold is required: a gate that checks nothing would pass by accident (e.g. a misspelt key). */
export function validateThresholds(input: unknown, prefix = "thresholds"): GateThresholds {
  if (!isObject(input)) throw new AdvisorInputError(`${prefix} must be an object, got ${show(input)}`, prefix);
  rejectUnknownKeys(input, THRESHOLD_KEYS, prefix);
  const out: GateThresholds = {};
  if (input.minRobustAccuracy !== undefined) out.minRobustAccuracy = fraction(input.minRobustAccuracy, join(prefix, "minRobustAccuracy"));
  if (input.minAggregatedAccuracy !== undefined) out.minAggregatedAccuracy = fraction(input.minAggregatedAccuracy, join(prefix, "minAggregatedAccuracy"));
  if (input.maxDropVsDense !== undefined) {
    const field = join(prefix, "maxDropVsDense");
    const x = finiteNumber(input.maxDropVsDense, field);
    if (x < -1 || x > 1) {
      throw new AdvisorInputError(`${field} is a difference of accuracies as a fraction in [-1, 1] (0.02 = 2 percentage points), got ${show(x)}`, field);
    }
    out.maxDropVsDense = x;
  }
  if (out.minRobustAccuracy === undefined && out.minAggregatedAccuracy === undefined && out.maxDropVsDense === undefined) {
    throw new AdvisorInputError(`the gate needs at least one threshold (${THRESHOLD_KEYS.join(", ")})`, prefix);
  }
  return out;
}

/** Validates a whole gate request (candidate, scenario, thresholds). */
export function validateGateRequest(input: unknown): GateRequest {
  if (!isObject(input)) throw new AdvisorInputError(`the gate request must be an object, got ${show(input)}`, "request");
  rejectUnknownKeys(input, ["candidate", "scenario", "thresholds"], "");
  const c = input.candidate;
  if (!isObject(c)) throw new AdvisorInputError(`candidate must be an object {strategy, rate}, got ${show(c)}`, "candidate");
  rejectUnknownKeys(c, ["strategy", "rate", "schedule"], "candidate");
  const strategy = parseStrategy(c.strategy, "candidate.strategy");
  const rate = finiteNumber(c.rate, "candidate.rate");
  if (rate < 1) throw new AdvisorInputError(`candidate.rate is a compression rate and at least 1, got ${show(rate)}`, "candidate.rate");
  if (c.schedule !== undefined && c.schedule !== "one-shot" && c.schedule !== "cumulative") {
    throw new AdvisorInputError(`candidate.schedule is one-shot or cumulative, got ${show(c.schedule)}`, "candidate.schedule");
  }
  return {
    candidate: { strategy, rate, ...(c.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}) },
    scenario: validateScenario(input.scenario, "scenario"),
    thresholds: validateThresholds(input.thresholds, "thresholds"),
  };
}
