// Issue 21, item 3: the cost model of `advisor matrix plan` (src/matrix/cost.ts) and its
// calibration (src/matrix/calibration.ts).
//   - simulate(): the builder's scheduling replayed on a small DAG of known durations gives the
//     exact wall time for 1 and 2 workers (with the slowdown while both run);
//   - cell prices: samples, fine-tuning epochs, reused vs trained dense models, unknown architectures;
//   - the prune-duration inference on a hand-made timeline (known answer);
//   - db/calibration.json is exactly what `matrix calibrate` derives from db/matrix.jsonl (never
//     edited by hand), and the plan of db/grids/default.yaml it gives lies near the wall times
//     measured when that matrix was built (README, "The shipped matrix": each shard on 2 workers).
// The calibration tables below are TEST FIXTURES (made-up costs), not measurements.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CostModel, estimatePlan, samplesFactor, simulate, type Calibration } from "../../src/matrix/cost.js";
import { DEFAULT_CALIBRATION_FILE, inferPruneSeconds, loadCalibration, type TimedRow } from "../../src/matrix/calibration.js";
import { loadGrid, parseGrid, planCells } from "../../src/matrix/grid.js";
import { root } from "../helpers/cli.js";

// A (10 s) → B (20 s) and C (30 s); B → D (5 s). Plan order A, B, C, D.
const DAG = [
  { key: "A", deps: [], seconds: 10 },
  { key: "B", deps: ["A"], seconds: 20 },
  { key: "C", deps: ["A"], seconds: 30 },
  { key: "D", deps: ["B"], seconds: 5 },
];

test("simulate: exact wall time of a small DAG on 1 and 2 workers", () => {
  // One worker: one after another.
  assert.deepEqual(simulate(DAG, 1, 1.25), { wallSeconds: 65, busySeconds: 65 });
  // Two workers, a cell 1.25× slower while another runs: A alone 0–10 (B, C wait for it); B and C
  // together, B's 20 s of work end at 10 + 25 = 35 with 10 s of C's left; C and D together, D's
  // 5 s end at 35 + 6.25 = 41.25 with 5 s of C's left; C alone to 46.25.
  const two = simulate(DAG, 2, 1.25);
  assert.equal(two.wallSeconds, 46.25);
  assert.equal(two.busySeconds, 10 + 2 * 25 + 2 * 6.25 + 5);
  // Without the slowdown two workers are limited by the dependencies only: A, then C (30 s) beside B + D (25 s).
  assert.equal(simulate(DAG, 2, 1).wallSeconds, 40);
  // More workers than ready cells change nothing.
  assert.equal(simulate(DAG, 8, 1.25).wallSeconds, 46.25);
  // Two independent cells on two workers: both slowed down.
  assert.equal(simulate([{ key: "x", deps: [], seconds: 10 }, { key: "y", deps: [], seconds: 10 }], 2, 1.25).wallSeconds, 12.5);
});

test("simulate: bad input is refused", () => {
  assert.throws(() => simulate(DAG, 0, 1.25), /workers must be an integer >= 1/);
  assert.throws(() => simulate(DAG, 1, 0.9), /slowdown must be >= 1/);
  assert.throws(() => simulate([{ key: "a", deps: ["b"], seconds: 1 }, { key: "b", deps: ["a"], seconds: 1 }], 1, 1), /never became ready/);
});

const TINY = parseGrid(await readFile(path.join(root, "test", "fixtures", "grid-tiny.yaml"), "utf8"));

const FIXTURE: Calibration = {
  source: "test fixture",
  slowdown: 1.25,
  entries: [
    { kind: "train", architecture: "lenet300", reused: false, epochs: 10, seconds: 100, n: 1, method: "fixture" },
    { kind: "train", architecture: "lenet300", reused: true, seconds: 2, n: 1, method: "fixture" },
    { kind: "prune", architecture: "lenet300", epochs: 2, seconds: 30, n: 1, method: "fixture" },
    { kind: "craft", architecture: "lenet300", norm: "linf", samples: 500, seconds: 50, n: 1, method: "fixture" },
    { kind: "evaluate", architecture: "lenet300", norm: "linf", knowledge: "white-box", samples: 500, seconds: 40, n: 1, method: "fixture" },
    { kind: "evaluate", architecture: "lenet300", norm: "linf", knowledge: "transfer", samples: 500, seconds: 1, n: 1, method: "fixture" },
    { kind: "evaluate", architecture: "lenet300", norm: "linf", knowledge: "black-box", samples: 500, seconds: 60, n: 1, method: "fixture" },
  ],
};

