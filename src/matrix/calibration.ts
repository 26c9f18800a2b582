// The calibration of the cost model (cost.ts): seconds per cell kind, architecture, norm and
// knowledge level on one otherwise idle core, derived from measured builds.
//
// Sources, best first:
//   - a build's checkpoints (build_cells.output of a database): since `seconds` and `workers` are
//     recorded there (builder.ts), every cell kind is MEASURED — the duration its worker timed;
//   - the matrix rows (a database's latest version or a JSONL export): each row records `seconds`
//     of its evaluation, so evaluation cells are MEASURED per knowledge level. Rows say nothing
//     directly about the other cells, which are INFERRED from the rows' timestamps:
//       prune  each pruned variant's `createdAt` is when its prune cell ended; the worker that ran
//              it starts the variant's first evaluation at once (the builder hands a free worker the
//              first ready cell in plan order, which is that evaluation), so the evaluations are
//              laid out on workers (interval partitioning) and the prune cell began when that
//              worker's previous cell ended. Per architecture the median is kept: a pause between
//              sittings of a resumed build shows up as a few very long gaps, which the median ignores;
//       train  the prune cell's seconds per fine-tuning epoch × the epochs the dense model's training
//              ran (its metadata): the same training loop on the same data;
//       craft  the dense model's white-box evaluation of the norm, scaled by the crafting work over
//              the white-box work (samples attempted × steps × restarts of each gradient attack the
//              two rows record): crafting runs the transfer attacks on the dense model without
//              early stop, the white-box level runs the same attacks with it.
// Measurements made while other cells ran (the build's workers ≥ 2) are divided by the slowdown
// (cost.ts) to give one core's figure. A JSONL export does not say how many workers built it:
// the caller gives it (`--measured-workers`); the shipped matrix was built on 2 per shard (README).
import { open, readFile } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { z } from "zod";
import { KNOWLEDGE_LEVELS, NORMS, type Norm } from "../vocabulary.js";
import { packageRoot } from "../paths.js";
import { COST_KINDS, concurrencyFactor, type Calibration, type CostEntry, type CostKind } from "./cost.js";
import { parseMatrixRow, type MatrixRow, type StoredAttack } from "./row.js";
import { MatrixStore } from "./store.js";
import { BuildLedger } from "./build-state.js";

export const CALIBRATION_FORMAT = "pruning-advisor-calibration/1";
/** The calibration shipped with the package: `advisor matrix calibrate --from db/matrix.jsonl --measured-workers 2`. */
export const DEFAULT_CALIBRATION_FILE = path.join(packageRoot, "db", "calibration.json");
/** README, "Throughput, 1 vs 2 workers": a cell takes ≈ 20–30 % longer when both cores are busy. */
export const DEFAULT_SLOWDOWN = 1.25;
/** A worker starts its next cell within this long of finishing a prune cell (model loading included). */
const NEXT_CELL_WITHIN_MS = 10_000;

export class CalibrationError extends Error {
  override name = "CalibrationError";
}

export interface CalibrationFile extends Calibration {
  format: typeof CALIBRATION_FORMAT;
}

const entrySchema = z.strictObject({
  kind: z.enum(COST_KINDS),
  architecture: z.string().min(1),
  norm: z.enum(NORMS).optional(),
  knowledge: z.enum(KNOWLEDGE_LEVELS).optional(),
  reused: z.boolean().optional(),
  samples: z.number().int().positive().optional(),
  epochs: z.number().positive().optional(),
  seconds: z.number().nonnegative(),
  n: z.number().int().positive(),
  method: z.string().min(1),
});

const fileSchema = z.strictObject({
  format: z.literal(CALIBRATION_FORMAT),
  source: z.string().min(1),
  slowdown: z.number().min(1),
  entries: z.array(entrySchema).min(1),
});

/** The row fields the calibration reads (a MatrixRow has them all). */
export type TimedRow = Pick<
  MatrixRow,
  | "id"
  | "modelId"
  | "architecture"
  | "strategy"
  | "requestedRate"
  | "variantSeed"
  | "schedule"
  | "createdAt"
  | "finetuneEpochs"
  | "modelMetadata"
  | "norm"
  | "knowledge"
  | "n"
  | "attacks"
  | "backend"
  | "codeVersion"
  | "startedAt"
  | "finishedAt"
  | "seconds"
>;

