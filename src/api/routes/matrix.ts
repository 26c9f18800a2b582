// GET /v1/matrix (rows, cursor pagination), /v1/matrix/curves (for plotting), /v1/models (of the
// version the advisor answers from) and /v1/matrix/versions.
import { Router } from "express";
import { checkBudget } from "../../advisor/validate.js";
import type { MatrixStore, RowFilter, CurvePlot } from "../../matrix/store.js";
import type { MatrixCache } from "../matrix-cache.js";
import type { components } from "../schema.gen.js";
import { curvesQuerySchema, matrixQuerySchema, parseBudgetList, parseCandidateList, parseOr400 } from "../validation.js";
import { matrixEmpty } from "./errors.js";

type Schemas = components["schemas"];

function filterOf(q: { model?: string; dataset?: string; architecture?: string; norm?: RowFilter["norm"]; knowledge?: RowFilter["knowledge"]; version?: number }): RowFilter {
  const f: RowFilter = {};
  if (q.model !== undefined) f.modelId = q.model;
  if (q.dataset !== undefined) f.dataset = q.dataset;
  if (q.architecture !== undefined) f.architecture = q.architecture;
  if (q.norm !== undefined) f.norm = q.norm;
  if (q.knowledge !== undefined) f.knowledge = q.knowledge;
  if (q.version !== undefined) f.version = q.version;
  return f;
}

export function matrixRoutes(store: MatrixStore, cache: MatrixCache): Router {
  const r = Router();

  async function requirePublished(): Promise<void> {
    if ((await store.latestPublishedVersion()) === null) throw matrixEmpty();
  }

  r.get("/v1/matrix", async (req, res) => {
    const q = parseOr400(matrixQuerySchema, req.query, "query");
    await requirePublished();
    const filter = filterOf(q);
    if (q.strategy !== undefined) filter.strategy = q.strategy;
    if (q.rate !== undefined) filter.rate = q.rate;
    const page = await store.queryRows(filter, { limit: q.limit, cursor: q.cursor ?? null });
    const body: Schemas["MatrixPage"] = page;
    res.json(body);
  });

  r.get("/v1/matrix/curves", async (req, res) => {
    const q = parseOr400(curvesQuerySchema, req.query, "query");
    const candidates = q.candidates === undefined ? null : parseCandidateList(q.candidates);
    const at = q.at === undefined ? undefined : parseBudgetList(q.at);
    // With a norm, the same budget rules as POST /v1/recommendations (L∞ at most 1, L0 whole
    // features): the two never disagree on what a valid budget of a norm is.
    if (at !== undefined && q.norm !== undefined) for (const b of at) checkBudget(q.norm, b, "at");
    await requirePublished();
    const base = filterOf(q);
    // Pin one version for every candidate.
    base.version ??= (await store.resolveVersion()).id;
    const curves: CurvePlot[] = [];
    for (const c of candidates ?? [null]) {
      const filter: RowFilter = c ? { ...base, strategy: c.strategy, rate: c.rate } : base;
      curves.push(...(await store.curves(filter, at === undefined ? {} : { at })).curves);
    }
    const body: Schemas["CurvesResponse"] = { version: base.version, curves };
    res.json(body);
  });

  r.get("/v1/models", async (_req, res) => {
    const loaded = await cache.current();
    if (!loaded) throw matrixEmpty();
    const body: Schemas["ModelsResponse"] = { version: loaded.version, models: loaded.models };
    res.json(body);
  });

  r.get("/v1/matrix/versions", async (_req, res) => {
    const versions = await store.listVersions();
    const body: Schemas["VersionsResponse"] = { latest: versions.at(-1)?.id ?? null, versions };
    res.json(body);
  });

  return r;
}
