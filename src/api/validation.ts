// zod schemas for every request body and query of the HTTP API. Each one is checked at compile
// time against the types openapi-typescript generates from openapi.yaml (both directions, see
// `Same` below), so the spec and the validation cannot drift apart silently. Unknown fields are
// rejected (a typo must not silently lift a limit). Semantic rules that depend on the norm (an
// integer L0 budget, L∞ at most 1) are the advisor's own validation (src/advisor/validate.ts),
// which names the field the same way.
import { z } from "zod";
import { KNOWLEDGE_LEVELS, NORMS, STRATEGY_NAMES, canonicalCandidateStrategy, type Strategy } from "../advisor/types.js";
import { JOB_STATES } from "../jobs/store.js";
import { SCHEDULES, refreshGridSchema } from "../matrix/grid.js";
import { formatPath } from "../matrix/row.js";
import { HttpProblem } from "./problem.js";
import type { components, operations } from "./schema.gen.js";

type Schemas = components["schemas"];

/** true iff A and B are mutually assignable. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (iss) => `unknown ${what} ${JSON.stringify(iss.input)} (known: ${values.join(", ")})` });

const finite = (what: string) =>
  z.number({ error: (iss) => `${what} must be a finite number, got ${iss.input === undefined ? "nothing" : JSON.stringify(iss.input) ?? String(iss.input)}` });
const text = z.string().min(1, "must not be empty");

export const normSchema = oneOf(NORMS, "norm");
export const knowledgeSchema = oneOf(KNOWLEDGE_LEVELS, "attacker knowledge");
/** A strategy name or alias (vocabulary.ts); consumers map it to the stored name (canonicalCandidateStrategy). */
export const strategySchema = oneOf(STRATEGY_NAMES, "strategy");

export const sizeLimitSchema = z
  .strictObject({
    maxParameters: finite("maxParameters").int("maxParameters counts parameters and must be an integer").min(1, "maxParameters must be at least 1").optional(),
    minCompression: finite("minCompression").min(1, "minCompression must be at least 1 (the dense model is 1×)").optional(),
    maxBytes: finite("maxBytes").gt(0, "maxBytes must be positive").optional(),
    structuredOnly: z.boolean().optional(),
  })
  .refine((l) => Object.keys(l).length > 0, "sizeLimit names no limit; omit it for no size limit");

const shareOutOfRange = (v: unknown): string => `adversarialShare is the share of adversarial inputs, a fraction in [0, 1] (0.3 = 30 %), got ${String(v)}`;

export const scenarioSchema = z.strictObject({
  norm: normSchema,
  budget: finite("budget").min(0, "budget must not be negative"),
  knowledge: knowledgeSchema,
  sizeLimit: sizeLimitSchema.optional(),
  minCleanAccuracy: finite("minCleanAccuracy").min(0).max(1, "minCleanAccuracy is a fraction in [0, 1]").optional(),
  modelId: text.optional(),
  architecture: text.optional(),
  dataset: text.optional(),
  allowUnsoundEvidence: z.boolean({ error: "allowUnsoundEvidence must be true or false" }).optional(),
  adversarialShare: finite("adversarialShare")
    .min(0, { error: (iss) => shareOutOfRange(iss.input) })
    .max(1, { error: (iss) => shareOutOfRange(iss.input) })
    .optional(),
});

export const gateThresholdsSchema = z
  .strictObject({
    minRobustAccuracy: finite("minRobustAccuracy").min(0).max(1, "minRobustAccuracy is a fraction in [0, 1]").optional(),
    minAggregatedAccuracy: finite("minAggregatedAccuracy").min(0, "minAggregatedAccuracy is a fraction in [0, 1]").max(1, "minAggregatedAccuracy is a fraction in [0, 1]").optional(),
    maxDropVsDense: finite("maxDropVsDense").min(-1).max(1, "maxDropVsDense is a fraction in [-1, 1] (0.02 = 2 points)").optional(),
  })
  .refine((t) => Object.keys(t).length > 0, "the gate needs at least one threshold (minRobustAccuracy, minAggregatedAccuracy, maxDropVsDense)");

