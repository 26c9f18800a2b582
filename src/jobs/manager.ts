// The service's refresh-job manager: one job at a time per database (the build lock allows one
// builder), each in its own runner process (runner-process.ts) forked at low CPU priority with its
// own build workers, so the API process stays free to answer requests.
//
//   submit   → a queued row (or the equivalent queued/running job, or "already measured"), then a tick;
//   tick     → requeue jobs whose runner is gone, discard cancelled builds, claim the oldest queued
//              job (token, pid) and fork its runner;
//   cancel   → the row becomes `cancelled` first (so the run can no longer publish), then its runner
//              is stopped (SIGTERM: workers killed, lock released) and the build's unpublished
//              version and checkpoints are discarded;
//   start    → the same reconciliation: a job `running` when the previous service died has no
//              runner any more (runners exit with the service) and is requeued; its build resumes
//              from the checkpointed cells;
//   close    → the running job is requeued and its runner stopped; the next start resumes it.
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { siblingEntry } from "../paths.js";
import type { Logger } from "../logger.js";
import { BuildLedger, DEFAULT_STALE_AFTER_MS, processAlive, type LockInfo } from "../matrix/build-state.js";
import type { MatrixStore } from "../matrix/store.js";
import { measuredVersion, type PreparedRefresh } from "./prepare.js";
import type { FromRunner, RunnerArgs } from "./runner-process.js";
import type { RunOutcome } from "./runner.js";
import { JobStore, runnerGone, type Job, type JobQuery, type SubmitOutcome } from "./store.js";
import { Mutex } from "../matrix/mutex.js";

export interface JobManagerOptions {
  /** The service's store (its connection is shared with the API). */
  store: MatrixStore;
  dbFile: string;
  /** Build worker processes per job (default 1). */
  workers?: number;
  /** Niceness of the runner and its workers, 0-19 (default 10); null leaves the priority as it is. */
  niceness?: number | null;
  logger?: Logger;
  /** How often queued and orphaned jobs are looked for (default 2000 ms). */
  pollMs?: number;
}

export const DEFAULT_JOB_WORKERS = 1;
export const DEFAULT_JOB_NICENESS = 10;
/** After a runner found the build lock taken, wait this long before trying again. */
const LOCK_RETRY_MS = 5000;
const STOP_GRACE_MS = 10_000;

interface Running {
  jobId: number;
  token: string;
  child: ChildProcess;
  exited: Promise<void>;
  outcome: RunOutcome | null;
  stderr: string[];
}


const runnerEntry = (): { file: string; execArgv: string[] } => siblingEntry(import.meta.url, "runner-process");

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** As BuildLedger.acquireLock judges a holder: its process is gone (this host) or its heartbeat is stale. */
function lockAbandoned(lock: LockInfo, now = Date.now()): boolean {
  if (lock.host === os.hostname() && !processAlive(lock.pid)) return true;
  return now - Date.parse(lock.heartbeatAt) > DEFAULT_STALE_AFTER_MS;
}

export type CancelResult = { status: "cancelled"; job: Job } | { status: "finished"; job: Job } | { status: "unknown" };

export class JobManager {
  readonly jobs: JobStore;
  readonly workers: number;
  private readonly niceness: number | null;
  private readonly log: Logger | undefined;
  private readonly mutex = new Mutex();
  private running: Running | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private ticking = false;
  private again = false;
  private notBefore = 0;

  constructor(private readonly o: JobManagerOptions) {
    this.jobs = new JobStore(o.store);
    this.workers = o.workers ?? DEFAULT_JOB_WORKERS;
    this.niceness = o.niceness === undefined ? DEFAULT_JOB_NICENESS : o.niceness;
    this.log = o.logger;
  }

  /** Requeues jobs left running by a previous service, discards cancelled builds, starts the next job. */
  async start(): Promise<void> {
    await this.mutex.run(() => this.reconcile("the service restarted while it ran; its build resumes from the finished cells"));
    this.timer = setInterval(() => this.kick(), this.o.pollMs ?? 2000);
    this.timer.unref();
    this.kick();
  }

  /** The job the manager's runner is running now, if any. */
  current(): { jobId: number; pid: number | undefined } | null {
    return this.running ? { jobId: this.running.jobId, pid: this.running.child.pid } : null;
  }

