// One builder per database: while another builder (here: this test, as an operator's
// `advisor matrix build` would) holds the build lock, a refresh job waits queued and says why;
// it runs as soon as the lock is free.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BuildLedger } from "../../src/matrix/build-state.js";
import { TINY_GRID, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

test("a refresh waits, queued and saying why, while another builder holds the database's build lock; then it runs", async (t) => {
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  const lock = await new BuildLedger(api.store.db).acquireLock({ gridHash: "operator build" });
  let released = false;
  t.after(async () => {
    if (!released) await lock.release();
  });

  const queued = await refresh(api, id, { grid: TINY_GRID });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  const jobId = (queued.body.job as JobBody).id;
  const waiting = await waitForJob((p) => api.call("GET", p), jobId, (j) => j.note !== null, 20_000);
  assert.equal(waiting.state, "queued");
  assert.match(String(waiting.note), new RegExp(`waiting for the database's build lock, held by process ${process.pid}`));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await api.call("GET", `/v1/jobs/${jobId}`)).body.state, "queued", "still waiting");
  assert.equal(api.jobs!.current(), null, "no runner forked while the lock is taken");

  await lock.release();
  released = true;
  const done = await waitForJob((p) => api.call("GET", p), jobId);
  assert.equal(done.state, "succeeded", JSON.stringify(done));
  assert.equal(done.note, null);
});
