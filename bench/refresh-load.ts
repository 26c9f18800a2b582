// `npm run bench:refresh-load [-- --seconds 10 --connections 10 --workers 1 --nice 10]`: the p99
// latency of POST /v1/recommendations while a refresh job runs, against idle. A bounded loopback
// run: starts the service in this process on a temporary database seeded with a small matrix
// (hand-made rows marked BENCH SEED, never written into db/), registers the shipped LeNet-5 dense
// model (db/models) for Fashion-MNIST (or, without the Debian data set, for a generated 28x28
// stand-in), then drives the service from a second process (autocannon):
//   1. idle: no job;
//   2. while a refresh of that model runs (pruning, fine-tuning and attacks in the job's worker
//      process at the configured niceness), checked to be running from start to end of the window;
// and prints one JSON line per phase (requests/s, p50, p99, errors) and the p99 ratio.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../src/api/server.js";
import { keyLine } from "../src/auth/keys.js";
import { resolveServeConfig } from "../src/config.js";
import { DEFAULT_DATA_DIR } from "../src/engine/data.js";
import { syntheticSplits, writeIdxDirectory } from "../src/engine/synthetic.js";
import { sha256Hex } from "../src/matrix/blobs.js";
import { MatrixStore } from "../src/matrix/store.js";
import { packageRoot } from "../src/paths.js";
import { autocannon, jsonPost, loadBounds, type LoadSummary } from "./autocannon.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "10" },
    workers: { type: "string", default: "1" },
    nice: { type: "string", default: "10" },
  },
});
const bounds = loadBounds(values);

const KEY = `bench-${sha256Hex(String(Math.random()))}`;
const AUTH = { authorization: `Bearer ${KEY}` };
const work = await mkdtemp(path.join(os.tmpdir(), "advisor-bench-refresh-"));
const dbFile = path.join(work, "advisor.sqlite");

// ── a small matrix: one model, dense + 3 strategies × 3 rates, L∞ and L2 at three knowledge levels, 200 samples ──
function seedRows(store: MatrixStore): Promise<void> {
  return (async () => {
    const modelId = sha256Hex("BENCH SEED dense model");
    await store.upsertModel({
      id: modelId,
      architecture: "lenet5",
      dataset: "fashion-mnist",
      inputShape: [28, 28, 1],
      numClasses: 10,
      seed: 1,
      clean: { correct: 9000, n: 10000 },
      backend: "wasm",
      codeVersion: "bench",
      createdAt: "2026-01-01T00:00:00.000Z",
      metadata: { benchSeed: true },
    });
    const version = await store.createVersion("BENCH SEED small matrix");
    const P = 61_470;
    const other = 236;
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const candidates: [string, number][] = [["dense", 1]];
    for (const s of ["global-magnitude", "layer-magnitude", "structured-l1"]) for (const r of [4, 16, 64]) candidates.push([s, r]);
    for (const [strategy, rate] of candidates) {
      const nz = Math.round(P / rate);
      const variantId = await store.upsertVariant({
        modelId,
        strategy: strategy as "dense",
        requestedRate: rate,
        achievedRate: P / nz,
        prunableParams: P,
        nonZeroPrunable: nz,
        totalParams: P + other,
        nonZeroParams: nz + other,
        sparseBytes: 8 * nz + 4 * other,
        denseBytes: 4 * (P + other),
        structured: strategy === "dense" || strategy === "structured-l1",
        weightsSha256: sha256Hex(`BENCH SEED ${strategy} ${rate}`),
        clean: { correct: 8900 - 10 * rate, n: 10000 },
        finetuneEpochs: strategy === "dense" ? 0 : 2,
        seed: 1,
        backend: "wasm",
        codeVersion: "bench",
        createdAt: "2026-01-01T00:00:00.000Z",
      });
      for (const [norm, budgets, scale] of [["linf", [0, 0.05, 0.1, 0.2], 0.2], ["l2", [0, 0.5, 1, 2], 2]] as const) {
        for (const knowledge of ["white-box", "transfer", "black-box"] as const) {
          const factor = knowledge === "white-box" ? 1 : knowledge === "transfer" ? 1.5 : 2;
          const distances = Float32Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 0 : i % 7 === 0 ? Infinity : rnd() * scale * factor));
          await store.insertEvaluation({
            variantId,
            matrixVersion: version,
            norm,
            knowledge,
            budgets: [...budgets],
            sampleIndices: Array.from({ length: 200 }, (_, i) => i),
            distances,
            cleanCorrect: distances.reduce((k, d) => (d > 0 ? k + 1 : k), 0),
            attacks: [{ name: `pgd-${norm}`, kind: "fixed-budget", knowledge, access: knowledge === "black-box" ? "query" : "gradient", params: { steps: 40 }, budgets: budgets.slice(1), attempted: 600, beaten: 100 }],
            maskingSuspected: false,
            seed: 1,
            backend: "wasm",
            codeVersion: "bench",
            startedAt: "2026-01-01T00:00:00.000Z",
            finishedAt: "2026-01-01T00:01:00.000Z",
            seconds: 60,
          });
        }
      }
    }
    await store.publishVersion(version);
  })();
}

const seeded = await MatrixStore.open(dbFile);
await seedRows(seeded);
await seeded.close();

