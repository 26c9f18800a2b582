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
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("start the HTTP service (env: PORT, HOST, ADVISOR_DB, LOG_LEVEL)")
    .option("-p, --port <port>", "TCP port, 0 for any free port (env PORT, default 8080)")
    .option("--host <host>", "address to bind (env HOST, default 127.0.0.1)")
    .option("--db <path>", "SQLite database file (env ADVISOR_DB, default data/advisor.sqlite)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL)")
    .action(async (flags: ServeFlags) => {
      const config = resolveServeConfig(flags, process.env);
      const running = await startServer(config).catch(reportAndExit);
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
