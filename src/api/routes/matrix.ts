// GET /v1/matrix (rows, cursor pagination), /v1/matrix/rows/{id} (one row), /v1/matrix/curves (for
// plotting; against budget, or with vs=share against the adversarial share), /v1/models (of the
// version the advisor answers from) and /v1/matrix/versions. The first four carry an ETag keyed
// by the matrix version and the request URL, query included (etag.ts).
import { Router } from "express";
import { checkBudget } from "../../advisor/validate.js";
import { canonicalCandidateStrategy } from "../../vocabulary.js";
import { modelsOutside, uploadedModelIds } from "../../models/storage.js";
import { coverageByModel } from "../model-coverage.js";
import type { MatrixStore, RowFilter, CurvePlot } from "../../matrix/store.js";
import { versionETag } from "../etag.js";
import type { MatrixCache } from "../matrix-cache.js";
import { HttpProblem } from "../problem.js";
import type { components } from "../schema.gen.js";
import { DEFAULT_CURVE_SHARES, curvesQuerySchema, matrixQuerySchema, parseBudgetList, parseCandidateList, parseOr400, parseShareList } from "../validation.js";
import { matrixEmpty } from "./errors.js";

type Schemas = components["schemas"];

function filterOf(q: {
  model?: string;
  dataset?: string;
  architecture?: string;
  norm?: RowFilter["norm"];
  knowledge?: RowFilter["knowledge"];
  schedule?: RowFilter["schedule"];
  version?: number;
}): RowFilter {
  const f: RowFilter = {};
  if (q.model !== undefined) f.modelId = q.model;
  if (q.dataset !== undefined) f.dataset = q.dataset;
  if (q.architecture !== undefined) f.architecture = q.architecture;
  if (q.norm !== undefined) f.norm = q.norm;
  if (q.knowledge !== undefined) f.knowledge = q.knowledge;
  if (q.schedule !== undefined) f.schedule = q.schedule;
  if (q.version !== undefined) f.version = q.version;
  return f;
}

export function matrixRoutes(store: MatrixStore, cache: MatrixCache): Router {
  const r = Router();

  async function requirePublished(): Promise<void> {
    if ((await store.latestPublishedVersion()) === null) throw matrixEmpty();
  }

  const tagged = versionETag(cache);
  // The models list also shows registered models without rows: they change it too.
  const taggedModels = versionETag(cache, async () => JSON.stringify(await store.db.get("SELECT count(*) AS n, max(rowid) AS last FROM models")));

  r.get("/v1/matrix/rows/:id", async (req, res) => {
    const id = /^[1-9]\d{0,15}$/.test(req.params.id) ? Number(req.params.id) : NaN;
    if (!Number.isSafeInteger(id)) throw new HttpProblem(400, "Bad Request", `id: a row id is a positive integer, got ${JSON.stringify(req.params.id)}`, "id");
    const row = await store.row(id);
    if (!row) throw new HttpProblem(404, "Not Found", `no published matrix row has id ${id}`, "id");
    // A published row never changes.
    res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
    const body: Schemas["MatrixRow"] = row;
    res.json(body);
  });

  r.get("/v1/matrix", tagged, async (req, res) => {
    const q = parseOr400(matrixQuerySchema, req.query, "query");
    await requirePublished();
    const filter = filterOf(q);
    if (q.strategy !== undefined) filter.strategy = canonicalCandidateStrategy(q.strategy)!;
    if (q.rate !== undefined) filter.rate = q.rate;
    const page = await store.queryRows(filter, { limit: q.limit, cursor: q.cursor ?? null });
    const body: Schemas["MatrixPage"] = page;
    res.json(body);
  });

  r.get("/v1/matrix/curves", tagged, async (req, res) => {
    const q = parseOr400(curvesQuerySchema, req.query, "query");
    const candidates = q.candidates === undefined ? null : parseCandidateList(q.candidates);
    const at = q.at === undefined ? undefined : parseBudgetList(q.at);
    // With a norm, the same budget rules as POST /v1/recommendations (L∞ at most 1, L0 whole
    // features): the two never disagree on what a valid budget of a norm is.
    if (at !== undefined && q.norm !== undefined) for (const b of at) checkBudget(q.norm, b, "at");
    // Against the adversarial share: one budget, the one the robust part is taken at.
    let shares: number[] | undefined;
    if (q.vs === "share") {
      if (at === undefined || at.length !== 1) {
        throw new HttpProblem(400, "Bad Request", `at: with vs=share, name the one budget the aggregated accuracy is taken at (e.g. at=0.03), got ${at === undefined ? "none" : `${at.length} budgets`}`, "at");
      }
      shares = q.shares === undefined ? [...DEFAULT_CURVE_SHARES] : parseShareList(q.shares);
    } else if (q.shares !== undefined) {
      throw new HttpProblem(400, "Bad Request", "shares: adversarial shares go with vs=share", "shares");
    }
    await requirePublished();
    const base = filterOf(q);
    // Pin one version for every candidate.
    base.version ??= (await store.resolveVersion()).id;
    const curves: CurvePlot[] = [];
    for (const c of candidates ?? [null]) {
      const filter: RowFilter = c ? { ...base, strategy: c.strategy, rate: c.rate } : base;
      curves.push(...(await store.curves(filter, { ...(at === undefined ? {} : { at }), ...(shares === undefined ? {} : { shares }) })).curves);
    }
    const body: Schemas["CurvesResponse"] = { version: base.version, curves };
    res.json(body);
  });

  r.get("/v1/models", taggedModels, async (_req, res) => {
    const loaded = await cache.current();
    if (!loaded) throw matrixEmpty();
    // Registered models without rows in this version (an upload not refreshed yet) are listed
    // too, so an operator sees them — marked not-measured, with nothing counted.
    const measured = new Set(loaded.models.map((m) => m.modelId));
    const [others, uploaded] = await Promise.all([modelsOutside(store.db, measured), uploadedModelIds(store.db)]);
    const coverage = coverageByModel(loaded.snapshot);
    const body: Schemas["ModelsResponse"] = {
      version: loaded.version,
      models: [
        ...loaded.models.map((m) => ({ ...m, state: "measured" as const, uploaded: uploaded.has(m.modelId), coverage: coverage.get(m.modelId) ?? [] })),
        ...others.map((m) => ({ ...m, state: "not-measured" as const, uploaded: uploaded.has(m.modelId), coverage: [] })),
      ],
    };
    res.json(body);
  });

  r.get("/v1/matrix/versions", async (_req, res) => {
    const versions = await store.listVersions();
    const body: Schemas["VersionsResponse"] = { latest: versions.at(-1)?.id ?? null, versions };
    res.json(body);
  });

  return r;
}
