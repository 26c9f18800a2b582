// `advisor matrix build`: runs the cells of a grid in worker processes and commits each finished
// cell at once.
//
// Order of business: load + validate the grid (a bad grid fails before any file is touched) →
// refuse a file that is not a SQLite database (left untouched) → open the store → take the build
// lock (a second builder on the same database gets one line naming the holder) → begin or resume
// the build of this grid hash (same hash → same unpublished version) → run the pending cells in
// dependency order on N forked workers (src/matrix/worker.ts) → publish the version when every
// cell of the plan is done.
//
// Crash safety: only this process writes the database. A cell's output and its 'done' checkpoint
// are written in ONE transaction (an evaluation cell's rows too), so a SIGKILL at any moment
// leaves either nothing or the whole cell; a cell left 'running' by a killed builder is simply run
// again (the lock guarantees nobody else runs it), and the store's unique keys make its inserts
// idempotent. Model directories appear atomically (saveModel renames a finished temp dir).
//
// Sharding (`--shard k/N`): the shard runs its owned cells plus the dependencies it needs (see
// grid.ts) and publishes ITS database's version when those are done; `advisor matrix merge`
// combines shard databases into one matrix.
import { fork, type ChildProcess } from "node:child_process";
import { open, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gridHash as hashOfGrid, loadGrid, planCells, shardCells, type Cell, type Grid, type ShardSpec } from "./grid.js";
import { MatrixError, MatrixStore, evaluationInputFromResult, modelInputFromMetadata, variantInputFrom } from "./store.js";
import { BuildLedger, type BuildLock } from "./build-state.js";
import { missingModelDirs } from "./model-dirs.js";
import type { BuildPaths, CellJob, CellOutput, EvaluateOutput, ModelOutput } from "./cells.js";
import type { FromWorker, ToWorker } from "./worker.js";
import { packageRoot, siblingEntry } from "../paths.js";
import { granularityOf } from "../vocabulary.js";

export interface BuildOptions {
  /** The grid file; or give the validated `grid` itself (e.g. a refresh job's grid, which names its model). */
  gridFile?: string;
  grid?: Grid;
  db: string;
  /** Worker processes (default: the number of cores). */
  workers?: number;
  shard?: ShardSpec;
  /** Dense models (default <package>/db/models). */
  modelsDir?: string;
  /** Pruned-variant cache (default <db folder>/variants). */
  variantsDir?: string;
  onEvent?: (e: BuildEvent) => void;
  /**
   * Runs inside the transaction that publishes the version (a refresh job marks itself succeeded
   * there); throwing aborts the publication, which stays undone, and buildMatrix rethrows.
   */
  beforePublish?: (tx: MatrixStore, matrixVersion: number) => Promise<void>;
  /** Awaited when SIGINT/SIGTERM stop the build (workers killed, lock released), before the process exits. */
  onInterrupt?: (signal: NodeJS.Signals) => Promise<void>;
}

export type BuildEvent =
  | { type: "start"; gridHash: string; matrixVersion: number; total: number; done: number; pending: number; workers: number; resumed: boolean }
  | { type: "cell-start"; key: string; worker: number }
  | { type: "cell-progress"; key: string; text: string }
  | { type: "cell-done"; key: string; seconds: number; reused: boolean; done: number; total: number }
  | { type: "cell-failed"; key: string; error: string; done: number; total: number }
  | { type: "published"; matrixVersion: number };

export interface BuildSummary {
  gridHash: string;
  matrixVersion: number;
  published: boolean;
  /** Cells of the plan (or the shard). */
  total: number;
  /** Done before this run. */
  alreadyDone: number;
  /** Run by this invocation (including those whose model directory was reused). */
  run: number;
  /** Of `run`: train/prune cells whose model directory already existed. */
  reused: number;
  failed: { key: string; error: string }[];
  /** Not run because a dependency failed. */
  blocked: string[];
  seconds: number;
  cellsPerHour: number;
}

export const DEFAULT_MODELS_DIR = path.join(packageRoot, "db", "models");

/** Fails (without writing) when `file` exists, is not empty and is not a SQLite database. */
export async function checkDatabaseFile(file: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return;
  }
  if (size === 0) return;
  const fh = await open(file, "r");
  try {
    const head = Buffer.alloc(16);
    await fh.read(head, 0, 16, 0);
    if (head.toString("latin1") !== "SQLite format 3\u0000") {
      throw new MatrixError(`${file} is not a SQLite database (corrupted or another kind of file); it was left untouched`);
    }
  } finally {
    await fh.close();
  }
}