export const gateRequestSchema = z.strictObject({
  candidate: z.strictObject({
    strategy: strategySchema,
    rate: finite("rate").min(1, "rate is a compression rate and at least 1"),
    schedule: oneOf(SCHEDULES, "schedule").optional(),
  }),
  scenario: scenarioSchema,
  thresholds: gateThresholdsSchema,
});

/**
 * POST /v1/models/{id}/refresh: the grid — "default" (the server's default grid) or a grid object,
 * validated by the grid files' own rules (src/matrix/grid.ts) — and `replace` (src/matrix/evidence.ts).
 * The type the API documents; requests are parsed by parseRefreshRequest, which reports a bad grid
 * object by its own field (`grid.strategies[1]`) rather than as a failed union.
 */
export const refreshRequestSchema = z.strictObject({
  grid: z.union([z.literal("default"), refreshGridSchema]),
  replace: z.boolean().optional(),
});

const refreshEnvelopeSchema = z.strictObject({ grid: z.unknown().optional(), replace: z.boolean({ error: "must be true or false" }).optional() });

/** A refresh request; `grid` undefined when the body names none (the caller answers with the choices). */
export function parseRefreshRequest(input: unknown): { grid: z.output<typeof refreshRequestSchema>["grid"] | undefined; replace: boolean } {
  const env = parseOr400(refreshEnvelopeSchema, input);
  const replace = env.replace ?? false;
  if (env.grid === undefined) return { grid: undefined, replace };
  if (typeof env.grid === "string") {
    if (env.grid === "default") return { grid: "default", replace };
    throw new HttpProblem(400, "Bad Request", `grid: unknown grid ${JSON.stringify(env.grid)}: send "default" (the server's default grid) or a grid object`, "grid");
  }
  return { grid: parseOr400(z.strictObject({ grid: refreshGridSchema }), { grid: env.grid }).grid, replace };
}

// ── queries: text in, typed values out ──

const intParam = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d{1,15}$/, `${name} must be an integer`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

const rateParam = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "rate must be a number >= 1")
  .transform(Number)
  .refine((n) => Number.isFinite(n) && n >= 1, "rate must be a number >= 1");

const filterShape = {
  model: text.optional(),
  dataset: text.optional(),
  architecture: text.optional(),
  norm: normSchema.optional(),
  knowledge: knowledgeSchema.optional(),
  schedule: oneOf(SCHEDULES, "schedule").optional(),
  version: intParam("version", 1).optional(),
};

export const matrixQuerySchema = z.strictObject({
  ...filterShape,
  strategy: strategySchema.optional(),
  rate: rateParam.optional(),
  limit: intParam("limit", 1, 1000).optional(),
  cursor: text.optional(),
});

export const jobsQuerySchema = z.strictObject({
  state: oneOf(JOB_STATES, "job state").optional(),
  model: text.optional(),
  limit: intParam("limit", 1, 200).optional(),
  before: intParam("before", 1).optional(),
});

export const MAX_CURVE_BUDGETS = 200;
export const MAX_CURVE_SHARES = 101;
/** The shares of `vs=share` without `shares`: 0, 0.1, …, 1 (i / 10, no float noise). */
export const DEFAULT_CURVE_SHARES: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

export const curvesQuerySchema = z.strictObject({
  ...filterShape,
  candidates: text.optional(),
  at: text.optional(),
  vs: oneOf(["budget", "share"] as const, "curve axis").optional(),
  shares: text.optional(),
});

/** `dense@1,global-magnitude@4` → pairs; throws HttpProblem naming `candidates`. */
export function parseCandidateList(s: string): { strategy: Strategy; rate: number }[] {
  return s.split(",").map((part) => {
    const m = /^\s*([a-z0-9/-]+)@(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw new HttpProblem(400, "Bad Request", `candidates: expected strategy@rate pairs separated by commas (e.g. dense@1,global-magnitude@4), got ${JSON.stringify(part)}`, "candidates");
    const strategy = strategySchema.safeParse(m[1]);
    if (!strategy.success) throw new HttpProblem(400, "Bad Request", `candidates: ${strategy.error.issues[0]!.message}`, "candidates");
    const rate = Number(m[2]);
    if (!(rate >= 1)) throw new HttpProblem(400, "Bad Request", `candidates: rate must be at least 1, got ${m[2]}`, "candidates");
    return { strategy: canonicalCandidateStrategy(strategy.data)!, rate };
  });
}

/** `0,0.05,0.1` → budgets; throws HttpProblem naming `at`. */
export function parseBudgetList(s: string): number[] {
  const parts = s.split(",");
  if (parts.length > MAX_CURVE_BUDGETS) throw new HttpProblem(400, "Bad Request", `at: at most ${MAX_CURVE_BUDGETS} budgets, got ${parts.length}`, "at");
  return parts.map((p) => {
    const t = p.trim();
    const n = /^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n)) throw new HttpProblem(400, "Bad Request", `at: budgets must be finite numbers >= 0, got ${JSON.stringify(p)}`, "at");
    return n;
  });
}