/** A finished cell of a build's checkpoints, with the settings of its grid that scale its cost. */
export interface LedgerCell {
  key: string;
  kind: CostKind;
  output: unknown;
  grid: { samples: number; finetuneEpochs: number; trainingEpochs: number };
}

const cellOutputSchema = z.object({
  seconds: z.number().nonnegative().optional(),
  workers: z.number().int().positive().optional(),
  reused: z.boolean().optional(),
  crafted: z.number().int().nonnegative().optional(),
  modelId: z.string().optional(),
  evaluations: z.array(z.number().int()).optional(),
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number): number => Math.round(x * 10) / 10;

function trainingEpochs(metadata: Record<string, unknown>): number | undefined {
  const t = metadata.training as { epochs?: unknown } | undefined;
  return typeof t?.epochs === "number" && t.epochs > 0 ? t.epochs : undefined;
}

/** Gradient-attack work of one level: samples attempted × steps × restarts. */
function gradientWork(attacks: readonly StoredAttack[], level: string): number {
  let work = 0;
  for (const a of attacks) {
    if (a.knowledge !== level || a.access !== "gradient") continue;
    const steps = typeof a.params.steps === "number" ? a.params.steps : 1;
    const restarts = typeof a.params.restarts === "number" ? a.params.restarts : 1;
    work += a.attempted * steps * restarts;
  }
  return work;
}

interface Span {
  start: number;
  end: number;
  worker: number;
}

const variantKey = (r: TimedRow): string => `${r.modelId}|${r.strategy}|${r.requestedRate}|${r.variantSeed}${r.schedule === "cumulative" ? "|cumulative" : ""}`;

/** Prune-cell durations (measured-worker seconds) per architecture, from the rows' timeline (see the header). */
export function inferPruneSeconds(rows: readonly TimedRow[]): Map<string, { seconds: number[]; epochs: number[] }> {
  // Evaluation cells: one per (variant, norm), from its rows' first start to last end.
  const spans = new Map<string, Span>();
  for (const r of rows) {
    const key = `${variantKey(r)}|${r.norm}`;
    const start = Date.parse(r.startedAt);
    const end = Date.parse(r.finishedAt);
    const s = spans.get(key);
    if (!s) spans.set(key, { start, end, worker: -1 });
    else {
      s.start = Math.min(s.start, start);
      s.end = Math.max(s.end, end);
    }
  }
  // Interval partitioning: each span goes to the worker that became free last before it starts.
  const workers: { free: number; ends: number[] }[] = [];
  for (const s of [...spans.values()].sort((a, b) => a.start - b.start)) {
    let best = -1;
    workers.forEach((w, i) => {
      if (w.free <= s.start && (best < 0 || w.free > workers[best]!.free)) best = i;
    });
    if (best < 0) {
      best = workers.length;
      workers.push({ free: -Infinity, ends: [] });
    }
    s.worker = best;
    workers[best]!.free = s.end;
    workers[best]!.ends.push(s.end);
  }
  const variants = new Map<string, TimedRow>();
  for (const r of rows) if (r.strategy !== "dense" && !variants.has(variantKey(r))) variants.set(variantKey(r), r);
  const out = new Map<string, { seconds: number[]; epochs: number[] }>();
  const pruneEnds: number[][] = workers.map(() => []);
  for (const r of [...variants.values()].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))) {
    const ended = Date.parse(r.createdAt);
    // The worker that ran the prune cell starts its next cell at once, and was not running an
    // evaluation when the prune ended (the builder gives a free worker the first ready cell in
    // plan order: this variant's evaluation, or an earlier variant's still waiting).
    let worker = -1;
    let previous = -Infinity;
    for (const s of [...spans.values()].filter((x) => x.start >= ended && x.start <= ended + NEXT_CELL_WITHIN_MS).sort((a, b) => a.start - b.start)) {
      const prev = Math.max(-Infinity, ...workers[s.worker]!.ends.filter((e) => e <= s.start));
      if (prev <= ended) {
        worker = s.worker;
        previous = prev;
        break;
      }
    }
    // Nothing started right after: the variant came from an earlier sitting (or another build).
    if (worker < 0 || previous === -Infinity) continue;
    const began = Math.max(previous, ...pruneEnds[worker]!.filter((e) => e < ended));
    pruneEnds[worker]!.push(ended);
    let entry = out.get(r.architecture);
    if (!entry) out.set(r.architecture, (entry = { seconds: [], epochs: [] }));
    entry.seconds.push((ended - began) / 1000);
    entry.epochs.push(r.finetuneEpochs);
  }
  return out;
}

