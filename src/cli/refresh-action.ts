// The action of `advisor refresh` (options in refresh.ts): the refresh POST /v1/models/{id}/refresh
// queues, run here in the foreground. It records a job like the service does (visible at
// GET /v1/jobs/{id}), so the two never run the same refresh twice: an equivalent job queued by the
// service is taken over, one the service is running is followed until it ends. Interrupted (Ctrl-C),
// the job is marked failed and the build keeps its finished cells: running the same command again
// resumes it.
import { randomUUID } from "node:crypto";
import os from "node:os";
import { resolveServeConfig } from "../config.js";
import { choicesText, refreshChoices } from "../jobs/estimate.js";
import { measuredVersion, prepareRefresh, RefreshError, type PreparedRefresh } from "../jobs/prepare.js";
import { runJob, type RunOutcome } from "../jobs/runner.js";
import { JobStore, runnerGone, type Job } from "../jobs/store.js";
import { jobView } from "../jobs/view.js";
import { openStore } from "../matrix/builder.js";
import { GridError, loadRefreshGrid, type RefreshGrid } from "../matrix/grid.js";
import { defaultRefreshGridPath } from "../paths.js";
import { UsageError } from "./errors.js";
import { buildProgressReporter } from "./matrix-actions.js";
import type { RefreshFlags } from "./refresh.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Report {
  outcome: "succeeded" | "failed" | "cancelled" | "already-measured" | "waiting";
  matrixVersion: number | null;
  detail: string;
  job: ReturnType<typeof jobView> | null;
}

function finish(r: Report, json: boolean | undefined): void {
  if (json) process.stdout.write(JSON.stringify(r) + "\n");
  else process.stdout.write(r.detail + "\n");
  if (r.outcome !== "succeeded" && r.outcome !== "already-measured") process.exitCode = 1;
}

/** Waits for a job another process runs, printing its progress on stderr. */
async function follow(jobs: JobStore, id: number): Promise<Job> {
  let last = "";
  for (;;) {
    const job = (await jobs.get(id))!;
    const line = `job ${id}: ${job.state}, ${job.cellsDone}/${job.cellsTotal ?? "?"} cells${job.currentCell ? `, ${job.currentCell}` : ""}`;
    if (line !== last) process.stderr.write(line + "\n");
    last = line;
    if (job.state !== "queued" && job.state !== "running") return job;
    await sleep(1000);
  }
}

/** What the publication kept, in a clause ("" when nothing). */
function keptText(job: Job): string {
  if (job.kept.length === 0) return "";
  const first = job.kept[0]!;
  return `; ${job.kept.length} current row(s) kept, the refresh's weaker rows withheld (e.g. ${first.strategy} ${first.rate}× ${first.norm} ${first.knowledge}: ${first.reasons.join("; ")}; run with --replace to make them current)`;
}

function reportOf(job: Job, p: PreparedRefresh, outcome?: RunOutcome): Report {
  const what = `model ${p.model.id.slice(0, 12)}… (${p.model.architecture}, ${p.model.dataset})`;
  if (job.state === "succeeded") {
    return { outcome: "succeeded", matrixVersion: job.publishedVersion, detail: `${what} measured: ${job.cellsTotal ?? p.cells} cells, matrix version ${job.publishedVersion} published (job ${job.id})${keptText(job)}`, job: jobView(job) };
  }
  if (outcome?.state === "waiting") return { outcome: "waiting", matrixVersion: null, detail: `job ${job.id} not run: ${outcome.reason}; try again when that build is done`, job: jobView(job) };
  if (job.state === "cancelled") return { outcome: "cancelled", matrixVersion: null, detail: `job ${job.id} was cancelled${job.note ? ` (${job.note})` : ""}`, job: jobView(job) };
  const why = job.note ?? (outcome?.state === "failed" ? outcome.error : outcome?.state === "lost" ? outcome.reason : `it is ${job.state}`);
  return { outcome: "failed", matrixVersion: null, detail: `job ${job.id} failed: ${why}; run the same command again to resume from the finished cells`, job: jobView(job) };
}

