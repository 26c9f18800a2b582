// The robustness matrix in SQLite (schema: db/migrations/002_matrix.sql). Writes go under an
// UNPUBLISHED matrix version and become visible when it is published (one UPDATE); every read
// resolves a PUBLISHED version and never returns anything else.
//
// Version semantics. The snapshot of a published version v holds, per (variant, norm, knowledge),
// the row of the most recently published version that was published no later than v (versions
// are ordered by publication, `published_seq`; normally that is creation order). So a refresh
// only needs to write the cells it re-measured, and a published snapshot never changes: published
// versions are immutable (triggers in the schema), later publications only ever add later versions.
//
// Idempotency. upsertModel / upsertVariant return the existing row when its natural key exists
// (and refuse conflicting identity fields); insertEvaluation is a no-op returning the existing id
// when (variant, norm, knowledge, version) is already there.
//
// Concurrency: one MatrixStore = one SQLite connection. Writes through one store are serialised
// by a small mutex; `transaction()` runs its callback with exclusive use of the connection. Other
// processes are kept apart by SQLite's own locking (BEGIN IMMEDIATE, busy timeout).
import type { CleanCount, Evaluation, Candidate, Knowledge, MatrixSnapshot, Norm, Strategy } from "../advisor/types.js";
import { KNOWLEDGE_LEVELS, NORMS, STRATEGIES } from "../advisor/types.js";
import { estimate } from "../advisor/curve.js";
import type { ModelMetadata } from "../engine/model-io.js";
import type { SparsityReport } from "../engine/pruning/accounting.js";
import type { RobustnessResult } from "../engine/evaluation/robustness.js";
import { migrationsDir as defaultMigrationsDir, packageVersion } from "../paths.js";
import { migrate } from "./migrations.js";
import { Database, type SqlValue } from "./sqlite.js";
import { blobToFloat32, blobToUint32, canonicalJson, float32ToBlob, sha256Hex, toBase64, uint32ToBlob } from "./blobs.js";
import { budgetListProblems, curveFromDistances, type CurvePointRow, type MatrixRow, type StoredAttack } from "./row.js";
import { Mutex } from "./mutex.js";

// ───────────────────────────── errors ─────────────────────────────

export class MatrixError extends Error {
  override name = "MatrixError";
}
/** A version that does not exist, is not published (for reads) or is published (for writes). */
export class MatrixVersionError extends MatrixError {
  override name = "MatrixVersionError";
}
/** Data that contradicts what the matrix already holds (same key, different identity). */
export class MatrixConflictError extends MatrixError {
  override name = "MatrixConflictError";
}
/** Invalid input to a store method (bad filter, cursor, evaluation data…). */
export class MatrixInputError extends MatrixError {
  override name = "MatrixInputError";
}

// ───────────────────────────── inputs ─────────────────────────────

export interface ModelInput {
  /** sha256 (hex) of the dense model's weights. */
  id: string;
  architecture: string;
  dataset: string;
  inputShape: number[];
  numClasses: number;
  seed: number;
  /** Clean accuracy on the whole test split when the model was written, if measured. */
  clean: CleanCount | null;
  backend: string;
  codeVersion: string;
  createdAt: string;
  /** Relative to the database's folder or the repository. */
  modelDir?: string | null;
  metadata?: Record<string, unknown>;
}

export interface VariantInput {
  modelId: string;
  strategy: Strategy;
  requestedRate: number;
  achievedRate: number;
  prunableParams: number;
  nonZeroPrunable: number;
  totalParams: number;
  nonZeroParams: number;
  sparseBytes: number;
  denseBytes: number;
  structured: boolean;
  weightsSha256: string;
  /** Clean accuracy of the variant on the whole test split. */
  clean: CleanCount;
  finetuneEpochs: number;
  seed: number;
  backend: string;
  codeVersion: string;
  createdAt: string;
}

export interface EvaluationInput {
  variantId: number;
  matrixVersion: number;
  norm: Norm;
  knowledge: Knowledge;
  /** Grid budgets, ascending and unique, valid for the norm. */
  budgets: number[];
  /** Split of the model's data set the sample indices point into (default "test"). */
  datasetSplit?: string;
  sampleIndices: ArrayLike<number>;
  /** Per-sample minimal adversarial distance (0 = clean error, Infinity = never beaten). */
  distances: Float32Array;
  /** Evaluated samples correct without attack; must equal the number of distances > 0. */
  cleanCorrect: number;
  attacks: StoredAttack[];
  maskingSuspected: boolean;
  sanity?: Record<string, unknown>;
  seed: number;
  batchSize?: number | null;
  queryBudget?: number | null;
  queries?: number | null;
  surrogateSha256?: string | null;
  backend: string;
  codeVersion: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
}

/** A model row from the engine's metadata.json (the dense model). */
export function modelInputFromMetadata(meta: ModelMetadata, modelDir?: string | null): ModelInput {
  const clean = meta.cleanAccuracy !== undefined && meta.testCount !== undefined ? { correct: Math.round(meta.cleanAccuracy * meta.testCount), n: meta.testCount } : null;
  return {
    id: meta.weightsSha256,
    architecture: meta.architecture,
    dataset: meta.dataset,
    inputShape: [...meta.inputShape],
    numClasses: meta.numClasses,
    seed: meta.seed,
    clean,
    backend: meta.backend,
    codeVersion: meta.codeVersion,
    createdAt: meta.createdAt,
    modelDir: modelDir ?? null,
    metadata: JSON.parse(JSON.stringify(meta)) as Record<string, unknown>,
  };
}

