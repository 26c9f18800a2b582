// What the store gives out (versions, models, rows, pages, curves) and the SQL behind its reads:
// the joined row → MatrixRow mapping, row filters and the opaque paging cursor.
import type { CleanCount, Knowledge, Norm, Strategy } from "../vocabulary.js";
import { KNOWLEDGE_LEVELS, NORMS, STRATEGIES, STRATEGY_NAMES } from "../vocabulary.js";
import { aggregateAccuracy, estimate } from "../vocabulary.js";
import type { SqlValue } from "./sqlite.js";
import { canonicalJson, sha256Hex, toBase64 } from "./blobs.js";
import type { CurvePointRow, MatrixRow, StoredAttack, StoredIndicators } from "./row.js";
import { MatrixInputError, check, isInt } from "./errors.js";
import { SCHEDULES, type Schedule } from "./grid.js";

export interface VersionInfo {
  id: number;
  description: string;
  codeVersion: string;
  createdAt: string;
  publishedAt: string | null;
  /** Position in publication order (1, 2, …); null while unpublished. */
  publishedSeq: number | null;
  /** Evaluations written under this version (not the size of its snapshot). */
  evaluations: number;
}

/** What every reader of the models table reports of a model (listModels here, findModel in src/models). */
export interface ModelFields {
  architecture: string;
  dataset: string;
  inputShape: number[];
  numClasses: number;
  seed: number;
  clean: CleanCount | null;
  createdAt: string;
  /** Relative to the database's folder (or absolute); null if the files are not kept. */
  modelDir: string | null;
}

/** The models-table columns behind ModelFields, as SQLite returns them. */
export interface ModelFieldsRow {
  architecture: string;
  dataset: string;
  input_shape: string;
  num_classes: number;
  seed: number;
  clean_correct: number | null;
  clean_n: number | null;
  created_at: string;
  model_dir: string | null;
}

export function modelFields(r: ModelFieldsRow): ModelFields {
  return {
    architecture: r.architecture,
    dataset: r.dataset,
    inputShape: JSON.parse(r.input_shape) as number[],
    numClasses: r.num_classes,
    seed: r.seed,
    clean: r.clean_correct === null || r.clean_n === null ? null : { correct: r.clean_correct, n: r.clean_n },
    createdAt: r.created_at,
    modelDir: r.model_dir,
  };
}

export interface ModelSummary extends ModelFields {
  modelId: string;
  backend: string;
  codeVersion: string;
  /** In the snapshot of the version asked for. */
  variants: number;
  evaluations: number;
}

export interface RowFilter {
  modelId?: string;
  dataset?: string;
  architecture?: string;
  strategy?: Strategy;
  /** Requested compression rate (1 = dense). */
  rate?: number;
  norm?: Norm;
  knowledge?: Knowledge;
  /** How the variant's rate was reached: one-shot (from the dense model; the dense model's own rows too) or cumulative. */
  schedule?: Schedule;
  /** A published version; default the latest published. */
  version?: number;
}

export interface Page {
  /** 1…1000, default 100. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface RowPage {
  version: number;
  rows: MatrixRow[];
  /** null on the last page. */
  nextCursor: string | null;
}

export interface CurvePlotPoint extends CurvePointRow {
  /** `grid`: measured at a grid budget; `distances`: from the per-sample distances between/beyond grid budgets (optimistic there: fixed-budget attacks only ran at the grid). */
  kind: "grid" | "distances";
}

/** Aggregated accuracy (1 − r)·clean + r·robust at one adversarial share r (vocabulary.ts, aggregateAccuracy). */
export interface SharePoint {
  share: number;
  accuracy: number;
  low: number;
  high: number;
}

/** The aggregate of one row at each share, from its clean accuracy and its robust point at one budget. */
export function sharePoints(clean: { value: number; low: number; high: number }, robust: { accuracy: number; low: number; high: number }, shares: readonly number[]): SharePoint[] {
  return shares.map((share) => {
    const a = aggregateAccuracy({ value: clean.value, interval: { low: clean.low, high: clean.high } }, { value: robust.accuracy, interval: { low: robust.low, high: robust.high } }, share);
    return { share, accuracy: a.value, low: a.interval.low, high: a.interval.high };
  });
}

