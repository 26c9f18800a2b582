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
import type { Evaluation, Candidate, Knowledge, MatrixSnapshot, Norm, Strategy } from "../vocabulary.js";
import { KNOWLEDGE_LEVELS, NORMS, STRATEGIES } from "../vocabulary.js";
import { migrationsDir as defaultMigrationsDir, packageVersion } from "../paths.js";
import { migrate } from "./migrations.js";
import { Database, type SqlValue } from "./sqlite.js";
import { blobToFloat32, float32Views, blobToUint32, float32ToBlob, sha256Hex, uint32ToBlob } from "./blobs.js";
import { budgetListProblems, curveFromDistances, type MatrixRow, type StoredAttack, type StoredIndicators } from "./row.js";
import { Mutex } from "./mutex.js";
import { MatrixConflictError, MatrixInputError, MatrixVersionError, check, isInt } from "./errors.js";
import { evaluationContentHash, normalizeAttack, type EvaluationInput, type ModelInput, type VariantInput } from "./inputs.js";
import {
  DEFAULT_LIMIT,
  FROM_SNAPSHOT,
  MAX_LIMIT,
  SELECT_JOINED,
  SHA256,
  decodeCursor,
  encodeCursor,
  filterKey,
  filterSql,
  modelFields,
  rowFromJoined,
  sharePoints,
  validateFilter,
  versionInfo,
  type CurvePlot,
  type CurvePlotPoint,
  type JoinedRow,
  type ModelFieldsRow,
  type ModelSummary,
  type Page,
  type RowFilter,
  type RowPage,
  type VersionInfo,
  type VersionRow,
} from "./queries.js";

// The store's inputs, outputs and errors live in their own modules; callers import them from here.
export { MatrixConflictError, MatrixError, MatrixInputError, MatrixVersionError } from "./errors.js";
export {
  evaluationContentHash,
  evaluationInputFromResult,
  modelInputFromMetadata,
  variantInputFrom,
  type EvaluationInput,
  type ModelInput,
  type VariantIdentity,
  type VariantInput,
} from "./inputs.js";
export {
  modelFields,
  type CurvePlot,
  type CurvePlotPoint,
  type SharePoint,
  type ModelFields,
  type ModelFieldsRow,
  type ModelSummary,
  type Page,
  type RowFilter,
  type RowPage,
  type VersionInfo,
} from "./queries.js";
// ───────────────────────────── the store ─────────────────────────────

/**
 * The names of the checks a stored row failed: of a FAILED sanity report (null: it passed), every
 * check whose `pass` is false and `masking` when it was flagged (a report that failed without
 * naming a check fails as `sanity`); then the indicators of attack failure its stored `failed`
 * list names (JSON; null: none, or not measured).
 */
export function failedChecksOf(report: string | null, failedIndicators: string | null = null): string[] {
  const out: string[] = [];
  if (report !== null) {
    const parsed = JSON.parse(report) as Record<string, unknown>;
    const failed = Object.entries(parsed)
      .filter(([, v]) => v !== null && typeof v === "object" && ((v as { pass?: unknown }).pass === false || (v as { flagged?: unknown }).flagged === true))
      .map(([k]) => k);
    out.push(...(failed.length > 0 ? failed : ["sanity"]));
  }
  if (failedIndicators !== null) out.push(...(JSON.parse(failedIndicators) as string[]));
  return out;
}

/** Rows whose distances MatrixStore.snapshot reads per query (a page's blobs: about 1 MB at 500 samples). */
const DISTANCE_PAGE = 500;

/** The columns of a row that MatrixStore.snapshot reads. */
interface SnapshotRow {
  e_id: number;
  e_norm: string;
  e_knowledge: string;
  e_budgets: string;
  e_sample_hash: string;
  /** The distances blob's size; the blobs are read afterwards, page by page (snapshotDistances). */
  e_distance_bytes: number;
  e_attacks: string;
  e_masking: number;
  /** The sanity report, only when it failed (parsing every row's report would cost the load time). */
  e_failed_sanity: string | null;
  /** The indicators that make the row inadmissible (JSON list), only when there are some. */
  e_failed_indicators: string | null;
  v_id: number;
  v_strategy: string;
  v_requested_rate: number;
  v_achieved_rate: number;
  v_nonzero: number;
  v_sparse_bytes: number;
  v_structured: number;
  v_dropped_bytes: number | null;
  v_schedule: string;
  v_seed: number;
  v_clean_correct: number;
  v_clean_n: number;
  m_id: string;
  m_architecture: string;
  m_dataset: string;
}

