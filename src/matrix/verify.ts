// `advisor matrix verify --sample K`: re-runs K random evaluation cells (variant × norm, all their
// knowledge levels) of the latest published version from their recorded provenance — the model
// directories (dense model from the row's model_dir, variant recreated in the cache when missing
// and checked against the recorded weights hash), strategy, rate, seed, the evaluated samples,
// budgets, and the attack settings of the build's grid — and compares per row:
//   clean accuracy on the evaluated samples must be EXACTLY the same;
//   robust accuracy at every budget within the tolerance: |Δ robust| <= max(1 sample, tolerance × n).
// The grid settings (training, attacks) come from the build recorded in the database for the row's
// version; the attack settings, samples and batch size from the rows themselves. Without a build
// record of that version (an imported matrix, even in a database that holds builds of other
// versions) training settings come from the model metadata and the data set directory from --data.
import path from "node:path";
import type { Knowledge, Norm } from "../vocabulary.js";
import { mulberry32 } from "../engine/random.js";
import { DEFAULT_DATA_DIR } from "../engine/data.js";
import { detectFormat, type DatasetFormat } from "../engine/dataset-formats.js";
import type { MatrixRow } from "./row.js";
import type { MatrixStore } from "./store.js";
import { validateGrid, evaluateKey, trainKey, pruneKey, type EvaluateCell, type Grid } from "./grid.js";
import { CellRunner, type BuildPaths } from "./cells.js";

export interface VerifyOptions {
  sample: number;
  /** Share of the samples robust accuracy may differ by (default 0.01); at least one sample is always allowed. */
  tolerance?: number;
  seed?: number;
  /** Published version (default the latest). */
  version?: number;
  variantsDir?: string;
  /** Data set directory (default: the build grid's, else the engine's default). */
  dataDir?: string;
  onCell?: (c: VerifiedCell) => void;
}

export interface VerifiedRow {
  knowledge: Knowledge;
  cleanRecorded: number;
  cleanNow: number;
  /** Largest |Δ robust samples| over the budgets. */
  maxDelta: number;
  allowed: number;
  agree: boolean;
}

export interface VerifiedCell {
  key: string;
  rows: VerifiedRow[];
  agree: boolean;
  error?: string;
  seconds: number;
}

export interface VerifyReport {
  version: number;
  cells: VerifiedCell[];
  agree: boolean;
}

/**
 * The settings to re-run a cell with: the attack settings, samples and batch size recorded in the
 * rows (their provenance), training settings from the build's grid when there is one, else from the
 * dense model's metadata (enough when the variant cache still holds the model; a recreated model
 * is checked against the recorded weights hash anyway).
 */
