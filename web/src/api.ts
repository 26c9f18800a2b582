// The page's client of the service's own /v1 API. Types are openapi.yaml's, as generated into
// src/api/schema.gen.ts (`npm run gen:api`), so the page and the API cannot drift apart
// silently. An API key, when the user gives one, is kept in sessionStorage (this tab only) and
// sent as the X-API-Key header — never in a URL, where the service refuses keys with a 400.
import type { CurvesResponse, JobList, Knowledge, MatrixPage, MatrixRow, ModelsResponse, Norm, Problem, Recommendation, Scenario, Strategy } from "./types.js";

export type * from "./types.js";

const KEY_ITEM = "pruning-advisor.api-key";

export const apiKey = {
  get(): string | null {
    return sessionStorage.getItem(KEY_ITEM);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

/** A problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }

  get field(): string | undefined {
    return this.problem.field;
  }
}

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const key = apiKey.get();
  if (key) headers["x-api-key"] = key;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { title: "Network error", detail: `the service did not answer (${err instanceof Error ? err.message : String(err)})` });
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, (parsed ?? {}) as Partial<Problem>);
  return parsed as T;
}

/** What to add to a recommendation (the API's ?include=). */
export type IncludePart = "evidence" | "curve" | "details" | "all-alternatives" | "unscored";

export const api = {
  recommend: (s: Scenario, include: readonly IncludePart[] = []) =>
    call<Recommendation>("POST", `/v1/recommendations${include.length > 0 ? `?include=${include.join(",")}` : ""}`, s),
  curves: (q: { model: string; norm: Norm; knowledge: Knowledge; candidates: string[] }) =>
    call<CurvesResponse>("GET", `/v1/matrix/curves?${new URLSearchParams({ model: q.model, norm: q.norm, knowledge: q.knowledge, candidates: q.candidates.join(",") }).toString()}`),
  row: (id: number | string) => call<MatrixRow>("GET", `/v1/matrix/rows/${encodeURIComponent(String(id))}`),
  rows: (q: { model: string; strategy: Strategy; rate: number; norm: Norm; knowledge: Knowledge }) =>
    call<MatrixPage>("GET", `/v1/matrix?${new URLSearchParams({ model: q.model, strategy: q.strategy, rate: String(q.rate), norm: q.norm, knowledge: q.knowledge, limit: "20" }).toString()}`),
  models: () => call<ModelsResponse>("GET", "/v1/models"),
  jobs: () => call<JobList>("GET", "/v1/jobs?limit=20"),
};