export interface DeriveInput {
  rows: readonly TimedRow[];
  ledger?: readonly LedgerCell[];
  /** Workers of the build(s) that produced rows the ledger does not cover. */
  measuredWorkers: number;
  slowdown?: number;
  /** What the rows and cells are, for the `source` line. */
  describe: string;
}

/** The calibration table of rows and checkpoints (see the header). */
export function deriveCalibration(input: DeriveInput): CalibrationFile {
  const slowdown = input.slowdown ?? DEFAULT_SLOWDOWN;
  const ledger = input.ledger ?? [];
  // Workers per evaluation id, where the build's checkpoints say.
  const workersOfEvaluation = new Map<number, number>();
  for (const c of ledger) {
    const o = cellOutputSchema.safeParse(c.output);
    if (o.success && o.data.workers !== undefined) for (const id of o.data.evaluations ?? []) workersOfEvaluation.set(id, o.data.workers);
  }
  const oneCore = (seconds: number, workers: number): number => seconds / concurrencyFactor(workers, slowdown);
  const entries: CostEntry[] = [];
  const add = (e: CostEntry): void => void entries.push({ ...e, seconds: round(e.seconds) });

  // evaluate: measured, per (architecture, norm, knowledge, samples).
  const evals = new Map<string, { r: TimedRow; seconds: number[] }>();
  for (const r of input.rows) {
    const key = `${r.architecture}|${r.norm}|${r.knowledge}|${r.n}`;
    let g = evals.get(key);
    if (!g) evals.set(key, (g = { r, seconds: [] }));
    g.seconds.push(oneCore(r.seconds, workersOfEvaluation.get(r.id) ?? input.measuredWorkers));
  }
  for (const { r, seconds } of evals.values()) {
    add({ kind: "evaluate", architecture: r.architecture, norm: r.norm, knowledge: r.knowledge, samples: r.n, seconds: mean(seconds), n: seconds.length, method: `measured: mean of ${seconds.length} rows' seconds` });
  }

  // Measured cells of the checkpoints, per (kind, architecture[, norm][, reused]).
  const measured = new Map<string, { kind: CostKind; architecture: string; norm?: Norm; reused?: boolean; samples?: number; epochs?: number; seconds: number[] }>();
  const modelEpochs = new Map<string, number>();
  for (const r of input.rows) {
    const e = trainingEpochs(r.modelMetadata);
    if (e !== undefined) modelEpochs.set(r.modelId, e);
  }
  for (const c of ledger) {
    const o = cellOutputSchema.safeParse(c.output);
    if (!o.success || o.data.seconds === undefined || c.kind === "evaluate") continue;
    if (c.kind === "prune" && o.data.reused) continue; // found in the variant cache: nothing pruned
    if (c.kind === "craft" && o.data.crafted === 0) continue; // the examples were on disk already
    const parts = c.key.split("/");
    const architecture = parts[1]!;
    const norm = c.kind === "craft" ? (parts[3] as Norm) : undefined;
    const reused = c.kind === "train" ? o.data.reused === true : undefined;
    const epochs = c.kind === "prune" ? c.grid.finetuneEpochs : c.kind === "train" && !reused ? (modelEpochs.get(o.data.modelId ?? "") ?? c.grid.trainingEpochs) : undefined;
    const samples = c.kind === "craft" ? c.grid.samples : undefined;
    const key = [c.kind, architecture, norm ?? "", reused ?? "", samples ?? "", epochs ?? ""].join("|");
    let g = measured.get(key);
    if (!g) measured.set(key, (g = { kind: c.kind, architecture, ...(norm ? { norm } : {}), ...(reused === undefined ? {} : { reused }), ...(samples ? { samples } : {}), ...(epochs ? { epochs } : {}), seconds: [] }));
    g.seconds.push(oneCore(o.data.seconds, o.data.workers ?? 1));
  }
  const have = new Set<string>();
  for (const g of measured.values()) {
    const { seconds, ...rest } = g;
    add({ ...rest, seconds: mean(seconds), n: seconds.length, method: `measured: mean of ${seconds.length} cells' worker-timed seconds` });
    have.add(`${g.kind}|${g.architecture}|${g.norm ?? ""}|${g.reused ?? ""}`);
  }

  // Inferred from the rows where the checkpoints measured nothing.
  const prune = inferPruneSeconds(input.rows.filter((r) => !workersOfEvaluation.has(r.id)));
  const perEpoch = new Map<string, number>();
  for (const [architecture, p] of prune) {
    const epochs = median(p.epochs);
    const seconds = oneCore(median(p.seconds), input.measuredWorkers);
    if (epochs > 0) perEpoch.set(architecture, seconds / epochs);
    if (have.has(`prune|${architecture}||`)) continue;
    add({
      kind: "prune",
      architecture,
      epochs,
      seconds,
      n: p.seconds.length,
      method: `inferred: median over ${p.seconds.length} variants of the time from the end of the previous cell on the same worker to the variant's creation`,
    });
  }
  const models = new Map<string, TimedRow>();
  for (const r of input.rows) if (!models.has(r.modelId)) models.set(r.modelId, r);
  const trainEpochs = new Map<string, number[]>();
  for (const r of models.values()) {
    const e = trainingEpochs(r.modelMetadata);
    if (e !== undefined) trainEpochs.set(r.architecture, [...(trainEpochs.get(r.architecture) ?? []), e]);
  }
  for (const [architecture, epochsList] of trainEpochs) {
    const rate = perEpoch.get(architecture);
    if (rate === undefined || have.has(`train|${architecture}||false`)) continue;
    const epochs = median(epochsList);
    add({ kind: "train", architecture, reused: false, epochs, seconds: rate * epochs, n: epochsList.length, method: `inferred: the prune cell's seconds per fine-tuning epoch × the ${epochs} epochs the dense model's training ran` });
  }
  const dense = new Map<string, TimedRow>();
  for (const r of input.rows) if (r.strategy === "dense") dense.set(`${r.modelId}|${r.norm}|${r.knowledge}`, r);
  const crafts = new Map<string, { architecture: string; norm: Norm; samples: number; seconds: number[] }>();
  for (const wb of dense.values()) {
    if (wb.knowledge !== "white-box") continue;
    const transfer = dense.get(`${wb.modelId}|${wb.norm}|transfer`);
    const wbWork = gradientWork(wb.attacks, "white-box");
    if (!transfer || wbWork === 0 || have.has(`craft|${wb.architecture}|${wb.norm}|`)) continue;
    const key = `${wb.architecture}|${wb.norm}|${wb.n}`;
    let g = crafts.get(key);
    if (!g) crafts.set(key, (g = { architecture: wb.architecture, norm: wb.norm, samples: wb.n, seconds: [] }));
    g.seconds.push(oneCore((wb.seconds * gradientWork(transfer.attacks, "transfer")) / wbWork, workersOfEvaluation.get(wb.id) ?? input.measuredWorkers));
  }
  for (const g of crafts.values()) {
    const { seconds, ...rest } = g;
    add({ kind: "craft", ...rest, seconds: mean(seconds), n: seconds.length, method: "inferred: the dense model's white-box row's seconds × crafting work / white-box work (samples attempted × steps × restarts)" });
  }
  if (entries.length === 0) throw new CalibrationError(`${input.describe}: no measured rows or cells to calibrate from`);
  const order = (e: CostEntry): string => [e.architecture, COST_KINDS.indexOf(e.kind), e.norm ?? "", e.knowledge ? KNOWLEDGE_LEVELS.indexOf(e.knowledge) : "", e.reused ? 1 : 0, String(e.samples ?? 0).padStart(8, "0")].join("|");
  entries.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return { format: CALIBRATION_FORMAT, source: input.describe, slowdown, entries };
}

