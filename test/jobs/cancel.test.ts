// Acceptance 3 of refresh jobs: DELETE /v1/jobs/{id} cancels. A queued job never runs; a running
// one is stopped (its runner and build workers are gone when the answer comes), its unpublished
// version and checkpoints are discarded, readers never see a row of it, and the API — and the
// queue — keep working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { processAlive } from "../../src/matrix/build-state.js";
import { AUTH, LONGER_GRID, TINY_GRID, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

/** Pids of the build workers (src/matrix/worker) whose parent is `pid` (Linux /proc). */
function workersOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid && /matrix\/worker\.[tj]s/.test(readFileSync(`/proc/${name}/cmdline`, "utf8"))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Gone: no such process, or a zombie waiting to be reaped (it runs nothing any more). */
function gone(pid: number): boolean {
  if (!processAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

test("DELETE cancels: a queued job never runs; a running one is stopped, nothing of it is visible, the API and the queue go on", async (t) => {
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  const count = async (sql: string, params: (string | number)[] = []): Promise<number> => (await api.store.db.get<{ n: number }>(sql, params))!.n;

  const long = await refresh(api, id, { grid: LONGER_GRID });
  assert.equal(long.status, 202, JSON.stringify(long.body));
  const longId = (long.body.job as JobBody).id;
  const tiny = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(tiny.status, 202);
  const tinyId = (tiny.body.job as JobBody).id;

  // The second job waits behind the first (one build per database); cancelled while queued, it never runs.
  const first = await waitForJob((p) => api.call("GET", p), longId, (j) => j.state === "running");
  assert.equal(first.state, "running");
  assert.equal((await api.call("GET", `/v1/jobs/${tinyId}`)).body.state, "queued");
  const cq = await api.call("DELETE", `/v1/jobs/${tinyId}`, { headers: AUTH });
  assert.equal(cq.status, 200, JSON.stringify(cq.body));
  assert.equal(cq.body.state, "cancelled");
  assert.equal(cq.body.note, "cancelled by ops");
  assert.equal(cq.body.startedAt, null, "it never started");

  // The running one: wait until some of its rows exist (in its unpublished version), then cancel it.
  const mid = await waitForJob((p) => api.call("GET", p), longId, (j) => j.cells.done >= 3 || j.state !== "running", 180_000, 50);
  assert.equal(mid.state, "running", `the job ended before it could be cancelled: ${JSON.stringify(mid)}`);
  assert.ok(mid.cells.done < 18);
  assert.ok(mid.current !== null, "a current cell while running");
  assert.ok(mid.eta !== null && mid.eta.seconds >= 0, "an ETA once cells finished");
  assert.ok((await count("SELECT count(*) AS n FROM evaluations e JOIN matrix_versions v ON v.id = e.matrix_version WHERE v.published_at IS NULL")) > 0, "rows written, unpublished");
  const runner = api.jobs!.current();
  assert.equal(runner?.jobId, longId);
  const workers = workersOf(runner!.pid!);
  assert.ok(workers.length >= 1, "the runner's build workers");

  const cancelled = await api.call("DELETE", `/v1/jobs/${longId}`, { headers: AUTH });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.state, "cancelled");
  assert.equal(cancelled.body.matrixVersion, null);
  assert.ok(cancelled.body.finishedAt);
  // Its runner is gone when the answer comes; it SIGKILLed its workers on the way out (allow the
  // kernel a moment to finish tearing them down on a busy machine).
  assert.ok(gone(runner!.pid!), "runner stopped");
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && !workers.every(gone)) await new Promise((r) => setTimeout(r, 50));
  for (const w of workers) assert.ok(gone(w), `worker ${w} stopped`);
  // Nothing of it is left for anybody to see: no unpublished version, no rows, no checkpoints.
  assert.equal(await count("SELECT count(*) AS n FROM matrix_versions WHERE published_at IS NULL"), 0);
  assert.equal(await count("SELECT count(*) AS n FROM evaluations e JOIN variants va ON va.id = e.variant_id WHERE va.model_id = ?", [id]), 0);
  assert.equal(await count("SELECT count(*) AS n FROM builds"), 0);
  const versions = await api.call("GET", "/v1/matrix/versions");
  assert.equal(versions.body.latest, 1, "still the fixture's version");
  const rows = await api.call("GET", `/v1/matrix?model=${id}`);
  assert.deepEqual(rows.body.rows, []);
  const rec = await api.call("POST", "/v1/recommendations", { json: { norm: "linf", budget: 0.05, knowledge: "white-box", modelId: id } });
  assert.equal(rec.status, 409, "the model is still not measured");
  // The API answers as before.
  assert.equal((await api.call("GET", "/healthz")).status, 200);
  const def = await api.call("POST", "/v1/recommendations", { json: { norm: "linf", budget: 0.1, knowledge: "white-box", dataset: "fashion-mnist" } });
  assert.equal(def.status, 200);
  assert.equal(def.body.matrixVersion, 1);
  // Cancelling again answers the cancelled job again.
  const twice = await api.call("DELETE", `/v1/jobs/${longId}`, { headers: AUTH });
  assert.equal(twice.status, 200);
  assert.equal(twice.body.state, "cancelled");

  // The queue goes on: the tiny refresh requested again (its first job was cancelled) runs and publishes.
  const retry = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  const done = await waitForJob((p) => api.call("GET", p), (retry.body.job as JobBody).id);
  assert.equal(done.state, "succeeded", JSON.stringify(done));
  assert.equal((await api.call("GET", "/v1/matrix/versions")).body.latest, done.matrixVersion);
});
