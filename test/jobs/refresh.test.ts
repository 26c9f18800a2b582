// Acceptance 1 of refresh jobs: upload → refresh on a tiny grid → the job runs in its own processes
// and succeeds (polled with GET /v1/jobs/{id}) → a recommendation for that model cites the matrix
// version the job published. Idempotency on the way: the same upload again is the same model and
// queues nothing, the same refresh again returns the queued job, and once measured says so.
// Every response is checked against openapi.yaml.
import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { AUTH, TINY_GRID, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

test("upload → refresh on a tiny grid → job succeeded → the recommendation for that model cites the new version; repeats queue nothing", async (t) => {
  const api = await startJobsApi(t);
  const jobCount = async (): Promise<number> => (await api.store.db.get<{ n: number }>("SELECT count(*) AS n FROM jobs"))!.n;
  const { id } = await uploadTiny(api, t);

  const queued = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  assert.equal(queued.body.outcome, "queued");
  const job = queued.body.job as JobBody & { modelId: string; requestedBy: string; grid: Record<string, unknown> };
  assert.equal(queued.headers.get("location"), `/v1/jobs/${job.id}`);
  assert.equal(job.modelId, id);
  assert.equal(job.requestedBy, "ops", "the API key's name");
  assert.deepEqual(job.grid.model, { id, architecture: "tiny-cnn" }, "the grid as run names the model");
  assert.deepEqual(job.grid.dataset, { name: "synthetic", format: "idx" }, "no server paths in the answer: the name and the format recognised in the configured directory");
  assert.match(String(queued.body.detail), /job \d+ queued: 4 cells of grid [0-9a-f]{12}… for model/);

  // The same refresh while it is queued or running: that job, nothing new.
  const again = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.outcome, "already-queued");
  assert.equal((again.body.job as JobBody).id, job.id);
  assert.equal(again.headers.get("location"), `/v1/jobs/${job.id}`);
  // The same model uploaded again: same id, 200, and no job queued for it.
  const reupload = await uploadTiny(api, t);
  assert.equal(reupload.res.status, 200);
  assert.equal(reupload.id, id);
  assert.equal(await jobCount(), 1);

  // While it runs, the runner works at low priority (its workers inherit it) and the API answers.
  const running = await waitForJob((p) => api.call("GET", p), job.id, (j) => j.state !== "queued");
  const runner = api.jobs!.current();
  if (running.state === "running" && runner?.pid !== undefined) {
    try {
      assert.equal(os.getPriority(runner.pid), 10, "the runner process is niced");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err; // it just finished
    }
  }
  assert.equal((await api.call("GET", "/healthz")).status, 200);

  const done = await waitForJob((p) => api.call("GET", p), job.id);
  assert.equal(done.state, "succeeded", JSON.stringify(done));
  assert.deepEqual(done.cells, { done: 4, total: 4 });
  assert.deepEqual(done.errors, []);
  assert.equal(done.current, null);
  assert.equal(done.attempts, 1);
  assert.ok(typeof done.matrixVersion === "number" && done.matrixVersion > 1, "a new version after the fixture's version 1");

  const rec = await api.call("POST", "/v1/recommendations?include=evidence", { json: { norm: "linf", budget: 0.05, knowledge: "white-box", modelId: id } });
  assert.equal(rec.status, 200, JSON.stringify(rec.body));
  assert.equal(rec.body.matrixVersion, done.matrixVersion, "the answer cites the version the job published");
  const cited = new Set((rec.body.evidence as { candidate: { modelId: string } }[]).map((e) => e.candidate.modelId));
  assert.deepEqual([...cited], [id]);
  assert.ok((rec.body.alternatives as unknown[]).length >= 1);
  // Both candidates of the grid, and only rows of this model, in the new version.
  const rows = await api.call("GET", `/v1/matrix?model=${id}`);
  assert.equal(rows.status, 200, JSON.stringify(rows.body));
  assert.deepEqual(
    (rows.body.rows as { strategy: string; requestedRate: number; knowledge: string; matrixVersion: number }[]).map((r) => `${r.strategy}@${r.requestedRate}/${r.knowledge}/v${r.matrixVersion}`).sort(),
    [`dense@1/black-box/v${done.matrixVersion}`, `dense@1/white-box/v${done.matrixVersion}`, `global-magnitude@4/black-box/v${done.matrixVersion}`, `global-magnitude@4/white-box/v${done.matrixVersion}`],
  );
  // The fixture's models still answer as before (the refresh version only adds this model's rows).
  const def = await api.call("POST", "/v1/recommendations?include=evidence", { json: { norm: "linf", budget: 0.1, knowledge: "white-box", dataset: "fashion-mnist" } });
  assert.equal(def.status, 200, JSON.stringify(def.body));
  assert.ok((def.body.evidence as { candidate: { modelId: string } }[]).every((e) => e.candidate.modelId !== id), "the default set leaves the uploaded model out");

  // Measured now: the same refresh queues nothing and says where the rows are; a finished job cannot be cancelled.
  const measured = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(measured.status, 200, JSON.stringify(measured.body));
  assert.equal(measured.body.outcome, "already-measured");
  assert.equal(measured.body.matrixVersion, done.matrixVersion);
  assert.equal((measured.body.job as JobBody).id, job.id);
  assert.equal(await jobCount(), 1);
  const late = await api.call("DELETE", `/v1/jobs/${job.id}`, { headers: AUTH });
  assert.equal(late.status, 409);
  assert.match(String(late.body.detail), /already succeeded \(it published matrix version \d+\)/);
});
