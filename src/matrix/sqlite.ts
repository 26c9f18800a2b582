// A small promise-based face over the callback API of `sqlite3`. One connection per Database;
// statements on one connection run in order, which is what transactions rely on.
import sqlite3 from "sqlite3";
import { mkdir } from "node:fs/promises";
import path from "node:path";

export type SqlValue = string | number | bigint | Buffer | null;
export type Params = SqlValue[] | Record<string, SqlValue>;

export interface RunResult {
  lastID: number;
  changes: number;
}

export class DatabaseOpenError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`cannot open database ${file}: ${reason}`);
    this.name = "DatabaseOpenError";
  }
}

export class Database {
  private constructor(
    private readonly raw: sqlite3.Database,
    readonly file: string,
  ) {}

  /** Opens (creating if needed) a database file with WAL journaling and foreign keys on. */
  static async open(file: string, options: { readonly?: boolean } = {}): Promise<Database> {
    if (file !== ":memory:" && !options.readonly) {
      try {
        await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      } catch (err) {
        throw new DatabaseOpenError(file, describeFsError(err));
      }
    }
    const mode = options.readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const db: sqlite3.Database = new sqlite3.Database(file, mode, (err) =>
        err ? reject(new DatabaseOpenError(file, err.message)) : resolve(db),
      );
    });
    const db = new Database(raw, file);
    try {
      raw.configure("busyTimeout", 5000);
      if (!options.readonly) await db.get("PRAGMA journal_mode = WAL");
      await db.exec("PRAGMA foreign_keys = ON");
      // Opening is lazy in SQLite: touch the schema so an unreadable or corrupt file fails here.
      await db.get("SELECT count(*) AS n FROM sqlite_master");
    } catch (err) {
      await db.close().catch(() => undefined);
      throw new DatabaseOpenError(file, err instanceof Error ? err.message : String(err));
    }
    return db;
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.raw.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ lastID: this.lastID, changes: this.changes });
      });
    });
  }

  get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.raw.get(sql, params, (err: Error | null, row: T | undefined) => (err ? reject(err) : resolve(row)));
    });
  }

  all<T>(sql: string, params: Params = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.raw.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    });
  }

  /** Runs several `;`-separated statements (no parameters). */
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raw.exec(sql, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Runs `work` inside BEGIN IMMEDIATE … COMMIT; any error rolls everything back.
   * Callers must not start a second transaction on the same connection meanwhile.
   */
  async transaction<T>(work: (db: Database) => Promise<T>): Promise<T> {
    await this.exec("BEGIN IMMEDIATE");
    try {
      const result = await work(this);
      await this.exec("COMMIT");
      return result;
    } catch (err) {
      await this.exec("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.raw.close((err: Error | null) => (err ? reject(err) : resolve())));
  }
}

function describeFsError(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return "a parent path is not a directory";
    if (code === "EACCES" || code === "EPERM") return "permission denied";
    if (code === "EROFS") return "read-only file system";
    if (code === "ENOENT") return "parent directory cannot be created";
  }
  return err instanceof Error ? err.message : String(err);
}