/** A variant row from the engine's measurements of a pruned (or the dense) model. */
export function variantInputFrom(o: {
  modelId: string;
  strategy: Strategy;
  requestedRate: number;
  sparsity: SparsityReport;
  structured: boolean;
  weightsSha256: string;
  clean: CleanCount;
  finetuneEpochs: number;
  seed: number;
  backend: string;
  codeVersion?: string;
  createdAt?: string;
}): VariantInput {
  const s = o.sparsity;
  return {
    modelId: o.modelId,
    strategy: o.strategy,
    requestedRate: o.requestedRate,
    achievedRate: s.compression,
    prunableParams: s.prunableParams,
    nonZeroPrunable: s.nonZeroPrunable,
    totalParams: s.totalParams,
    nonZeroParams: s.nonZeroParams,
    sparseBytes: s.sparseBytes,
    denseBytes: s.denseBytes,
    structured: o.structured,
    weightsSha256: o.weightsSha256,
    clean: o.clean,
    finetuneEpochs: o.finetuneEpochs,
    seed: o.seed,
    backend: o.backend,
    codeVersion: o.codeVersion ?? packageVersion(),
    createdAt: o.createdAt ?? new Date().toISOString(),
  };
}

/** An evaluation row from what evaluateRobustness returned (one norm, one knowledge level). */
export function evaluationInputFromResult(
  result: RobustnessResult,
  ctx: { variantId: number; matrixVersion: number; datasetSplit?: string; codeVersion?: string; finishedAt?: string; startedAt?: string },
): EvaluationInput {
  const finishedAt = ctx.finishedAt ?? new Date().toISOString();
  const startedAt = ctx.startedAt ?? new Date(Date.parse(finishedAt) - Math.round(result.seconds * 1000)).toISOString();
  return {
    variantId: ctx.variantId,
    matrixVersion: ctx.matrixVersion,
    norm: result.norm,
    knowledge: result.knowledge,
    budgets: [...result.budgets],
    datasetSplit: ctx.datasetSplit ?? "test",
    sampleIndices: result.sampleIndices,
    distances: result.distances,
    cleanCorrect: result.cleanCorrect,
    attacks: result.perAttack.map((a) => ({
      name: a.name,
      kind: a.kind,
      knowledge: a.knowledge,
      access: a.access,
      params: { ...a.params },
      budgets: [...a.budgets],
      attempted: a.attempted,
      beaten: a.beaten,
      ...(a.sanity ? { sanity: true } : {}),
    })),
    maskingSuspected: result.sanity.masking.flagged,
    sanity: JSON.parse(JSON.stringify(result.sanity)) as Record<string, unknown>,
    seed: result.seed,
    batchSize: result.batchSize,
    queryBudget: result.queryBudget,
    queries: result.queries,
    surrogateSha256: result.transfer?.surrogateSha256 ?? null,
    backend: result.backend.label,
    codeVersion: ctx.codeVersion ?? packageVersion(),
    startedAt,
    finishedAt,
    seconds: result.seconds,
  };
}

/** One attack record with its keys in the canonical order (stored JSON is the same however the caller ordered them). */
function normalizeAttack(a: StoredAttack): StoredAttack {
  return {
    name: a.name,
    kind: a.kind,
    knowledge: a.knowledge,
    access: a.access,
    params: { ...a.params },
    budgets: [...a.budgets],
    attempted: a.attempted,
    beaten: a.beaten,
    ...(a.sanity === undefined ? {} : { sanity: a.sanity }),
  };
}

/** The natural key of a variant plus its weights: what makes an evaluation's content comparable across databases. */
export interface VariantIdentity {
  modelId: string;
  strategy: string;
  requestedRate: number;
  seed: number;
  weightsSha256: string;
}

/**
 * sha256 over everything an evaluation measured and its provenance (not its local ids or
 * version): the same measurement imported twice, or into another database, has the same hash.
 */
export function evaluationContentHash(
  variant: VariantIdentity,
  e: Omit<EvaluationInput, "variantId" | "matrixVersion" | "sampleIndices" | "distances">,
  blobs: { sampleHash: string; distancesSha256: string },
): string {
  return sha256Hex(
    canonicalJson([
      variant.modelId,
      variant.strategy,
      variant.requestedRate,
      variant.seed,
      variant.weightsSha256,
      e.norm,
      e.knowledge,
      e.budgets,
      e.datasetSplit ?? "test",
      blobs.sampleHash,
      blobs.distancesSha256,
      e.cleanCorrect,
      e.attacks.map(normalizeAttack),
      e.maskingSuspected,
      e.sanity ?? {},
      e.seed,
      e.batchSize ?? null,
      e.queryBudget ?? null,
      e.queries ?? null,
      e.surrogateSha256 ?? null,
      e.backend,
      e.codeVersion,
      e.startedAt,
      e.finishedAt,
      e.seconds,
    ]),
  );
}

// ───────────────────────────── outputs ─────────────────────────────

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