  get(id: number): Promise<Job | null> {
    return this.jobs.get(id);
  }

  find(q: JobQuery): Promise<Job[]> {
    return this.jobs.find(q);
  }

  /** Queues a refresh unless an equivalent job is queued or running, or its grid is fully measured already. */
  async submit(p: PreparedRefresh, requestedBy: string | null): Promise<SubmitOutcome> {
    const r = await this.jobs.submit({ modelId: p.model.id, gridHash: p.gridHash, grid: p.grid, workers: this.workers, requestedBy }, (tx) => measuredVersion(tx, p.gridHash, p.grid));
    if (r.outcome === "queued") {
      this.log?.info({ job: r.job.id, modelId: p.model.id, gridHash: p.gridHash, cells: p.cells }, "refresh job queued");
      this.kick();
    }
    return r;
  }

  /** Cancels a queued or running job: state first, then its runner is stopped and its unpublished build discarded. */
  async cancel(id: number, by: string | null): Promise<CancelResult> {
    return this.mutex.run(async () => {
      const before = await this.jobs.cancel(id, `cancelled${by ? ` by ${by}` : ""}`);
      if (!before) {
        const job = await this.jobs.get(id);
        if (!job) return { status: "unknown" };
        return job.state === "cancelled" ? { status: "cancelled", job } : { status: "finished", job };
      }
      if (before.state === "running") await this.stopRunner(before);
      // Once its runner is gone (a runner on another host cannot be stopped from here: then the
      // periodic reconciliation discards the build when its heartbeat stops).
      if (this.orphaned(before) && (await this.jobs.discardCancelled(id))) this.log?.info({ job: id }, "cancelled job's unpublished build discarded");
      this.log?.info({ job: id, was: before.state }, "refresh job cancelled");
      this.kick();
      return { status: "cancelled", job: (await this.jobs.get(id))! };
    });
  }

  /** Stops the loop; a running job is requeued and its runner stopped (the next start resumes it). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.mutex.run(async () => {
      const r = this.running;
      if (!r) return;
      await this.jobs.requeue(r.jobId, r.token, "the service stopped while it ran; it resumes when the service starts again").catch(() => false);
      await this.stopChild(r);
    });
  }

  kick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.mutex
      .run(() => this.step())
      .catch((err: unknown) => this.log?.error({ err }, "refresh job manager step failed"))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private isOurs(job: Job): boolean {
    return this.running?.jobId === job.id && this.running.token === job.runner?.token;
  }

  /** A runner that is not ours and is gone — or recorded with this process's pid by an earlier instance. */
  private orphaned(job: Job): boolean {
    if (this.isOurs(job)) return false;
    if (job.runner && job.runner.host === os.hostname() && job.runner.pid === process.pid) return true;
    return runnerGone(job.runner);
  }

  private async reconcile(note: string): Promise<void> {
    for (const job of await this.jobs.list(["running"])) {
      if (!this.orphaned(job)) continue;
      if (await this.jobs.requeue(job.id, job.runner?.token ?? null, note)) this.log?.warn({ job: job.id, runner: job.runner }, "requeued a refresh job whose runner is gone");
    }
    for (const job of await this.jobs.cancelledWithBuild()) {
      if (job.runner && !this.orphaned(job)) continue;
      if (await this.jobs.discardCancelled(job.id)) this.log?.info({ job: job.id }, "cancelled job's unpublished build discarded");
    }
  }

  private async step(): Promise<void> {
    if (this.closed) return;
    await this.reconcile("its runner went away; its build resumes from the finished cells");
    if (this.running || Date.now() < this.notBefore) return;
    const next = await this.jobs.nextQueued();
    if (!next) return;
    // Another builder (e.g. an operator's `advisor matrix build` on this database) holds the build
    // lock: wait for it here rather than forking a runner that would only find the lock taken.
    const lock = await new BuildLedger(this.o.store.db).currentLock();
    if (lock && !lockAbandoned(lock)) {
      await this.jobs.noteQueued(next.id, `waiting for the database's build lock, held by process ${lock.pid} on ${lock.host} since ${lock.acquiredAt}`);
      return;
    }
    const token = randomUUID();
    if (!(await this.jobs.claim(next.id, { token, host: os.hostname(), pid: process.pid }))) {
      this.again = true;
      return;
    }
    this.spawn(next, token);
  }

