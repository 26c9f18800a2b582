// Refresh jobs over HTTP (the jobs themselves: src/jobs/):
//   POST   /v1/models/{id}/refresh  (API key) queue a job running a grid for a registered model;
//   GET    /v1/jobs                 jobs newest first, by state and/or model, paged with `before`;
//   GET    /v1/jobs/{id}            state, cells done/total, ETA, current cell, errors, published version;
//   DELETE /v1/jobs/{id}            (API key) cancel it.
// GET follows the read protection of /v1 (ADVISOR_PROTECT_READS); without a job manager (an app
// built without one) the write endpoints answer 503.
import { Router, type Request } from "express";
import type { ApiKeys } from "../../auth/keys.js";
import type { JobManager } from "../../jobs/manager.js";
import { choicesText, refreshChoices } from "../../jobs/estimate.js";
import { DEFAULT_REFRESH_GRID, measuredVersion, prepareRefresh, RefreshError } from "../../jobs/prepare.js";
import { jobView } from "../../jobs/view.js";
import type { Database } from "../../matrix/sqlite.js";
import { requireApiKey } from "../auth.js";
import { HttpProblem, instanceOf, sendProblem } from "../problem.js";
import type { components } from "../schema.gen.js";
import { jobsQuerySchema, parseOr400, parseRefreshRequest } from "../validation.js";
import { jsonBody } from "./advisor.js";

type Schemas = components["schemas"];

export interface RefreshSettings {
  db: Database;
  dbFile: string;
  /** Data set name → IDX directory (ADVISOR_DATASETS). */
  datasets: ReadonlyMap<string, string>;
  /** The grid of `{"grid": "default"}`, whose settings also fill in what a grid object leaves out (default db/grids/default.yaml). */
  defaultGridFile?: string;
}

const titles: Record<number, string> = { 400: "Bad Request", 404: "Not Found", 409: "Conflict" };

/** The refresh body: none is `{}` (which names no grid: answered with the choices). */
function refreshBody(req: Request): unknown {
  const length = req.headers["content-length"];
  const empty = req.body === undefined && req.headers["transfer-encoding"] === undefined && (length === undefined || length === "0");
  return empty ? {} : jsonBody(req);
}

function jobId(raw: string | undefined): number | null {
  return raw !== undefined && /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : null;
}