/** Opens a matrix database after checking the file; every open failure is one clear line. */
export async function openStore(file: string): Promise<MatrixStore> {
  await checkDatabaseFile(file);
  try {
    return await MatrixStore.open(file);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new MatrixError(/cannot open database/.test(msg) ? msg : `cannot open database ${file}: ${msg}`);
  }
}

const workerEntry = (): { file: string; execArgv: string[] } => siblingEntry(import.meta.url, "worker");

/**
 * Extra Node flags for every build worker, from ADVISOR_WORKER_NODE_FLAGS (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the cells (Node refuses --cpu-prof in
 * NODE_OPTIONS, and workers are forked with their own flags).
 */
export function workerNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.ADVISOR_WORKER_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
}

class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  private pending: { key: string; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  exited = false;

  constructor(
    readonly id: number,
    onProgress: (key: string, text: string) => void,
  ) {
    const entry = workerEntry();
    this.child = fork(entry.file, [], { execArgv: [...entry.execArgv, ...workerNodeFlags()], serialization: "advanced", stdio: ["ignore", "ignore", "inherit", "ipc"] });
    this.ready = new Promise((resolve, reject) => {
      this.child.on("message", (m: FromWorker) => {
        if (m.type === "ready") resolve();
        else if (m.type === "progress") onProgress(m.key, m.text);
        else if (this.pending && m.key === this.pending.key) {
          const p = this.pending;
          this.pending = null;
          p.resolve(m);
        }
      });
      // A fork that failed to start emits 'error' and no 'exit'; a send on a closed channel
      // emits 'error' too. Either way the worker is gone: settle like an exit, never throw.
      this.child.on("error", (err) => {
        if (this.child.pid === undefined || !this.child.connected) this.child.emit("exit", null, null);
        else process.emitWarning(`worker ${id}: ${err.message}`);
      });
      this.child.on("exit", (code, signal) => {
        if (this.exited) return;
        this.exited = true;
        const err = new Error(`worker ${id} exited (${signal ?? `code ${code}`})`);
        reject(err);
        if (this.pending) {
          const p = this.pending;
          this.pending = null;
          p.reject(err);
        }
      });
    });
    this.ready.catch(() => undefined);
  }

  run(job: CellJob): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error(`worker ${this.id} is gone`));
      this.pending = { key: job.cell.key, resolve, reject };
      this.child.send({ type: "run", job } satisfies ToWorker);
    });
  }

  stop(): void {
    if (this.exited) return;
    try {
      this.child.send({ type: "stop" } satisfies ToWorker);
    } catch {
      this.child.kill("SIGKILL");
    }
  }
}

/** What a finished cell records in the ledger (and what its dependents need). */
interface CellRecord {
  modelId?: string;
  variantId?: number;
  dir?: string;
  weightsSha256?: string;
  evaluations?: number[];
  reused?: boolean;
  /** Craft cells: the transfer-example file and how many examples it holds. */
  file?: string;
  examples?: number;
  /** Craft cells: examples this run crafted (0: the file held them all already). */
  crafted?: number;
  /**
   * The cell's duration as its worker measured it, and the build's worker count then: what
   * `advisor matrix calibrate` derives per-cell costs from (src/matrix/calibration.ts). Kept in
   * the output JSON, which `matrix merge` copies, so merged shard databases keep them too.
   */
  seconds?: number;
  workers?: number;
}