export interface CurvePlot {
  evaluationId: number;
  modelId: string;
  architecture: string;
  dataset: string;
  strategy: Strategy;
  rate: number;
  /** The variant's pruning seed: a variant measured with several seeds has one curve per seed. */
  pruningSeed: number;
  /** "cumulative" for a variant of the cumulative schedule (absent: one-shot), as in rows and answers. */
  schedule?: "cumulative";
  achievedRate: number;
  nonZeroParams: number;
  sparseBytes: number;
  norm: Norm;
  knowledge: Knowledge;
  maskingSuspected: boolean;
  cleanAccuracy: number;
  points: CurvePlotPoint[];
  /** With `shares` only: the aggregate at the one budget of `points`, per share. */
  aggregated?: SharePoint[];
}

// ───────────────── internals (for store.ts, not re-exported) ─────────────────

export interface VersionRow {
  id: number;
  description: string;
  code_version: string;
  created_at: string;
  published_at: string | null;
  published_seq: number | null;
  evaluations: number;
}

export interface JoinedRow {
  e_id: number;
  e_version: number;
  e_norm: string;
  e_knowledge: string;
  e_budgets: string;
  e_split: string;
  e_indices: Buffer;
  e_count: number;
  e_sample_hash: string;
  e_clean_correct: number;
  e_attacks: string;
  e_robust: string;
  e_distances: Buffer;
  e_masking: number;
  e_sanity: string;
  e_indicators: string | null;
  e_seed: number;
  e_batch_size: number | null;
  e_query_budget: number | null;
  e_queries: number | null;
  e_surrogate: string | null;
  e_backend: string;
  e_code_version: string;
  e_started_at: string;
  e_finished_at: string;
  e_seconds: number;
  v_id: number;
  v_strategy: string;
  v_requested_rate: number;
  v_achieved_rate: number;
  v_prunable: number;
  v_nonzero_prunable: number;
  v_total: number;
  v_nonzero: number;
  v_sparse_bytes: number;
  v_dense_bytes: number;
  v_dropped_bytes: number | null;
  v_schedule: string;
  v_structured: number;
  v_weights_sha256: string;
  v_clean_correct: number;
  v_clean_n: number;
  v_finetune_epochs: number;
  v_seed: number;
  v_backend: string;
  v_code_version: string;
  v_created_at: string;
  m_id: string;
  m_architecture: string;
  m_dataset: string;
  m_input_shape: string;
  m_num_classes: number;
  m_seed: number;
  m_clean_correct: number | null;
  m_clean_n: number | null;
  m_backend: string;
  m_code_version: string;
  m_created_at: string;
  m_model_dir: string | null;
  m_metadata: string;
}

export const SELECT_JOINED = `SELECT
  e.id AS e_id, e.matrix_version AS e_version, e.norm AS e_norm, e.knowledge AS e_knowledge, e.budgets AS e_budgets,
  e.dataset_split AS e_split, e.sample_indices AS e_indices, e.sample_count AS e_count, e.sample_hash AS e_sample_hash,
  e.clean_correct AS e_clean_correct, e.attacks AS e_attacks, e.robust AS e_robust, e.distances AS e_distances,
  e.masking_suspected AS e_masking, e.sanity AS e_sanity, e.indicators AS e_indicators, e.seed AS e_seed, e.batch_size AS e_batch_size,
  e.query_budget AS e_query_budget, e.queries AS e_queries, e.surrogate_sha256 AS e_surrogate, e.backend AS e_backend,
  e.code_version AS e_code_version, e.started_at AS e_started_at, e.finished_at AS e_finished_at, e.seconds AS e_seconds,
  va.id AS v_id, va.strategy AS v_strategy, va.requested_rate AS v_requested_rate, va.achieved_rate AS v_achieved_rate,
  va.prunable_params AS v_prunable, va.nonzero_prunable AS v_nonzero_prunable, va.total_params AS v_total,
  va.nonzero_params AS v_nonzero, va.sparse_bytes AS v_sparse_bytes, va.dense_bytes AS v_dense_bytes,
  va.dropped_bytes AS v_dropped_bytes, va.schedule AS v_schedule, va.structured AS v_structured, va.weights_sha256 AS v_weights_sha256, va.clean_correct AS v_clean_correct,
  va.clean_n AS v_clean_n, va.finetune_epochs AS v_finetune_epochs, va.seed AS v_seed, va.backend AS v_backend,
  va.code_version AS v_code_version, va.created_at AS v_created_at,
  m.id AS m_id, m.architecture AS m_architecture, m.dataset AS m_dataset, m.input_shape AS m_input_shape,
  m.num_classes AS m_num_classes, m.seed AS m_seed, m.clean_correct AS m_clean_correct, m.clean_n AS m_clean_n,
  m.backend AS m_backend, m.code_version AS m_code_version, m.created_at AS m_created_at, m.model_dir AS m_model_dir,
  m.metadata AS m_metadata`;

