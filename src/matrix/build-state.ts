// Resumable builds: the build lock (one builder per database) and the per-cell checkpoints
// (tables builds, build_cells, build_locks of db/migrations/002_matrix.sql).
//
// The lock is one row of build_locks, taken in a write transaction (BEGIN IMMEDIATE), so two
// builders racing for it are serialised by SQLite and exactly one wins. A second builder is
// refused with an error naming the holder. A lock whose holder is gone is taken over: same host
// and its process no longer exists, or no heartbeat for `staleAfterMs` (other hosts sharing the
// file); `force` takes it unconditionally (an operator who knows the holder is dead).
//
// Cells: status 'running' | 'done' | 'failed' per (grid hash, cell key), with attempts, worker,
// timestamps, error and the cell's output (JSON). A cell still 'running' when a builder starts
// belongs to a crashed run — the lock guarantees nobody else is running it — and is run again.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import type { Database } from "./sqlite.js";

export const DEFAULT_LOCK_NAME = "matrix-build";
/** Tells this process apart from an earlier one that had the same pid (a restarted container). */
const PROCESS_INSTANCE = randomUUID();
/** Without a heartbeat for this long, a lock held from another host counts as abandoned. */
export const DEFAULT_STALE_AFTER_MS = 15 * 60 * 1000;

export class BuildLockedError extends Error {
  override name = "BuildLockedError";
  constructor(
    message: string,
    readonly holder: LockInfo,
  ) {
    super(message);
  }
}

export class BuildStateError extends Error {
  override name = "BuildStateError";
}

export interface LockInfo {
  name: string;
  gridHash: string | null;
  host: string;
  pid: number;
  acquiredAt: string;
  heartbeatAt: string;
}

export interface BuildLock extends LockInfo {
  token: string;
  /** Whether an abandoned lock was taken over (and whose). */
  tookOver: LockInfo | null;
  /** Refreshes heartbeat_at; throws BuildStateError if the lock was taken from us. */
  heartbeat(): Promise<void>;
  /** Gives the lock up (a no-op if it is no longer ours). */
  release(): Promise<void>;
}

export type CellStatus = "running" | "done" | "failed";

export interface CellState {
  key: string;
  kind: "train" | "prune" | "craft" | "evaluate";
  status: CellStatus;
  worker: string | null;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  output: unknown;
}

export interface BuildInfo {
  gridHash: string;
  /** The unpublished version the build writes to; null once it was discarded. */
  matrixVersion: number | null;
  grid: unknown;
  createdAt: string;
  updatedAt: string;
}

interface LockRow {
  name: string;
  token: string;
  grid_hash: string | null;
  host: string;
  pid: number;
  acquired_at: string;
  heartbeat_at: string;
}

interface CellRow {
  cell_key: string;
  kind: CellState["kind"];
  status: CellStatus;
  worker: string | null;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  output: string | null;
}

function lockInfo(r: LockRow): LockInfo {
  return { name: r.name, gridHash: r.grid_hash, host: r.host, pid: r.pid, acquiredAt: r.acquired_at, heartbeatAt: r.heartbeat_at };
}

/**
 * Whether a process runs. A zombie does not: a killed process whose parent died stays a zombie
 * until init reaps it, and an init that never reaps (some containers) would otherwise keep a dead
 * builder's lock (or a dead job runner) looking alive.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (err) {
    // Gone meanwhile; or no /proc (not Linux), where kill(pid, 0) is all there is.
    return (err as NodeJS.ErrnoException).code !== "ENOENT" || !existsSync("/proc/self/stat");
  }
}

export interface AcquireOptions {
  gridHash?: string | null;
  name?: string;
  staleAfterMs?: number;
  force?: boolean;
  now?: () => Date;
  /** For tests: pretend to be another process. */
  host?: string;
  pid?: number;
}

export class BuildLedger {
  constructor(private readonly db: Database) {}

  async currentLock(name = DEFAULT_LOCK_NAME): Promise<LockInfo | null> {
    const r = await this.db.get<LockRow>("SELECT * FROM build_locks WHERE name = ?", [name]);
    return r ? lockInfo(r) : null;
  }

