// The in-memory matrix is reloaded when a newer version is published: requests running during
// the reload all succeed, and later answers cite the new version.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MatrixCache } from "../../src/api/matrix-cache.js";
import { MODEL_A, publishRefresh, startApi } from "./helpers.js";

const scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", modelId: MODEL_A };

test("publishing a new version while requests run: no request fails, later answers cite the new version", async (t) => {
  const api = await startApi(t);
  const versions: number[] = [];
  let stop = false;
  const client = async (): Promise<void> => {
    let last = 0;
    while (!stop) {
      const r = await api.call("POST", "/v1/recommendations", { json: scenario });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const v = r.body.matrixVersion as number;
      assert.ok(v >= last, `a client never goes back to an older version (${last} → ${v})`);
      last = v;
      versions.push(v);
    }
  };
  // Wait for answers rather than for time, so a slow machine tests the same thing.
  const answered = async (n: number): Promise<void> => {
    while (versions.length < n) {
      if (failure !== undefined) throw failure;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const first = await api.call("POST", "/v1/recommendations", { json: scenario });
  versions.push(first.body.matrixVersion as number);
  let failure: unknown;
  const clients = [client(), client(), client(), client()].map((c) =>
    c.catch((err: unknown) => {
      failure ??= err;
      stop = true;
    }),
  );
  const published: number[] = [];
  for (let i = 0; i < 3; i++) {
    await answered(versions.length + 4);
    published.push(await publishRefresh(api.store, String(i)));
  }
  await answered(versions.length + 8);
  stop = true;
  await Promise.all(clients);
  if (failure !== undefined) throw failure;

  const newest = published.at(-1)!;
  assert.ok(versions.length >= 21, `requests ran meanwhile (${versions.length})`);
  assert.ok(versions.includes(1) && versions.includes(newest), `saw ${[...new Set(versions)].join(", ")}`);
  const after = await api.call("POST", "/v1/recommendations?include=all-alternatives", { json: scenario });
  assert.equal(after.body.matrixVersion, newest);
  const models = await api.call("GET", "/v1/models");
  assert.equal(models.body.version, newest);
  // The refreshed dense row (90 robust at 0.1 instead of 60) changes the evidence behind the answer.
  const dense = (after.body.alternatives as { candidate: { strategy: string; robustAccuracy: { robust: number } } }[]).find((a) => a.candidate.strategy === "dense")!;
  assert.equal(dense.candidate.robustAccuracy.robust, 90);
});

test("the cache checks at most every checkIntervalMs, loads once for concurrent callers, and keeps serving when a reload fails", async (t) => {
  const api = await startApi(t);
  let clock = 0;
  let checks = 0;
  let snapshots = 0;
  let failNext = false;
  const store = api.store;
  const spy = {
    latestPublishedVersion: async () => {
      checks++;
      if (failNext) throw new Error("database is locked");
      return store.latestPublishedVersion();
    },
    snapshot: async (v?: number) => {
      snapshots++;
      return store.snapshot(v);
    },
    listModels: (v?: number) => store.listModels(v),
  } as unknown as typeof store;
  const cache = new MatrixCache(spy, { checkIntervalMs: 1000, now: () => clock });

  const [a, b, c] = await Promise.all([cache.current(), cache.current(), cache.current()]);
  assert.equal(a?.version, 1);
  assert.ok(a === b && b === c, "concurrent callers share one load");
  assert.equal(checks, 1);
  assert.equal(snapshots, 1);

  const v2 = await publishRefresh(store, "cache");
  clock = 500;
  assert.equal((await cache.current())?.version, 1, "within the interval: no check");
  assert.equal(checks, 1);
  clock = 1000;
  assert.equal((await cache.current())?.version, v2);
  assert.equal(checks, 2);
  assert.equal(snapshots, 2);
  clock = 2000;
  await cache.current();
  assert.equal(snapshots, 2, "same version: no reload");

  failNext = true;
  clock = 3000;
  assert.equal((await cache.current())?.version, v2, "a failed check keeps the loaded matrix");
  failNext = false;
});