  private spawn(job: Job, token: string): void {
    const entry = runnerEntry();
    const args: RunnerArgs = { dbFile: path.resolve(this.o.dbFile), jobId: job.id, token, workers: job.workers, niceness: this.niceness };
    const child = fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, ADVISOR_JOB_RUNNER: JSON.stringify(args) },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    // Lowered at once, before the runner forks its workers (they inherit it); the runner sets it again itself.
    if (this.niceness !== null && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, this.niceness);
      } catch (err) {
        this.log?.warn({ err, pid: child.pid }, "cannot lower the refresh runner's CPU priority");
      }
    }
    const r: Running = { jobId: job.id, token, child, exited: Promise.resolve(), outcome: null, stderr: [] };
    child.stderr?.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n")) if (line.trim()) r.stderr.push(line.trim());
      if (r.stderr.length > 20) r.stderr.splice(0, r.stderr.length - 20);
    });
    // Without a listener, a failed fork (or a send on a closed channel) would throw in the
    // service's process. A fork that never started emits no 'exit': settle it as one here.
    child.on("error", (err) => {
      this.log?.error({ err, job: job.id, pid: child.pid }, "refresh runner process error");
      if (child.pid === undefined) child.emit("exit", null, null);
    });
    child.on("message", (m: FromRunner) => {
      if (m.type === "outcome") r.outcome = m.outcome;
      else if (m.type === "priority") this.log?.info({ job: job.id, pid: child.pid, niceness: m.niceness, ...(m.error ? { error: m.error } : {}) }, "refresh runner started");
    });
    r.exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        if (this.running === r) this.running = null;
        void this.afterExit(r, code, signal)
          .catch((err: unknown) => this.log?.error({ err, job: r.jobId }, "refresh job bookkeeping failed"))
          .finally(() => {
            resolve();
            this.kick();
          });
      });
    });
    this.running = r;
    if (child.pid !== undefined) void this.jobs.setRunnerPid(job.id, token, child.pid).catch(() => undefined);
    this.log?.info({ job: job.id, modelId: job.modelId, pid: child.pid, attempt: job.attempts + 1 }, "refresh job started");
  }

  private async afterExit(r: Running, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const job = await this.jobs.get(r.jobId);
    if (!job) return;
    if (r.outcome?.state === "waiting") this.notBefore = Date.now() + LOCK_RETRY_MS;
    if (job.state === "running" && job.runner?.token === r.token) {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (this.closed) {
        await this.jobs.requeue(r.jobId, r.token, "the service stopped while it ran; it resumes when the service starts again");
      } else {
        const why = r.outcome?.state === "failed" ? r.outcome.error : (r.stderr.at(-1) ?? "no error message");
        await this.jobs.addError(r.jobId, r.token, { cell: null, error: `runner exited (${how}): ${why}`, at: new Date().toISOString() });
        await this.jobs.fail(r.jobId, r.token, `the job's runner process exited (${how}) before the job finished: ${why}`);
      }
    }
    if (job.state === "cancelled") await this.jobs.discardCancelled(r.jobId);
    const after = await this.jobs.get(r.jobId);
    this.log?.info({ job: r.jobId, state: after?.state, matrixVersion: after?.publishedVersion ?? null, code, signal }, "refresh job runner exited");
  }

  /** Stops the process running `job`: our runner, or (same host) another process such as `advisor refresh`. */
  private async stopRunner(job: Job): Promise<void> {
    const r = this.running;
    if (r && r.jobId === job.id) {
      await this.stopChild(r);
      return;
    }
    const runner = job.runner;
    if (!runner || runner.host !== os.hostname() || runner.pid === process.pid || !processAlive(runner.pid)) return;
    try {
      process.kill(runner.pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    while (processAlive(runner.pid) && Date.now() < deadline) await sleep(50);
  }

  private async stopChild(r: Running): Promise<void> {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGTERM");
    const timer = setTimeout(() => r.child.kill("SIGKILL"), STOP_GRACE_MS);
    await r.exited;
    clearTimeout(timer);
  }
}
