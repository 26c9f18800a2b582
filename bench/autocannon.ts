// What the load benchmarks share: the bounded run's limits and one autocannon run in a second
// process (so the load generator does not share the service's event loop), summarised.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export interface LoadBounds {
  seconds: number;
  connections: number;
}

/** --seconds and --connections as numbers; the run is bounded on purpose (≤ 60 s, ≤ 100 connections). */
export function loadBounds(values: { seconds?: string; connections?: string }): LoadBounds {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!(seconds > 0 && seconds <= 60 && Number.isInteger(connections) && connections > 0 && connections <= 100)) {
    throw new Error("--seconds must be in (0, 60] and --connections an integer in 1..100 (the run is bounded on purpose)");
  }
  return { seconds, connections };
}

export interface LoadSummary {
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  seconds: number;
  connections: number;
}

interface AutocannonJson {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

const AUTOCANNON = fileURLToPath(new URL("../node_modules/autocannon/autocannon.js", import.meta.url));

/** Drives `url` for the bounded time; `args` are extra autocannon flags (method, headers, body). */
export async function autocannon(bounds: LoadBounds, url: string, args: string[] = []): Promise<LoadSummary> {
  const child = spawn(process.execPath, [AUTOCANNON, "-j", "-d", String(bounds.seconds), "-c", String(bounds.connections), ...args, url], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  const r = JSON.parse(out) as AutocannonJson;
  return { requests_per_s: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, ...bounds };
}

/** autocannon flags for a JSON POST. */
export function jsonPost(body: unknown): string[] {
  return ["-m", "POST", "-H", "content-type=application/json", "-b", JSON.stringify(body)];
}
