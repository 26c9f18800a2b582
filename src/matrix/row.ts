// The public row of the matrix: one evaluation (one variant under one norm and one attacker
// knowledge level) with its variant and model fields flattened. This is what `GET /v1/matrix`
// returns and what JSON Lines export / import use, one row per line.
//
// Field groups:
// - identity, LOCAL to the database that produced the row: `id` (evaluation), `variantId`,
//   `matrixVersion`. Importing assigns new ones; the content identity of a row is its model
//   (`modelId` = sha256 of the dense weights), `strategy`, `requestedRate`, `variantSeed`, `norm`,
//   `knowledge` and the measurement itself;
// - the model (`model…` fields, architecture, dataset, input shape, classes);
// - the variant (strategy, rates, measured parameter counts and sizes, clean accuracy on the whole
//   test split, fine-tuning, its own provenance);
// - the evaluation: budgets and the curve over them (robust count, n, accuracy and Wilson 95 %
//   interval per budget, computed from the distances), the exact evaluated samples and the
//   per-sample minimal adversarial distances (base64 of uint32 / float32 little-endian blobs;
//   0 = clean error, Infinity = never beaten), the attacks that ran with their parameters, the
//   engine's sanity report, and run provenance.
// Units: accuracies are fractions in [0, 1]; budgets are in the units of their norm.
import { z } from "zod";
import { ATTACK_FAILURE_INDICATORS, KNOWLEDGE_LEVELS, NORMS, STRATEGIES, type AttackFailureIndicator, type Knowledge, type Norm, type Strategy } from "../vocabulary.js";
import { estimateAt } from "../vocabulary.js";
import { BlobFormatError, blobToFloat32, blobToUint32, fromBase64, sha256Hex } from "./blobs.js";

export interface CurvePointRow {
  budget: number;
  /** Evaluated samples correct and unbeaten at this budget. */
  robust: number;
  n: number;
  accuracy: number;
  /** Wilson 95 % interval of `accuracy`. */
  low: number;
  high: number;
}

/** One attack that ran in an evaluation, as recorded (per-attack distances are not kept). */
export interface StoredAttack {
  name: string;
  kind: "fixed-budget" | "minimization";
  /** The knowledge level it ran at. */
  knowledge: Knowledge;
  access: "gradient" | "query";
  params: Record<string, number | string | boolean>;
  /** Budgets it ran at (fixed-budget attacks); empty for minimization attacks. */
  budgets: number[];
  /** Sample attacks run (summed over budgets). */
  attempted: number;
  /** Successful proposals (summed over budgets). */
  beaten: number;
  /** The unbounded sanity run. */
  sanity?: boolean;
}

/** A row's indicator report as stored: the engine's IndicatorReport, read loosely (later rules may add fields). */
export interface StoredIndicators {
  /** The indicators that make the row inadmissible. */
  failed: AttackFailureIndicator[];
  [field: string]: unknown;
}

export interface AccuracyRow {
  value: number;
  correct: number;
  n: number;
  low: number;
  high: number;
}

export interface MatrixRow {
  /** Evaluation id in the producing database. */
  id: number;
  matrixVersion: number;
  variantId: number;

  /** sha256 (hex) of the dense model's weights. */
  modelId: string;
  architecture: string;
  dataset: string;
  /** [H, W, C] */
  inputShape: number[];
  numClasses: number;
  modelSeed: number;
  /** The dense model's clean accuracy on the whole test split when it was written, if measured. */
  modelClean: { correct: number; n: number } | null;
  /** Where the TF.js model lives (relative to the database's folder or the repository), if kept. */
  modelDir: string | null;
  modelBackend: string;
  modelCodeVersion: string;
  modelCreatedAt: string;
  modelMetadata: Record<string, unknown>;

