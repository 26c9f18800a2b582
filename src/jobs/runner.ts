// Runs one claimed refresh job: the matrix build of the job's grid (src/matrix/builder.ts — cells
// in worker processes, each checkpointed in the database, resumed after a crash, one builder per
// database), reporting progress into the job's row and publishing the build's version in the same
// transaction that marks the job succeeded — where rows weaker than the current evidence are
// withheld unless the request said `"replace": true` (src/matrix/evidence.ts). Used by the service's runner process
// (runner-process.ts, forked at low CPU priority) and in the foreground by `advisor refresh`.
//
// Only the run holding the job's token changes it: once the job was cancelled or requeued, progress
// writes are no-ops and the publication is refused (beforePublish throws), so a cancelled refresh
// never becomes visible.
import { BuildLockedError } from "../matrix/build-state.js";
import { buildMatrix, type BuildEvent, type BuildSummary } from "../matrix/builder.js";
import { withholdWeaker } from "../matrix/evidence.js";
import { MatrixStore } from "../matrix/store.js";
import { HEARTBEAT_MS, JobStore } from "./store.js";

export type RunOutcome =
  | { state: "succeeded"; matrixVersion: number; summary: BuildSummary }
  | { state: "failed"; error: string }
  /** Another builder holds the database's build lock: the job went back to the queue. */
  | { state: "waiting"; reason: string }
  /** The job is no longer this run's (cancelled or requeued meanwhile). */
  | { state: "lost"; reason: string };

export interface RunJobOptions {
  dbFile: string;
  jobId: number;
  /** The token the job was claimed with (JobStore.claim). */
  token: string;
  workers: number;
  /** Pruned-variant cache (default <db folder>/variants). */
  variantsDir?: string;
  onEvent?: (e: BuildEvent) => void;
  onInterrupt?: (signal: NodeJS.Signals) => Promise<void>;
}

class JobLostError extends Error {
  override name = "JobLostError";
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0]!;

export async function runJob(o: RunJobOptions): Promise<RunOutcome> {
  const store = await MatrixStore.open(o.dbFile);
  const jobs = new JobStore(store);
  // Progress writes run one after another, off the build's path; a failed write only loses progress.
  let chain: Promise<unknown> = Promise.resolve();
  const later = (work: () => Promise<unknown>): void => {
    chain = chain.then(work).catch(() => undefined);
  };
  const heartbeat = setInterval(() => later(() => jobs.progress(o.jobId, o.token, { heartbeat: true })), HEARTBEAT_MS);
  heartbeat.unref();
  try {
    const job = await jobs.get(o.jobId);
    if (!job || job.state !== "running" || job.runner?.token !== o.token) return { state: "lost", reason: `job ${o.jobId} is not claimed by this run` };

    let t0 = 0;
    let doneAtStart = 0;
    let total = 0;
    let lastDetail = 0;
    const onEvent = (e: BuildEvent): void => {
      o.onEvent?.(e);
      switch (e.type) {
        case "start":
          t0 = performance.now();
          doneAtStart = e.done;
          total = e.total;
          later(() => jobs.progress(o.jobId, o.token, { buildVersion: e.matrixVersion, cellsTotal: e.total, cellsDone: e.done, heartbeat: true }));
          break;
        case "cell-start":
          later(() => jobs.progress(o.jobId, o.token, { currentCell: e.key, currentDetail: null }));
          break;
        case "cell-progress": {
          const now = performance.now();
          if (now - lastDetail < 1000) break;
          lastDetail = now;
          later(() => jobs.progress(o.jobId, o.token, { currentCell: e.key, currentDetail: e.text }));
          break;
        }
        case "cell-done": {
          const ran = e.done - doneAtStart;
          const perCell = ran > 0 ? (performance.now() - t0) / ran : NaN;
          const etaAt = Number.isFinite(perCell) ? new Date(Date.now() + perCell * (total - e.done)).toISOString() : null;
          later(() => jobs.progress(o.jobId, o.token, { cellsDone: e.done, etaAt }));
          break;
        }
        case "cell-failed":
          later(() => jobs.addError(o.jobId, o.token, { cell: e.key, error: e.error, at: new Date().toISOString() }));
          break;
        case "published":
          break;
      }
    };

    let summary: BuildSummary;
    try {
      summary = await buildMatrix({
        grid: job.grid,
        db: o.dbFile,
        workers: o.workers,
        ...(o.variantsDir ? { variantsDir: o.variantsDir } : {}),
        onEvent,
        ...(o.onInterrupt ? { onInterrupt: o.onInterrupt } : {}),
        beforePublish: async (tx, version) => {
          // Rows weaker than the current evidence are published withheld (src/matrix/evidence.ts) unless the request said replace.
          const kept = (await JobStore.replaceIn(tx, o.jobId)) ? [] : await withholdWeaker(tx, version);
          if (!(await JobStore.succeedIn(tx, o.jobId, o.token, version, new Date(), kept))) throw new JobLostError(`job ${o.jobId} was cancelled or taken over before its version ${version} was published`);
        },
      });
    } catch (err) {
      await chain;
      if (err instanceof JobLostError) return { state: "lost", reason: err.message };
      if (err instanceof BuildLockedError) {
        const reason = `waiting for the database's build lock, held by process ${err.holder.pid} on ${err.holder.host} since ${err.holder.acquiredAt}`;
        await jobs.requeue(o.jobId, o.token, reason);
        return { state: "waiting", reason };
      }
      const error = firstLine(err);
      await jobs.addError(o.jobId, o.token, { cell: null, error, at: new Date().toISOString() });
      await jobs.fail(o.jobId, o.token, `the build stopped: ${error}`);
      return { state: "failed", error };
    }
    await chain;
    if (summary.published) {
      // Published by this run (then the job succeeded with it), or already by another run of the same grid.
      const now = await jobs.get(o.jobId);
      if (now?.state === "succeeded") return { state: "succeeded", matrixVersion: now.publishedVersion!, summary };
      if (await jobs.succeed(o.jobId, o.token, summary.matrixVersion)) return { state: "succeeded", matrixVersion: summary.matrixVersion, summary };
      return { state: "lost", reason: `job ${o.jobId} was cancelled or taken over` };
    }
    const error =
      `${summary.failed.length} cell(s) failed` +
      (summary.blocked.length > 0 ? `, ${summary.blocked.length} not run because a cell they need failed` : "") +
      (summary.failed[0] ? `; first: ${summary.failed[0].key}: ${summary.failed[0].error}` : "");
    if (!(await jobs.fail(o.jobId, o.token, error))) return { state: "lost", reason: `job ${o.jobId} was cancelled or taken over` };
    return { state: "failed", error };
  } finally {
    clearInterval(heartbeat);
    await chain;
    await store.close().catch(() => undefined);
  }
}