/**
 * Rows of the snapshot of the version with publication position `?` (the first parameter): per
 * (variant, norm, knowledge), the row of the latest version published no later than it — rows a
 * refresh published but WITHHELD (`withheld_for`: an earlier row had more samples or stronger
 * attack settings, src/matrix/evidence.ts) do not count: the earlier row stays current.
 */
export const FROM_SNAPSHOT = `FROM evaluations e
  JOIN matrix_versions mv ON mv.id = e.matrix_version
  JOIN variants va ON va.id = e.variant_id
  JOIN models m ON m.id = va.model_id
  WHERE mv.published_seq IS NOT NULL AND mv.published_seq <= ?1 AND e.withheld_for IS NULL
    AND NOT EXISTS (
      SELECT 1 FROM evaluations e2 JOIN matrix_versions mv2 ON mv2.id = e2.matrix_version
      WHERE e2.variant_id = e.variant_id AND e2.norm = e.norm AND e2.knowledge = e.knowledge AND e2.withheld_for IS NULL
        AND mv2.published_seq > mv.published_seq AND mv2.published_seq <= ?1)`;

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
export const SHA256 = /^[0-9a-f]{64}$/;

export function versionInfo(r: VersionRow): VersionInfo {
  return {
    id: r.id,
    description: r.description,
    codeVersion: r.code_version,
    createdAt: r.created_at,
    publishedAt: r.published_at,
    publishedSeq: r.published_seq,
    evaluations: r.evaluations,
  };
}

