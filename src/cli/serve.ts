// `advisor serve`: the HTTP service on the configured port and database.
import type { Command } from "commander";
import { resolveServeConfig } from "../config.js";
import { startServer } from "../api/server.js";
import { reportAndExit } from "./errors.js";

interface ServeFlags {
  port?: string;
  host?: string;
  db?: string;
  logLevel?: string;
  apiKeysFile?: string;
  protectReads?: boolean;
  uploadMaxBytes?: string;
  datasets?: string;
  seedMatrix?: string;
  jobWorkers?: string;
  jobNice?: string;
  refreshGrid?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("start the HTTP service (env: PORT, HOST, ADVISOR_DB, LOG_LEVEL, ADVISOR_API_KEYS_FILE, ADVISOR_API_KEYS, ADVISOR_PROTECT_READS, ADVISOR_UPLOAD_MAX_BYTES, ADVISOR_DATASETS, ADVISOR_SEED_MATRIX, ADVISOR_JOB_WORKERS, ADVISOR_JOB_NICE, ADVISOR_REFRESH_GRID)")
    .option("-p, --port <port>", "TCP port, 0 for any free port (env PORT, default 8080)")
    .option("--host <host>", "address to bind (env HOST, default 127.0.0.1)")
    .option("--db <path>", "SQLite database file (env ADVISOR_DB, default data/advisor.sqlite)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL)")
    .option("--api-keys-file <file>", "hashed API keys, one name:sha256hex per line, from `advisor keys hash` (env ADVISOR_API_KEYS_FILE)")
    .option("--protect-reads", "require an API key for the read endpoints under /v1 too (env ADVISOR_PROTECT_READS=true)")
    .option("--upload-max-bytes <size>", "largest model upload, e.g. 50M (env ADVISOR_UPLOAD_MAX_BYTES, default 50M)")
    .option("--datasets <list>", "data sets uploads may name: name=dir[,name=dir] (env ADVISOR_DATASETS, default fashion-mnist=/usr/share/datasets/fashion-mnist)")
    .option("--seed-matrix <file>", "JSONL matrix imported when the database has no published matrix yet; none to skip (env ADVISOR_SEED_MATRIX, default db/matrix.jsonl)")
    .option("--job-workers <n>", "build worker processes of a refresh job, 1-64 (env ADVISOR_JOB_WORKERS, default 1)")
    .option("--job-nice <n>", "CPU niceness of refresh jobs' processes, 0-19 (env ADVISOR_JOB_NICE, default 10)")
    .option("--refresh-grid <file>", "grid a refresh runs when the request names none (env ADVISOR_REFRESH_GRID, default db/grids/default.yaml)")
    .action(async (flags: ServeFlags) => {
      const { protectReads, ...rest } = flags;
      const config = resolveServeConfig({ ...rest, protectReads: protectReads ? "true" : undefined }, process.env);
      const running = await startServer(config).catch(reportAndExit);
      // A promise rejected with nobody waiting (a bug) is logged and the service keeps serving:
      // Node's default would end the process and every request in flight with it. (An uncaught
      // exception still ends it: after one, the process state cannot be trusted.)
      process.on("unhandledRejection", (reason) => running.logger.error({ err: reason }, "unhandled promise rejection"));
      const stop = (signal: string): void => {
        running.logger.info({ signal }, "shutting down");
        running.close().then(
          () => process.exit(0),
          (err: unknown) => reportAndExit(err),
        );
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
}
