// `advisor matrix plan` and `advisor matrix calibrate` from the command line: the plan of the
// default grid as the README shows it (calibration source named, per-kind and per-shard tables),
// the JSON form, the command that regenerates db/calibration.json, and one clear line (exit 2) for
// each bad flag.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import type { PlanEstimate } from "../../src/matrix/cost.js";

const GRID = "db/grids/default.yaml";

test("plan of the default grid on 2 workers × 3 shards: cells, core-hours, wall time per shard, the calibration source", async () => {
  const r = await runCli(["matrix", "plan", "--grid", GRID, "--workers", "2", "--shards", "3"]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^plan of db\/grids\/default\.yaml \(Default matrix — [^)]*\): 769 cells, 500 samples per cell$/m);
  const shippedRows = (await readFile("db/matrix.jsonl", "utf8")).split("\n").filter((l) => l.length > 0).length;
  assert.match(out, new RegExp(`^calibrated from: db/calibration\\.json \\(db/matrix\\.jsonl: ${shippedRows} evaluation rows of 3 models \\(convnet, lenet300, lenet5\\) measured \\d{4}-\\d\\d-\\d\\d to \\d{4}-\\d\\d-\\d\\d, backend wasm, wasm\\+onnxruntime, code 0\\.1\\.0; built on 2 workers per build\\)$`, "m"));
  assert.match(out, /^2 workers per machine, 3 shards \(one machine each\); while two or more cells run on a machine each takes 1\.25× as long$/m);
  for (const [kind, cells] of [["train", 3], ["craft", 9], ["prune", 187], ["evaluate", 570], ["all", 769]] as const) {
    assert.match(out, new RegExp(`^${kind} +${cells} +\\d+\\.\\d\\d$`, "m"), kind);
  }
  // Shards 2 and 3 each rebuild the five cells of another shard that theirs depend on (dense training, crafting, a chain).
  for (const [k, cells, rebuilt] of [[1, 260, 0], [2, 261, 5], [3, 258, 5]] as const) {
    assert.match(out, new RegExp(`^${k}/3 +${cells} +${rebuilt} +\\d+\\.\\d\\d +\\d+\\.\\d h$`, "m"), `shard ${k}`);
  }
  assert.match(out, /^wall time: \d+\.\d h with every shard on its own machine at once \(the slowest shard\); \d+\.\d h one after another$/m);
  // The shipped dense models are found, so their train cells only load them — a cost the shipped matrix did not record.
  assert.match(out, /^note: no measurement of train \(dense model reused\) for lenet5: counted as 0 s \(1 cell\)$/m);

  const json = await runCli(["matrix", "plan", "--grid", GRID, "--workers", "1", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const e = JSON.parse(json.stdout) as PlanEstimate;
  assert.equal(e.cells, 769);
  assert.equal(e.shards.length, 1);
  assert.equal(e.workers, 1);
  // One worker never runs two cells at once: the wall time is the sum of the cells.
  const sum = Object.values(e.byKind).reduce((a, k) => a + k.seconds, 0);
  assert.ok(Math.abs(e.wallSeconds - sum) < 1e-6 * sum, `${e.wallSeconds} vs ${sum}`);
});

test("matrix calibrate regenerates db/calibration.json from db/matrix.jsonl", async () => {
  const r = await runCli(["matrix", "calibrate", "--from", "db/matrix.jsonl", "--measured-workers", "2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, await readFile(path.join(import.meta.dirname, "..", "..", "db", "calibration.json"), "utf8"));
});

test("bad flags and files: one line, exit 2 (a bad grid: exit 1, as matrix build)", async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), "advisor-plan-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const badTable = path.join(work, "table.json");
  await writeFile(badTable, JSON.stringify({ format: "pruning-advisor-calibration/1", source: "x", slowdown: 0.5, entries: [] }));
  const cases: [string[], number, RegExp][] = [
    [["--workers", "0"], 2, /^advisor: --workers must be between 1 and 1024, got 0$/],
    [["--shards", "two"], 2, /^advisor: --shards must be an integer, got "two"$/],
    [["--calibration", path.join(work, "none.json")], 2, /^advisor: calibration source .*none\.json not found$/],
    [["--calibration", badTable], 2, /^advisor: .*table\.json: slowdown: Too small: expected number to be >=1$/],
    [["--grid", path.join(work, "missing.yaml")], 1, /^advisor: grid file .*missing\.yaml not found$/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(["matrix", "plan", "--grid", GRID, ...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr.trim(), message, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(r.stdout, "");
  }
  const noGrid = await runCli(["matrix", "plan"]);
  assert.equal(noGrid.code, 2);
  assert.match(noGrid.stderr, /required option '--grid <file>' not specified/);
});