export function rowFromJoined(r: JoinedRow): MatrixRow {
  const ca = estimate(r.v_clean_correct, r.v_clean_n).interval;
  return {
    id: r.e_id,
    matrixVersion: r.e_version,
    variantId: r.v_id,
    modelId: r.m_id,
    architecture: r.m_architecture,
    dataset: r.m_dataset,
    inputShape: JSON.parse(r.m_input_shape) as number[],
    numClasses: r.m_num_classes,
    modelSeed: r.m_seed,
    modelClean: r.m_clean_correct === null || r.m_clean_n === null ? null : { correct: r.m_clean_correct, n: r.m_clean_n },
    modelDir: r.m_model_dir,
    modelBackend: r.m_backend,
    modelCodeVersion: r.m_code_version,
    modelCreatedAt: r.m_created_at,
    modelMetadata: JSON.parse(r.m_metadata) as Record<string, unknown>,
    strategy: r.v_strategy as Strategy,
    requestedRate: r.v_requested_rate,
    achievedRate: r.v_achieved_rate,
    prunableParams: r.v_prunable,
    nonZeroPrunable: r.v_nonzero_prunable,
    totalParams: r.v_total,
    nonZeroParams: r.v_nonzero,
    sparseBytes: r.v_sparse_bytes,
    denseBytes: r.v_dense_bytes,
    ...(r.v_dropped_bytes === null ? {} : { droppedBytes: r.v_dropped_bytes }),
    structured: r.v_structured === 1,
    weightsSha256: r.v_weights_sha256,
    cleanAccuracy: { value: r.v_clean_correct / r.v_clean_n, correct: r.v_clean_correct, n: r.v_clean_n, low: ca.low, high: ca.high },
    finetuneEpochs: r.v_finetune_epochs,
    variantSeed: r.v_seed,
    ...(r.v_schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
    variantBackend: r.v_backend,
    variantCodeVersion: r.v_code_version,
    createdAt: r.v_created_at,
    norm: r.e_norm as Norm,
    knowledge: r.e_knowledge as Knowledge,
    budgets: JSON.parse(r.e_budgets) as number[],
    curve: JSON.parse(r.e_robust) as CurvePointRow[],
    n: r.e_count,
    cleanCorrect: r.e_clean_correct,
    datasetSplit: r.e_split,
    sampleHash: r.e_sample_hash,
    sampleIndices: toBase64(r.e_indices),
    distances: toBase64(r.e_distances),
    attacks: JSON.parse(r.e_attacks) as StoredAttack[],
    maskingSuspected: r.e_masking === 1,
    sanity: JSON.parse(r.e_sanity) as Record<string, unknown>,
    // Absent for rows measured before the indicators existed ("not measured"), so they export as they were.
    ...(r.e_indicators === null ? {} : { indicators: JSON.parse(r.e_indicators) as StoredIndicators }),
    seed: r.e_seed,
    batchSize: r.e_batch_size,
    queryBudget: r.e_query_budget,
    queries: r.e_queries,
    surrogateSha256: r.e_surrogate,
    backend: r.e_backend,
    codeVersion: r.e_code_version,
    startedAt: r.e_started_at,
    finishedAt: r.e_finished_at,
    seconds: r.e_seconds,
  };
}

/** The filter part of the WHERE clause (after FROM_SNAPSHOT) and its parameters (numbered from ?2). */
export function filterSql(f: RowFilter): { sql: string; params: SqlValue[] } {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  const add = (column: string, value: SqlValue): void => {
    params.push(value);
    clauses.push(`${column} = ?${params.length + 1}`);
  };
  if (f.modelId !== undefined) add("m.id", f.modelId);
  if (f.dataset !== undefined) add("m.dataset", f.dataset);
  if (f.architecture !== undefined) add("m.architecture", f.architecture);
  if (f.strategy !== undefined) add("va.strategy", f.strategy);
  if (f.rate !== undefined) add("va.requested_rate", f.rate);
  if (f.norm !== undefined) add("e.norm", f.norm);
  if (f.knowledge !== undefined) add("e.knowledge", f.knowledge);
  if (f.schedule !== undefined) add("va.schedule", f.schedule);
  return { sql: clauses.map((c) => ` AND ${c}`).join(""), params };
}

export function validateFilter(f: RowFilter): void {
  check(typeof f === "object" && f !== null, "the filter must be an object");
  for (const key of ["modelId", "dataset", "architecture"] as const) {
    const v = f[key];
    check(v === undefined || (typeof v === "string" && v !== ""), `filter ${key} must be a non-empty string`);
  }
  check(f.strategy === undefined || (STRATEGIES as readonly string[]).includes(f.strategy), `unknown strategy "${String(f.strategy)}" (known: ${STRATEGY_NAMES.join(", ")})`);
  check(f.norm === undefined || (NORMS as readonly string[]).includes(f.norm), `unknown norm "${String(f.norm)}" (known: ${NORMS.join(", ")})`);
  check(
    f.knowledge === undefined || (KNOWLEDGE_LEVELS as readonly string[]).includes(f.knowledge),
    `unknown attacker knowledge "${String(f.knowledge)}" (known: ${KNOWLEDGE_LEVELS.join(", ")})`,
  );
  check(f.rate === undefined || (typeof f.rate === "number" && Number.isFinite(f.rate) && f.rate >= 1), `filter rate must be a number >= 1, got ${String(f.rate)}`);
  check(f.schedule === undefined || (SCHEDULES as readonly string[]).includes(f.schedule), `unknown schedule "${String(f.schedule)}" (known: ${SCHEDULES.join(", ")})`);
  check(f.version === undefined || isInt(f.version, 1), `filter version must be a positive integer, got ${String(f.version)}`);
}

export function filterKey(f: RowFilter): string {
  const { version: _version, ...rest } = f;
  return sha256Hex(canonicalJson(rest)).slice(0, 16);
}

export interface CursorState {
  v: number;
  after: number;
  f: string;
}

export function encodeCursor(c: CursorState): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

export function decodeCursor(text: string): CursorState {
  try {
    const c = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Partial<CursorState>;
    if (isInt(c.v, 1) && isInt(c.after, 0) && typeof c.f === "string") return { v: c.v, after: c.after, f: c.f };
  } catch {
    // fall through
  }
  throw new MatrixInputError("invalid cursor (pass the nextCursor of the previous page unchanged)");
}
