// Helpers for the refresh-job tests: tiny refresh grids on the synthetic 8x8, 3-class data set of
// test/models/helpers.ts, an API with a job manager and upload settings, polling a job.
import assert from "node:assert/strict";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { Database } from "../../src/matrix/sqlite.js";
import { contract, startApi, type Api, type ApiResponse } from "../api/helpers.js";
import { modelParts, multipart, syntheticData, tinyModel } from "../models/helpers.js";

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

export const KEY = "refresh-test-key-0123456789abcdefghijklmnopqrstuvwxyz";
export const KEY_LINE = keyLine("ops", KEY);
export const keys = new ApiKeys(parseKeyEntries(KEY_LINE));
export const AUTH = { authorization: `Bearer ${KEY}` };

/** Attack settings small enough for seconds per cell. */
const TINY_ATTACKS = { batchSize: 20, pgd: { steps: 3, restarts: 1 }, fmn: { steps: 5, targets: 0 }, square: { queries: 20 }, sparseRs: { queries: 20 } };

/** 4 cells: the model (dense), global-magnitude 4×, an L∞ evaluation of each (white-box and black-box rows). */
export const TINY_GRID = {
  strategies: ["global-magnitude"],
  rates: [1, 4],
  norms: ["linf"],
  knowledge: ["white-box", "black-box"],
  budgets: { linf: [0, 0.05, 0.1] },
  samples: 20,
  training: { batchSize: 16 },
  finetune: { epochs: 1 },
  attacks: TINY_ATTACKS,
};

/** 9 cells (2 strategies × 4×, 2 norms): long enough to be interrupted in the middle. */
export const SMALL_GRID = {
  ...TINY_GRID,
  strategies: ["global-magnitude", "random"],
  norms: ["linf", "l2"],
  budgets: { linf: [0, 0.05, 0.1], l2: [0, 0.5, 1] },
};

/** 18 cells (SMALL_GRID for two seeds): a job that is still running when it is cancelled. */
export const LONGER_GRID = { ...SMALL_GRID, seeds: [1, 2] };

export interface JobsApi extends Api {
  data: { name: string; dir: string };
}

/** The app with refresh jobs, API keys and the synthetic data set; `fill` builds the matrix first (default the API fixture). */
export async function startJobsApi(t: TestContext, o: { fill?: Parameters<typeof startApi>[1]; protectReads?: boolean } = {}): Promise<JobsApi> {
  const data = await syntheticData(t);
  const api = await startApi(t, o.fill, {
    keys,
    protectReads: o.protectReads,
    uploads: { datasets: new Map([[data.name, data.dir]]) },
    jobs: { workers: 1, niceness: 10 },
  });
  return { ...api, data };
}

/** Uploads a tiny model (seeded) for the synthetic data set; returns its id and the response. */
export async function uploadTiny(api: Api, t: TestContext, seed = 1): Promise<{ id: string; res: ApiResponse; dir: string }> {
  const model = await tinyModel(t, { seed, architecture: "tiny-cnn" });
  const { body, contentType } = multipart([{ name: "dataset", content: "synthetic" }, { name: "architecture", content: "tiny-cnn" }, ...(await modelParts(model.dir))]);
  const res = await api.call("POST", "/v1/models", { body, headers: { "content-type": contentType, ...AUTH } });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return { id: res.body.id as string, res, dir: model.dir };
}

export function refresh(api: Api, id: string, body?: unknown, headers: Record<string, string> = AUTH): Promise<ApiResponse> {
  return api.call("POST", `/v1/models/${id}/refresh`, body === undefined ? { headers } : { json: body, headers });
}

export interface JobBody {
  id: number;
  state: string;
  cells: { done: number; total: number | null };
  current: { cell: string; detail: string | null } | null;
  eta: { seconds: number; at: string } | null;
  errors: { cell: string | null; error: string }[];
  matrixVersion: number | null;
  attempts: number;
  note: string | null;
}

/** Polls GET /v1/jobs/{id} until `until` holds (default: a final state) or the time is up. */
export async function waitForJob(
  get: (path: string) => Promise<ApiResponse>,
  id: number,
  until: (j: JobBody) => boolean = (j) => !["queued", "running"].includes(j.state),
  timeoutMs = 180_000,
  everyMs = 100,
): Promise<JobBody> {
  const deadline = Date.now() + timeoutMs;
  let last: JobBody | undefined;
  while (Date.now() < deadline) {
    const res = await get(`/v1/jobs/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    last = res.body as unknown as JobBody;
    if (until(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  assert.fail(`job ${id} did not get there within ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
}

/** One value from a database file, read-only (for checks while a service owns the file). */
export async function queryOne<T>(file: string, sql: string, params: (string | number)[] = []): Promise<T | undefined> {
  const db = await Database.open(file, { readonly: true });
  try {
    return await db.get<T>(sql, params);
  } finally {
    await db.close();
  }
}

export type Call = Api["call"];

/** A client for a service at `baseUrl` (e.g. a real `advisor serve`) checking every answer against openapi.yaml. */
export function serviceClient(baseUrl: string): Call {
  return async (method, p, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(baseUrl + p, { method, headers, body } as RequestInit);
    const contentType = res.headers.get("content-type") ?? "";
    const text = await res.text();
    const parsed = /json/.test(contentType) ? (JSON.parse(text) as ApiResponse["body"]) : ({ text } as ApiResponse["body"]);
    contract.check(method, new URL(baseUrl + p).pathname, res.status, contentType, /json/.test(contentType) ? parsed : text);
    return { status: res.status, contentType, body: parsed, headers: res.headers };
  };
}

/** Uploads a model directory for the synthetic data set through `call`; returns the model id. */
export async function uploadDir(call: Call, dir: string, architecture = "tiny-cnn"): Promise<string> {
  const { body, contentType } = multipart([{ name: "dataset", content: "synthetic" }, { name: "architecture", content: architecture }, ...(await modelParts(dir))]);
  const res = await call("POST", "/v1/models", { body, headers: { "content-type": contentType, ...AUTH } });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.id as string;
}
