// `node --import tsx bench/route-cpu.ts [--db file] [--seconds 10] [--connections 10] [--prof dir]`:
// the service's CPU time per request (µs, utime + stime of the server process over the requests
// answered), for the distinct-question load of bench/advisor.ts, the same question, and GET
// /healthz. Unlike req/s and p99, CPU per request barely moves when other processes share the
// cores, so it is the figure to compare before/after a change on a busy machine. The ratio of
// healthz's CPU per request to a route's is the throughput ratio an idle, server-bound machine
// would show. Without --db, the shipped matrix is seeded into a temp database. With --prof the
// service runs under `node --cpu-prof` (profile written to that folder when it stops).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { seedMatrix } from "../src/matrix/seed.js";
import { MatrixStore } from "../src/matrix/store.js";
import { shippedMatrixPath } from "../src/paths.js";
import { autocannon, jsonPost, loadBounds, type LoadSummary } from "./autocannon.js";
import { startService } from "./serve.js";

const { values } = parseArgs({ options: { db: { type: "string" }, seconds: { type: "string", default: "10" }, connections: { type: "string", default: "10" }, prof: { type: "string" }, only: { type: "string" } } });
const bounds = loadBounds(values);
const here = path.dirname(fileURLToPath(import.meta.url));
const TICK_US = 1e6 / 100; // USER_HZ on Linux

/** The process's user and system CPU time so far, µs. */
async function cpuUs(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) * TICK_US, system: Number(fields[12]) * TICK_US };
}

function distinct(url: string, seconds: number): Promise<LoadSummary & { requests: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "distinct-questions.ts"), "--url", url, "--seconds", String(seconds), "--connections", String(bounds.connections)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as LoadSummary & { requests: number }) : reject(new Error(`distinct-questions exited ${code}`))));
  });
}

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-route-cpu-"));
try {
  let db = values.db;
  if (!db) {
    db = path.join(work, "shipped.sqlite");
    const store = await MatrixStore.open(db);
    await seedMatrix(store, shippedMatrixPath, db);
    await store.close();
  }
  const { child, base, runtime } = await startService(db, values.prof ? ["--cpu-prof", "--cpu-prof-dir", values.prof] : []);
  process.stderr.write(`server: ${runtime}\n`);
  try {
    const pid = child.pid!;
    const url = `${base}/v1/recommendations`;
    // Warm-up: JIT, and each selection's prepared parts (perSelection) made once.
    await distinct(url, 3);
    const measure = async (name: string, run: () => Promise<LoadSummary>): Promise<void> => {
      const c0 = await cpuUs(pid);
      const r = await run();
      const c1 = await cpuUs(pid);
      const requests = (r as { requests?: number }).requests ?? Math.round(r.requests_per_s * r.seconds);
      const per = (us: number): number => Math.round(us / requests);
      const [user, system] = [c1.user - c0.user, c1.system - c0.system];
      console.log(JSON.stringify({ load: name, cpuUsPerRequest: per(user + system), userUs: per(user), systemUs: per(system), requests, requests_per_s: r.requests_per_s, p50_ms: r.p50_ms, p99_ms: r.p99_ms, non2xx: r.non2xx, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) }));
    };
    const only = values.only?.split(",");
    if (!only || only.includes("distinct")) await measure("distinct", () => distinct(url, bounds.seconds));
    if (!only || only.includes("same")) await measure("same", () => autocannon(bounds, url, jsonPost({ norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } })));
    if (!only || only.includes("healthz")) await measure("healthz", () => autocannon(bounds, `${base}/healthz`));
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
