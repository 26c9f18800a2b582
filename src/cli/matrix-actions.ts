// The actions of `advisor matrix …` (options in matrix.ts). Known failures (bad grid, locked or
// corrupt database, bad JSONL line) surface as one line on stderr via reportAndExit in main.ts.
import path from "node:path";
import os from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { buildMatrix, mergeDatabases, openStore, type BuildEvent } from "../matrix/builder.js";
import { exportJsonl, importJsonl, rebaseModelDir, unshippableDatasets } from "../matrix/jsonl.js";
import { REAL_DATASET_NAMES } from "../engine/data-provenance.js";
import { shippedMatrixPath } from "../paths.js";
import { missingModelDirs, missingModelDirsWarning } from "../matrix/model-dirs.js";
import { loadGrid, notApplicable, parseShard, type ShardSpec } from "../matrix/grid.js";
import { formatStats, matrixStats } from "../matrix/stats.js";
import { verifyMatrix } from "../matrix/verify.js";
import { UsageError } from "./errors.js";
import { progressBar, type Progress } from "./progress.js";
import { resolveDb, type MatrixBuildFlags, type MatrixExportFlags, type MatrixImportFlags, type MatrixMergeFlags, type MatrixStatsFlags, type MatrixVerifyFlags } from "./matrix.js";

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