// ── the data set and the model the refresh measures ──
let dataDir = DEFAULT_DATA_DIR;
let dataset = "fashion-mnist";
if (!existsSync(path.join(dataDir, "t10k-labels-idx1-ubyte.gz")) && !existsSync(path.join(dataDir, "t10k-labels-idx1-ubyte"))) {
  dataDir = path.join(work, "synthetic");
  dataset = "synthetic";
  await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 6000, testCount: 1000, seed: 1 }));
}
const modelDir = path.join(packageRoot, "db", "models", "lenet5-fashion-mnist-s1");

const config = resolveServeConfig(
  {
    port: "0",
    host: "127.0.0.1",
    db: dbFile,
    logLevel: "silent",
    datasets: `${dataset}=${dataDir}`,
    seedMatrix: "none",
    jobWorkers: values.workers,
    jobNice: values.nice,
  },
  { ADVISOR_API_KEYS: keyLine("bench", KEY) },
);
const server = await startServer(config);
const base = `http://127.0.0.1:${server.port}`;
async function load(phase: string): Promise<LoadSummary & { phase: string }> {
  const body = { norm: "linf", budget: 0.05, knowledge: "white-box", sizeLimit: { minCompression: 4 } };
  const line = { phase, ...(await autocannon(bounds, `${base}/v1/recommendations`, jsonPost(body))) };
  console.log(JSON.stringify(line));
  return line;
}

/** CPU seconds used so far by a process and its children that are alive (Linux /proc; null elsewhere). */
async function treeCpuSeconds(root: number): Promise<number | null> {
  const tick = 100; // USER_HZ
  let total = 0;
  try {
    for (const name of await readdir("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
      if (!stat) continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(name) === root || Number(f[1]) === root) total += (Number(f[11]) + Number(f[12])) / tick;
    }
  } catch {
    return null;
  }
  return total;
}

async function api(method: string, p: string, init: { body?: RequestInit["body"]; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + p, { method, ...init });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let jobId: number | undefined;
try {
  // Register the model (the upload's check runs in the service, before the idle phase).
  const form = new FormData();
  form.set("dataset", dataset);
  form.set("architecture", "lenet5");
  for (const f of await readdir(modelDir)) form.append("files", new Blob([await readFile(path.join(modelDir, f))]), f);
  const up = await api("POST", "/v1/models", { body: form, headers: AUTH });
  if (up.status !== 201 && up.status !== 200) throw new Error(`upload failed: ${JSON.stringify(up.body)}`);
  const modelId = up.body.id as string;

  const idle = await load("idle");

  const grid = {
    strategies: ["global-magnitude", "random", "structured-l1"],
    rates: [1, 4, 16],
    norms: ["linf"],
    knowledge: ["white-box", "black-box"],
    budgets: { linf: [0, 0.05, 0.1] },
    samples: 200,
    finetune: { epochs: 1 },
    attacks: { pgd: { steps: 20, restarts: 1 }, fmn: { steps: 50, targets: 0 } },
  };
  const queued = await api("POST", `/v1/models/${modelId}/refresh`, { body: JSON.stringify({ grid }), headers: { ...AUTH, "content-type": "application/json" } });
  if (queued.status !== 202) throw new Error(`refresh not queued: ${JSON.stringify(queued.body)}`);
  jobId = (queued.body.job as { id: number }).id;
  // Measure once the job's worker is busy (its first cell started), not while it starts up.
  const deadline = Date.now() + 120_000;
  let job: { state: string; cells: { done: number; total: number | null }; current: { cell: string } | null };
  do {
    await new Promise((r) => setTimeout(r, 200));
    job = (await api("GET", `/v1/jobs/${jobId}`)).body as typeof job;
  } while (Date.now() < deadline && !(job.state === "running" && job.current !== null));
  if (job.state !== "running") throw new Error(`the refresh job is ${job.state}, not running`);
  await new Promise((r) => setTimeout(r, 2000));
  const before = job.cells.done;
  const children = (await readFile(`/proc/self/task/${process.pid}/children`, "utf8").catch(() => "")).trim().split(/\s+/).map(Number);
  let runnerPid: number | undefined;
  for (const pid of children) if (/runner-process/.test(await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => ""))) runnerPid = pid;
  const cpu0 = runnerPid === undefined ? null : await treeCpuSeconds(runnerPid);
  const t0 = performance.now();
  const during = await load("during refresh");
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = runnerPid === undefined ? null : await treeCpuSeconds(runnerPid);
  job = (await api("GET", `/v1/jobs/${jobId}`)).body as typeof job;
  console.log(
    JSON.stringify({
      job: jobId,
      state: job.state,
      runningThroughout: job.state === "running",
      cellsDuringWindow: job.cells.done - before,
      // CPU the job's processes (runner + build workers) used during the window, in cores.
      jobCpuCores: cpu0 === null || cpu1 === null ? null : Math.round(((cpu1 - cpu0) / wall) * 100) / 100,
      cells: job.cells,
      workers: Number(values.workers),
      niceness: Number(values.nice),
      p99_ratio: idle.p99_ms > 0 ? Math.round((during.p99_ms / idle.p99_ms) * 100) / 100 : null,
      p50_ratio: idle.p50_ms > 0 ? Math.round((during.p50_ms / idle.p50_ms) * 100) / 100 : null,
      cpus: os.availableParallelism(),
      loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    }),
  );
} finally {
  if (jobId !== undefined) await api("DELETE", `/v1/jobs/${jobId}`, { headers: AUTH }).catch(() => undefined);
  await server.close();
  await rm(work, { recursive: true, force: true });
}
