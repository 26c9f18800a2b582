// The Express application: routes, request ids, JSON logging and problem+json errors.
// Built from explicit dependencies so tests can run it on a temp database without a process.
import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import { randomUUID } from "node:crypto";
import { finished } from "node:stream";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ApiKeys } from "../auth/keys.js";
import { DEFAULT_DATA_DIR } from "../engine/data.js";
import type { Logger } from "../logger.js";
import type { Database } from "../matrix/sqlite.js";
import { schemaStatus } from "../matrix/migrations.js";
import { MatrixStore } from "../matrix/store.js";
import { findModel, modelsDirFor, uploadedModelIds } from "../models/storage.js";
import type { JobManager } from "../jobs/manager.js";
import { requireApiKey } from "./auth.js";
import { MatrixCache } from "./matrix-cache.js";
import { METRICS_CONTENT_TYPE, ServiceMetrics } from "./metrics.js";
import { notFound, problemHandler, sendProblem } from "./problem.js";
import { redactUrl, rejectSecretsInQuery } from "./query-secrets.js";
import { advisorRoutes } from "./routes/advisor.js";
import { domainErrors } from "./routes/errors.js";
import { jobRoutes } from "./routes/jobs.js";
import { matrixRoutes } from "./routes/matrix.js";
import { modelRoutes, type UploadSettings } from "./routes/models.js";
import { webRoutes } from "./web.js";
import { webDir } from "../paths.js";
import type { components } from "./schema.gen.js";

type Health = components["schemas"]["Health"];
type Readiness = components["schemas"]["Readiness"];

export interface AppDeps {
  db: Database;
  logger: Logger;
  migrationsDir: string;
  openapiPath: string;
  version: string;
  /** The matrix store on `db` (default: a MatrixStore over `db`). */
  store?: MatrixStore;
  /** Minimum time between checks for a newer published matrix version (default 1000 ms). */
  matrixCheckIntervalMs?: number;
  /** The configured API keys (default none: write endpoints answer 503 until keys are configured). */
  keys?: ApiKeys;
  /** Require an API key for the read endpoints under /v1 as well (default false). */
  protectReads?: boolean;
  /** Model uploads; by default models live in <db dir>/models, fashion-mnist is known, 50 MiB at most. */
  uploads?: Partial<UploadSettings>;
  /** Refresh jobs (POST /v1/models/{id}/refresh, /v1/jobs/{id}); without a manager those answer 503. */
  jobs?: JobManager;
  /** The grid a refresh runs when the request names none (default db/grids/default.yaml). */
  refreshGridFile?: string;
  /** The built web page served at / (default dist/web of the package; tests build their own). */
  webDir?: string;
}

export const DEFAULT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024;

/** What createApp exposes besides the routes (app.locals.matrixCache). */
export interface AppLocals {
  matrixCache: MatrixCache;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

export function createApp(deps: AppDeps): Express {
  const app = express();
  const store = deps.store ?? new MatrixStore(deps.db);
  const matrixCache = new MatrixCache(store, { checkIntervalMs: deps.matrixCheckIntervalMs, logger: deps.logger, uploadedModels: () => uploadedModelIds(deps.db) });
  const keys = deps.keys ?? new ApiKeys([]);
  const modelsDir = deps.uploads?.modelsDir ?? modelsDirFor(deps.db.file);
  const uploads: UploadSettings = {
    modelsDir,
    dbDir: deps.uploads?.dbDir ?? path.dirname(path.resolve(deps.db.file)),
    datasets: deps.uploads?.datasets ?? new Map([["fashion-mnist", DEFAULT_DATA_DIR]]),
    maxBytes: deps.uploads?.maxBytes ?? DEFAULT_UPLOAD_MAX_BYTES,
    maxFiles: deps.uploads?.maxFiles,
    limits: deps.uploads?.limits,
  };
  const metrics = new ServiceMetrics({ matrixCache, db: deps.db });
  app.locals.matrixCache = matrixCache;
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  app.use(
    pinoHttp({
      logger: deps.logger,
      // Reuse a caller's id when it is sane, so one id follows a request across services.
      genReqId: (req, res) => {
        const incoming = req.headers["x-request-id"];
        const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader("X-Request-Id", id);
        return id;
      },
      // Headers stay out of the logs: they are noisy and may carry API keys; so may a query string
      // (?api_key=…, refused under /v1 but still logged): those values are redacted.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
    }),
  );
  app.use(metrics.middleware());
  // Only POST operations take a body. A stray body on a GET or DELETE (a probe, a scraper) is
  // read and discarded before the answer, not parsed into a 400, 413 or 415 (and not left unread:
  // closing a socket with unread data resets it, and the client loses the answer).
  const json = express.json({ limit: "64kb", type: ["application/json", "application/*+json"] });
  app.use((req, res, next) => {
    if (BODY_METHODS.has(req.method)) return json(req, res, next);
    if (req.headers["transfer-encoding"] === undefined && Number(req.headers["content-length"] ?? 0) === 0) return next();
    finished(req.resume(), () => next());
  });

  // Open like /healthz (a scraper has no API key); it shows counts and timings, no request data.
  app.get("/metrics", async (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(await metrics.registry.metrics());
  });

  app.get("/healthz", (_req, res) => {
    const body: Health = { status: "ok", version: deps.version };
    res.json(body);
  });

  app.get("/readyz", async (req, res) => {
    try {
      const s = await schemaStatus(deps.db, deps.migrationsDir);
      if (s.current !== s.latest) {
        sendProblem(res, {
          status: 503,
          title: "Service Unavailable",
          detail: `database schema at version ${s.current}, expected ${s.latest}`,
        });
        return;
      }
      const body: Readiness = { status: "ready", schemaVersion: s.current };
      res.json(body);
    } catch (err) {
      req.log.warn({ err }, "readiness check failed");
      sendProblem(res, { status: 503, title: "Service Unavailable", detail: "database unreachable" });
    }
  });

  app.get("/openapi.yaml", async (_req, res) => {
    res.type("application/yaml").send(await readFile(deps.openapiPath, "utf8"));
  });

  app.use("/v1", rejectSecretsInQuery); // before any key check: a key in a URL is refused as such
  if (deps.protectReads) app.use("/v1", requireApiKey(keys, "/v1 (ADVISOR_PROTECT_READS is on)"));
  app.use(advisorRoutes(matrixCache, (id) => findModel(deps.db, id), metrics));
  app.use(modelRoutes(store, keys, uploads));
  app.use(jobRoutes(deps.jobs, keys, { db: deps.db, dbFile: deps.db.file, datasets: uploads.datasets, defaultGridFile: deps.refreshGridFile }));
  app.use(matrixRoutes(store, matrixCache));
  app.use(webRoutes(deps.webDir ?? webDir));

  app.use(notFound);
  app.use(domainErrors);
  app.use(problemHandler);
  return app;
}