/** `0,0.5,1` → adversarial shares; throws HttpProblem naming `shares`. */
export function parseShareList(s: string): number[] {
  const parts = s.split(",");
  if (parts.length > MAX_CURVE_SHARES) throw new HttpProblem(400, "Bad Request", `shares: at most ${MAX_CURVE_SHARES} shares, got ${parts.length}`, "shares");
  return parts.map((p) => {
    const t = p.trim();
    const n = /^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t) ? Number(t) : NaN;
    if (!(n >= 0 && n <= 1)) throw new HttpProblem(400, "Bad Request", `shares: adversarial shares are fractions in [0, 1], got ${JSON.stringify(p)}`, "shares");
    return n;
  });
}

// ── compile-time agreement with the generated types (both directions) ──

const _scenario: Same<z.output<typeof scenarioSchema>, Schemas["Scenario"]> = true;
const _sizeLimit: Same<z.output<typeof sizeLimitSchema>, Schemas["SizeLimit"]> = true;
const _thresholds: Same<z.output<typeof gateThresholdsSchema>, Schemas["GateThresholds"]> = true;
const _gate: Same<z.output<typeof gateRequestSchema>, Schemas["GateRequest"]> = true;
type MatrixQuery = NonNullable<operations["listMatrixRows"]["parameters"]["query"]>;
type CurvesQuery = NonNullable<operations["getMatrixCurves"]["parameters"]["query"]>;
const _matrixQuery: Same<z.output<typeof matrixQuerySchema>, MatrixQuery> = true;
const _curvesQuery: Same<z.output<typeof curvesQuerySchema>, CurvesQuery> = true;
type JobsQuery = NonNullable<operations["listJobs"]["parameters"]["query"]>;
const _jobsQuery: Same<z.output<typeof jobsQuerySchema>, JobsQuery> = true;
// Request bodies arrive as JSON: the generated body types must be what the schemas accept.
type RecommendationBody = operations["createRecommendation"]["requestBody"]["content"]["application/json"];
type GateBody = operations["runGate"]["requestBody"]["content"]["application/json"];
const _recBody: Same<z.input<typeof scenarioSchema>, RecommendationBody> = true;
const _gateBody: Same<z.input<typeof gateRequestSchema>, GateBody> = true;
// The refresh body is a RefreshRequest (documented as optional: without one the answer is a 400 naming the choices).
type RefreshBody = NonNullable<operations["refreshModel"]["requestBody"]>["content"]["application/json"];
const _refreshBody: Same<z.input<typeof refreshRequestSchema>, RefreshBody> = true;
const _refreshGrid: Same<z.input<typeof refreshGridSchema>, Schemas["RefreshGrid"]> = true;
void [_scenario, _sizeLimit, _thresholds, _gate, _matrixQuery, _curvesQuery, _jobsQuery, _recBody, _gateBody, _refreshBody, _refreshGrid];

/** The offending field of a zod error: its path, plus the key for an unknown field. */
export function fieldOf(issue: z.core.$ZodIssue, prefix = ""): string {
  let path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys" && issue.keys.length > 0) path = path ? `${path}.${issue.keys[0]}` : issue.keys[0]!;
  if (prefix) return path ? `${prefix}.${path}` : prefix;
  return path;
}

/** Parses `input` or throws a 400 HttpProblem naming the offending field. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, whole = "body"): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = fieldOf(issue) || whole;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") message = `unknown field "${issue.keys[0]}"`;
  else if (issue.code === "invalid_type" && issue.input === undefined) message = `${field} is required`;
  throw new HttpProblem(400, "Bad Request", `${field}: ${message}`, field);
}
