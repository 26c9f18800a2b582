// Prometheus metrics (GET /metrics, text exposition format), one registry per app so that two
// apps in one process (tests) never share counters. What an operator watches:
//   - HTTP: requests and latency per method, route template (never the raw URL: ids would make
//     one series per job or model) and status;
//   - the advisor's answers: recommendations by status, gate verdicts;
//   - the matrix the service answers from: version, candidates, when it was loaded;
//   - refresh jobs per state (read from the jobs table at scrape time);
//   - the process itself (prom-client's default metrics: CPU, memory, event-loop lag, GC).
import type { NextFunction, Request, Response } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { JOB_STATES } from "../jobs/store.js";
import type { Database } from "../matrix/sqlite.js";
import type { MatrixCache } from "./matrix-cache.js";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route" | "status">;
  private readonly recommendations: Counter<"status">;
  private readonly verdicts: Counter<"verdict">;

  constructor(o: { matrixCache: MatrixCache; db: Database }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "advisor_" });
    this.requests = new Counter({ name: "advisor_http_requests_total", help: "HTTP requests answered, by method, route template and status.", labelNames: ["method", "route", "status"], registers });
    this.latency = new Histogram({
      name: "advisor_http_request_duration_seconds",
      help: "Time from the request's arrival to the end of its response, by method, route template and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.recommendations = new Counter({ name: "advisor_recommendations_total", help: "Recommendations answered, by status (ok, infeasible, no-evidence).", labelNames: ["status"], registers });
    this.verdicts = new Counter({ name: "advisor_gate_verdicts_total", help: "Gate verdicts given, by verdict (pass, fail).", labelNames: ["verdict"], registers });

    const loaded = (): ReturnType<MatrixCache["peek"]> => o.matrixCache.peek();
    new Gauge({
      name: "advisor_matrix_version",
      help: "The published matrix version the service answers from (0 while none is loaded).",
      registers,
      collect() {
        this.set(loaded()?.version ?? 0);
      },
    });
    new Gauge({
      name: "advisor_matrix_candidates",
      help: "Candidates (model, strategy, rate) in the loaded matrix version.",
      registers,
      collect() {
        this.set(loaded()?.snapshot.candidates.length ?? 0);
      },
    });
    new Gauge({
      name: "advisor_matrix_loaded_timestamp_seconds",
      help: "When the loaded matrix version was loaded (Unix time; 0 while none is loaded).",
      registers,
      collect() {
        const at = loaded()?.loadedAt;
        this.set(at ? at.getTime() / 1000 : 0);
      },
    });
    new Gauge({
      name: "advisor_jobs",
      help: "Refresh jobs in the database, by state.",
      labelNames: ["state"],
      registers,
      async collect() {
        const rows = await o.db.all<{ state: string; n: number }>("SELECT state, count(*) AS n FROM jobs GROUP BY state");
        this.reset();
        for (const state of JOB_STATES) this.set({ state }, rows.find((r) => r.state === state)?.n ?? 0);
      },
    });
  }

  /** Express middleware: counts and times every response once it is sent. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const end = this.latency.startTimer();
      res.on("finish", () => {
        const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
        this.requests.inc(labels);
        end(labels);
      });
      next();
    };
  }

  recommendation(status: string): void {
    this.recommendations.inc({ status });
  }

  verdict(pass: boolean): void {
    this.verdicts.inc({ verdict: pass ? "pass" : "fail" });
  }
}

/** The route template that answered ("/v1/jobs/:id"), or "unmatched" (404s, rejected before routing). */
function routeOf(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === "string" ? `${req.baseUrl}${route.path}` : "unmatched";
}
