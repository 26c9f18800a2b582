// Helpers for the API tests: small fixture matrices in temp databases (test/matrix/fixtures.ts —
// hand-made rows, never written into db/), the app in-process on port 0, and a client that
// checks every response against openapi.yaml (contract.ts).
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createApp, type AppDeps, type AppLocals } from "../../src/api/app.js";
import type { MatrixCache } from "../../src/api/matrix-cache.js";
import { JobManager, type JobManagerOptions } from "../../src/jobs/manager.js";
import { createLogger, type Logger } from "../../src/logger.js";
import type { Strategy } from "../../src/advisor/types.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { migrationsDir, openapiPath } from "../../src/paths.js";
import { fixtureEvaluation, fixtureModel, fixtureModelId, fixtureVariant, runs, tempDir } from "../matrix/fixtures.js";
import { OpenApiContract } from "./contract.js";
import { createHttpServer } from "../../src/api/http-server.js";

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

export const contract = await OpenApiContract.load(openapiPath);

export const MODEL_A = fixtureModelId("api-a");
export const MODEL_B = fixtureModelId("api-b");

/** Candidate → L∞ distances (100 samples). At ε = 0.1: dense 60, gm4 60, lm8 40, sl2 50, rn4 30 robust. */
export const LINF: Record<string, { strategy: Strategy; rate: number; d: Float32Array; clean?: [number, number] }> = {
  dense: { strategy: "dense", rate: 1, d: runs([[0, 10], [0.03, 10], [0.08, 20], [0.15, 20], [Infinity, 40]]), clean: [910, 1000] },
  gm4: { strategy: "global-magnitude", rate: 4, d: runs([[0, 10], [0.03, 10], [0.08, 20], [0.15, 10], [0.25, 10], [Infinity, 40]]) },
  lm8: { strategy: "layer-magnitude", rate: 8, d: runs([[0, 10], [0.03, 20], [0.08, 30], [0.15, 20], [Infinity, 20]]) },
  sl2: { strategy: "structured-l1", rate: 2, d: runs([[0, 10], [0.03, 20], [0.08, 20], [0.15, 20], [Infinity, 30]]) },
  rn4: { strategy: "random", rate: 4, d: runs([[0, 10], [0.03, 30], [0.08, 30], [0.15, 10], [Infinity, 20]]) },
};

/**
 * A published version 1 with model A (5 candidates, L∞ and L0 white-box each = 10 rows) and
 * model B on another data set (dense only, L∞ white-box = 1 row). Returns the version id.
 */
export async function buildFixtureMatrix(store: MatrixStore, o: { publish?: boolean } = {}): Promise<number> {
  const version = await store.createVersion("TEST FIXTURE api v1");
  await store.upsertModel(fixtureModel({ id: MODEL_A }));
  await store.upsertModel(fixtureModel({ id: MODEL_B, architecture: "mlp", dataset: "mnist" }));
  for (const c of Object.values(LINF)) {
    const variantId = await store.upsertVariant(fixtureVariant({ modelId: MODEL_A, strategy: c.strategy, rate: c.rate, clean: c.clean }));
    await store.insertEvaluation(fixtureEvaluation({ variantId, version, distances: c.d }));
    const l0 = Float32Array.from(c.d, (d) => (d === 0 || d === Infinity ? d : Math.round(d * 100)));
    await store.insertEvaluation(fixtureEvaluation({ variantId, version, distances: l0, norm: "l0", budgets: [1, 5, 10, 20] }));
  }
  const vb = await store.upsertVariant(fixtureVariant({ modelId: MODEL_B, strategy: "dense", rate: 1 }));
  await store.insertEvaluation(fixtureEvaluation({ variantId: vb, version, distances: runs([[0, 5], [0.1, 5], [Infinity, 10]]) }));
  if (o.publish ?? true) await store.publishVersion(version);
  return version;
}

/** A new version re-measuring model A's dense candidate (L∞, white-box), published. */
export async function publishRefresh(store: MatrixStore, label: string): Promise<number> {
  const version = await store.createVersion(`TEST FIXTURE refresh ${label}`);
  const variantId = (await store.findVariant({ modelId: MODEL_A, strategy: "dense", requestedRate: 1, seed: 1 }))!;
  await store.insertEvaluation(fixtureEvaluation({ variantId, version, distances: runs([[0, 10], [0.15, 50], [Infinity, 40]]), finishedAt: `2024-05-02T12:00:00.000Z` }));
  await store.publishVersion(version);
  return version;
}

export interface Api {
  baseUrl: string;
  store: MatrixStore;
  cache: MatrixCache;
  dbFile: string;
  /** The refresh-job manager, when startApi was asked for one. */
  jobs: JobManager | undefined;
  call(method: string, path: string, o?: { json?: unknown; body?: string | Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string> }): Promise<ApiResponse>;
}

export interface ApiResponse {
  status: number;
  contentType: string;
  // Test code reads fields freely; the contract check has already validated the shape.
  body: Record<string, unknown> & { [k: string]: unknown };
  headers: Headers;
}

/** The app on a fresh temp database, listening on port 0; `fill` builds the matrix first. */
export async function startApi(
  t: TestContext,
  fill: (store: MatrixStore) => Promise<unknown> = buildFixtureMatrix,
  o: { checkIntervalMs?: number; jobs?: Partial<Omit<JobManagerOptions, "store" | "dbFile">>; logger?: Logger } & Pick<
    AppDeps,
    "keys" | "protectReads" | "uploads" | "refreshGridFile"
  > = {},
): Promise<Api> {
  const dir = await tempDir(t, "advisor-api-");
  const dbFile = path.join(dir, "matrix.sqlite");
  const store = await MatrixStore.open(dbFile);
  await fill(store);
  // Refresh jobs run in forked runner processes, as in the service (quick polling for tests).
  const jobs = o.jobs ? new JobManager({ store, dbFile, pollMs: 200, ...o.jobs }) : undefined;
  const app = createApp({
    db: store.db,
    store,
    logger: o.logger ?? createLogger("silent"),
    migrationsDir,
    openapiPath,
    version: "0.0.0-test",
    matrixCheckIntervalMs: o.checkIntervalMs ?? 0,
    keys: o.keys,
    protectReads: o.protectReads,
    uploads: o.uploads,
    jobs,
    refreshGridFile: o.refreshGridFile,
  });
  const server = await new Promise<Server>((resolve) => {
    // The service's own server (src/api/http-server.ts), not app.listen's.
    const s = createHttpServer(app).listen(0, "127.0.0.1", () => resolve(s));
  });
  await jobs?.start();
  t.after(async () => {
    await jobs?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call: Api["call"] = async (method, p, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["content-type"] ??= "application/json";
    }
    const stream = typeof ReadableStream !== "undefined" && body instanceof ReadableStream;
    const res = await fetch(baseUrl + p, { method, headers, body, ...(stream ? { duplex: "half" } : {}) } as RequestInit);
    const contentType = res.headers.get("content-type") ?? "";
    const text = await res.text();
    const parsed = /json/.test(contentType) ? (JSON.parse(text) as ApiResponse["body"]) : ({ text } as ApiResponse["body"]);
    contract.check(method, new URL(baseUrl + p).pathname, res.status, contentType, /json/.test(contentType) ? parsed : text);
    return { status: res.status, contentType, body: parsed, headers: res.headers };
  };
  return { baseUrl, store, cache: (app.locals as AppLocals).matrixCache, dbFile, jobs, call };
}
