// JSON Lines export and import of the matrix: one MatrixRow (the shape `GET /v1/matrix` returns)
// per line.
//
// Export writes the snapshot of one published version (default: the latest), in evaluation-id order.
// Import validates EVERY line first (zod shape, then consistency: blobs, sample hash, the curve
// recomputed from the distances…) and touches the database only when all lines are valid; a bad
// line is reported with its number and nothing is imported. Then, in ONE transaction: models and
// variants are created as needed, the rows go into a new version, which is published at the end.
// Idempotent: a row whose measurement (content hash) is already part of a published version is
// skipped, and when nothing is new the transaction is rolled back, so importing the same file
// twice adds nothing — not even an empty version.
//
// Ids (`id`, `variantId`, `matrixVersion`) are local to the database that wrote the file; import
// assigns new ones. Exporting a fresh import gives the same file back when the source's ids were
// dense and in export order (as in a database that was built or imported once).
import path from "node:path";
import type { MatrixRow } from "./row.js";
import { parseMatrixRow, RowValidationError, type DecodedRow } from "./row.js";
import { MatrixError, evaluationContentHash, type MatrixStore, type RowFilter } from "./store.js";
import { sha256Hex, float32ToBlob } from "./blobs.js";
import { isRealDatasetName } from "../engine/data-provenance.js";

export class JsonlImportError extends Error {
  override name = "JsonlImportError";
  constructor(
    /** 1-based line number in the input; 0 when the problem is not one line's. */
    readonly line: number,
    message: string,
    /** The offending field of the row, when known. */
    readonly field?: string,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
  }
}

export interface ExportResult {
  version: number;
  rows: number;
}

/**
 * Writes the rows of a published version (default: the latest), one JSON object per line; `write`
 * receives each line WITH its trailing "\n" (so a stream's write can be passed as is).
 */
export async function exportJsonl(
  store: MatrixStore,
  version: number | undefined,
  write: (line: string) => void | Promise<void>,
  filter: Omit<RowFilter, "version"> = {},
  options: { modelDir?: (dir: string | null) => string | null } = {},
): Promise<ExportResult> {
  const resolved = (await store.resolveVersion(version)).id;
  let rows = 0;
  for await (const row of store.rows({ ...filter, version: resolved })) {
    await write(JSON.stringify(options.modelDir ? { ...row, modelDir: options.modelDir(row.modelDir) } : row) + "\n");
    rows++;
  }
  return { version: resolved, rows };
}

/**
 * The data sets of a version's rows that may not be shipped: names not reserved for real data
 * (data-provenance.ts). Generated data is refused under reserved names by the builder, so this
 * keeps rows measured on generated data out of the shipped db/matrix.jsonl.
 */
export async function unshippableDatasets(store: MatrixStore, version: number | undefined): Promise<string[]> {
  const datasets = new Set((await store.listModels(version)).map((m) => m.dataset));
  return [...datasets].filter((d) => !isRealDatasetName(d)).sort();
}

export interface ImportOptions {
  /** Description of the version the import creates. */
  description?: string;
  /**
   * Add the rows to this existing UNPUBLISHED version instead of a new one, and leave it
   * unpublished (e.g. merging several shard outputs into one version, published afterwards).
   */
  into?: number;
  /** Maps each row's modelDir as stored (e.g. rebaseModelDir: relative to another folder). */
  modelDir?: (dir: string | null) => string | null;
  /** Runs inside the import's transaction once rows were written to `version` (not when nothing was new). */
  inTransaction?: (tx: MatrixStore, version: number) => Promise<void>;
}

/**
 * A relative modelDir is relative to the folder of the database (or JSONL file) that holds the
 * row; moving rows between folders re-bases it so it still names the same directory. Absolute
 * paths and null stay as they are.
 */
export function rebaseModelDir(fromFolder: string, toFolder: string): (dir: string | null) => string | null {
  return (dir) => (dir === null || path.isAbsolute(dir) ? dir : path.relative(path.resolve(toFolder), path.resolve(fromFolder, dir)) || ".");
}

export interface ImportResult {
  /** The version the rows went into; null when nothing was new (nothing was written). */
  version: number | null;
  published: boolean;
  /** Non-empty lines read. */
  rows: number;
  inserted: number;
  /** Rows whose measurement the matrix already holds. */
  skipped: number;
  newModels: number;
  newVariants: number;
}

type LineSource = string | Iterable<string> | AsyncIterable<string>;

async function* linesOf(source: LineSource): AsyncGenerator<string> {
  if (typeof source === "string") {
    yield* source.split("\n");
    return;
  }
  yield* source;
}

interface Parsed extends DecodedRow {
  line: number;
  contentHash: string;
}

class NothingNew extends Error {}

function cellKey(r: MatrixRow): string {
  return JSON.stringify([r.modelId, r.strategy, r.requestedRate, r.variantSeed, r.schedule ?? "one-shot", r.norm, r.knowledge]);
}