export function gridFromProvenance(base: Grid | null, rows: readonly MatrixRow[], dataDir?: string, format: DatasetFormat = "idx", chainRates?: readonly number[]): Grid {
  const r0 = rows[0]!;
  const attacks = rows.flatMap((r) => r.attacks);
  const num = (v: unknown, fallback: number): number => (typeof v === "number" && Number.isFinite(v) ? v : fallback);
  const pgd = attacks.find((a) => a.name.startsWith("pgd-") && !a.sanity);
  const fmnRec = attacks.find((a) => a.name.startsWith("fmn-"));
  const training = (r0.modelMetadata.training ?? {}) as Record<string, unknown>;
  const queries = r0.queryBudget ?? undefined;
  const g: Grid = base ?? {
    dataset: { name: r0.dataset, dir: dataDir ?? DEFAULT_DATA_DIR, format },
    architectures: [r0.architecture as Grid["architectures"][number]],
    strategies: [],
    // A cumulative variant's chain: the rates it is pruned through (previousRate walks them).
    rates: chainRates ? [...chainRates] : [r0.requestedRate],
    norms: [r0.norm],
    knowledge: rows.map((r) => r.knowledge),
    budgets: { [r0.norm]: [...r0.budgets] },
    samples: r0.n,
    // The evaluation's seed is the cell's training seed; the variant's seed its pruning seed.
    seeds: [r0.seed],
    ...(r0.strategy !== "dense" && r0.variantSeed !== r0.seed ? { pruningSeeds: [r0.variantSeed] } : {}),
    training: { epochs: num(training.epochs, 1), batchSize: num(training.batchSize, 128), learningRate: num(training.learningRate, 1e-3), patience: 3, validation: 0.1 },
    finetune: { epochs: r0.finetuneEpochs },
    attacks: { batchSize: 100, pgd: { steps: 40, restarts: 1 }, fmn: { steps: 100, targets: 1 }, square: { queries: 1000 }, sparseRs: { queries: 1000 } },
  };
  return {
    ...g,
    dataset: { ...g.dataset, ...(dataDir ? { dir: dataDir } : {}) },
    samples: r0.n,
    attacks: {
      batchSize: r0.batchSize ?? g.attacks.batchSize,
      pgd: { steps: num(pgd?.params.steps, g.attacks.pgd.steps), restarts: num(pgd?.params.restarts, g.attacks.pgd.restarts) },
      fmn: { steps: num(fmnRec?.params.steps, g.attacks.fmn.steps), targets: num(fmnRec?.params.targets, g.attacks.fmn.targets) },
      square: { queries: queries ?? g.attacks.square.queries },
      sparseRs: { queries: queries ?? g.attacks.sparseRs.queries },
    },
  };
}

/**
 * Without the build's grid (a database filled by `matrix import`), the rates a cumulative variant
 * was pruned through: those of the same model, strategy and pruning seed's cumulative rows up to
 * its own. A chain with a rate the matrix lacks re-creates other weights, which the recorded
 * weights hash then refuses — an error, never a silent disagreement.
 */
function chainRatesOf(groups: Iterable<readonly MatrixRow[]>, r0: MatrixRow): number[] {
  const rates = new Set<number>([r0.requestedRate]);
  for (const [r] of groups) {
    if (r && r.schedule === "cumulative" && r.modelId === r0.modelId && r.strategy === r0.strategy && r.variantSeed === r0.variantSeed && r.requestedRate < r0.requestedRate) rates.add(r.requestedRate);
  }
  return [...rates].sort((a, b) => a - b);
}