/**
 * Whether the database's variants table has migration 008's columns. Asked on every variant
 * upsert (a pragma on the schema, microseconds): a connection may be migrated while it is open.
 */
async function hasVariantSchedule(db: Database): Promise<boolean> {
  return (await db.all<{ name: string }>("PRAGMA table_info(variants)")).some((c) => c.name === "schedule");
}

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
    const droppedBytes = v.droppedBytes ?? null;
    check(droppedBytes === null || (isInt(droppedBytes, 1) && droppedBytes <= v.denseBytes), `droppedBytes must be a positive integer <= denseBytes, got ${String(droppedBytes)}`);
    const schedule = v.schedule ?? "one-shot";
    check(schedule === "one-shot" || schedule === "cumulative", `schedule must be one-shot or cumulative, got ${String(schedule)}`);
    check(v.strategy !== "dense" || schedule === "one-shot", "the dense variant is not pruned: it has no cumulative schedule");
    check(typeof v.weightsSha256 === "string" && SHA256.test(v.weightsSha256), "weightsSha256 must be a sha256 (64 lowercase hex digits)");
    check(isInt(v.clean?.n, 1) && isInt(v.clean.correct) && v.clean.correct <= v.clean.n, "clean must be {correct, n} with 0 <= correct <= n, n >= 1");
    check(isInt(v.finetuneEpochs), "finetuneEpochs must be an integer >= 0");
    check(Number.isInteger(v.seed), "seed must be an integer");
    return this.write(async () => {
      // A database still at a schema before migration 008 (an older program's, e.g. seeded from a
      // shipped file and then updated by a newer one) takes one-shot variants without droppedBytes
      // as it always did; the 008 columns are written only where they exist.
      const has008 = await hasVariantSchedule(this.db);
      check(has008 || (schedule === "one-shot" && droppedBytes === null), "this database predates cumulative schedules and droppedBytes (schema before migration 008): migrate it first");
      const newColumns = has008 ? ", dropped_bytes, schedule" : "";
      try {
        await this.db.run(
          `INSERT INTO variants (model_id, strategy, requested_rate, achieved_rate, prunable_params, nonzero_prunable, total_params, nonzero_params,
                                 sparse_bytes, dense_bytes, structured, weights_sha256, clean_correct, clean_n, finetune_epochs, seed, backend, code_version, created_at${newColumns})
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${has008 ? ", ?, ?" : ""}) ON CONFLICT DO NOTHING`,
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
            ...(has008 ? [droppedBytes, schedule] : []),
          ],
        );
      } catch (err) {
        if (/FOREIGN KEY/.test(String(err))) throw new MatrixInputError(`variant refers to model ${v.modelId.slice(0, 12)}…, which is not in the matrix (upsert the model first)`);
        throw err;
      }
      const row = (await this.db.get<{ id: number; weights_sha256: string }>(
        `SELECT id, weights_sha256 FROM variants WHERE model_id = ? AND strategy = ? AND requested_rate = ? AND seed = ?${has008 ? " AND schedule = ?" : ""}`,
        [v.modelId, v.strategy, v.requestedRate, v.seed, ...(has008 ? [schedule] : [])],
      ))!;
      if (row.weights_sha256 !== v.weightsSha256) {
        throw new MatrixConflictError(
          `variant ${v.strategy} ${v.requestedRate}×${schedule === "cumulative" ? " (cumulative)" : ""} seed ${v.seed} of model ${v.modelId.slice(0, 12)}… is already in the matrix with other weights ` +
            `(${row.weights_sha256.slice(0, 12)}… vs ${v.weightsSha256.slice(0, 12)}…): pruning and fine-tuning must be deterministic (same seed and backend) ` +
            `for rebuilt variants to match`,
        );
      }
      return row.id;
    });
  }

  /** The id of the variant with this natural key (schedule default one-shot), if any. */
  async findVariant(key: { modelId: string; strategy: Strategy; requestedRate: number; seed: number; schedule?: "one-shot" | "cumulative" }): Promise<number | null> {
    const row = await this.db.get<{ id: number }>("SELECT id FROM variants WHERE model_id = ? AND strategy = ? AND requested_rate = ? AND seed = ? AND schedule = ?", [
      key.modelId,
      key.strategy,
      key.requestedRate,
      key.seed,
      key.schedule ?? "one-shot",
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
    check(e.indicators == null || (typeof e.indicators === "object" && Array.isArray(e.indicators.failed)), "indicators must be null or an object with a `failed` list");
    const indicators = e.indicators == null ? null : (JSON.parse(JSON.stringify(e.indicators)) as StoredIndicators);
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
        { ...e, attacks, sanity, indicators },
        { sampleHash, distancesSha256: sha256Hex(distanceBlob) },
      );
      // The indicators column only when there are indicators: a row measured without them inserts
      // the same way into a database of any schema version (e.g. one seeded before migration 007).
      const withIndicators = indicators !== null;
      const r = await this.db.run(
        `INSERT INTO evaluations (variant_id, matrix_version, norm, knowledge, budgets, dataset_split, sample_indices, sample_count, sample_hash,
                                  clean_correct, attacks, robust, distances, masking_suspected, sanity, seed, batch_size, query_budget, queries,
                                  surrogate_sha256, backend, code_version, started_at, finished_at, seconds, content_hash${withIndicators ? ", indicators" : ""})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${withIndicators ? ", ?" : ""})`,
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
          ...(withIndicators ? [JSON.stringify(indicators)] : []),
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

  /** One row of a published version by its id (whether or not a later version superseded it); null when none. */
  async row(id: number): Promise<MatrixRow | null> {
    check(isInt(id, 1), `a row id is a positive integer, got ${String(id)}`);
    const r = await this.db.get<JoinedRow>(
      `${SELECT_JOINED} FROM evaluations e
         JOIN matrix_versions mv ON mv.id = e.matrix_version
         JOIN variants va ON va.id = e.variant_id
         JOIN models m ON m.id = va.model_id
        WHERE e.id = ?1 AND mv.published_seq IS NOT NULL`,
      [id],
    );
    return r ? rowFromJoined(r) : null;
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

  /**
   * The distances of `rows`, in their order, as views into one buffer, read DISTANCE_PAGE rows at
   * a time: all 33,000 blobs of a large matrix in one result were held twice over (by the driver
   * and as Buffers) next to their copy, and the memory stayed with the process (RSS) after loading.
   */
  private async snapshotDistances(rows: readonly { e_id: number; e_distance_bytes: number }[]): Promise<Float32Array[]> {
    const { views, fill } = float32Views(rows.map((r) => r.e_distance_bytes));
    for (let start = 0; start < rows.length; start += DISTANCE_PAGE) {
      const page = rows.slice(start, start + DISTANCE_PAGE);
      const at = new Map(page.map((r, i) => [r.e_id, start + i]));
      const blobs = await this.db.all<{ id: number; d: Buffer }>(`SELECT id, distances AS d FROM evaluations WHERE id IN (${page.map(() => "?").join(",")})`, page.map((r) => r.e_id));
      if (blobs.length !== page.length) throw new Error(`snapshot: ${page.length - blobs.length} evaluation(s) vanished while loading`);
      for (const b of blobs) fill(at.get(b.id)!, b.d);
    }
    return views;
  }

  /** The advisor's view of a published version (default: the latest published). */
  async snapshot(version?: number): Promise<MatrixSnapshot> {
    const v = await this.resolveVersion(version);
    // Only what the advisor reads, unsorted (an ORDER BY would sort every row's blobs in a temp
    // b-tree: 5 s and 500 MB for 33,000 rows), and each distinct sample set once: rows of one
    // grid share their samples, so they share one array too. The distances come afterwards,
    // page by page (snapshotDistances).
    const rows = await this.db.all<SnapshotRow>(
      `SELECT e.id AS e_id, e.norm AS e_norm, e.knowledge AS e_knowledge, e.budgets AS e_budgets, e.sample_hash AS e_sample_hash,
              length(e.distances) AS e_distance_bytes, e.attacks AS e_attacks, e.masking_suspected AS e_masking,
              CASE WHEN json_extract(e.sanity, '$.pass') = 0 THEN e.sanity END AS e_failed_sanity,
              CASE WHEN json_array_length(e.indicators, '$.failed') > 0 THEN json_extract(e.indicators, '$.failed') END AS e_failed_indicators,
              va.id AS v_id, va.strategy AS v_strategy, va.requested_rate AS v_requested_rate, va.achieved_rate AS v_achieved_rate,
              va.nonzero_params AS v_nonzero, va.sparse_bytes AS v_sparse_bytes, va.structured AS v_structured, va.seed AS v_seed,
              va.dropped_bytes AS v_dropped_bytes, va.schedule AS v_schedule, va.clean_correct AS v_clean_correct, va.clean_n AS v_clean_n, m.id AS m_id, m.architecture AS m_architecture, m.dataset AS m_dataset
         ${FROM_SNAPSHOT}`,
      [v.seq],
    );
    const indexRows = await this.db.all<{ h: string; b: Buffer }>(
      `SELECT sample_hash AS h, sample_indices AS b FROM evaluations WHERE id IN (SELECT min(e.id) ${FROM_SNAPSHOT} GROUP BY e.sample_hash)`,
      [v.seq],
    );
    const indexArrays = new Map(indexRows.map((r) => [r.h, blobToUint32(r.b)]));
    const budgetArrays = new Map<string, number[]>();
    rows.sort((a, b) => a.v_id - b.v_id || a.e_id - b.e_id);
    const distances = await this.snapshotDistances(rows);
    const candidates: Candidate[] = [];
    let current: Candidate | undefined;
    let currentVariant = -1;
    rows.forEach((r, i) => {
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
          ...(r.v_dropped_bytes === null ? {} : { droppedBytes: r.v_dropped_bytes }),
          ...(r.v_schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
          pruningSeed: r.v_seed,
          clean: { correct: r.v_clean_correct, n: r.v_clean_n },
          evaluations: [],
        };
        candidates.push(current);
      }
      const attacks = JSON.parse(r.e_attacks) as StoredAttack[];
      let budgets = budgetArrays.get(r.e_budgets);
      if (!budgets) budgetArrays.set(r.e_budgets, (budgets = JSON.parse(r.e_budgets) as number[]));
      const evaluation: Evaluation = {
        id: r.e_id,
        norm: r.e_norm as Norm,
        knowledge: r.e_knowledge as Knowledge,
        budgets,
        sampleIndices: indexArrays.get(r.e_sample_hash)!,
        distances: distances[i]!,
        attacks: attacks.map((a) => ({ name: a.name, params: a.params })),
        maskingSuspected: r.e_masking === 1,
        ...(r.e_failed_sanity === null && r.e_failed_indicators === null ? {} : { failedChecks: failedChecksOf(r.e_failed_sanity, r.e_failed_indicators) }),
      };
      current!.evaluations.push(evaluation);
    });
    return { version: v.id, candidates };
  }

  /**
   * Curves for plotting, one per matching row. By default the measured grid points; with `at`,
   * robust accuracy at those budgets from the per-sample distances (grid budgets among them are
   * marked `grid`, the others `distances`). With `shares` (and exactly one budget in `at`), also
   * the aggregated accuracy (1 − r)·clean + r·robust at that budget for each share r, ascending.
   */
  async curves(filter: RowFilter = {}, options: { at?: number[]; shares?: number[] } = {}): Promise<{ version: number; curves: CurvePlot[] }> {
    const at = options.at;
    if (at !== undefined) {
      check(Array.isArray(at) && at.every((b) => typeof b === "number" && Number.isFinite(b) && b >= 0), "curve budgets must be finite numbers >= 0");
    }
    const shares = options.shares === undefined ? undefined : [...options.shares].sort((a, b) => a - b);
    if (shares !== undefined) {
      check(at !== undefined && at.length === 1, "aggregated accuracy against share needs exactly one budget");
      check(shares.every((r) => typeof r === "number" && r >= 0 && r <= 1), "adversarial shares must be fractions in [0, 1]");
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
        pruningSeed: row.variantSeed,
        ...(row.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
        achievedRate: row.achievedRate,
        nonZeroParams: row.nonZeroParams,
        sparseBytes: row.sparseBytes,
        norm: row.norm,
        knowledge: row.knowledge,
        maskingSuspected: row.maskingSuspected,
        cleanAccuracy: row.cleanAccuracy.value,
        points,
        ...(shares === undefined ? {} : { aggregated: sharePoints(row.cleanAccuracy, points[0]!, shares) }),
      });
    }
    return { version, curves };
  }
}