/** Validates every line, then imports all rows in one transaction (see the header). */
export async function importJsonl(store: MatrixStore, source: LineSource, options: ImportOptions = {}): Promise<ImportResult> {
  // 1. Validate everything before writing anything.
  const parsed: Parsed[] = [];
  const seen = new Map<string, Parsed>();
  let lineNo = 0;
  for await (const raw of linesOf(source)) {
    lineNo++;
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (text.trim() === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new JsonlImportError(lineNo, `not valid JSON (${(err as Error).message})`);
    }
    let decoded: DecodedRow;
    try {
      decoded = parseMatrixRow(json);
    } catch (err) {
      if (err instanceof RowValidationError) throw new JsonlImportError(lineNo, err.message, err.field);
      throw err;
    }
    const r = decoded.row;
    const contentHash = evaluationContentHash(
      { modelId: r.modelId, strategy: r.strategy, requestedRate: r.requestedRate, seed: r.variantSeed, weightsSha256: r.weightsSha256 },
      evaluationFields(r),
      { sampleHash: r.sampleHash, distancesSha256: sha256Hex(float32ToBlob(decoded.distances)) },
    );
    const p: Parsed = { ...decoded, line: lineNo, contentHash };
    const key = cellKey(r);
    const earlier = seen.get(key);
    if (earlier) {
      if (earlier.contentHash === contentHash) continue;
      throw new JsonlImportError(
        lineNo,
        `repeats the cell of line ${earlier.line} (model ${r.modelId.slice(0, 12)}…, ${r.strategy} ${r.requestedRate}× seed ${r.variantSeed}, ${r.norm}, ${r.knowledge}) with a different measurement`,
      );
    }
    seen.set(key, p);
    parsed.push(p);
  }

  // 2. Write in one transaction.
  const result: ImportResult = { version: null, published: false, rows: parsed.length, inserted: 0, skipped: 0, newModels: 0, newVariants: 0 };
  if (parsed.length === 0) return result;
  try {
    await store.transaction(async (tx) => {
      const counts = async (): Promise<{ models: number; variants: number }> =>
        (await tx.db.get<{ models: number; variants: number }>("SELECT (SELECT count(*) FROM models) AS models, (SELECT count(*) FROM variants) AS variants"))!;
      const before = await counts();
      let version: number;
      if (options.into !== undefined) {
        const v = await tx.version(options.into);
        if (!v) throw new JsonlImportError(0, `matrix version ${options.into} does not exist`);
        if (v.publishedAt !== null) throw new JsonlImportError(0, `matrix version ${options.into} is published: import into a new version instead`);
        version = options.into;
      } else {
        version = await tx.createVersion(options.description ?? `import of ${parsed.length} row(s)`);
      }
      for (const p of parsed) {
        const r = p.row;
        try {
          await tx.upsertModel({
            id: r.modelId,
            architecture: r.architecture,
            dataset: r.dataset,
            inputShape: r.inputShape,
            numClasses: r.numClasses,
            seed: r.modelSeed,
            clean: r.modelClean,
            backend: r.modelBackend,
            codeVersion: r.modelCodeVersion,
            createdAt: r.modelCreatedAt,
            modelDir: options.modelDir ? options.modelDir(r.modelDir) : r.modelDir,
            metadata: r.modelMetadata,
          });
          const variantId = await tx.upsertVariant({
            modelId: r.modelId,
            strategy: r.strategy,
            requestedRate: r.requestedRate,
            achievedRate: r.achievedRate,
            prunableParams: r.prunableParams,
            nonZeroPrunable: r.nonZeroPrunable,
            totalParams: r.totalParams,
            nonZeroParams: r.nonZeroParams,
            sparseBytes: r.sparseBytes,
            denseBytes: r.denseBytes,
            droppedBytes: r.droppedBytes ?? null,
            structured: r.structured,
            weightsSha256: r.weightsSha256,
            clean: { correct: r.cleanAccuracy.correct, n: r.cleanAccuracy.n },
            finetuneEpochs: r.finetuneEpochs,
            seed: r.variantSeed,
            schedule: r.schedule ?? "one-shot",
            backend: r.variantBackend,
            codeVersion: r.variantCodeVersion,
            createdAt: r.createdAt,
          });
          if (await tx.publishedContentExists(p.contentHash)) {
            result.skipped++;
            continue;
          }
          const out = await tx.insertEvaluation({ ...evaluationFields(r), variantId, matrixVersion: version, sampleIndices: p.sampleIndices, distances: p.distances });
          if (out.inserted) result.inserted++;
          else if (out.contentHash === p.contentHash) result.skipped++;
          else throw new JsonlImportError(p.line, `matrix version ${version} already holds another measurement of this cell (evaluation ${out.id})`);
        } catch (err) {
          if (err instanceof MatrixError) throw new JsonlImportError(p.line, err.message);
          throw err;
        }
      }
      if (result.inserted === 0) throw new NothingNew();
      await options.inTransaction?.(tx, version);
      const after = await counts();
      result.newModels = after.models - before.models;
      result.newVariants = after.variants - before.variants;
      result.version = version;
      if (options.into === undefined) {
        await tx.publishVersion(version);
        result.published = true;
      }
    });
  } catch (err) {
    if (!(err instanceof NothingNew)) throw err;
    // Rolled back: the matrix already held every row.
    result.inserted = 0;
    result.version = null;
    result.published = false;
  }
  return result;
}

/** The evaluation fields of a row (everything but ids, version and blobs), as the store inserts them. */
export function evaluationFields(r: MatrixRow) {
  return {
    norm: r.norm,
    knowledge: r.knowledge,
    budgets: r.budgets,
    datasetSplit: r.datasetSplit,
    cleanCorrect: r.cleanCorrect,
    attacks: r.attacks,
    maskingSuspected: r.maskingSuspected,
    sanity: r.sanity,
    indicators: r.indicators ?? null,
    seed: r.seed,
    batchSize: r.batchSize,
    queryBudget: r.queryBudget,
    queries: r.queries,
    surrogateSha256: r.surrogateSha256,
    backend: r.backend,
    codeVersion: r.codeVersion,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    seconds: r.seconds,
  };
}