test("cell prices: samples, fine-tuning and training epochs, a dense model found or trained, an unknown architecture", () => {
  const cells = planCells(TINY); // 20 samples, 1 fine-tuning epoch, 2 training epochs
  const byKind = (k: string) => cells.find((c) => c.kind === k)!;
  const found = new CostModel(FIXTURE, { denseExists: () => true });
  const missing = new CostModel(FIXTURE, { denseExists: () => false });
  assert.deepEqual(found.cost(byKind("train"), TINY), { seconds: 2, notes: [] });
  // Trained: 100 s for the 10 epochs the measured training ran, the grid allows 2.
  assert.equal(missing.cost(byKind("train"), TINY).seconds, 20);
  assert.equal(found.cost(byKind("prune"), TINY).seconds, 15, "1 fine-tuning epoch of the measured 2");
  const f = samplesFactor(500, 20);
  assert.ok(f > 0 && f < 0.1, `20 samples cost a fraction of 500: ${f}`);
  assert.equal(found.cost(byKind("craft"), TINY).seconds, 50 * f);
  assert.equal(found.cost(byKind("evaluate"), TINY).seconds, (40 + 1 + 60) * f, "every knowledge level of the cell");
  assert.equal(samplesFactor(500, 500), 1);
  // An architecture the table does not know takes the fallback's costs, and says so.
  const other = new CostModel({ ...FIXTURE, entries: FIXTURE.entries.map((e) => ({ ...e, architecture: "lenet5" })) }, { denseExists: () => true });
  const c = other.cost(byKind("prune"), TINY);
  assert.equal(c.seconds, 15);
  assert.deepEqual(c.notes, ["no calibration for architecture lenet300: lenet5's costs used"]);
  // A cost the table lacks counts as 0 and is named.
  const noCraft = new CostModel({ ...FIXTURE, entries: FIXTURE.entries.filter((e) => e.kind !== "craft") }, { denseExists: () => true });
  assert.deepEqual(noCraft.cost(byKind("craft"), TINY), { seconds: 0, notes: ["no measurement of craft linf for lenet300: counted as 0 s"] });
});

test("estimatePlan: shards run their own cells plus the dependencies they rebuild; the build's wall time is the slowest shard's", () => {
  const one = estimatePlan(TINY, FIXTURE, { workers: 1, shards: 1, denseExists: () => true });
  assert.equal(one.cells, 7);
  assert.deepEqual(Object.fromEntries(Object.entries(one.byKind).map(([k, v]) => [k, v.cells])), { train: 1, craft: 1, prune: 2, evaluate: 3 });
  const total = Object.values(one.byKind).reduce((a, k) => a + k.seconds, 0);
  assert.ok(Math.abs(one.wallSeconds - total) < 1e-9, "one worker: the sum of the cells");
  const three = estimatePlan(TINY, FIXTURE, { workers: 1, shards: 3, denseExists: () => true });
  assert.equal(three.shards.length, 3);
  // Each shard owns one evaluation; shards 2 and 3 rebuild the dense model and the craft cell.
  assert.deepEqual(three.shards.map((s) => [s.cells, s.rebuilt]), [[3, 0], [4, 2], [4, 2]]);
  assert.equal(three.wallSeconds, Math.max(...three.shards.map((s) => s.wallSeconds)));
  assert.ok(three.wallSeconds < one.wallSeconds);
  assert.ok(three.busySeconds > one.busySeconds, "rebuilt dependencies cost core time");
  assert.throws(() => estimatePlan(TINY, FIXTURE, { workers: 1, shards: 0, denseExists: () => true }), /shards must be an integer >= 1/);
});