  strategy: Strategy;
  requestedRate: number;
  achievedRate: number;
  prunableParams: number;
  nonZeroPrunable: number;
  totalParams: number;
  nonZeroParams: number;
  sparseBytes: number;
  denseBytes: number;
  /**
   * Kernel and filter strategies: bytes of the dense model with the removable filters physically
   * dropped (src/engine/pruning/dropped.ts) — what a user deploys. Absent: unstructured, dense, or
   * not measured (rows from before it existed).
   */
  droppedBytes?: number;
  structured: boolean;
  /** sha256 of this variant's weights. */
  weightsSha256: string;
  /** The variant's clean accuracy on the whole test split. */
  cleanAccuracy: AccuracyRow;
  finetuneEpochs: number;
  /**
   * The variant's PRUNING seed: the seed of pruning's random choices (random masks, the batches
   * gradient strategies score on) and of fine-tuning. By default, and for the dense model, the
   * training seed — which is `seed` below — so a row without pruning-seed variation has
   * variantSeed = seed (src/matrix/grid.ts, "Pruning seeds").
   */
  variantSeed: number;
  /** `cumulative`: pruned from the previous rate's fine-tuned variant (src/matrix/grid.ts, "Schedules"); absent: one-shot. */
  schedule?: "cumulative";
  variantBackend: string;
  variantCodeVersion: string;
  /** When the variant was created (pruned and fine-tuned, or trained for dense). */
  createdAt: string;

  norm: Norm;
  knowledge: Knowledge;
  budgets: number[];
  curve: CurvePointRow[];
  /** Evaluated samples. */
  n: number;
  /** Evaluated samples classified correctly without attack. */
  cleanCorrect: number;
  datasetSplit: string;
  /** sha256 (hex) of the sample-indices blob: equal hashes = the same samples. */
  sampleHash: string;
  /** base64 of the uint32 little-endian sample indices. */
  sampleIndices: string;
  /** base64 of the float32 little-endian per-sample minimal adversarial distances. */
  distances: string;
  attacks: StoredAttack[];
  maskingSuspected: boolean;
  sanity: Record<string, unknown>;
  /**
   * The indicators of attack failure (src/engine/evaluation/indicators.ts); `failed` names those
   * that make the row inadmissible. Absent: measured before the indicators existed (not measured).
   */
  indicators?: StoredIndicators;
  /** The attacks' seed: the training seed of the grid cell that measured the row. */
  seed: number;
  batchSize: number | null;
  queryBudget: number | null;
  queries: number | null;
  surrogateSha256: string | null;
  backend: string;
  codeVersion: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
}

// ───────────────────────────── budgets and curves ─────────────────────────────

export function normLabel(norm: Norm): string {
  return norm === "l0" ? "L0" : norm === "l2" ? "L2" : "L∞";
}

/** Why `b` is not a valid ε for `norm`, or null. */
export function budgetProblem(norm: Norm, b: unknown): string | null {
  if (typeof b !== "number" || Number.isNaN(b)) return `budget must be a number, got ${JSON.stringify(b) ?? String(b)}`;
  if (!Number.isFinite(b)) return `budget ${b} is not finite`;
  if (b < 0) return `budget ${b} is negative`;
  if (norm === "l0" && !Number.isInteger(b)) return `L0 budget ${b} must be an integer (it counts changed input features)`;
  if (norm === "linf" && b > 1) return `L∞ budget ${b} exceeds 1 (inputs are scaled to [0, 1])`;
  return null;
}

/** Problems of a budget list: each budget valid for the norm, strictly ascending (so unique). */
export function budgetListProblems(norm: Norm, budgets: readonly unknown[]): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  budgets.forEach((b, i) => {
    const p = budgetProblem(norm, b);
    if (p) out.push({ index: i, message: p });
    else if (i > 0 && typeof budgets[i - 1] === "number" && (b as number) <= (budgets[i - 1] as number)) {
      const prev = budgets[i - 1] as number;
      out.push({ index: i, message: `${normLabel(norm)} budgets must be ascending and unique: ${b} ${b === prev ? "repeats" : "comes after"} ${prev}` });
    }
  });
  return out;
}

/** The curve over `budgets` from per-sample distances (robust at ε iff d > fround(ε), the engine's and the advisor's rule). */
export function curveFromDistances(distances: ArrayLike<number>, budgets: readonly number[]): CurvePointRow[] {
  return budgets.map((budget) => {
    const e = estimateAt(distances, budget);
    return { budget, robust: e.robust, n: e.n, accuracy: e.value, low: e.interval.low, high: e.interval.high };
  });
}