/** Build events as a progress bar on stderr (a line per cell when stderr is not a terminal). */
export function buildProgressReporter(): { onEvent: (e: BuildEvent) => void; stop: () => void } {
  let bar: Progress | undefined;
  let total = 0;
  let done = 0;
  const t0 = performance.now();
  let doneAtStart = 0;
  const current = new Map<string, string>();
  const fields = (): Record<string, string | number> => {
    const elapsed = (performance.now() - t0) / 1000;
    const ran = done - doneAtStart;
    const eta = ran > 0 ? ((total - done) * elapsed) / ran : NaN;
    const cell = [...current.entries()].map(([k, t]) => (t ? `${k} (${t})` : k)).join(" | ");
    return { cell: cell.length > 100 ? cell.slice(0, 99) + "…" : cell, etaText: Number.isFinite(eta) ? formatDuration(eta) : "?" };
  };
  const onEvent = (e: BuildEvent): void => {
    switch (e.type) {
      case "start":
        total = e.total;
        done = e.done;
        doneAtStart = e.done;
        process.stderr.write(
          `matrix build ${e.gridHash.slice(0, 12)}… → version ${e.matrixVersion}${e.resumed ? " (resumed)" : ""}: ${e.total} cells, ${e.done} done, ${e.pending} to run on ${e.workers} worker(s)\n`,
        );
        if (e.pending > 0) {
          bar = progressBar(Math.max(1, e.total), "cells {value}/{total} |{bar}| {percentage}% | ETA {etaText} | {cell}");
          bar.update(done, fields());
        }
        break;
      case "cell-start":
        current.set(e.key, "");
        bar?.update(done, fields());
        break;
      case "cell-progress":
        if (current.has(e.key)) current.set(e.key, e.text);
        bar?.update(done, fields());
        break;
      case "cell-done":
        current.delete(e.key);
        done = e.done;
        // The ETA on the line too: a build's log (stderr not a terminal) shows no bar.
        bar?.line(`[${e.done}/${e.total}] ${e.key} done in ${e.seconds.toFixed(1)} s${e.reused ? " (model reused)" : ""}${e.done < e.total ? `, ETA ${fields().etaText}` : ""}`);
        bar?.update(done, fields());
        break;
      case "cell-failed":
        current.delete(e.key);
        bar?.line(`[${e.done}/${e.total}] ${e.key} FAILED: ${e.error}`);
        bar?.update(done, fields());
        break;
      case "published":
        break;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}

function shardFlag(text: string | undefined): ShardSpec | undefined {
  try {
    return text === undefined ? undefined : parseShard(text);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export async function buildAction(flags: MatrixBuildFlags): Promise<void> {
  const db = resolveDb(flags);
  const shard = shardFlag(flags.shard);
  const { onEvent, stop } = buildProgressReporter();
  let summary;
  try {
    const skipped = notApplicable(await loadGrid(flags.grid));
    if (skipped) process.stderr.write(`note: ${skipped}\n`);
    summary = await buildMatrix({
      gridFile: flags.grid,
      db,
      ...(flags.workers === undefined ? {} : { workers: flags.workers }),
      ...(shard ? { shard } : {}),
      ...(flags.modelsDir ? { modelsDir: flags.modelsDir } : {}),
      ...(flags.variantsDir ? { variantsDir: flags.variantsDir } : {}),
      onEvent,
    });
  } finally {
    stop();
  }
  if (flags.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else {
    const lines = [
      `cells: ${summary.total} in the ${shard ? `shard ${shard.index}/${shard.count}` : "grid"}, ${summary.alreadyDone} done before, ${summary.run} run (${summary.reused} with a reused model), ${summary.failed.length} failed, ${summary.blocked.length} blocked`,
      `wall time ${formatDuration(summary.seconds)}, ${summary.cellsPerHour.toFixed(1)} cells per hour`,
      summary.published ? `matrix version ${summary.matrixVersion} published` : `matrix version ${summary.matrixVersion} not published (cells missing); run the same command again to finish`,
      ...summary.failed.map((f) => `failed ${f.key}: ${f.error}`),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  if (summary.failed.length > 0 || summary.blocked.length > 0) process.exitCode = 1;
}

function warn(line: string | null): void {
  if (line !== null) process.stderr.write(line + "\n");
}

export async function mergeAction(shards: string[], flags: MatrixMergeFlags): Promise<void> {
  const r = await mergeDatabases(shards, flags.db);
  if (flags.json) process.stdout.write(JSON.stringify(r) + "\n");
  else {
    const lines = r.inputs.map((i) => `${i.file}: version ${i.version}, ${i.rows} rows, ${i.inserted} new, ${i.skipped} already present`);
    for (const i of r.inputs) warn(missingModelDirsWarning(i.file, i.missingModelDirs));
    lines.push(r.version === null ? `nothing new; ${flags.db} unchanged` : `merged into ${flags.db}: version ${r.version} published with ${r.inserted} rows`);
    process.stdout.write(lines.join("\n") + "\n");
  }
}

/**
 * `--in-progress`: the latest build's finished rows, from a snapshot of the database (VACUUM INTO
 * a temp file, whose copy of the build's version is published there), so the build's own
 * database stays untouched and its version is published only when the whole grid is done.
 */
async function inProgressSnapshot(db: string): Promise<{ file: string; note: string; empty: boolean; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-export-"));
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, "snapshot.sqlite");
    const src = await openStore(db);
    try {
      await src.db.run("VACUUM INTO ?", [file]);
    } finally {
      await src.close();
    }
    const copy = await openStore(file);
    try {
      const build = await copy.db.get<{ grid_hash: string; matrix_version: number | null }>("SELECT grid_hash, matrix_version FROM builds ORDER BY updated_at DESC, rowid DESC LIMIT 1");
      if (!build || build.matrix_version === null) throw new UsageError(`${db} records no build in progress`);
      const stats = await matrixStats(copy);
      const v = await copy.version(build.matrix_version);
      const empty = stats.rows === 0;
      if (v && v.publishedAt === null && !empty) await copy.publishVersion(build.matrix_version);
      const note = `build ${build.grid_hash.slice(0, 12)}…: ${stats.build?.cellsDone ?? "?"}/${stats.build?.cells ?? "?"} cells done, ${stats.rows}/${stats.build?.expectedRows ?? "?"} rows`;
      return { file, note, empty, cleanup };
    } finally {
      await copy.close();
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** db/matrix.jsonl, and the seed matrix the service is configured with (ADVISOR_SEED_MATRIX) when another. */
function shippedMatrixFiles(): string[] {
  const seed = process.env.ADVISOR_SEED_MATRIX;
  return [path.resolve(shippedMatrixPath), ...(seed && seed !== "none" ? [path.resolve(seed)] : [])];
}

export async function exportAction(flags: MatrixExportFlags): Promise<void> {
  if (flags.format !== "jsonl") throw new UsageError(`--format must be jsonl, got ${JSON.stringify(flags.format)}`);
  if (flags.inProgress && flags.matrixVersion !== undefined) throw new UsageError("--in-progress exports the latest build's version; do not give --matrix-version too");
  const db = resolveDb(flags);
  const snapshot = flags.inProgress ? await inProgressSnapshot(db) : undefined;
  const store = await openStore(snapshot?.file ?? db).catch(async (err: unknown) => {
    await snapshot?.cleanup();
    throw err;
  });
  try {
    // The shipped matrix (and the one the service seeds from) holds real measurements only: never
    // rows of generated (or unknown) data. Checked before the file is opened, so it stays as it was.
    if (flags.out && shippedMatrixFiles().includes(path.resolve(flags.out)) && !snapshot?.empty) {
      const bad = await unshippableDatasets(store, flags.matrixVersion);
      if (bad.length > 0) {
        throw new UsageError(
          `--out ${flags.out} is the shipped matrix, which holds rows of real data sets only (${REAL_DATASET_NAMES.join(", ")}); this version has rows of ${bad.join(", ")}: export them elsewhere`,
        );
      }
    }
    const out = flags.out ? createWriteStream(flags.out) : process.stdout;
    const write = async (line: string): Promise<void> => {
      if (!out.write(line)) await once(out, "drain");
    };
    // A relative model directory is relative to the folder of the file holding the row.
    const dbFolder = path.dirname(path.resolve(db));
    warn(missingModelDirsWarning(db, await missingModelDirs(store, dbFolder)));
    const r = snapshot?.empty
      ? { rows: 0, version: "(none: no row finished yet)" }
      : await exportJsonl(store, flags.matrixVersion, write, flags.architecture ? { architecture: flags.architecture } : {}, flags.out ? { modelDir: rebaseModelDir(dbFolder, path.dirname(path.resolve(flags.out))) } : {});
    if (flags.out) {
      await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
      process.stderr.write(`exported ${r.rows} rows of version ${r.version} to ${flags.out}\n`);
    }
    if (flags.architecture && r.rows === 0) warn(`warning: no row of architecture ${JSON.stringify(flags.architecture)} in version ${r.version}`);
    if (snapshot) process.stderr.write(`in progress, not published in ${db}: ${snapshot.note}\n`);
  } finally {
    await store.close();
    await snapshot?.cleanup();
  }
}

export async function importAction(file: string, flags: MatrixImportFlags): Promise<void> {
  const input = createReadStream(file);
  await once(input, "open").catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code === "ENOENT" ? "not found" : err.message}`);
  });
  const store = await openStore(resolveDb(flags));
  try {
    const r = await importJsonl(store, createInterface({ input, crlfDelay: Infinity }), {
      modelDir: rebaseModelDir(path.dirname(path.resolve(file)), path.dirname(path.resolve(resolveDb(flags)))),
    });
    if (flags.json) process.stdout.write(JSON.stringify(r) + "\n");
    else
      process.stdout.write(
        r.version === null
          ? `nothing new in ${file} (${r.rows} rows already present)\n`
          : `imported ${r.inserted} rows (${r.skipped} already present, ${r.newModels} new models, ${r.newVariants} new variants) as version ${r.version}\n`,
      );
  } finally {
    await store.close();
  }
}

export async function verifyAction(flags: MatrixVerifyFlags): Promise<void> {
  const db = resolveDb(flags);
  const { initBackend } = await import("../engine/backend.js");
  await initBackend();
  const store = await openStore(db);
  try {
    const report = await verifyMatrix(store, db, {
      sample: flags.sample,
      tolerance: flags.tolerance,
      ...(flags.seed === undefined ? {} : { seed: flags.seed }),
      ...(flags.variantsDir ? { variantsDir: flags.variantsDir } : {}),
      ...(flags.data ? { dataDir: flags.data } : {}),
      onCell: (c) => {
        if (flags.json) return;
        if (c.error) process.stdout.write(`${c.key}: ERROR ${c.error}\n`);
        else
          process.stdout.write(
            `${c.key}: ${c.agree ? "agrees" : "DISAGREES"} (${c.seconds.toFixed(1)} s)\n` +
              c.rows.map((r) => `  ${r.knowledge}: clean ${r.cleanNow}/${r.cleanRecorded} recorded, max |Δ robust| ${r.maxDelta} (allowed ${r.allowed}) ${r.agree ? "ok" : "MISMATCH"}\n`).join(""),
          );
      },
    });
    if (flags.json) process.stdout.write(JSON.stringify(report) + "\n");
    else process.stdout.write(`version ${report.version}: ${report.cells.filter((c) => c.agree).length}/${report.cells.length} cells agree (tolerance ${flags.tolerance} of the samples, at least 1)\n`);
    if (!report.agree) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

export async function statsAction(flags: MatrixStatsFlags): Promise<void> {
  const shard = shardFlag(flags.shard);
  const store = await openStore(resolveDb(flags));
  try {
    const grid = flags.grid === undefined ? undefined : await loadGrid(flags.grid);
    const s = await matrixStats(store, { ...(flags.matrixVersion === undefined ? {} : { version: flags.matrixVersion }), ...(grid ? { grid } : {}), ...(shard ? { shard } : {}) });
    if (flags.json) process.stdout.write(JSON.stringify(s) + "\n");
    else process.stdout.write(formatStats(s, { all: flags.all === true }).join("\n") + "\n");
  } finally {
    await store.close();
  }
}