export async function refreshAction(modelId: string, flags: RefreshFlags & { db: string }): Promise<void> {
  // The data sets setting is validated exactly as `advisor serve` validates it.
  const datasets = resolveServeConfig({ datasets: flags.datasets }, { ADVISOR_DATASETS: process.env.ADVISOR_DATASETS }).datasets;
  const defaultGridFile = process.env.ADVISOR_REFRESH_GRID ?? defaultRefreshGridPath;
  const workers = flags.workers ?? 1;
  if (flags.grid === undefined) {
    // As POST /v1/models/{id}/refresh without a grid: never the default grid unasked; the choices and what they cost.
    const choices = await refreshChoices(defaultGridFile, workers);
    throw new UsageError(choicesText(choices, { defaultHow: "--grid default", objectHow: "--grid FILE" }, workers));
  }
  let grid: RefreshGrid | "default" = "default";
  if (flags.grid !== "default") {
    try {
      grid = await loadRefreshGrid(flags.grid);
    } catch (err) {
      if (err instanceof GridError) throw new UsageError(err.message.replace(/\n\s*/g, "; "));
      throw err;
    }
  }
  const store = await openStore(flags.db);
  try {
    let prepared: PreparedRefresh;
    try {
      prepared = await prepareRefresh({
        db: store.db,
        dbFile: flags.db,
        modelId,
        grid,
        defaultGridFile,
        datasets,
        idField: "<model-id>",
      });
    } catch (err) {
      if (err instanceof RefreshError) throw new UsageError(err.field === "<model-id>" ? `<model-id>: ${err.message}` : err.message);
      if (err instanceof GridError) throw new UsageError(err.message.replace(/\n\s*/g, "; "));
      throw err;
    }
    const jobs = new JobStore(store);
    const replace = flags.replace === true;
    const submitted = await jobs.submit({ modelId: prepared.model.id, gridHash: prepared.gridHash, grid: prepared.grid, workers, requestedBy: "cli", replace }, (tx) =>
      measuredVersion(tx, prepared.gridHash, prepared.grid),
    );
    if (submitted.outcome === "already-measured") {
      let detail = `model ${prepared.model.id.slice(0, 12)}… was already measured on this grid (${prepared.gridHash.slice(0, 12)}…) in matrix version ${submitted.matrixVersion}; nothing to do`;
      let matrixVersion = submitted.matrixVersion;
      const withheld = await jobs.withheldCount(submitted.matrixVersion);
      if (withheld > 0 && replace) {
        const r = await jobs.publishWithheld(submitted.matrixVersion, `${prepared.grid.description ?? "refresh"}: replace (the rows of version ${submitted.matrixVersion} kept back as weaker)`);
        if (r) {
          matrixVersion = r.version;
          detail = `model ${prepared.model.id.slice(0, 12)}… was already measured on this grid in matrix version ${submitted.matrixVersion}, which kept ${withheld} stronger current row(s); with --replace its ${r.rows} row(s) were published again as current in matrix version ${r.version}`;
        }
      } else if (withheld > 0) {
        detail += `; ${withheld} of its rows did not replace stronger current rows (run with --replace to make them current)`;
      }
      return finish({ outcome: "already-measured", matrixVersion, detail, job: submitted.job ? jobView(submitted.job) : null }, flags.json);
    }
    let job = submitted.job;
    // Take the job over when nobody runs it: queued (e.g. by the service), or running with its runner gone.
    if (job.state === "running" && runnerGone(job.runner)) await jobs.requeue(job.id, job.runner?.token ?? null, "taken over by advisor refresh: its runner is gone");
    const token = randomUUID();
    if (!(await jobs.claim(job.id, { token, host: os.hostname(), pid: process.pid }))) {
      const current = (await jobs.get(job.id))!;
      process.stderr.write(`job ${job.id} runs this refresh already (process ${current.runner?.pid ?? "?"} on ${current.runner?.host ?? "?"}); following it\n`);
      return finish(reportOf(await follow(jobs, job.id), prepared), flags.json);
    }
    process.stderr.write(`job ${job.id}${submitted.outcome === "already-queued" ? " (queued before, taken over)" : ""}: ${prepared.cells} cells for model ${prepared.model.id.slice(0, 12)}…\n`);
    const { onEvent, stop } = buildProgressReporter();
    let outcome: RunOutcome;
    try {
      outcome = await runJob({
        dbFile: flags.db,
        jobId: job.id,
        token,
        workers,
        onEvent,
        onInterrupt: async (signal) => {
          stop();
          await jobs.fail(job.id, token, `interrupted (${signal}); run advisor refresh again to resume from the finished cells`);
        },
      });
    } finally {
      stop();
    }
    job = (await jobs.get(job.id))!;
    finish(reportOf(job, prepared, outcome), flags.json);
  } finally {
    await store.close().catch(() => undefined);
  }
}