// ───────────────────────────── validation (import) ─────────────────────────────

export class RowValidationError extends Error {
  override name = "RowValidationError";
  constructor(
    /** Path of the offending field, e.g. "curve[2].robust"; "" for the row as a whole. */
    readonly field: string,
    message: string,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a sha256 (64 lowercase hex digits)");
const count = z.number().int().min(0);
const positive = z.number().int().min(1);
const text = z.string().min(1, "must not be empty");
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "expected a date-time (ISO 8601)");
const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (iss) => `unknown ${what} ${JSON.stringify(iss.input)} (known: ${values.join(", ")})` });
const jsonObject = z.record(z.string(), z.unknown());

const curvePointSchema = z.object({
  budget: z.number().min(0),
  robust: count,
  n: count,
  accuracy: z.number().min(0).max(1),
  low: z.number().min(0).max(1),
  high: z.number().min(0).max(1),
});

const attackSchema = z.object({
  name: text,
  kind: oneOf(["fixed-budget", "minimization"] as const, "attack kind"),
  knowledge: oneOf(KNOWLEDGE_LEVELS, "attacker knowledge"),
  access: oneOf(["gradient", "query"] as const, "attack access"),
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  budgets: z.array(z.number().min(0)),
  attempted: count,
  beaten: count,
  sanity: z.boolean().optional(),
});

export const matrixRowSchema = z.object({
  id: positive,
  matrixVersion: positive,
  variantId: positive,
  modelId: sha256,
  architecture: text,
  dataset: text,
  inputShape: z.array(positive).min(1),
  numClasses: z.number().int().min(2),
  modelSeed: z.number().int(),
  modelClean: z.object({ correct: count, n: positive }).nullable(),
  modelDir: text.nullable(),
  modelBackend: z.string(),
  modelCodeVersion: z.string(),
  modelCreatedAt: timestamp,
  modelMetadata: jsonObject,
  strategy: oneOf(STRATEGIES, "strategy"),
  requestedRate: z.number().min(1),
  achievedRate: z.number().min(1),
  prunableParams: positive,
  nonZeroPrunable: positive,
  totalParams: positive,
  nonZeroParams: positive,
  sparseBytes: positive,
  denseBytes: positive,
  droppedBytes: positive.optional(),
  structured: z.boolean(),
  weightsSha256: sha256,
  cleanAccuracy: z.object({ value: z.number().min(0).max(1), correct: count, n: positive, low: z.number().min(0).max(1), high: z.number().min(0).max(1) }),
  finetuneEpochs: count,
  variantSeed: z.number().int(),
  schedule: z.literal("cumulative").optional(),
  variantBackend: z.string(),
  variantCodeVersion: z.string(),
  createdAt: timestamp,
  norm: oneOf(NORMS, "norm"),
  knowledge: oneOf(KNOWLEDGE_LEVELS, "attacker knowledge"),
  budgets: z.array(z.number()),
  curve: z.array(curvePointSchema),
  n: positive,
  cleanCorrect: count,
  datasetSplit: text,
  sampleHash: sha256,
  sampleIndices: z.string(),
  distances: z.string(),
  attacks: z.array(attackSchema),
  maskingSuspected: z.boolean(),
  sanity: jsonObject,
  indicators: z.looseObject({ failed: z.array(oneOf(ATTACK_FAILURE_INDICATORS, "indicator of attack failure")) }).optional(),
  seed: z.number().int(),
  batchSize: positive.nullable(),
  queryBudget: positive.nullable(),
  queries: count.nullable(),
  surrogateSha256: sha256.nullable(),
  backend: z.string(),
  codeVersion: z.string(),
  startedAt: timestamp,
  finishedAt: timestamp,
  seconds: z.number().min(0),
});

// The schema and the interface must describe the same object.
type SchemaRow = z.output<typeof matrixRowSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _schemaMatchesRow: Same<SchemaRow, MatrixRow> = true;
void _schemaMatchesRow;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}

/** A validated row with its blobs decoded. */
export interface DecodedRow {
  row: MatrixRow;
  sampleIndices: number[];
  distances: Float32Array;
}

const SAME = 1e-9;