/** A row of the inference's input; only the timing fields matter. */
function row(o: { strategy: string; rate: number; norm: "l2" | "linf"; start: number; end: number; created: number }): TimedRow {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  return {
    id: 0,
    modelId: "m".repeat(64),
    architecture: "lenet5",
    strategy: o.strategy as TimedRow["strategy"],
    requestedRate: o.rate,
    variantSeed: 1,
    createdAt: t(o.created),
    finetuneEpochs: o.strategy === "dense" ? 0 : 2,
    modelMetadata: {},
    norm: o.norm,
    knowledge: "white-box",
    n: 100,
    attacks: [],
    backend: "wasm",
    codeVersion: "test",
    startedAt: t(o.start),
    finishedAt: t(o.end),
    seconds: o.end - o.start,
  };
}

test("prune durations inferred from a timeline of two workers (known answer)", () => {
  // Worker 1: dense l2 0–100, prunes V (random 2×) 100–130, evaluates V l2 130–200.
  // Worker 2: dense linf 0–150, evaluates V linf 150–260 (V was ready at 130), prunes W (random 4×)
  // 260–300, evaluates W l2 300–350. Worker 1 after 200 evaluates W linf 300–320 after waiting.
  const rows = [
    row({ strategy: "dense", rate: 1, norm: "l2", start: 0, end: 100, created: -1000 }),
    row({ strategy: "dense", rate: 1, norm: "linf", start: 0, end: 150, created: -1000 }),
    row({ strategy: "random", rate: 2, norm: "l2", start: 130.5, end: 200, created: 130 }),
    row({ strategy: "random", rate: 2, norm: "linf", start: 150, end: 260, created: 130 }),
    row({ strategy: "random", rate: 4, norm: "l2", start: 300.5, end: 350, created: 300 }),
    row({ strategy: "random", rate: 4, norm: "linf", start: 301, end: 320, created: 300 }),
  ];
  const got = inferPruneSeconds(rows).get("lenet5")!;
  assert.deepEqual(got.seconds.map((s) => Math.round(s * 1000) / 1000), [30, 40]);
  assert.deepEqual(got.epochs, [2, 2]);
  // A variant made long before its evaluations (an earlier sitting) is not counted.
  const early = inferPruneSeconds([...rows.slice(0, 2), row({ strategy: "random", rate: 2, norm: "l2", start: 500, end: 600, created: 130 })]);
  assert.equal(early.get("lenet5"), undefined);
});

test("db/calibration.json is what `matrix calibrate` derives from db/matrix.jsonl (2 workers per shard)", async () => {
  const shipped = JSON.parse(await readFile(DEFAULT_CALIBRATION_FILE, "utf8")) as unknown;
  const derived = await loadCalibration(path.join(root, "db", "matrix.jsonl"), { measuredWorkers: 2 });
  assert.deepEqual(derived, shipped);
  // Evaluations are measured for every architecture, norm and level of the default grid; the other kinds inferred.
  assert.equal(derived.entries.filter((e) => e.kind === "evaluate" && e.method.startsWith("measured")).length, 3 * 3 * 3);
  for (const kind of ["prune", "train"] as const) assert.equal(derived.entries.filter((e) => e.kind === kind && e.method.startsWith("inferred")).length, 3, kind);
  assert.equal(derived.entries.filter((e) => e.kind === "craft").length, 9);
});

test("the plan lies near the measured shard wall times of builds by the engine its calibration comes from", async () => {
  const calibration = await loadCalibration(DEFAULT_CALIBRATION_FILE);
  const plan = estimatePlan(await loadGrid(path.join(root, "db", "grids", "default.yaml")), calibration, { workers: 2, shards: 3, denseExists: () => true });
  assert.equal(plan.cells, 769);
  assert.match(plan.source, /^db\/calibration\.json \(db\/matrix\.jsonl: \d+ evaluation rows/);
  // Shard 1/3 — lenet300's 207 cells and 53 of lenet5's: 2.2 h + 44.5 min measured (2026-12-01).
  assert.equal(plan.shards[0]!.cells, 260);
  const first = plan.shards[0]!.wallSeconds / 3600;
  const measured = 2.2 + 44.5 / 60;
  assert.ok(Math.abs(first - measured) / measured < 0.25, `default.yaml shard 1: ${first.toFixed(2)} h estimated, ${measured.toFixed(2)} h measured`);
});
