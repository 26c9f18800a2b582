// Acceptance 2 of refresh jobs: a real `advisor serve` killed with SIGKILL in the middle of a job
// (its runner process too, as when a container dies) and started again finishes the job — with no
// duplicate and no missing row: the matrix equals what an uninterrupted refresh of the same model
// and grid gives (`advisor models add` + `advisor refresh` on another database).
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { runCli, startService } from "../helpers/cli.js";
import { exportedRows } from "../helpers/exported-rows.js";
import { tempDir } from "../matrix/fixtures.js";
import { syntheticData, tinyModel } from "../models/helpers.js";
import { KEY_LINE, SMALL_GRID, queryOne, serviceClient, uploadDir, waitForJob, AUTH, type JobBody } from "./helpers.js";

/** Exported rows (ids and timestamps removed), with the model's uploaded-file list in a fixed order. */
async function rowsOf(db: string): Promise<string[]> {
  return (await exportedRows(db)).map((line) => {
    const row = JSON.parse(line) as { modelMetadata: { files?: { name: string }[] } };
    row.modelMetadata.files?.sort((a, b) => a.name.localeCompare(b.name));
    return JSON.stringify(row);
  });
}

test("advisor serve SIGKILLed mid-job (runner too) and restarted: the job resumes and finishes, rows equal an uninterrupted refresh", async (t) => {
  const work = await tempDir(t, "advisor-restart-");
  const data = await syntheticData(t);
  const model = await tinyModel(t, { seed: 5, architecture: "tiny-cnn" });
  const env = { ADVISOR_API_KEYS: KEY_LINE, ADVISOR_DATASETS: `synthetic=${data.dir}` };
  const db = path.join(work, "served", "advisor.sqlite");
  const args = ["--db", db, "--seed-matrix", "none", "--job-workers", "1"];

  const first = await startService(args, env);
  t.after(() => void first.child.kill("SIGKILL"));
  const call = serviceClient(first.baseUrl);
  const id = await uploadDir(call, model.dir);
  const queued = await call("POST", `/v1/models/${id}/refresh`, { json: { grid: SMALL_GRID }, headers: AUTH });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  const jobId = (queued.body.job as JobBody).id;

  // Kill the service and the job's runner once 2 of its 9 cells are checkpointed.
  type Row = { state: string; cells_done: number; cells_total: number | null; runner_pid: number | null };
  const read = (): Promise<Row | undefined> => queryOne<Row>(db, "SELECT state, cells_done, cells_total, runner_pid FROM jobs WHERE id = ?", [jobId]);
  const deadline = Date.now() + 120_000;
  let row = await read();
  while (Date.now() < deadline && !(row && row.state === "running" && row.cells_done >= 2 && row.runner_pid !== null)) {
    await new Promise((r) => setTimeout(r, 50));
    row = await read();
  }
  assert.ok(row && row.cells_done >= 2, `the job did not get going: ${JSON.stringify(row)}`);
  const exited = once(first.child, "exit");
  first.child.kill("SIGKILL");
  try {
    process.kill(row.runner_pid!, "SIGKILL");
  } catch {
    // already gone with the service
  }
  await exited;
  const atKill = (await read())!;
  assert.equal(atKill.state, "running", "left running by the killed service");
  assert.ok(atKill.cells_done < 9, `the job finished before the kill (${atKill.cells_done} cells)`);

  // Restarted: the job is requeued and its build resumes from the checkpointed cells.
  const second = await startService(args, env);
  t.after(() => void second.child.kill("SIGKILL"));
  const call2 = serviceClient(second.baseUrl);
  const done = await waitForJob((p) => call2("GET", p), jobId);
  assert.equal(done.state, "succeeded", JSON.stringify(done));
  assert.equal(done.attempts, 2, "one run before the kill, one after");
  assert.deepEqual(done.cells, { done: 9, total: 9 });
  assert.deepEqual(done.errors, []);
  const rec = await call2("POST", "/v1/recommendations", { json: { norm: "l2", budget: 0.5, knowledge: "black-box", modelId: id } });
  assert.equal(rec.status, 200, JSON.stringify(rec.body));
  assert.equal(rec.body.matrixVersion, done.matrixVersion);
  const stopped = once(second.child, "exit");
  second.child.kill("SIGTERM");
  await stopped;

  // No duplicates: one row per (variant, norm, knowledge), 3 variants × 2 norms × 2 levels; one version, published.
  const dup = await queryOne<{ n: number }>(db, "SELECT count(*) AS n FROM (SELECT 1 FROM evaluations GROUP BY variant_id, norm, knowledge HAVING count(*) > 1)");
  assert.equal(dup?.n, 0);
  assert.equal((await queryOne<{ n: number }>(db, "SELECT count(*) AS n FROM evaluations"))?.n, 12);
  assert.deepEqual(await queryOne(db, "SELECT count(*) AS n, sum(published_at IS NULL) AS unpublished FROM matrix_versions"), { n: 1, unpublished: 0 });

  // The same refresh without interruption, from the command line on another database.
  const gridFile = path.join(work, "grid.json");
  await writeFile(gridFile, JSON.stringify(SMALL_GRID));
  const db2 = path.join(work, "cli", "advisor.sqlite");
  const added = await runCli(["models", "add", model.dir, "--data", "synthetic", "--architecture", "tiny-cnn", "--db", db2], env, 120_000);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout.trim(), id, "the same model id");
  const cli = await runCli(["refresh", id, "--grid", gridFile, "--db", db2, "--json"], env, 180_000);
  assert.equal(cli.code, 0, cli.stderr);
  const outcome = JSON.parse(cli.stdout) as { outcome: string; matrixVersion: number; job: { state: string; requestedBy: string } };
  assert.equal(outcome.outcome, "succeeded");
  assert.equal(outcome.job.requestedBy, "cli");

  assert.deepEqual(await rowsOf(db), await rowsOf(db2), "the resumed job's rows equal the uninterrupted refresh's");

  // Run again: already measured, nothing to do (exit 0).
  const again = await runCli(["refresh", id, "--grid", gridFile, "--db", db2], env, 60_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already measured on this grid .* in matrix version 1; nothing to do/);
});