export interface CurvePlot {
  evaluationId: number;
  modelId: string;
  architecture: string;
  dataset: string;
  strategy: Strategy;
  rate: number;
  achievedRate: number;
  nonZeroParams: number;
  sparseBytes: number;
  norm: Norm;
  knowledge: Knowledge;
  maskingSuspected: boolean;
  cleanAccuracy: number;
  points: CurvePlotPoint[];
}

// ───────────────────────────── internals ─────────────────────────────


interface VersionRow {
  id: number;
  description: string;
  code_version: string;
  created_at: string;
  published_at: string | null;
  published_seq: number | null;
  evaluations: number;
}

interface JoinedRow {
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

const SELECT_JOINED = `SELECT
  e.id AS e_id, e.matrix_version AS e_version, e.norm AS e_norm, e.knowledge AS e_knowledge, e.budgets AS e_budgets,
  e.dataset_split AS e_split, e.sample_indices AS e_indices, e.sample_count AS e_count, e.sample_hash AS e_sample_hash,
  e.clean_correct AS e_clean_correct, e.attacks AS e_attacks, e.robust AS e_robust, e.distances AS e_distances,
  e.masking_suspected AS e_masking, e.sanity AS e_sanity, e.seed AS e_seed, e.batch_size AS e_batch_size,
  e.query_budget AS e_query_budget, e.queries AS e_queries, e.surrogate_sha256 AS e_surrogate, e.backend AS e_backend,
  e.code_version AS e_code_version, e.started_at AS e_started_at, e.finished_at AS e_finished_at, e.seconds AS e_seconds,
  va.id AS v_id, va.strategy AS v_strategy, va.requested_rate AS v_requested_rate, va.achieved_rate AS v_achieved_rate,
  va.prunable_params AS v_prunable, va.nonzero_prunable AS v_nonzero_prunable, va.total_params AS v_total,
  va.nonzero_params AS v_nonzero, va.sparse_bytes AS v_sparse_bytes, va.dense_bytes AS v_dense_bytes,
  va.structured AS v_structured, va.weights_sha256 AS v_weights_sha256, va.clean_correct AS v_clean_correct,
  va.clean_n AS v_clean_n, va.finetune_epochs AS v_finetune_epochs, va.seed AS v_seed, va.backend AS v_backend,
  va.code_version AS v_code_version, va.created_at AS v_created_at,
  m.id AS m_id, m.architecture AS m_architecture, m.dataset AS m_dataset, m.input_shape AS m_input_shape,
  m.num_classes AS m_num_classes, m.seed AS m_seed, m.clean_correct AS m_clean_correct, m.clean_n AS m_clean_n,
  m.backend AS m_backend, m.code_version AS m_code_version, m.created_at AS m_created_at, m.model_dir AS m_model_dir,
  m.metadata AS m_metadata`;

/**
 * Rows of the snapshot of the version with publication position `?` (the first parameter): per
 * (variant, norm, knowledge), the row of the latest version published no later than it.
 */
const FROM_SNAPSHOT = `FROM evaluations e
  JOIN matrix_versions mv ON mv.id = e.matrix_version
  JOIN variants va ON va.id = e.variant_id
  JOIN models m ON m.id = va.model_id
  WHERE mv.published_seq IS NOT NULL AND mv.published_seq <= ?1
    AND NOT EXISTS (
      SELECT 1 FROM evaluations e2 JOIN matrix_versions mv2 ON mv2.id = e2.matrix_version
      WHERE e2.variant_id = e.variant_id AND e2.norm = e.norm AND e2.knowledge = e.knowledge
        AND mv2.published_seq > mv.published_seq AND mv2.published_seq <= ?1)`;

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;
const SHA256 = /^[0-9a-f]{64}$/;

function versionInfo(r: VersionRow): VersionInfo {
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

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new MatrixInputError(message);
}

function isInt(v: unknown, min = 0): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min;
}

