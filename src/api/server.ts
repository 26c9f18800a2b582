// Starts the HTTP service: open and migrate the database, listen, and shut down cleanly.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiKeys } from "../auth/keys.js";
import type { ServeConfig } from "../config.js";
import { datasetDirectoryProblem } from "../engine/dataset-formats.js";
import { createLogger, type Logger } from "../logger.js";
import { describeSeed, openSeededDatabase } from "../matrix/seed.js";
import { MatrixStore } from "../matrix/store.js";
import { modelsDirFor, sweepStale } from "../models/storage.js";
import { migrationsDir, openapiPath, packageVersion } from "../paths.js";
import { JobManager } from "../jobs/manager.js";
import { createApp, type AppLocals } from "./app.js";
import { createHttpServer } from "./http-server.js";

export class ListenError extends Error {
  override name = "ListenError";
}

export interface RunningServer {
  server: Server;
  port: number;
  logger: Logger;
  close(): Promise<void>;
}

export async function startServer(config: ServeConfig): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const { db, seed } = await openSeededDatabase(config.db, config.seedMatrix, (applied) => {
    if (applied.length > 0) logger.info({ applied, db: config.db }, "database migrated");
  });
  const said = describeSeed(seed);
  if (said) logger[said.level](said.fields, said.msg);
  const keys = new ApiKeys([...(config.apiKeysFile ?? []), ...(config.apiKeys ?? [])]);
  if (keys.configured) logger.info({ apiKeys: keys.entries.map((e) => e.name), protectReads: config.protectReads }, "API keys configured");
  else logger.warn("no API keys configured: write endpoints (POST /v1/models) answer 503 until ADVISOR_API_KEYS_FILE is set");
  // Said once, at start-up: without its data set a model can be neither uploaded nor refreshed.
  const unusable = (await Promise.all([...config.datasets].map(async ([name, dir]) => ({ name, dir, problem: await datasetDirectoryProblem(dir) })))).filter((d) => d.problem !== null);
  if (unusable.length > 0) {
    const what = unusable.map((d) => `${d.name} (${d.problem})`).join("; ");
    logger.warn(
      { datasets: unusable },
      `model uploads (POST /v1/models) and refreshes are disabled for data set ${what}: install the Debian package dataset-fashion-mnist, mount the four IDX files (or the CIFAR-10 binary batches, or train/ and test/ PNG folders) there, or point ADVISOR_DATASETS at them`,
    );
  }
  const modelsDir = modelsDirFor(config.db);
  const swept = await sweepStale(modelsDir).catch(() => []);
  if (swept.length > 0) logger.info({ removed: swept }, "removed leftovers of interrupted uploads");
  // One store (one connection, one write mutex) for the API and the job manager.
  const store = new MatrixStore(db);
  const jobs = new JobManager({ store, dbFile: config.db, workers: config.jobWorkers, niceness: config.jobNice, logger });
  const app = createApp({
    db,
    store,
    jobs,
    refreshGridFile: config.refreshGrid,
    logger,
    migrationsDir,
    openapiPath,
    version: packageVersion(),
    keys,
    protectReads: config.protectReads,
    uploads: {
      modelsDir,
      datasets: config.datasets,
      maxBytes: config.uploadMaxBytes,
      limits: { maxMacs: config.uploadMaxMacs, maxSeconds: config.uploadValidateSeconds, maxMemoryBytes: config.uploadValidateMemory },
    },
  });
  // Load the matrix before the first request; a failure here is logged and retried on demand.
  await (app.locals as AppLocals).matrixCache.refresh().catch((err: unknown) => logger.warn({ err }, "matrix not loaded at start-up"));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createHttpServer(app).listen(config.port, config.host);
    s.once("listening", () => resolve(s));
    s.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "address already in use" : err.code === "EACCES" ? "permission denied" : err.message;
      reject(new ListenError(`cannot listen on ${config.host}:${config.port}: ${why}`));
    });
  }).catch(async (err: unknown) => {
    await db.close().catch(() => undefined);
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  // Jobs left queued or running by a previous service resume now (their builds from the finished cells).
  await jobs.start().catch((err: unknown) => logger.error({ err }, "refresh jobs not started"));
  logger.info({ host: config.host, port, db: config.db, version: packageVersion() }, "listening");

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => server.close(() => resolve()))
      .then(() => jobs.close())
      .then(() => db.close()));
  return { server, port, logger, close };
}
