// `npm run bench:advisor [-- --seconds 10 --connections 10 --models 100 --only shipped|synthetic]`:
// how fast the advisor answers, on the shipped matrix and on a synthetic one of `--models` models
// (100 → 33,300 rows, bench/synthetic-matrix.ts; generated once into the temp folder, never
// shipped). Per matrix, one JSON line each:
//   load:   a fresh process opens the database and loads + prepares the matrix (MatrixCache, as
//           the service does at start-up): seconds, and its RSS after loading;
//   advisor: the pure call (answerRecommendation / gate on the loaded snapshot, as the routes call
//           them), p50/p99 over rotating scenarios;
//   http:   `advisor serve` started as its own process on that database (bench/serve.ts: the
//           compiled build when it is current, as `npm start` runs it; info logging to
//           /dev/null, as an operator runs it), driven from a second process (autocannon):
//           POST /v1/recommendations asking the same question every time (answered from the
//           answer cache), then a different question every time (bench/distinct-questions.ts:
//           every answer computed), then GET /healthz; the ratios of their throughputs.
// Loopback only; every run is bounded (--seconds ≤ 60).
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gate, UnsoundEvidenceError, type GateRequest, type Scenario } from "../src/advisor/index.js";
import { MatrixCache } from "../src/api/matrix-cache.js";
import { answerRecommendation } from "../src/api/recommendation-view.js";
import { seedMatrix } from "../src/matrix/seed.js";
import { MatrixStore } from "../src/matrix/store.js";
import { shippedMatrixPath } from "../src/paths.js";
import { autocannon, jsonPost, loadBounds, type LoadSummary } from "./autocannon.js";
import { quantile } from "./quantile.js";
import { startService } from "./serve.js";
import { syntheticMatrix } from "./synthetic-matrix.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "10" },
    models: { type: "string", default: "100" },
    only: { type: "string" },
    // Internal: the in-process phase, run in a fresh child so its RSS is its own.
    phase: { type: "string" },
    db: { type: "string" },
    calls: { type: "string", default: "400" },
  },
});

const SCENARIOS: Scenario[] = [
  { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } },
  { norm: "linf", budget: 0.01, knowledge: "white-box" },
  { norm: "l0", budget: 8, knowledge: "white-box" },
  { norm: "l2", budget: 1, knowledge: "black-box" },
  { norm: "linf", budget: 0.1, knowledge: "transfer", sizeLimit: { maxParameters: 20000 } },
];

/** The q-quantile in ms, to the µs. */
const quantileMs = (xs: number[], q: number): number => Math.round(quantile(xs, q) * 1000) / 1000;
const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);

/** Child mode: load and prepare the matrix, then time the pure advisor calls. */
async function inProcess(db: string, calls: number): Promise<void> {
  const store = await MatrixStore.open(db);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const cache = new MatrixCache(store, { checkIntervalMs: 3_600_000 });
  const loaded = await cache.refresh();
  const loadSeconds = (performance.now() - t0) / 1000;
  if (!loaded) throw new Error(`${db}: no published matrix`);
  global.gc?.();
  const rssAfter = process.memoryUsage().rss;
  const snapshot = loaded.defaultSnapshot;
  const rows = snapshot.candidates.reduce((n, c) => n + c.evaluations.length, 0);
  const recommendMs: number[] = [];
  const gateMs: number[] = [];
  let noVerdicts = 0;
  const include = new Set<never>();
  for (let i = 0; i < calls; i++) {
    const s = SCENARIOS[i % SCENARIOS.length]!;
    let t = performance.now();
    answerRecommendation(snapshot, s, include);
    recommendMs.push(performance.now() - t);
    const c = snapshot.candidates[(i * 7919) % snapshot.candidates.length]!;
    const request: GateRequest = { candidate: { strategy: c.strategy, rate: c.rate }, scenario: { ...s, modelId: c.modelId }, thresholds: { minRobustAccuracy: 0.2, maxDropVsDense: 0.05 } };
    t = performance.now();
    try {
      gate(snapshot, request);
    } catch (err) {
      // No verdict on unsound evidence is an answer too (HTTP 422); anything else is a bug.
      if (!(err instanceof UnsoundEvidenceError)) throw err;
      noVerdicts++;
    }
    gateMs.push(performance.now() - t);
  }
  console.log(
    JSON.stringify({
      rows,
      candidates: snapshot.candidates.length,
      load: { seconds: Math.round(loadSeconds * 100) / 100, rssMb: mb(rssAfter), rssGrowthMb: mb(rssAfter - rssBefore) },
      advisor: { calls, recommendP50Ms: quantileMs(recommendMs, 0.5), recommendP99Ms: quantileMs(recommendMs, 0.99), gateP50Ms: quantileMs(gateMs, 0.5), gateP99Ms: quantileMs(gateMs, 0.99), gateNoVerdicts: noVerdicts },
    }),
  );
  await store.close();
}