  /** Takes the build lock or throws BuildLockedError naming the builder that holds it. */
  async acquireLock(options: AcquireOptions = {}): Promise<BuildLock> {
    const name = options.name ?? DEFAULT_LOCK_NAME;
    const now = options.now ?? (() => new Date());
    const host = options.host ?? os.hostname();
    const pid = options.pid ?? process.pid;
    const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    const token = `${PROCESS_INSTANCE}:${randomUUID()}`;
    const db = this.db;
    let tookOver: LockInfo | null = null;
    await db.transaction(async (tx) => {
      const existing = await tx.get<LockRow>("SELECT * FROM build_locks WHERE name = ?", [name]);
      if (existing) {
        const info = lockInfo(existing);
        const silentMs = now().getTime() - Date.parse(existing.heartbeat_at);
        // Same host: the holder is gone if its process is, or if it had our pid but was another process instance.
        const sameProcess = existing.pid === pid && existing.token.startsWith(`${PROCESS_INSTANCE}:`);
        const dead = existing.host === host && (existing.pid === pid ? !sameProcess : !processAlive(existing.pid));
        const stale = silentMs > staleAfterMs;
        if (!options.force && !dead && !stale) {
          throw new BuildLockedError(
            `another builder holds the build lock of database ${db.file}: process ${existing.pid} on ${existing.host}` +
              `${existing.grid_hash ? ` (grid ${existing.grid_hash.slice(0, 12)}…)` : ""}, since ${existing.acquired_at}, last heartbeat ${existing.heartbeat_at}. ` +
              `A second builder on the same database is refused: wait for it to finish, or — if it died — retry after ` +
              `${Math.round(staleAfterMs / 60000)} min without heartbeat or force the takeover.`,
            info,
          );
        }
        tookOver = info;
        await tx.run("DELETE FROM build_locks WHERE name = ?", [name]);
      }
      const at = now().toISOString();
      await tx.run("INSERT INTO build_locks (name, token, grid_hash, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [
        name,
        token,
        options.gridHash ?? null,
        host,
        pid,
        at,
        at,
      ]);
    });
    const acquiredAt = now().toISOString();
    const lock: BuildLock = {
      name,
      token,
      gridHash: options.gridHash ?? null,
      host,
      pid,
      acquiredAt,
      heartbeatAt: acquiredAt,
      tookOver,
      heartbeat: async () => {
        const at = now().toISOString();
        const r = await db.run("UPDATE build_locks SET heartbeat_at = ? WHERE name = ? AND token = ?", [at, name, token]);
        if (r.changes === 0) throw new BuildStateError(`the build lock of ${db.file} was taken over by another builder; stop this build`);
        lock.heartbeatAt = at;
      },
      release: async () => {
        await db.run("DELETE FROM build_locks WHERE name = ? AND token = ?", [name, token]);
      },
    };
    return lock;
  }

  // ── builds ──

  /** Registers a build (or returns the existing one for this grid hash). */
  async beginBuild(gridHash: string, grid: unknown, matrixVersion: number, now = new Date()): Promise<BuildInfo> {
    const at = now.toISOString();
    await this.db.run(
      "INSERT INTO builds (grid_hash, matrix_version, grid, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (grid_hash) DO NOTHING",
      [gridHash, matrixVersion, JSON.stringify(grid), at, at],
    );
    return (await this.build(gridHash))!;
  }

  async build(gridHash: string): Promise<BuildInfo | null> {
    const r = await this.db.get<{ grid_hash: string; matrix_version: number | null; grid: string; created_at: string; updated_at: string }>(
      "SELECT * FROM builds WHERE grid_hash = ?",
      [gridHash],
    );
    return r ? { gridHash: r.grid_hash, matrixVersion: r.matrix_version, grid: JSON.parse(r.grid) as unknown, createdAt: r.created_at, updatedAt: r.updated_at } : null;
  }

  /** Points a build at another (new, unpublished) version, e.g. after the old one was discarded. */
  async setBuildVersion(gridHash: string, matrixVersion: number, now = new Date()): Promise<void> {
    const r = await this.db.run("UPDATE builds SET matrix_version = ?, updated_at = ? WHERE grid_hash = ?", [matrixVersion, now.toISOString(), gridHash]);
    if (r.changes === 0) throw new BuildStateError(`no build with grid hash ${gridHash.slice(0, 12)}…`);
  }

  /** Forgets a build and all its checkpoints (a fresh start of the same grid). */
  async resetBuild(gridHash: string): Promise<void> {
    await this.db.run("DELETE FROM builds WHERE grid_hash = ?", [gridHash]);
  }

  // ── cells ──

  async startCell(gridHash: string, cell: { key: string; kind: CellState["kind"] }, worker: string | null = null, now = new Date()): Promise<void> {
    try {
      await this.db.run(
        `INSERT INTO build_cells (grid_hash, cell_key, kind, status, worker, attempts, started_at, finished_at, error, output)
         VALUES (?, ?, ?, 'running', ?, 1, ?, NULL, NULL, NULL)
         ON CONFLICT (grid_hash, cell_key) DO UPDATE SET status = 'running', worker = excluded.worker, attempts = attempts + 1,
           started_at = excluded.started_at, finished_at = NULL, error = NULL, output = NULL`,
        [gridHash, cell.key, cell.kind, worker, now.toISOString()],
      );
    } catch (err) {
      if (/FOREIGN KEY/.test(String(err))) throw new BuildStateError(`no build with grid hash ${gridHash.slice(0, 12)}… (beginBuild first)`);
      throw err;
    }
  }

  async finishCell(gridHash: string, key: string, output: unknown = null, now = new Date()): Promise<void> {
    const r = await this.db.run("UPDATE build_cells SET status = 'done', finished_at = ?, error = NULL, output = ? WHERE grid_hash = ? AND cell_key = ?", [
      now.toISOString(),
      output === null || output === undefined ? null : JSON.stringify(output),
      gridHash,
      key,
    ]);
    if (r.changes === 0) throw new BuildStateError(`cell ${key} was never started`);
  }

  async failCell(gridHash: string, key: string, error: string, now = new Date()): Promise<void> {
    const r = await this.db.run("UPDATE build_cells SET status = 'failed', finished_at = ?, error = ? WHERE grid_hash = ? AND cell_key = ?", [
      now.toISOString(),
      error,
      gridHash,
      key,
    ]);
    if (r.changes === 0) throw new BuildStateError(`cell ${key} was never started`);
  }

  async cells(gridHash: string): Promise<CellState[]> {
    const rows = await this.db.all<CellRow>("SELECT * FROM build_cells WHERE grid_hash = ? ORDER BY cell_key", [gridHash]);
    return rows.map((r) => ({
      key: r.cell_key,
      kind: r.kind,
      status: r.status,
      worker: r.worker,
      attempts: r.attempts,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      error: r.error,
      output: r.output === null ? null : (JSON.parse(r.output) as unknown),
    }));
  }

  /** The cells of `plan` not yet done, in plan order (failed and interrupted ones included). */
  async pending<C extends { key: string }>(gridHash: string, plan: readonly C[]): Promise<C[]> {
    const done = new Set((await this.db.all<{ cell_key: string }>("SELECT cell_key FROM build_cells WHERE grid_hash = ? AND status = 'done'", [gridHash])).map((r) => r.cell_key));
    return plan.filter((c) => !done.has(c.key));
  }
}
