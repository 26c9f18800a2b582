// The Express application: routes, request ids, JSON logging and problem+json errors.
// Built from explicit dependencies so tests can run it on a temp database without a process.
import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Logger } from "../logger.js";
import type { Database } from "../matrix/sqlite.js";
import { schemaStatus } from "../matrix/migrations.js";
import { MatrixStore } from "../matrix/store.js";
import { MatrixCache } from "./matrix-cache.js";
import { notFound, problemHandler, sendProblem } from "./problem.js";
import { advisorRoutes } from "./routes/advisor.js";
import { domainErrors } from "./routes/errors.js";
import { matrixRoutes } from "./routes/matrix.js";
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
}

/** What createApp exposes besides the routes (app.locals.matrixCache). */
export interface AppLocals {
  matrixCache: MatrixCache;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createApp(deps: AppDeps): Express {
  const app = express();
  const store = deps.store ?? new MatrixStore(deps.db);
  const matrixCache = new MatrixCache(store, { checkIntervalMs: deps.matrixCheckIntervalMs, logger: deps.logger });
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
      // Headers stay out of the logs: they are noisy and may carry API keys.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
    }),
  );
  app.use(express.json({ limit: "64kb", type: ["application/json", "application/*+json"] }));

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

  app.use(advisorRoutes(matrixCache));
  app.use(matrixRoutes(store, matrixCache));

  app.use(notFound);
  app.use(domainErrors);
  app.use(problemHandler);
  return app;
}