/** "N rows of M models (archs), measured FROM to TO on BACKENDS, code VERSIONS". */
export function describeRows(rows: readonly TimedRow[]): string {
  if (rows.length === 0) return "no rows";
  const days = rows.flatMap((r) => [r.startedAt.slice(0, 10), r.finishedAt.slice(0, 10)]).sort();
  const set = (xs: string[]): string => [...new Set(xs)].sort().join(", ");
  const span = days[0] === days[days.length - 1] ? days[0]! : `${days[0]} to ${days[days.length - 1]}`;
  return `${rows.length} evaluation rows of ${new Set(rows.map((r) => r.modelId)).size} models (${set(rows.map((r) => r.architecture))}) measured ${span}, backend ${set(rows.map((r) => r.backend))}, code ${set(rows.map((r) => r.codeVersion))}`;
}

/** Validates a calibration table (a parsed db/calibration.json); throws CalibrationError naming the field. */
export function parseCalibrationFile(data: unknown, source: string): CalibrationFile {
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CalibrationError(`${source}: ${issue.path.map(String).join(".") || "(top level)"}: ${issue.message}`);
  }
  const { entries, ...rest } = parsed.data;
  return { ...rest, entries: entries.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as CostEntry) };
}

/** A path as the source line shows it: relative to the package when inside it (stable across machines). */
export function displayPath(file: string): string {
  const rel = path.relative(packageRoot, path.resolve(file));
  return rel.startsWith("..") || path.isAbsolute(rel) ? path.resolve(file) : rel;
}

