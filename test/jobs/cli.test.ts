// `advisor refresh`: bad input exits 2; interrupted (SIGINT) it marks its job failed and the same
// command resumes from the finished cells; next to a service running the same refresh it follows
// that job instead of running it twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { runCli, spawnCli } from "../helpers/cli.js";
import { tempDir } from "../matrix/fixtures.js";
import { syntheticData, tinyModel } from "../models/helpers.js";
import { LONGER_GRID, SMALL_GRID, queryOne, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

test("advisor refresh: exit 2 on bad input; SIGINT marks the job failed and the same command resumes it", async (t) => {
  const work = await tempDir(t, "advisor-refresh-cli-");
  const data = await syntheticData(t);
  const model = await tinyModel(t, { seed: 7, architecture: "tiny-cnn" });
  const env = { ADVISOR_DATASETS: `synthetic=${data.dir}` };
  const db = path.join(work, "advisor.sqlite");
  const gridFile = path.join(work, "grid.json");
  await writeFile(gridFile, JSON.stringify(SMALL_GRID));
  const badGrid = path.join(work, "bad.yaml");
  await writeFile(badGrid, "strategies: [magic]\nrates: [1]\nnorms: [linf]\nbudgets: { linf: [0] }\nsamples: 10\n");

  const added = await runCli(["models", "add", model.dir, "--data", "synthetic", "--db", db], env, 120_000);
  assert.equal(added.code, 0, added.stderr);
  const id = added.stdout.trim();

  const unknown = await runCli(["refresh", "f".repeat(64), "--grid", "default", "--db", db], env);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^advisor: <model-id>: no model has id "f{64}"/);
  const bad = await runCli(["refresh", id, "--grid", badGrid, "--db", db], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.yaml: strategies\[0\]: unknown strategy "magic"/);
  const workers = await runCli(["refresh", id, "--workers", "0", "--db", db], env);
  assert.equal(workers.code, 2);

  // Interrupted once 2 of its 9 cells are done.
  const child = spawnCli(["refresh", id, "--grid", gridFile, "--db", db], env);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, "exit");
  const deadline = Date.now() + 120_000;
  let done = 0;
  while (Date.now() < deadline && child.exitCode === null) {
    done = (await queryOne<{ n: number }>(db, "SELECT count(*) AS n FROM build_cells WHERE status = 'done'").catch(() => undefined))?.n ?? 0;
    if (done >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(done >= 2 && child.exitCode === null, `not interrupted mid-way (${done} cells done): ${stderr}`);
  child.kill("SIGINT");
  const [code] = (await exited) as [number | null];
  assert.equal(code, 130, stderr);
  const job = await queryOne<{ state: string; note: string; cells_done: number }>(db, "SELECT state, note, cells_done FROM jobs ORDER BY id DESC LIMIT 1");
  assert.equal(job?.state, "failed");
  assert.match(job!.note, /interrupted \(SIGINT\); run advisor refresh again to resume/);

  const resumed = await runCli(["refresh", id, "--grid", gridFile, "--db", db, "--json"], env, 180_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /\(resumed\): 9 cells, [2-8] done/);
  const out = JSON.parse(resumed.stdout) as { outcome: string; matrixVersion: number; job: { id: number; attempts: number } };
  assert.equal(out.outcome, "succeeded");
  assert.equal((await queryOne<{ n: number }>(db, "SELECT count(*) AS n FROM evaluations"))?.n, 12);
});

test("advisor refresh next to a service running the same refresh follows that job instead of running it twice", async (t) => {
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  const queued = await refresh(api, id, { grid: LONGER_GRID });
  assert.equal(queued.status, 202);
  const jobId = (queued.body.job as JobBody).id;
  assert.equal((await waitForJob((p) => api.call("GET", p), jobId, (j) => j.state !== "queued")).state, "running", "the service runs it");
  const work = await tempDir(t, "advisor-refresh-follow-");
  const gridFile = path.join(work, "grid.json");
  await writeFile(gridFile, JSON.stringify(LONGER_GRID));

  // The service's runner is held (SIGSTOP) until the CLI has found the job running: a tiny job
  // would otherwise finish before the CLI starts on a loaded machine. A stopped process is alive
  // and its last heartbeat is seconds old, so the job counts as running (runnerGone: 2 minutes).
  const runnerPid = (await api.store.db.get<{ pid: number }>("SELECT runner_pid AS pid FROM jobs WHERE id = ?", [jobId]))!.pid;
  process.kill(runnerPid, "SIGSTOP");
  let resumed = false;
  const resume = (): void => {
    if (!resumed) process.kill(runnerPid, "SIGCONT");
    resumed = true;
  };
  t.after(resume);
  const env = { ADVISOR_DATASETS: `synthetic=${api.data.dir}` };
  const child = spawnCli(["refresh", id, "--grid", gridFile, "--db", api.dbFile, "--json"], env);
  const r = { code: null as number | null, stdout: "", stderr: "" };
  child.stdout?.on("data", (d: Buffer) => (r.stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => {
    r.stderr += d.toString();
    if (/following it/.test(r.stderr)) resume();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
  [r.code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  resume();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`job ${jobId} runs this refresh already \\(process ${runnerPid} on .*\\); following it`));
  const out = JSON.parse(r.stdout) as { outcome: string; job: { id: number } };
  assert.equal(out.outcome, "succeeded");
  assert.equal(out.job.id, jobId, "the service's job, not a second one");
  assert.equal((await api.store.db.get<{ n: number }>("SELECT count(*) AS n FROM jobs"))!.n, 1);
});