export function jobRoutes(jobs: JobManager | undefined, keys: ApiKeys, settings: RefreshSettings): Router {
  const r = Router();
  const manager = (): JobManager => {
    if (!jobs) throw new HttpProblem(503, "Service Unavailable", "refresh jobs are not enabled on this server");
    return jobs;
  };

  r.post("/v1/models/:id/refresh", requireApiKey(keys, "POST /v1/models/{id}/refresh"), async (req, res) => {
    const body = parseRefreshRequest(refreshBody(req));
    const m = manager();
    const defaultGridFile = settings.defaultGridFile ?? DEFAULT_REFRESH_GRID;
    if (body.grid === undefined) {
      // No grid named: never the default grid unasked (151 cells, hours); say what the choices cost.
      const choices = await refreshChoices(defaultGridFile, m.workers);
      const detail = choicesText(choices, { defaultHow: `{"grid": "default"}`, objectHow: `{"grid": {…}}` }, m.workers);
      sendProblem(res, { status: 400, title: "Bad Request", detail, field: "grid", instance: instanceOf(req), choices });
      return;
    }
    let prepared;
    try {
      prepared = await prepareRefresh({ db: settings.db, dbFile: settings.dbFile, modelId: String(req.params.id), grid: body.grid, defaultGridFile, datasets: settings.datasets });
    } catch (err) {
      if (err instanceof RefreshError) throw new HttpProblem(err.status, titles[err.status] ?? "Error", err.message, err.field);
      throw err;
    }
    const requestedBy = typeof res.locals.apiKeyName === "string" ? res.locals.apiKeyName : null;
    // As JobManager.submit, with the request's `replace`.
    const p = prepared;
    const result = await m.jobs.submit({ modelId: p.model.id, gridHash: p.gridHash, grid: p.grid, workers: m.workers, requestedBy, replace: body.replace }, (tx) => measuredVersion(tx, p.gridHash, p.grid));
    if (result.outcome === "queued") m.kick();
    const what = `grid ${prepared.gridHash.slice(0, 12)}… for model ${prepared.model.id.slice(0, 12)}… (${prepared.model.architecture}, ${prepared.model.dataset})`;
    let body200: Schemas["RefreshResult"];
    if (result.outcome === "already-measured") {
      let detail = `${what} was already fully measured in matrix version ${result.matrixVersion}; nothing queued`;
      let matrixVersion = result.matrixVersion;
      const withheld = await m.jobs.withheldCount(result.matrixVersion);
      if (withheld > 0 && body.replace) {
        // "replace": true for a grid measured with rows withheld: those rows become current, as measured (nothing re-run).
        const r = await m.jobs.publishWithheld(result.matrixVersion, `${prepared.grid.description ?? what}: replace (the rows of version ${result.matrixVersion} kept back as weaker)`);
        if (r) {
          matrixVersion = r.version;
          detail = `${what} was already measured in matrix version ${result.matrixVersion}, which kept ${withheld} stronger current row(s); with "replace": true its ${r.rows} row(s) were published again as current in matrix version ${r.version}; nothing queued`;
        }
      } else if (withheld > 0) {
        detail += `; ${withheld} of its rows did not replace stronger current rows (the job's \`kept\` lists them; send "replace": true to make them current)`;
      }
      body200 = { outcome: result.outcome, detail, job: result.job ? jobView(result.job) : null, matrixVersion };
    } else {
      const keeps = await m.jobs.strongerRows(prepared.grid);
      const rule = body.replace || result.job.replace
        ? `; "replace": true: its rows become current even where the current row has more samples or stronger attack settings`
        : keeps > 0
          ? `; ${keeps} current row(s) of this model have more samples than this grid's ${prepared.grid.samples} and will stay current (as will any with stronger attack settings; the job's \`kept\` lists them once published; "replace": true overrides)`
          : "";
      const detail =
        result.outcome === "queued"
          ? `job ${result.job.id} queued: ${prepared.cells} cells of ${what}${rule}`
          : `job ${result.job.id} (${result.job.state}) already runs ${what}; nothing new queued${rule}`;
      body200 = { outcome: result.outcome, detail, job: jobView(result.job), matrixVersion: null };
      res.setHeader("Location", `/v1/jobs/${result.job.id}`);
    }
    req.log?.info({ outcome: result.outcome, job: body200.job?.id ?? null, modelId: prepared.model.id }, "refresh requested");
    res.status(result.outcome === "queued" ? 202 : 200).json(body200);
  });

  r.get("/v1/jobs", async (req, res) => {
    const q = parseOr400(jobsQuerySchema, req.query, "query");
    const limit = q.limit ?? 50;
    // One more than the page, to know whether there is a next page without a second query.
    const found = jobs ? await jobs.find({ state: q.state, modelId: q.model, before: q.before, limit: limit + 1 }) : [];
    const page = found.slice(0, limit);
    const body: Schemas["JobList"] = { jobs: page.map((j) => jobView(j)), nextBefore: found.length > limit ? page[page.length - 1]!.id : null };
    res.json(body);
  });

  r.get("/v1/jobs/:id", async (req, res) => {
    const id = jobId(String(req.params.id));
    const job = id === null || !jobs ? null : await jobs.get(id);
    if (!job) throw new HttpProblem(404, "Not Found", `no job has id ${String(req.params.id)}`, "id");
    res.json(jobView(job));
  });

  r.delete("/v1/jobs/:id", requireApiKey(keys, "DELETE /v1/jobs/{id}"), async (req, res) => {
    const m = manager();
    const id = jobId(String(req.params.id));
    const result = id === null ? ({ status: "unknown" } as const) : await m.cancel(id, typeof res.locals.apiKeyName === "string" ? res.locals.apiKeyName : null);
    if (result.status === "unknown") throw new HttpProblem(404, "Not Found", `no job has id ${String(req.params.id)}`, "id");
    if (result.status === "finished") {
      const j = result.job;
      const detail = j.state === "succeeded" ? `job ${j.id} already succeeded (it published matrix version ${j.publishedVersion}); there is nothing to cancel` : `job ${j.id} already ${j.state}; there is nothing to cancel`;
      throw new HttpProblem(409, "Conflict", detail, "id");
    }
    res.json(jobView(result.job));
  });

  return r;
}