export async function verifyMatrix(store: MatrixStore, dbFile: string, o: VerifyOptions): Promise<VerifyReport> {
  const version = (await store.resolveVersion(o.version)).id;
  const tolerance = o.tolerance ?? 0.01;
  const dbDir = path.dirname(path.resolve(dbFile));
  const groups = new Map<string, MatrixRow[]>();
  for await (const r of store.rows({ version })) {
    const key = `${r.variantId}|${r.norm}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  // K distinct cells, chosen at random (seeded when asked).
  const keys = [...groups.keys()];
  const rng = mulberry32(o.seed ?? Math.floor(Math.random() * 2 ** 31));
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const chosen = keys.slice(0, Math.max(0, o.sample));
  const builds = await store.db.all<{ matrix_version: number | null; grid: string }>("SELECT matrix_version, grid FROM builds ORDER BY updated_at DESC");
  // Re-crafts transfer examples from scratch rather than trusting the build's files.
  const runner = new CellRunner(undefined, { transferFiles: false });
  const cells: VerifiedCell[] = [];
  try {
    for (const k of chosen) {
      const rows = groups.get(k)!;
      const r0 = rows[0]!;
      // A row's evaluation seed is its cell's training seed, its variant seed the pruning seed (grid.ts).
      const seed = r0.seed;
      const pruningSeed = r0.strategy === "dense" ? seed : r0.variantSeed;
      // A cumulative variant is re-created down its chain from the dense model (cells.ts, ensureVariant).
      const cumulative = r0.schedule === "cumulative";
      const key = evaluateKey(r0.architecture, r0.strategy, r0.requestedRate, seed, r0.norm, pruningSeed, cumulative);
      const t0 = performance.now();
      const cell: VerifiedCell = { key, rows: [], agree: false, seconds: 0 };
      try {
        // Only the build that published the row's version: another build in the same database (a
        // database that also imported rows, say) may have other training settings or data.
        const buildGrid = builds.find((b) => b.matrix_version === r0.matrixVersion);
        // The default directory holds Fashion-MNIST: rows of another data set need theirs named.
        if (!buildGrid && o.dataDir === undefined && r0.dataset !== "fashion-mnist") {
          throw new Error(`no build of version ${r0.matrixVersion} records where data set "${r0.dataset}" is: name its directory with --data`);
        }
        // Without the build's grid the directory's files say its format (a bad one fails when loaded).
        const format = buildGrid ? undefined : await detectFormat(o.dataDir ?? DEFAULT_DATA_DIR).catch(() => undefined);
        const grid = gridFromProvenance(
          buildGrid ? validateGrid(JSON.parse(buildGrid.grid) as unknown, "the build's grid") : null,
          rows,
          o.dataDir,
          format,
          cumulative ? chainRatesOf(groups.values(), r0) : undefined,
        );
        const buf = Buffer.from(r0.sampleIndices, "base64");
        const decoded = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        if (!Array.from(decoded).every((v, i) => v === i) || decoded.length === 0) throw new Error("the row's samples are not the first n test images; cannot re-run");
        if (r0.modelDir === null) throw new Error("the dense model's directory is not recorded");
        const denseDirAbs = path.resolve(dbDir, r0.modelDir);
        const paths: BuildPaths = { modelsDir: path.dirname(denseDirAbs), variantsDir: path.resolve(o.variantsDir ?? path.join(dbDir, "variants")) };
        const evalCell: EvaluateCell = {
          kind: "evaluate",
          key,
          architecture: r0.architecture as EvaluateCell["architecture"],
          seed,
          pruningSeed,
          deps: [],
          strategy: r0.strategy,
          rate: r0.requestedRate,
          norm: r0.norm as Norm,
          knowledge: rows.map((r) => r.knowledge),
          budgets: [...r0.budgets],
          variantCell: r0.strategy === "dense" ? trainKey(r0.architecture, seed) : pruneKey(r0.architecture, r0.strategy, r0.requestedRate, seed, pruningSeed, cumulative),
          ...(cumulative ? { cumulative } : {}),
        };
        // The transfer surrogate must be there when the recorded rows used one.
        if (rows.some((r) => r.surrogateSha256 !== null) && !evalCell.knowledge.includes("transfer")) evalCell.knowledge.push("transfer");
        const out = await runner.evaluateCell(grid, paths, evalCell, { denseSha256: r0.modelId, ...(r0.strategy === "dense" ? {} : { variantSha256: r0.weightsSha256 }) });
        for (const row of rows) {
          const fresh = out.results.find((x) => x.result.knowledge === row.knowledge)!.result;
          const allowed = Math.max(1, Math.floor(tolerance * row.n));
          let maxDelta = 0;
          for (const p of row.curve) {
            const q = fresh.curve.find((c) => c.budget === p.budget);
            maxDelta = Math.max(maxDelta, q === undefined ? Infinity : Math.abs(q.robust - p.robust));
          }
          const agree = fresh.cleanCorrect === row.cleanCorrect && maxDelta <= allowed;
          cell.rows.push({ knowledge: row.knowledge, cleanRecorded: row.cleanCorrect, cleanNow: fresh.cleanCorrect, maxDelta, allowed, agree });
        }
        cell.agree = cell.rows.every((r) => r.agree);
      } catch (err) {
        cell.error = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
        cell.agree = false;
      }
      cell.seconds = (performance.now() - t0) / 1000;
      cells.push(cell);
      o.onCell?.(cell);
    }
  } finally {
    runner.dispose();
  }
  return { version, cells, agree: cells.every((c) => c.agree) };
}
