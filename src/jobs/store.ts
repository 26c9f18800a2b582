// Refresh jobs in SQLite (table jobs, db/migrations/004_jobs.sql): their state, progress and who
// runs them. Every write goes through MatrixStore.transaction (BEGIN IMMEDIATE, serialised with the
// store's other writes on the same connection), and every update a runner makes is guarded by its
// run's token and `state = 'running'`: a run that was cancelled, requeued or taken over by someone
// else can no longer change the job (nor publish, see runner.ts).
import os from "node:os";
import { processAlive } from "../matrix/build-state.js";
import { publishWithheld, withheldCount, type KeptRow } from "../matrix/evidence.js";
import { FROM_SNAPSHOT } from "../matrix/queries.js";
import { variantPruningSeeds, type Grid } from "../matrix/grid.js";
import type { MatrixStore } from "../matrix/store.js";

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];
export const ACTIVE_STATES: readonly JobState[] = ["queued", "running"];

/** A runner that has not written its heartbeat for this long counts as gone (any host). */
export const RUNNER_STALE_MS = 2 * 60 * 1000;
/** How often a runner writes its heartbeat. */
export const HEARTBEAT_MS = 15 * 1000;

export interface JobError {
  /** The failed cell, or null for the job itself. */
  cell: string | null;
  error: string;
  at: string;
}

export interface Runner {
  token: string;
  host: string;
  pid: number;
  heartbeatAt: string | null;
}

export interface Job {
  id: number;
  kind: "refresh";
  modelId: string;
  gridHash: string;
  grid: Grid;
  state: JobState;
  workers: number;
  cellsTotal: number | null;
  cellsDone: number;
  currentCell: string | null;
  currentDetail: string | null;
  errors: JobError[];
  etaAt: string | null;
  buildVersion: number | null;
  publishedVersion: number | null;
  attempts: number;
  runner: Runner | null;
  requestedBy: string | null;
  note: string | null;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  finishedAt: string | null;
  /** The request said `"replace": true`: its rows become current even when weaker (src/matrix/evidence.ts). */
  replace: boolean;
  /** What its publication kept: current rows its weaker rows did not replace (empty until it published). */
  kept: KeptRow[];
}

export interface JobQuery {
  state?: JobState;
  modelId?: string;
  /** Only jobs with a smaller id (the previous page's last id). */
  before?: number;
  limit: number;
}

interface JobRow {
  id: number;
  kind: "refresh";
  model_id: string;
  grid_hash: string;
  grid: string;
  state: JobState;
  workers: number;
  cells_total: number | null;
  cells_done: number;
  current_cell: string | null;
  current_detail: string | null;
  errors: string;
  eta_at: string | null;
  build_version: number | null;
  published_version: number | null;
  attempts: number;
  runner_token: string | null;
  runner_host: string | null;
  runner_pid: number | null;
  heartbeat_at: string | null;
  requested_by: string | null;
  note: string | null;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
  replace_evidence: number;
  kept: string;
}

/** A stored grid; jobs queued before data set formats existed hold IDX data sets (the default). */
function storedGrid(text: string): Grid {
  const g = JSON.parse(text) as Omit<Grid, "dataset"> & { dataset: Omit<Grid["dataset"], "format"> & Partial<Pick<Grid["dataset"], "format">> };
  return { ...g, dataset: { ...g.dataset, format: g.dataset.format ?? "idx" } };
}

function jobFrom(r: JobRow): Job {
  return {
    id: r.id,
    kind: r.kind,
    modelId: r.model_id,
    gridHash: r.grid_hash,
    grid: storedGrid(r.grid),
    state: r.state,
    workers: r.workers,
    cellsTotal: r.cells_total,
    cellsDone: r.cells_done,
    currentCell: r.current_cell,
    currentDetail: r.current_detail,
    errors: JSON.parse(r.errors) as JobError[],
    etaAt: r.eta_at,
    buildVersion: r.build_version,
    publishedVersion: r.published_version,
    attempts: r.attempts,
    runner: r.runner_token === null || r.runner_host === null || r.runner_pid === null ? null : { token: r.runner_token, host: r.runner_host, pid: r.runner_pid, heartbeatAt: r.heartbeat_at },
    requestedBy: r.requested_by,
    note: r.note,
    createdAt: r.created_at,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    replace: r.replace_evidence === 1,
    kept: JSON.parse(r.kept) as KeptRow[],
  };
}