export async function buildMatrix(o: BuildOptions): Promise<BuildSummary> {
  const t0 = performance.now();
  if ((o.grid === undefined) === (o.gridFile === undefined)) throw new MatrixError("buildMatrix needs either gridFile or grid");
  const grid: Grid = o.grid ?? (await loadGrid(o.gridFile!));
  const hash = hashOfGrid(grid);
  const plan = planCells(grid);
  const cells = o.shard ? shardCells(plan, o.shard.index, o.shard.count).cells : plan;
  const emit = o.onEvent ?? (() => undefined);
  const dbDir = path.dirname(path.resolve(o.db));
  const paths: BuildPaths = {
    modelsDir: path.resolve(o.modelsDir ?? DEFAULT_MODELS_DIR),
    variantsDir: path.resolve(o.variantsDir ?? path.join(dbDir, "variants")),
  };

  const store = await openStore(o.db);
  let lock: BuildLock | undefined;
  const workers: WorkerProcess[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  // Set by SIGINT/SIGTERM: from then on no cell starts, no worker is forked and nothing more is
  // recorded (an interrupted cell stays 'running' and runs again on resume); the process exits.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const w of workers) w.child.kill("SIGKILL");
    void (lock?.release() ?? Promise.resolve())
      .then(() => o.onInterrupt?.(signal))
      .catch(() => undefined)
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  try {
    const ledger = new BuildLedger(store.db);
    lock = await ledger.acquireLock({ gridHash: hash });
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const tx = <T>(work: (s: MatrixStore, l: BuildLedger) => Promise<T>): Promise<T> => store.transaction((s) => work(s, new BuildLedger(s.db)));
    heartbeat = setInterval(() => void tx(() => lock!.heartbeat()).catch(() => undefined), 60_000);
    heartbeat.unref();

    // Begin or resume the build (same grid hash → same unpublished version).
    let resumed = true;
    let build = await ledger.build(hash);
    if (!build) {
      resumed = false;
      build = await tx(async (s, l) => l.beginBuild(hash, grid, await s.createVersion(grid.description ?? `matrix build ${hash.slice(0, 12)}`)));
    }
    const pendingCells = await ledger.pending(hash, cells);
    let version = build.matrixVersion;
    const current = version === null ? null : await store.version(version);
    if (version === null || current === null || (current.publishedAt !== null && pendingCells.length > 0)) {
      version = await tx(async (s, l) => {
        const v = await s.createVersion(grid.description ?? `matrix build ${hash.slice(0, 12)}`);
        await l.setBuildVersion(hash, v);
        return v;
      });
    }
    const matrixVersion = version;

    const status = new Map<string, "pending" | "running" | "done" | "failed" | "blocked">();
    const records = new Map<string, CellRecord>();
    for (const c of await ledger.cells(hash)) if (c.status === "done") records.set(c.key, (c.output ?? {}) as CellRecord);
    for (const c of cells) status.set(c.key, records.has(c.key) ? "done" : "pending");
    const alreadyDone = cells.length - pendingCells.length;
    const nWorkers = Math.max(1, Math.min(o.workers ?? os.availableParallelism(), pendingCells.length));
    emit({ type: "start", gridHash: hash, matrixVersion, total: cells.length, done: alreadyDone, pending: pendingCells.length, workers: pendingCells.length > 0 ? nWorkers : 0, resumed });

    const summary: BuildSummary = { gridHash: hash, matrixVersion, published: false, total: cells.length, alreadyDone, run: 0, reused: 0, failed: [], blocked: [], seconds: 0, cellsPerHour: 0 };
    let doneCount = alreadyDone;

    let wake: () => void = () => undefined;
    let changed = new Promise<void>((r) => (wake = r));
    const notify = (): void => {
      const w = wake;
      changed = new Promise<void>((r) => (wake = r));
      w();
    };
    const next = (): Cell | "wait" | "finished" => {
      if (stopping) return "finished";
      let running = false;
      for (const c of cells) {
        const s = status.get(c.key)!;
        if (s === "running") running = true;
        if (s !== "pending") continue;
        const deps = c.deps.map((d) => status.get(d) ?? (records.has(d) ? "done" : "pending"));
        if (deps.some((d) => d === "failed" || d === "blocked")) {
          status.set(c.key, "blocked");
          summary.blocked.push(c.key);
          continue;
        }
        if (deps.every((d) => d === "done")) return c;
      }
      return running ? "wait" : "finished";
    };

    const jobFor = (c: Cell): CellJob => {
      const expect: NonNullable<CellJob["expect"]> = {};
      const train = records.get(`train/${c.architecture}/s${c.seed}`);
      if (train?.weightsSha256) expect.denseSha256 = train.weightsSha256;
      if (c.kind === "evaluate" && c.variantCell !== `train/${c.architecture}/s${c.seed}`) {
        const v = records.get(c.variantCell);
        if (v?.weightsSha256) expect.variantSha256 = v.weightsSha256;
      }
      if (c.kind === "train") delete expect.denseSha256;
      return { cell: c, grid, paths, expect };
    };

    const commit = async (c: Cell, output: CellOutput, timing: { seconds: number; workers: number }): Promise<CellRecord> => {
      if (output.kind === "evaluate") {
        if (c.kind !== "evaluate") throw new Error(`cell ${c.key} returned an evaluation`);
        const variantId = records.get(c.variantCell)?.variantId;
        if (variantId === undefined) throw new Error(`cell ${c.key}: its variant cell ${c.variantCell} recorded no variant id`);
        return tx(async (s, l) => {
          const ids: number[] = [];
          for (const r of (output as EvaluateOutput).results) {
            const e = await s.insertEvaluation(evaluationInputFromResult(r.result, { variantId, matrixVersion, startedAt: r.startedAt, finishedAt: r.finishedAt }));
            ids.push(e.id);
          }
          const rec: CellRecord = { evaluations: ids, ...timing };
          await l.finishCell(hash, c.key, rec);
          return rec;
        });
      }
      if (output.kind === "craft") {
        const rec: CellRecord = { file: output.file, examples: output.examples, crafted: output.crafted, ...timing };
        await tx((_s, l) => l.finishCell(hash, c.key, rec));
        return rec;
      }
      const m = output as ModelOutput;
      return tx(async (s, l) => {
        let modelId: string;
        if (c.kind === "train") {
          modelId = await s.upsertModel(modelInputFromMetadata(m.metadata, path.relative(dbDir, m.dir)));
        } else {
          // A cumulative variant's parent is the previous rate's variant; the chain's dense model is recorded beside it.
          modelId = records.get(`train/${c.architecture}/s${c.seed}`)?.modelId ?? m.metadata.pruning!.denseWeightsSha256 ?? m.metadata.pruning!.parentWeightsSha256;
        }
        const variantId = await s.upsertVariant(
          variantInputFrom({
            modelId,
            strategy: c.kind === "prune" ? c.strategy : "dense",
            requestedRate: c.kind === "prune" ? c.rate : 1,
            sparsity: m.sparsity,
            // Really shrinks compute: filter granularity only (engine/pruning/strategy.ts).
            structured: c.kind === "prune" && granularityOf(c.strategy) === "filter",
            ...(m.droppedBytes === undefined ? {} : { droppedBytes: m.droppedBytes }),
            ...(c.kind === "prune" && grid.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
            weightsSha256: m.metadata.weightsSha256,
            clean: m.clean,
            finetuneEpochs: c.kind === "prune" ? m.finetuneEpochs : 0,
            // A variant's seed is its pruning seed (grid.ts); the dense model's, its training seed.
            seed: c.kind === "prune" ? c.pruningSeed : c.seed,
            backend: m.metadata.backend,
            codeVersion: m.metadata.codeVersion,
            createdAt: m.metadata.createdAt,
          }),
        );
        const rec: CellRecord = { modelId, variantId, dir: m.dir, weightsSha256: m.metadata.weightsSha256, reused: m.reused, ...timing };
        await l.finishCell(hash, c.key, rec);
        return rec;
      });
    };

    const spawnWorker = (index: number): WorkerProcess => {
      const w = new WorkerProcess(index, (key, text) => emit({ type: "cell-progress", key, text }));
      workers.push(w);
      return w;
    };
    const loop = async (index: number): Promise<void> => {
      // Started at once, so the workers' start-up (TensorFlow.js, backend) overlaps the first cells.
      let w: WorkerProcess = spawnWorker(index);
      for (;;) {
        const c = next();
        if (c === "finished") break;
        if (c === "wait") {
          await changed;
          continue;
        }
        status.set(c.key, "running");
        if (w.exited) w = spawnWorker(index);
        emit({ type: "cell-start", key: c.key, worker: index });
        try {
          await tx((_s, l) => l.startCell(hash, c, `${os.hostname()}:${process.pid}/w${index}`));
          await w.ready;
          const m = await w.run(jobFor(c));
          if (m.type === "failed") throw new Error(m.error);
          if (m.type !== "done") throw new Error(`unexpected worker message ${m.type}`);
          const rec = await commit(c, m.output, { seconds: m.seconds, workers: nWorkers });
          records.set(c.key, rec);
          status.set(c.key, "done");
          summary.run++;
          if (rec.reused) summary.reused++;
          doneCount++;
          emit({ type: "cell-done", key: c.key, seconds: m.seconds, reused: rec.reused === true, done: doneCount, total: cells.length });
        } catch (err) {
          if (stopping) break;
          const error = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
          status.set(c.key, "failed");
          summary.failed.push({ key: c.key, error });
          await tx((_s, l) => l.failCell(hash, c.key, error)).catch(() => undefined);
          emit({ type: "cell-failed", key: c.key, error, done: doneCount, total: cells.length });
        }
        notify();
      }
      w.stop();
      notify();
    };
    if (pendingCells.length > 0) await Promise.all(Array.from({ length: nWorkers }, (_, i) => loop(i + 1)));
    // Interrupted: the signal handler exits the process. Returning would let a caller take the
    // half-done build for a finished one (and record it as failed).
    if (stopping) await new Promise<never>(() => undefined);

    if (cells.every((c) => status.get(c.key) === "done")) {
      const v = await store.version(matrixVersion);
      if (v && v.publishedAt === null) {
        if (o.beforePublish) {
          const guard = o.beforePublish;
          await store.transaction(async (s) => {
            await guard(s, matrixVersion);
            await s.publishVersion(matrixVersion);
          });
        } else {
          await store.publishVersion(matrixVersion);
        }
      }
      summary.published = true;
      emit({ type: "published", matrixVersion });
    }
    summary.seconds = (performance.now() - t0) / 1000;
    summary.cellsPerHour = summary.run > 0 ? (summary.run / summary.seconds) * 3600 : 0;
    return summary;
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    for (const w of workers) w.stop();
    await lock?.release().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

export interface MergeSummary {
  version: number | null;
  published: boolean;
  inputs: { file: string; version: number; rows: number; inserted: number; skipped: number; missingModelDirs: string[] }[];
  inserted: number;
}

/**
 * Merges shard databases (each with a published version) into `out`: every shard's rows go into
 * ONE new version of `out` (JSONL export → import `into`), published at the end; the shards'
 * build records (grid, done cells) are copied so `matrix stats` knows the grid. Importing the same
 * measurement twice adds nothing (content hashes), so merging is idempotent.
 */
export async function mergeDatabases(inputs: string[], out: string): Promise<MergeSummary> {
  const { exportJsonl, importJsonl, rebaseModelDir } = await import("./jsonl.js");
  const resolvedOut = path.resolve(out);
  for (const f of inputs) {
    if (path.resolve(f) === resolvedOut) throw new MatrixError(`cannot merge ${f} into itself`);
    await stat(f).catch(() => {
      throw new MatrixError(`shard database ${f} not found`);
    });
    await checkDatabaseFile(f);
  }
  const target = await openStore(out);
  try {
    const version = await target.createVersion(`merge of ${inputs.map((f) => path.basename(f)).join(", ")}`);
    const summary: MergeSummary = { version, published: false, inputs: [], inserted: 0 };
    for (const f of inputs) {
      const src = await openStore(f);
      try {
        const lines: string[] = [];
        const exported = await exportJsonl(src, undefined, (l) => void lines.push(l.trimEnd()));
        const srcFolder = path.dirname(path.resolve(f));
        const missing = await missingModelDirs(src, srcFolder);
        const r = await importJsonl(target, lines, { into: version, modelDir: rebaseModelDir(srcFolder, path.dirname(resolvedOut)) });
        summary.inputs.push({ file: f, version: exported.version, rows: exported.rows, inserted: r.inserted, skipped: r.skipped, missingModelDirs: missing });
        summary.inserted += r.inserted;
        const builds = await src.db.all<{ grid_hash: string; grid: string }>("SELECT grid_hash, grid FROM builds");
        const srcLedger = new BuildLedger(src.db);
        for (const b of builds) {
          const done = (await srcLedger.cells(b.grid_hash)).filter((c) => c.status === "done");
          await target.transaction(async (tx) => {
            const l = new BuildLedger(tx.db);
            const existing = await l.build(b.grid_hash);
            if (!existing) await l.beginBuild(b.grid_hash, JSON.parse(b.grid) as unknown, version);
            else await l.setBuildVersion(b.grid_hash, version);
            const have = new Set((await l.cells(b.grid_hash)).filter((c) => c.status === "done").map((c) => c.key));
            for (const c of done) {
              if (have.has(c.key)) continue;
              await l.startCell(b.grid_hash, c, c.worker);
              await l.finishCell(b.grid_hash, c.key, c.output);
            }
          });
        }
      } finally {
        await src.close();
      }
    }
    if (summary.inserted > 0) {
      await target.publishVersion(version);
      summary.published = true;
    } else {
      // Nothing new: leave no empty version behind.
      await target.transaction(async (tx) => {
        await tx.db.run("UPDATE builds SET matrix_version = (SELECT max(id) FROM matrix_versions WHERE published_at IS NOT NULL) WHERE matrix_version = ?", [version]);
      });
      await target.discardVersion(version);
      summary.version = null;
    }
    return summary;
  } finally {
    await target.close();
  }
}