const ratio = (a: LoadSummary, b: LoadSummary): number => Math.round((100 * a.requests_per_s) / b.requests_per_s) / 100;

function run(args: string[]): Promise<string> {
  return runScript(path.basename(fileURLToPath(import.meta.url)), args, ["--expose-gc"]);
}

/** Runs a script of bench/ in its own process; its stdout. */
function runScript(script: string, args: string[], nodeFlags: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), script);
    const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", file, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`phase exited ${code}`))));
  });
}

async function rssOf(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function measure(name: string, db: string): Promise<void> {
  const inproc = JSON.parse(await run(["--phase", "in-process", "--db", db, "--calls", values.calls!])) as Record<string, unknown>;
  console.log(JSON.stringify({ matrix: name, ...inproc }));
  const bounds = loadBounds(values);
  const { child, base, runtime } = await startService(db);
  try {
    // One warm-up answer, then the service's resident memory as it serves.
    await fetch(`${base}/v1/recommendations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(SCENARIOS[0]) });
    const serverRssMb = mb(await rssOf(child.pid!));
    // The same question every time (a pipeline gate asking again): served from the answer cache.
    const rec = await autocannon(bounds, `${base}/v1/recommendations`, jsonPost(SCENARIOS[0]));
    // A different question every time: every answer computed.
    const distinct = JSON.parse(await runScript("distinct-questions.ts", ["--url", `${base}/v1/recommendations`, "--seconds", String(bounds.seconds), "--connections", String(bounds.connections)])) as LoadSummary;
    const health = await autocannon(bounds, `${base}/healthz`);
    const bytes = (await (await fetch(`${base}/v1/recommendations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(SCENARIOS[0]) })).text()).length;
    console.log(
      JSON.stringify({
        matrix: name,
        http: {
          server: runtime,
          serverRssMb,
          responseBytes: bytes,
          sameQuestion: rec,
          distinctQuestions: distinct,
          healthz: health,
          throughputRatio: { sameQuestion: ratio(rec, health), distinctQuestions: ratio(distinct, health) },
        },
      }),
    );
  } finally {
    child.kill("SIGTERM");
  }
}

if (values.phase === "in-process") {
  await inProcess(values.db!, Number(values.calls));
} else {
  const work = await mkdtemp(path.join(os.tmpdir(), "advisor-bench-advisor-"));
  try {
    if (values.only === undefined || values.only === "shipped") {
      const db = path.join(work, "shipped.sqlite");
      const store = await MatrixStore.open(db);
      await seedMatrix(store, shippedMatrixPath, db);
      await store.close();
      await measure("shipped", db);
    }
    if (values.only === undefined || values.only === "synthetic") {
      const models = Number(values.models);
      const source = await syntheticMatrix(os.tmpdir(), models, (s) => process.stderr.write(`${s}\n`));
      // The service writes to its database (migrations, jobs): it gets a copy.
      const db = path.join(work, "synthetic.sqlite");
      await copyFile(source, db);
      await measure(`synthetic (${models} models)`, db);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