/**
 * Validates one row (shape with zod, then consistency: blob lengths, sample hash, budgets for the
 * norm, the curve recomputed from the distances, counts). Throws RowValidationError naming the field.
 */
export function parseMatrixRow(input: unknown): DecodedRow {
  const parsed = matrixRowSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RowValidationError(formatPath(issue.path), issue.message);
  }
  // The indicator report exactly as given (the schema only checked its `failed` list; zod would
  // move that key first and change the exported bytes).
  const given = (input as { indicators?: StoredIndicators }).indicators;
  const row: MatrixRow = given === undefined ? parsed.data : { ...parsed.data, indicators: given };
  const decode = <T>(field: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BlobFormatError) throw new RowValidationError(field, err.message);
      throw err;
    }
  };
  const indexBlob = decode("sampleIndices", () => fromBase64(row.sampleIndices));
  const sampleIndices = decode("sampleIndices", () => blobToUint32(indexBlob));
  const distances = decode("distances", () => blobToFloat32(fromBase64(row.distances)));
  if (sampleIndices.length !== row.n) throw new RowValidationError("sampleIndices", `holds ${sampleIndices.length} indices, n is ${row.n}`);
  if (distances.length !== row.n) throw new RowValidationError("distances", `holds ${distances.length} distances, n is ${row.n}`);
  if (sha256Hex(indexBlob) !== row.sampleHash) throw new RowValidationError("sampleHash", "does not match the sha256 of the sample indices");
  const bad = distances.findIndex((d) => Number.isNaN(d) || d < 0);
  if (bad >= 0) throw new RowValidationError("distances", `distance ${bad} is ${distances[bad]} (must be >= 0 or Infinity)`);
  const cleanErrors = distances.reduce((k, d) => (d === 0 ? k + 1 : k), 0);
  if (row.cleanCorrect !== row.n - cleanErrors) {
    throw new RowValidationError("cleanCorrect", `is ${row.cleanCorrect}, but ${row.n - cleanErrors} of ${row.n} distances are > 0`);
  }
  const budgetIssue = budgetListProblems(row.norm, row.budgets)[0];
  if (budgetIssue) throw new RowValidationError(`budgets[${budgetIssue.index}]`, budgetIssue.message);
  const expected = curveFromDistances(distances, row.budgets);
  if (row.curve.length !== expected.length) throw new RowValidationError("curve", `has ${row.curve.length} points for ${expected.length} budgets`);
  expected.forEach((e, i) => {
    const got = row.curve[i]!;
    for (const key of ["budget", "robust", "n", "accuracy", "low", "high"] as const) {
      if (Math.abs(got[key] - e[key]) > SAME) {
        throw new RowValidationError(`curve[${i}].${key}`, `is ${got[key]}, the distances give ${e[key]}`);
      }
    }
  });
  const ca = row.cleanAccuracy;
  if (ca.correct > ca.n) throw new RowValidationError("cleanAccuracy.correct", `${ca.correct} exceeds n = ${ca.n}`);
  if (Math.abs(ca.value - ca.correct / ca.n) > SAME) throw new RowValidationError("cleanAccuracy.value", `is ${ca.value}, correct / n is ${ca.correct / ca.n}`);
  if (row.modelClean && row.modelClean.correct > row.modelClean.n) throw new RowValidationError("modelClean.correct", `exceeds n = ${row.modelClean.n}`);
  if (row.strategy === "dense" && row.requestedRate !== 1) throw new RowValidationError("requestedRate", `must be 1 for the dense model, got ${row.requestedRate}`);
  if (row.nonZeroPrunable > row.prunableParams) throw new RowValidationError("nonZeroPrunable", `exceeds prunableParams (${row.prunableParams})`);
  if (row.prunableParams > row.totalParams) throw new RowValidationError("prunableParams", `exceeds totalParams (${row.totalParams})`);
  if (row.nonZeroParams > row.totalParams || row.nonZeroParams < row.nonZeroPrunable) {
    throw new RowValidationError("nonZeroParams", `must lie between nonZeroPrunable (${row.nonZeroPrunable}) and totalParams (${row.totalParams})`);
  }
  return { row, sampleIndices, distances };
}