function rowFromJoined(r: JoinedRow): MatrixRow {
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
    structured: r.v_structured === 1,
    weightsSha256: r.v_weights_sha256,
    cleanAccuracy: { value: r.v_clean_correct / r.v_clean_n, correct: r.v_clean_correct, n: r.v_clean_n, low: ca.low, high: ca.high },
    finetuneEpochs: r.v_finetune_epochs,
    variantSeed: r.v_seed,
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
function filterSql(f: RowFilter): { sql: string; params: SqlValue[] } {
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
  return { sql: clauses.map((c) => ` AND ${c}`).join(""), params };
}

function validateFilter(f: RowFilter): void {
  check(typeof f === "object" && f !== null, "the filter must be an object");
  for (const key of ["modelId", "dataset", "architecture"] as const) {
    const v = f[key];
    check(v === undefined || (typeof v === "string" && v !== ""), `filter ${key} must be a non-empty string`);
  }
  check(f.strategy === undefined || (STRATEGIES as readonly string[]).includes(f.strategy), `unknown strategy "${String(f.strategy)}" (known: ${STRATEGIES.join(", ")})`);
  check(f.norm === undefined || (NORMS as readonly string[]).includes(f.norm), `unknown norm "${String(f.norm)}" (known: ${NORMS.join(", ")})`);
  check(
    f.knowledge === undefined || (KNOWLEDGE_LEVELS as readonly string[]).includes(f.knowledge),
    `unknown attacker knowledge "${String(f.knowledge)}" (known: ${KNOWLEDGE_LEVELS.join(", ")})`,
  );
  check(f.rate === undefined || (typeof f.rate === "number" && Number.isFinite(f.rate) && f.rate >= 1), `filter rate must be a number >= 1, got ${String(f.rate)}`);
  check(f.version === undefined || isInt(f.version, 1), `filter version must be a positive integer, got ${String(f.version)}`);
}

function filterKey(f: RowFilter): string {
  const { version: _version, ...rest } = f;
  return sha256Hex(canonicalJson(rest)).slice(0, 16);
}

interface CursorState {
  v: number;
  after: number;
  f: string;
}

function encodeCursor(c: CursorState): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(text: string): CursorState {
  try {
    const c = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Partial<CursorState>;
    if (isInt(c.v, 1) && isInt(c.after, 0) && typeof c.f === "string") return { v: c.v, after: c.after, f: c.f };
  } catch {
    // fall through
  }
  throw new MatrixInputError("invalid cursor (pass the nextCursor of the previous page unchanged)");
}

// ───────────────────────────── the store ─────────────────────────────

export class MatrixStore {
  private readonly mutex: Mutex | null;

  /** `inTransaction` is internal: the store handed to a transaction() callback. */
  constructor(
    readonly db: Database,
    inTransaction = false,
  ) {
    this.mutex = inTransaction ? null : new Mutex();
  }

  /** Opens (creating if needed) a database file and applies pending migrations. */
  static async open(file: string, options: { migrationsDir?: string } = {}): Promise<MatrixStore> {
    const db = await Database.open(file);
    try {
      await migrate(db, options.migrationsDir ?? defaultMigrationsDir);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return new MatrixStore(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private write<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex ? this.mutex.run(fn) : fn();
  }

  /** Runs `work` in one write transaction (BEGIN IMMEDIATE … COMMIT; any error rolls back everything). */
  transaction<T>(work: (tx: MatrixStore) => Promise<T>): Promise<T> {
    if (!this.mutex) return work(this);
    return this.mutex.run(() => this.db.transaction(() => work(new MatrixStore(this.db, true))));
  }

  // ── versions ──

  /** A new, unpublished version: rows written under it stay invisible until publishVersion. */
  async createVersion(description = "", options: { codeVersion?: string; now?: Date } = {}): Promise<number> {
    check(typeof description === "string", "the version description must be a string");
    return this.write(async () => {
      const r = await this.db.run("INSERT INTO matrix_versions (created_at, description, code_version) VALUES (?, ?, ?)", [
        (options.now ?? new Date()).toISOString(),
        description,
        options.codeVersion ?? packageVersion(),
      ]);
      return r.lastID;
    });
  }

  private async versionRow(id: number): Promise<VersionRow | undefined> {
    return this.db.get<VersionRow>(
      `SELECT v.*, (SELECT count(*) FROM evaluations e WHERE e.matrix_version = v.id) AS evaluations FROM matrix_versions v WHERE v.id = ?`,
      [id],
    );
  }

  /** Any version, published or not (for builders and operators). */
  async version(id: number): Promise<VersionInfo | null> {
    const r = await this.versionRow(id);
    return r ? versionInfo(r) : null;
  }

  /** Publishes an unpublished, non-empty version atomically (one UPDATE). */
  async publishVersion(id: number, options: { now?: Date } = {}): Promise<VersionInfo> {
    check(isInt(id, 1), `version must be a positive integer, got ${String(id)}`);
    return this.write(async () => {
      const r = await this.db.run(
        `UPDATE matrix_versions
            SET published_at = ?, published_seq = (SELECT coalesce(max(published_seq), 0) + 1 FROM matrix_versions)
          WHERE id = ? AND published_at IS NULL AND EXISTS (SELECT 1 FROM evaluations WHERE matrix_version = ?)`,
        [(options.now ?? new Date()).toISOString(), id, id],
      );
      const row = await this.versionRow(id);
      if (!row) throw new MatrixVersionError(`matrix version ${id} does not exist`);
      if (r.changes === 0) {
        if (row.published_at !== null) throw new MatrixVersionError(`matrix version ${id} is already published (at ${row.published_at})`);
        throw new MatrixVersionError(`matrix version ${id} holds no evaluations; nothing to publish (discard it instead)`);
      }
      return versionInfo(row);
    });
  }

  /** Deletes an unpublished version and every evaluation written under it (an abandoned build). */
  async discardVersion(id: number): Promise<void> {
    return this.write(async () => {
      const row = await this.versionRow(id);
      if (!row) throw new MatrixVersionError(`matrix version ${id} does not exist`);
      if (row.published_at !== null) throw new MatrixVersionError(`matrix version ${id} is published and cannot be discarded`);
      const work = async (db: Database): Promise<void> => {
        await db.run("DELETE FROM evaluations WHERE matrix_version = ?", [id]);
        await db.run("DELETE FROM matrix_versions WHERE id = ?", [id]);
      };
      if (this.mutex) await this.db.transaction(work);
      else await work(this.db);
    });
  }

  async latestPublishedVersion(): Promise<VersionInfo | null> {
    const r = await this.db.get<VersionRow>(
      `SELECT v.*, (SELECT count(*) FROM evaluations e WHERE e.matrix_version = v.id) AS evaluations
         FROM matrix_versions v WHERE v.published_seq IS NOT NULL ORDER BY v.published_seq DESC LIMIT 1`,
    );
    return r ? versionInfo(r) : null;
  }

  /** Published versions in publication order; with includeUnpublished, the unpublished ones follow (by id). */
  async listVersions(options: { includeUnpublished?: boolean } = {}): Promise<VersionInfo[]> {
    const rows = await this.db.all<VersionRow>(
      `SELECT v.*, (SELECT count(*) FROM evaluations e WHERE e.matrix_version = v.id) AS evaluations
         FROM matrix_versions v ${options.includeUnpublished ? "" : "WHERE v.published_seq IS NOT NULL"}
        ORDER BY v.published_seq IS NULL, v.published_seq, v.id`,
    );
    return rows.map(versionInfo);
  }

  /** The published version to read: `version` itself (must be published) or the latest published. */
  async resolveVersion(version?: number): Promise<{ id: number; seq: number }> {
    if (version === undefined) {
      const latest = await this.latestPublishedVersion();
      if (!latest) throw new MatrixVersionError("the matrix has no published version yet (build or import one)");
      return { id: latest.id, seq: latest.publishedSeq! };
    }
    check(isInt(version, 1), `version must be a positive integer, got ${String(version)}`);
    const row = await this.db.get<{ published_seq: number | null }>("SELECT published_seq FROM matrix_versions WHERE id = ?", [version]);
    if (!row) throw new MatrixVersionError(`matrix version ${version} does not exist`);
    if (row.published_seq === null) throw new MatrixVersionError(`matrix version ${version} is not published`);
    return { id: version, seq: row.published_seq };
  }

  // ── writes ──

  /** Inserts the model unless its id exists; an existing id must agree on architecture, data set, input shape and classes. */
  async upsertModel(m: ModelInput): Promise<string> {
    check(typeof m.id === "string" && SHA256.test(m.id), `model id must be the sha256 (64 lowercase hex digits) of the dense weights, got "${String(m.id)}"`);
    check(typeof m.architecture === "string" && m.architecture !== "", "model architecture must be a non-empty string");
    check(typeof m.dataset === "string" && m.dataset !== "", "model dataset must be a non-empty string");
    check(Array.isArray(m.inputShape) && m.inputShape.length > 0 && m.inputShape.every((d) => isInt(d, 1)), "model inputShape must be positive integers");
    check(isInt(m.numClasses, 2), "model numClasses must be an integer >= 2");
    check(Number.isInteger(m.seed), "model seed must be an integer");
    check(m.clean === null || (isInt(m.clean.n, 1) && isInt(m.clean.correct) && m.clean.correct <= m.clean.n), "model clean must be null or {correct, n} with 0 <= correct <= n, n >= 1");
    return this.write(async () => {
      const shape = JSON.stringify(m.inputShape);
      await this.db.run(
        `INSERT INTO models (id, architecture, dataset, input_shape, num_classes, seed, clean_correct, clean_n, backend, code_version, created_at, model_dir, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [
          m.id,
          m.architecture,
          m.dataset,
          shape,
          m.numClasses,
          m.seed,
          m.clean?.correct ?? null,
          m.clean?.n ?? null,
          m.backend,
          m.codeVersion,
          m.createdAt,
          m.modelDir ?? null,
          JSON.stringify(m.metadata ?? {}),
        ],
      );
      const existing = (await this.db.get<{ architecture: string; dataset: string; input_shape: string; num_classes: number; model_dir: string | null }>(
        "SELECT architecture, dataset, input_shape, num_classes, model_dir FROM models WHERE id = ?",
        [m.id],
      ))!;
      const differs: string[] = [];
      if (existing.architecture !== m.architecture) differs.push(`architecture ${existing.architecture} vs ${m.architecture}`);
      if (existing.dataset !== m.dataset) differs.push(`dataset ${existing.dataset} vs ${m.dataset}`);
      if (existing.input_shape !== shape) differs.push(`input shape ${existing.input_shape} vs ${shape}`);
      if (existing.num_classes !== m.numClasses) differs.push(`classes ${existing.num_classes} vs ${m.numClasses}`);
      if (differs.length > 0) throw new MatrixConflictError(`model ${m.id.slice(0, 12)}… is already in the matrix with other properties (${differs.join("; ")})`);
      if (existing.model_dir === null && m.modelDir) await this.db.run("UPDATE models SET model_dir = ? WHERE id = ?", [m.modelDir, m.id]);
      return m.id;
    });
  }

  /** Inserts the variant unless (model, strategy, requested rate, seed) exists; returns its id. An existing one must have the same weights. */
  async upsertVariant(v: VariantInput): Promise<number> {
    check((STRATEGIES as readonly string[]).includes(v.strategy), `unknown strategy "${String(v.strategy)}" (known: ${STRATEGIES.join(", ")})`);
    check(typeof v.requestedRate === "number" && Number.isFinite(v.requestedRate) && v.requestedRate >= 1, `requestedRate must be a number >= 1, got ${String(v.requestedRate)}`);
    check(v.strategy !== "dense" || v.requestedRate === 1, `the dense variant has requestedRate 1, got ${v.requestedRate}`);
    check(typeof v.achievedRate === "number" && Number.isFinite(v.achievedRate) && v.achievedRate >= 1, `achievedRate must be a finite number >= 1, got ${String(v.achievedRate)}`);
    for (const key of ["prunableParams", "nonZeroPrunable", "totalParams", "nonZeroParams", "sparseBytes", "denseBytes"] as const) {
      check(isInt(v[key], 1), `${key} must be a positive integer, got ${String(v[key])}`);
    }
    check(v.nonZeroPrunable <= v.prunableParams && v.prunableParams <= v.totalParams, "need nonZeroPrunable <= prunableParams <= totalParams");
    check(v.nonZeroPrunable <= v.nonZeroParams && v.nonZeroParams <= v.totalParams, "need nonZeroPrunable <= nonZeroParams <= totalParams");
    check(typeof v.weightsSha256 === "string" && SHA256.test(v.weightsSha256), "weightsSha256 must be a sha256 (64 lowercase hex digits)");
    check(isInt(v.clean?.n, 1) && isInt(v.clean.correct) && v.clean.correct <= v.clean.n, "clean must be {correct, n} with 0 <= correct <= n, n >= 1");
    check(isInt(v.finetuneEpochs), "finetuneEpochs must be an integer >= 0");
    check(Number.isInteger(v.seed), "seed must be an integer");
    return this.write(async () => {
      try {
        await this.db.run(
          `INSERT INTO variants (model_id, strategy, requested_rate, achieved_rate, prunable_params, nonzero_prunable, total_params, nonzero_params,
                                 sparse_bytes, dense_bytes, structured, weights_sha256, clean_correct, clean_n, finetune_epochs, seed, backend, code_version, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id, strategy, requested_rate, seed) DO NOTHING`,
          [
            v.modelId,
            v.strategy,
            v.requestedRate,
            v.achievedRate,
            v.prunableParams,
            v.nonZeroPrunable,
            v.totalParams,
            v.nonZeroParams,
            v.sparseBytes,
            v.denseBytes,
            v.structured ? 1 : 0,
            v.weightsSha256,
            v.clean.correct,
            v.clean.n,
            v.finetuneEpochs,
            v.seed,
            v.backend,
            v.codeVersion,
            v.createdAt,
          ],
        );
      } catch (err) {
        if (/FOREIGN KEY/.test(String(err))) throw new MatrixInputError(`variant refers to model ${v.modelId.slice(0, 12)}…, which is not in the matrix (upsert the model first)`);
        throw err;
      }
      const row = (await this.db.get<{ id: number; weights_sha256: string }>(
        "SELECT id, weights_sha256 FROM variants WHERE model_id = ? AND strategy = ? AND requested_rate = ? AND seed = ?",
        [v.modelId, v.strategy, v.requestedRate, v.seed],
      ))!;
      if (row.weights_sha256 !== v.weightsSha256) {
        throw new MatrixConflictError(
          `variant ${v.strategy} ${v.requestedRate}× seed ${v.seed} of model ${v.modelId.slice(0, 12)}… is already in the matrix with other weights ` +
            `(${row.weights_sha256.slice(0, 12)}… vs ${v.weightsSha256.slice(0, 12)}…): pruning and fine-tuning must be deterministic (same seed and backend) ` +
            `for rebuilt variants to match`,
        );
      }
      return row.id;
    });
  }

  /** The id of the variant with this natural key, if any. */
  async findVariant(key: { modelId: string; strategy: Strategy; requestedRate: number; seed: number }): Promise<number | null> {
    const row = await this.db.get<{ id: number }>("SELECT id FROM variants WHERE model_id = ? AND strategy = ? AND requested_rate = ? AND seed = ?", [
      key.modelId,
      key.strategy,
      key.requestedRate,
      key.seed,
    ]);
    return row?.id ?? null;
  }

  /**
   * Stores one evaluation under an unpublished version. A no-op returning the existing id when
   * (variant, norm, knowledge, version) is already there (a re-run of a finished cell).
   */
  async insertEvaluation(input: EvaluationInput): Promise<{ id: number; inserted: boolean; contentHash: string }> {
    const e = input;
    check((NORMS as readonly string[]).includes(e.norm), `unknown norm "${String(e.norm)}" (known: ${NORMS.join(", ")})`);
    check((KNOWLEDGE_LEVELS as readonly string[]).includes(e.knowledge), `unknown attacker knowledge "${String(e.knowledge)}" (known: ${KNOWLEDGE_LEVELS.join(", ")})`);
    check(Array.isArray(e.budgets), "budgets must be an array");
    const budgetIssue = budgetListProblems(e.norm, e.budgets)[0];
    if (budgetIssue) throw new MatrixInputError(`budgets[${budgetIssue.index}]: ${budgetIssue.message}`);
    check(e.distances instanceof Float32Array, "distances must be a Float32Array");
    const n = e.distances.length;
    check(n >= 1, "an evaluation needs at least one sample");
    check(e.sampleIndices.length === n, `${e.sampleIndices.length} sample indices for ${n} distances`);
    const negative = e.distances.findIndex((d) => Number.isNaN(d) || d < 0);
    check(negative < 0, `distance ${negative} is ${e.distances[negative]} (must be >= 0 or Infinity)`);
    const positives = e.distances.reduce((k, d) => (d > 0 ? k + 1 : k), 0);
    check(e.cleanCorrect === positives, `cleanCorrect is ${e.cleanCorrect}, but ${positives} of ${n} distances are > 0 (0 marks a clean error)`);
    check(Array.isArray(e.attacks), "attacks must be an array");
    check(typeof e.seconds === "number" && Number.isFinite(e.seconds) && e.seconds >= 0, "seconds must be a finite number >= 0");
    const indexBlob = uint32ToBlob(e.sampleIndices);
    const distanceBlob = float32ToBlob(e.distances);
    const sampleHash = sha256Hex(indexBlob);
    const split = e.datasetSplit ?? "test";
    const sanity = JSON.parse(JSON.stringify(e.sanity ?? {})) as Record<string, unknown>;
    const attacks = e.attacks.map(normalizeAttack);
    const attacksJson = JSON.stringify(attacks);
    const sanityJson = JSON.stringify(sanity);
    // Stored as written: what the distances give at each grid budget (float32, as stored).
    const robust = curveFromDistances(blobToFloat32(distanceBlob), e.budgets);

    return this.write(async () => {
      const existing = await this.db.get<{ id: number; content_hash: string }>(
        "SELECT id, content_hash FROM evaluations WHERE variant_id = ? AND norm = ? AND knowledge = ? AND matrix_version = ?",
        [e.variantId, e.norm, e.knowledge, e.matrixVersion],
      );
      if (existing) return { id: existing.id, inserted: false, contentHash: existing.content_hash };
      const variant = await this.db.get<{ model_id: string; strategy: string; requested_rate: number; seed: number; weights_sha256: string }>(
        "SELECT model_id, strategy, requested_rate, seed, weights_sha256 FROM variants WHERE id = ?",
        [e.variantId],
      );
      if (!variant) throw new MatrixInputError(`variant ${e.variantId} does not exist`);
      const version = await this.db.get<{ published_at: string | null }>("SELECT published_at FROM matrix_versions WHERE id = ?", [e.matrixVersion]);
      if (!version) throw new MatrixVersionError(`matrix version ${e.matrixVersion} does not exist`);
      if (version.published_at !== null) {
        throw new MatrixVersionError(`matrix version ${e.matrixVersion} is published: published versions are immutable (write into a new version)`);
      }
      const contentHash = evaluationContentHash(
        { modelId: variant.model_id, strategy: variant.strategy, requestedRate: variant.requested_rate, seed: variant.seed, weightsSha256: variant.weights_sha256 },
        { ...e, attacks, sanity },
        { sampleHash, distancesSha256: sha256Hex(distanceBlob) },
      );
      const r = await this.db.run(
        `INSERT INTO evaluations (variant_id, matrix_version, norm, knowledge, budgets, dataset_split, sample_indices, sample_count, sample_hash,
                                  clean_correct, attacks, robust, distances, masking_suspected, sanity, seed, batch_size, query_budget, queries,
                                  surrogate_sha256, backend, code_version, started_at, finished_at, seconds, content_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          e.variantId,
          e.matrixVersion,
          e.norm,
          e.knowledge,
          JSON.stringify(e.budgets),
          split,
          indexBlob,
          n,
          sampleHash,
          e.cleanCorrect,
          attacksJson,
          JSON.stringify(robust),
          distanceBlob,
          e.maskingSuspected ? 1 : 0,
          sanityJson,
          e.seed,
          e.batchSize ?? null,
          e.queryBudget ?? null,
          e.queries ?? null,
          e.surrogateSha256 ?? null,
          e.backend,
          e.codeVersion,
          e.startedAt,
          e.finishedAt,
          e.seconds,
          contentHash,
        ],
      );
      return { id: r.lastID, inserted: true, contentHash };
    });
  }

  /** Whether a measurement with this content hash is part of some published version. */
  async publishedContentExists(contentHash: string): Promise<boolean> {
    const row = await this.db.get<{ n: number }>(
      `SELECT count(*) AS n FROM evaluations e JOIN matrix_versions v ON v.id = e.matrix_version
        WHERE e.content_hash = ? AND v.published_seq IS NOT NULL`,
      [contentHash],
    );
    return (row?.n ?? 0) > 0;
  }

  // ── reads (published versions only) ──

  /** Models with evaluations in the snapshot of `version` (default: the latest published). */
  async listModels(version?: number): Promise<ModelSummary[]> {
    const v = await this.resolveVersion(version);
    const rows = await this.db.all<ModelFieldsRow & { id: string; backend: string; code_version: string; variants: number; evaluations: number }>(
      `SELECT m.id, m.architecture, m.dataset, m.input_shape, m.num_classes, m.seed, m.clean_correct, m.clean_n, m.backend, m.code_version,
              m.created_at, m.model_dir, count(DISTINCT va.id) AS variants, count(*) AS evaluations
         ${FROM_SNAPSHOT}
        GROUP BY m.id ORDER BY m.dataset, m.architecture, m.seed, m.id`,
      [v.seq],
    );
    return rows.map((r) => ({ modelId: r.id, ...modelFields(r), backend: r.backend, codeVersion: r.code_version, variants: r.variants, evaluations: r.evaluations }));
  }

  /**
   * Rows of a published snapshot matching the filter, in evaluation-id order, one page at a time.
   * The cursor pins the version and the filter: paging continues on the same snapshot even if a
   * newer version is published meanwhile.
   */
  async queryRows(filter: RowFilter = {}, page: Page = {}): Promise<RowPage> {
    validateFilter(filter);
    const limit = page.limit ?? DEFAULT_LIMIT;
    check(isInt(limit, 1) && limit <= MAX_LIMIT, `page limit must be an integer from 1 to ${MAX_LIMIT}, got ${String(limit)}`);
    const fkey = filterKey(filter);
    let after = 0;
    let versionId = filter.version;
    if (page.cursor) {
      const c = decodeCursor(page.cursor);
      if (c.f !== fkey) throw new MatrixInputError("the cursor belongs to another filter (keep the filter unchanged while paging)");
      if (versionId !== undefined && versionId !== c.v) throw new MatrixInputError(`the cursor belongs to matrix version ${c.v}, not ${versionId}`);
      versionId = c.v;
      after = c.after;
    }
    const v = await this.resolveVersion(versionId);
    const f = filterSql(filter);
    const params: SqlValue[] = [v.seq, ...f.params, after, limit + 1];
    const k = f.params.length + 2;
    const rows = await this.db.all<JoinedRow>(`${SELECT_JOINED} ${FROM_SNAPSHOT}${f.sql} AND e.id > ?${k} ORDER BY e.id LIMIT ?${k + 1}`, params);
    const more = rows.length > limit;
    const pageRows = (more ? rows.slice(0, limit) : rows).map(rowFromJoined);
    const last = pageRows[pageRows.length - 1];
    return { version: v.id, rows: pageRows, nextCursor: more && last ? encodeCursor({ v: v.id, after: last.id, f: fkey }) : null };
  }

  /** Every row of a published snapshot matching the filter, page by page. */
  async *rows(filter: RowFilter = {}, pageSize = 200): AsyncGenerator<MatrixRow, void, undefined> {
    let cursor: string | null = null;
    const version = (await this.resolveVersion(filter.version)).id;
    do {
      const page: RowPage = await this.queryRows({ ...filter, version }, { limit: pageSize, cursor });
      yield* page.rows;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** The advisor's view of a published version (default: the latest published). */
  async snapshot(version?: number): Promise<MatrixSnapshot> {
    const v = await this.resolveVersion(version);
    const rows = await this.db.all<JoinedRow>(`${SELECT_JOINED} ${FROM_SNAPSHOT} ORDER BY va.id, e.id`, [v.seq]);
    const candidates: Candidate[] = [];
    let current: Candidate | undefined;
    let currentVariant = -1;
    for (const r of rows) {
      if (r.v_id !== currentVariant) {
        currentVariant = r.v_id;
        current = {
          modelId: r.m_id,
          architecture: r.m_architecture,
          dataset: r.m_dataset,
          strategy: r.v_strategy as Strategy,
          rate: r.v_requested_rate,
          achievedRate: r.v_achieved_rate,
          nonZeroParams: r.v_nonzero,
          sparseBytes: r.v_sparse_bytes,
          structured: r.v_structured === 1,
          clean: { correct: r.v_clean_correct, n: r.v_clean_n },
          evaluations: [],
        };
        candidates.push(current);
      }
      const attacks = JSON.parse(r.e_attacks) as StoredAttack[];
      const evaluation: Evaluation = {
        id: r.e_id,
        norm: r.e_norm as Norm,
        knowledge: r.e_knowledge as Knowledge,
        budgets: JSON.parse(r.e_budgets) as number[],
        sampleIndices: blobToUint32(r.e_indices),
        distances: blobToFloat32(r.e_distances),
        attacks: attacks.map((a) => ({ name: a.name, params: a.params })),
        maskingSuspected: r.e_masking === 1,
      };
      current!.evaluations.push(evaluation);
    }
    return { version: v.id, candidates };
  }

  /**
   * Curves for plotting, one per matching row. By default the measured grid points; with `at`,
   * robust accuracy at those budgets from the per-sample distances (grid budgets among them are
   * marked `grid`, the others `distances`).
   */
  async curves(filter: RowFilter = {}, options: { at?: number[] } = {}): Promise<{ version: number; curves: CurvePlot[] }> {
    const at = options.at;
    if (at !== undefined) {
      check(Array.isArray(at) && at.every((b) => typeof b === "number" && Number.isFinite(b) && b >= 0), "curve budgets must be finite numbers >= 0");
    }
    const version = (await this.resolveVersion(filter.version)).id;
    const curves: CurvePlot[] = [];
    for await (const row of this.rows({ ...filter, version })) {
      const grid = new Set(row.budgets);
      const points: CurvePlotPoint[] =
        at === undefined
          ? row.curve.map((p) => ({ ...p, kind: "grid" as const }))
          : curveFromDistances(blobToFloat32(Buffer.from(row.distances, "base64")), [...at].sort((a, b) => a - b)).map((p) => ({
              ...p,
              kind: grid.has(p.budget) ? ("grid" as const) : ("distances" as const),
            }));
      curves.push({
        evaluationId: row.id,
        modelId: row.modelId,
        architecture: row.architecture,
        dataset: row.dataset,
        strategy: row.strategy,
        rate: row.requestedRate,
        achievedRate: row.achievedRate,
        nonZeroParams: row.nonZeroParams,
        sparseBytes: row.sparseBytes,
        norm: row.norm,
        knowledge: row.knowledge,
        maskingSuspected: row.maskingSuspected,
        cleanAccuracy: row.cleanAccuracy.value,
        points,
      });
    }
    return { version, curves };
  }
}