async function isSqlite(file: string): Promise<boolean> {
  const fh = await open(file, "r").catch((err: NodeJS.ErrnoException) => {
    throw new CalibrationError(`calibration source ${file} ${err.code === "ENOENT" ? "not found" : `cannot be read (${err.code ?? err.message})`}`);
  });
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await fh.read(head, 0, 16, 0);
    return bytesRead === 16 && head.toString("latin1") === "SQLite format 3\u0000";
  } finally {
    await fh.close();
  }
}

const ledgerGridSchema = z.object({ samples: z.number(), finetune: z.object({ epochs: z.number() }), training: z.object({ epochs: z.number() }) });

/** Rows of the latest published version and every finished checkpoint of a matrix database. */
async function readDatabase(file: string): Promise<{ rows: TimedRow[]; ledger: LedgerCell[] }> {
  const store = await MatrixStore.open(file);
  try {
    const rows: TimedRow[] = [];
    const latest = await store.db.get<{ n: number }>("SELECT count(*) AS n FROM matrix_versions WHERE published_at IS NOT NULL");
    if ((latest?.n ?? 0) > 0) for await (const r of store.rows({ version: (await store.resolveVersion(undefined)).id })) rows.push(r);
    const ledger: LedgerCell[] = [];
    const l = new BuildLedger(store.db);
    for (const b of await store.db.all<{ grid_hash: string; grid: string }>("SELECT grid_hash, grid FROM builds")) {
      const g = ledgerGridSchema.safeParse(JSON.parse(b.grid));
      if (!g.success) continue;
      const grid = { samples: g.data.samples, finetuneEpochs: g.data.finetune.epochs, trainingEpochs: g.data.training.epochs };
      for (const c of await l.cells(b.grid_hash)) if (c.status === "done") ledger.push({ key: c.key, kind: c.kind, output: c.output, grid });
    }
    return { rows, ledger };
  } finally {
    await store.close();
  }
}

/** The rows of a JSONL export (each validated like an import). */
async function readJsonl(file: string): Promise<TimedRow[]> {
  const rows: TimedRow[] = [];
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === "") continue;
    try {
      rows.push(parseMatrixRow(JSON.parse(text)).row);
    } catch (err) {
      throw new CalibrationError(`${file} line ${line}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return rows;
}

/**
 * A calibration from `file`: a calibration table (JSON, as `matrix calibrate` writes), a matrix
 * database or a JSONL export (derived on the spot, see the header). `measuredWorkers`: the workers
 * of the build(s) behind rows whose checkpoints do not say (default 1).
 */
export async function loadCalibration(file: string, o: { measuredWorkers?: number; slowdown?: number } = {}): Promise<CalibrationFile> {
  if (await isSqlite(file)) {
    const { rows, ledger } = await readDatabase(file);
    const measuredWorkers = o.measuredWorkers ?? 1;
    const timed = ledger.filter((c) => cellOutputSchema.safeParse(c.output).data?.seconds !== undefined).length;
    return deriveCalibration({
      rows,
      ledger,
      measuredWorkers,
      ...(o.slowdown === undefined ? {} : { slowdown: o.slowdown }),
      describe: `${displayPath(file)}: ${describeRows(rows)}; ${timed} timed build cells; rows without them built on ${measuredWorkers} worker${measuredWorkers === 1 ? "" : "s"}`,
    });
  }
  const text = await readFile(file, "utf8");
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== null && typeof whole === "object" && "format" in whole) {
    const table = parseCalibrationFile(whole, file);
    return { ...table, source: `${displayPath(file)} (${table.source})` };
  }
  const rows = await readJsonl(file);
  const measuredWorkers = o.measuredWorkers ?? 1;
  return deriveCalibration({
    rows,
    measuredWorkers,
    ...(o.slowdown === undefined ? {} : { slowdown: o.slowdown }),
    describe: `${displayPath(file)}: ${describeRows(rows)}; built on ${measuredWorkers} worker${measuredWorkers === 1 ? "" : "s"} per build`,
  });
}