/** Whether the process running a job is gone: on this host its pid no longer exists; anywhere, its heartbeat is stale. */
export function runnerGone(runner: Runner | null, now = Date.now()): boolean {
  if (runner === null) return true;
  if (runner.host === os.hostname() && !processAlive(runner.pid)) return true;
  const beat = runner.heartbeatAt === null ? NaN : Date.parse(runner.heartbeatAt);
  return !(now - beat <= RUNNER_STALE_MS);
}

export interface NewJob {
  modelId: string;
  gridHash: string;
  grid: Grid;
  workers: number;
  requestedBy: string | null;
  /** `"replace": true` (default false). */
  replace?: boolean;
}

export type SubmitOutcome =
  | { outcome: "queued"; job: Job }
  | { outcome: "already-queued"; job: Job }
  | { outcome: "already-measured"; job: Job | null; matrixVersion: number };

export class JobStore {
  constructor(private readonly store: MatrixStore) {}

  private write<T>(work: (tx: MatrixStore) => Promise<T>): Promise<T> {
    return this.store.transaction(work);
  }

  async get(id: number): Promise<Job | null> {
    const r = await this.store.db.get<JobRow>("SELECT * FROM jobs WHERE id = ?", [id]);
    return r ? jobFrom(r) : null;
  }

  /**
   * Jobs newest first, optionally of one state and/or model; `before` (a job id) pages: the next
   * page starts below the last id of this one.
   */
  async find(q: JobQuery): Promise<Job[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    add("state = ?", q.state);
    add("model_id = ?", q.modelId);
    add("id < ?", q.before);
    const rows = await this.store.db.all<JobRow>(
      `SELECT * FROM jobs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
      [...args, q.limit],
    );
    return rows.map(jobFrom);
  }

  async list(states: readonly JobState[]): Promise<Job[]> {
    const rows = await this.store.db.all<JobRow>(`SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(", ")}) ORDER BY id`, [...states]);
    return rows.map(jobFrom);
  }

  /**
   * Queues a job unless one for the same grid hash is queued or running (that one is returned) or
   * the grid is already fully measured: `measured` runs inside the same transaction and returns the
   * published version holding the grid's rows, or null.
   */
  async submit(j: NewJob, measured: (tx: MatrixStore) => Promise<number | null>, now = new Date()): Promise<SubmitOutcome> {
    return this.write(async (tx) => {
      const active = await tx.db.get<JobRow>("SELECT * FROM jobs WHERE grid_hash = ? AND state IN ('queued', 'running')", [j.gridHash]);
      if (active) {
        // Asked again with "replace": true: the equivalent job publishes with replace (it has not published yet).
        if (j.replace && active.replace_evidence === 0) {
          await tx.db.run("UPDATE jobs SET replace_evidence = 1, updated_at = ? WHERE id = ?", [now.toISOString(), active.id]);
          return { outcome: "already-queued", job: jobFrom((await tx.db.get<JobRow>("SELECT * FROM jobs WHERE id = ?", [active.id]))!) };
        }
        return { outcome: "already-queued", job: jobFrom(active) };
      }
      const version = await measured(tx);
      if (version !== null) {
        const last = await tx.db.get<JobRow>("SELECT * FROM jobs WHERE grid_hash = ? AND state = 'succeeded' ORDER BY id DESC LIMIT 1", [j.gridHash]);
        return { outcome: "already-measured", job: last ? jobFrom(last) : null, matrixVersion: version };
      }
      const at = now.toISOString();
      const r = await tx.db.run(
        `INSERT INTO jobs (kind, model_id, grid_hash, grid, state, workers, requested_by, created_at, updated_at, replace_evidence)
         VALUES ('refresh', ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
        [j.modelId, j.gridHash, JSON.stringify(j.grid), j.workers, j.requestedBy, at, at, j.replace ? 1 : 0],
      );
      const row = (await tx.db.get<JobRow>("SELECT * FROM jobs WHERE id = ?", [r.lastID]))!;
      return { outcome: "queued", job: jobFrom(row) };
    });
  }

  /** Whether the job asks for `"replace": true` now (an equivalent request may have set it since it was queued). */
  static async replaceIn(tx: MatrixStore, id: number): Promise<boolean> {
    const r = await tx.db.get<{ replace_evidence: number }>("SELECT replace_evidence FROM jobs WHERE id = ?", [id]);
    return r?.replace_evidence === 1;
  }

  /** Rows of published `version` withheld as weaker than the row then current (src/matrix/evidence.ts). */
  withheldCount(version: number): Promise<number> {
    return withheldCount(this.store, version);
  }

  /** `"replace": true` for an already measured grid: its withheld rows published again as current (see evidence.ts). */
  publishWithheld(version: number, description: string): Promise<{ version: number; rows: number } | null> {
    return publishWithheld(this.store, version, description);
  }

  /**
   * Current rows (latest published snapshot) of `grid`'s model among the cells of `grid` that hold
   * more samples than the grid measures: rows its publication will keep (unless replace).
   */
  async strongerRows(grid: Grid): Promise<number> {
    if (!grid.model) return 0;
    const latest = await this.store.db.get<{ seq: number | null }>("SELECT max(published_seq) AS seq FROM matrix_versions");
    if (latest?.seq === null || latest?.seq === undefined) return 0;
    // e.seed is the cell's training seed, va.seed the variant's pruning seed (src/matrix/grid.ts).
    // A pruned variant counts only under the grid's own schedule (dense: one-shot, always).
    const rows = await this.store.db.all<{ strategy: string; rate: number; seed: number; pruningSeed: number; norm: string; knowledge: string }>(
      `SELECT va.strategy, va.requested_rate AS rate, e.seed, va.seed AS pruningSeed, e.norm, e.knowledge ${FROM_SNAPSHOT} AND m.id = ?2 AND e.sample_count > ?3
          AND (va.strategy = 'dense' OR va.schedule = ?4)`,
      [latest.seq, grid.model.id, grid.samples, grid.schedule ?? "one-shot"],
    );
    const label = grid.model.architecture;
    return rows.filter(
      (r) =>
        grid.seeds.includes(r.seed) &&
        (r.strategy === "dense" || variantPruningSeeds(grid, label, r.strategy, r.rate, r.seed).includes(r.pruningSeed)) &&
        (grid.norms as string[]).includes(r.norm) &&
        (grid.knowledge as string[]).includes(r.knowledge) &&
        grid.rates.includes(r.rate) &&
        (r.strategy === "dense" || (grid.strategies as string[]).includes(r.strategy)),
    ).length;
  }

  /** Cancelled jobs whose build has not been discarded yet. */
  async cancelledWithBuild(): Promise<Job[]> {
    const rows = await this.store.db.all<JobRow>("SELECT * FROM jobs WHERE state = 'cancelled' AND build_version IS NOT NULL ORDER BY id");
    return rows.map(jobFrom);
  }

  /** The oldest queued job, if any (skipping `except`). */
  async nextQueued(except: ReadonlySet<number> = new Set()): Promise<Job | null> {
    const rows = await this.store.db.all<JobRow>("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id LIMIT ?", [except.size + 1]);
    const r = rows.find((x) => !except.has(x.id));
    return r ? jobFrom(r) : null;
  }

  /** Says why a queued job waits (written only when it changes). */
  async noteQueued(id: number, note: string, now = new Date()): Promise<void> {
    await this.write((tx) => tx.db.run("UPDATE jobs SET note = ?, updated_at = ? WHERE id = ? AND state = 'queued' AND note IS NOT ?", [note, now.toISOString(), id, note]));
  }

  /** queued → running for this run; false when the job is no longer queued (someone else took it, or it was cancelled). */
  async claim(id: number, runner: { token: string; host: string; pid: number }, now = new Date()): Promise<boolean> {
    const at = now.toISOString();
    const r = await this.write((tx) =>
      tx.db.run(
        `UPDATE jobs SET state = 'running', runner_token = ?, runner_host = ?, runner_pid = ?, heartbeat_at = ?, attempts = attempts + 1,
                started_at = coalesce(started_at, ?), updated_at = ?, note = NULL, current_cell = NULL, current_detail = NULL, eta_at = NULL
          WHERE id = ? AND state = 'queued'`,
        [runner.token, runner.host, runner.pid, at, at, at, id],
      ),
    );
    return r.changes === 1;
  }

  /** The pid of this run's process (the manager claims, then forks the runner). */
  async setRunnerPid(id: number, token: string, pid: number): Promise<void> {
    await this.write((tx) => tx.db.run("UPDATE jobs SET runner_pid = ? WHERE id = ? AND runner_token = ?", [pid, id, token]));
  }

  /** Progress of a run; a no-op (false) when the run no longer owns the job. */
  async progress(
    id: number,
    token: string,
    fields: Partial<{ cellsTotal: number; cellsDone: number; currentCell: string | null; currentDetail: string | null; etaAt: string | null; buildVersion: number; heartbeat: true }>,
    now = new Date(),
  ): Promise<boolean> {
    const sets: string[] = ["updated_at = ?"];
    const params: (string | number | null)[] = [now.toISOString()];
    const add = (column: string, v: string | number | null): void => {
      sets.push(`${column} = ?`);
      params.push(v);
    };
    if (fields.cellsTotal !== undefined) add("cells_total", fields.cellsTotal);
    if (fields.cellsDone !== undefined) add("cells_done", fields.cellsDone);
    if (fields.currentCell !== undefined) add("current_cell", fields.currentCell);
    if (fields.currentDetail !== undefined) add("current_detail", fields.currentDetail);
    if (fields.etaAt !== undefined) add("eta_at", fields.etaAt);
    if (fields.buildVersion !== undefined) add("build_version", fields.buildVersion);
    if (fields.heartbeat) add("heartbeat_at", now.toISOString());
    const r = await this.write((tx) => tx.db.run(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ? AND runner_token = ? AND state = 'running'`, [...params, id, token]));
    return r.changes === 1;
  }

  /** Appends an error (a failed cell, or the job's own) to a running job. */
  async addError(id: number, token: string, e: JobError): Promise<void> {
    await this.write((tx) =>
      tx.db.run("UPDATE jobs SET errors = json_insert(errors, '$[#]', json(?)), updated_at = ? WHERE id = ? AND runner_token = ? AND state = 'running'", [
        JSON.stringify(e),
        e.at,
        id,
        token,
      ]),
    );
  }

  /**
   * running → succeeded with the version it published, inside the caller's transaction (the one
   * publishing that version). False when this run no longer owns the job (cancelled, requeued).
   */
  static async succeedIn(tx: MatrixStore, id: number, token: string, version: number, now = new Date(), kept: readonly KeptRow[] = []): Promise<boolean> {
    const at = now.toISOString();
    const r = await tx.db.run(
      `UPDATE jobs SET state = 'succeeded', published_version = ?, finished_at = ?, updated_at = ?, cells_done = coalesce(cells_total, cells_done),
              current_cell = NULL, current_detail = NULL, eta_at = NULL, note = NULL, kept = ?
        WHERE id = ? AND runner_token = ? AND state = 'running'`,
      [version, at, at, JSON.stringify(kept), id, token],
    );
    return r.changes === 1;
  }

  async succeed(id: number, token: string, version: number): Promise<boolean> {
    return this.write((tx) => JobStore.succeedIn(tx, id, token, version));
  }

  /** running → failed (the unpublished version and the build's checkpoints stay: a new refresh of the same grid resumes them). */
  async fail(id: number, token: string, note: string, now = new Date()): Promise<boolean> {
    const at = now.toISOString();
    const r = await this.write((tx) =>
      tx.db.run(
        `UPDATE jobs SET state = 'failed', note = ?, finished_at = ?, updated_at = ?, current_cell = NULL, current_detail = NULL, eta_at = NULL
          WHERE id = ? AND runner_token = ? AND state = 'running'`,
        [note, at, at, id, token],
      ),
    );
    return r.changes === 1;
  }

  /** running → queued (its runner is gone or must wait); `token` null requeues whatever run holds it. */
  async requeue(id: number, token: string | null, note: string, now = new Date()): Promise<boolean> {
    const at = now.toISOString();
    const r = await this.write((tx) =>
      tx.db.run(
        `UPDATE jobs SET state = 'queued', note = ?, updated_at = ?, runner_token = NULL, runner_host = NULL, runner_pid = NULL, heartbeat_at = NULL,
                current_cell = NULL, current_detail = NULL, eta_at = NULL
          WHERE id = ? AND state = 'running' ${token === null ? "" : "AND runner_token = ?"}`,
        token === null ? [note, at, id] : [note, at, id, token],
      ),
    );
    return r.changes === 1;
  }

  /** queued/running → cancelled; returns the job as it was before, or null when it was not active. */
  async cancel(id: number, note: string, now = new Date()): Promise<Job | null> {
    const at = now.toISOString();
    return this.write(async (tx) => {
      const before = await tx.db.get<JobRow>("SELECT * FROM jobs WHERE id = ?", [id]);
      if (!before || (before.state !== "queued" && before.state !== "running")) return null;
      await tx.db.run(
        `UPDATE jobs SET state = 'cancelled', note = ?, finished_at = ?, updated_at = ?, current_cell = NULL, current_detail = NULL, eta_at = NULL WHERE id = ?`,
        [note, at, at, id],
      );
      return jobFrom(before);
    });
  }

  /**
   * Throws away what a cancelled job's build wrote: its unpublished version (every row under it)
   * and the build's checkpoints, so nothing of it is ever published and a later refresh of the same
   * grid starts afresh (model directories on disk are reused). Only once its runner is gone, and
   * not while another job runs the same grid (then the build is that job's). Returns whether
   * something was discarded.
   */
  async discardCancelled(id: number): Promise<boolean> {
    return this.write(async (tx) => {
      const job = await tx.db.get<JobRow>("SELECT * FROM jobs WHERE id = ?", [id]);
      if (!job || job.state !== "cancelled" || job.build_version === null) return false;
      const version = job.build_version;
      const other = await tx.db.get<{ id: number }>("SELECT id FROM jobs WHERE grid_hash = ? AND state = 'running' AND id <> ?", [job.grid_hash, id]);
      const v = await tx.db.get<{ published_at: string | null }>("SELECT published_at FROM matrix_versions WHERE id = ?", [version]);
      if (!other && v && v.published_at === null) {
        await tx.db.run("DELETE FROM builds WHERE grid_hash = ? AND (matrix_version = ? OR matrix_version IS NULL)", [job.grid_hash, version]);
        await tx.db.run("DELETE FROM evaluations WHERE matrix_version = ?", [version]);
        await tx.db.run("UPDATE jobs SET build_version = NULL WHERE build_version = ?", [version]);
        await tx.db.run("DELETE FROM matrix_versions WHERE id = ? AND published_at IS NULL", [version]);
      }
      await tx.db.run("UPDATE jobs SET build_version = NULL WHERE id = ?", [id]);
      return !other && v !== undefined && v.published_at === null;
    });
  }
}
