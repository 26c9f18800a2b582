// `npm run bench:load -- --db FILE [--seconds 10] [--connections 10]`: a bounded load run on
// loopback. Starts the service in this process on a free port, then drives it from a second
// process (autocannon) — first POST /v1/recommendations, then GET /healthz — and prints one
// JSON line per endpoint: requests/s, p50/p99 latency, non-2xx and errors.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startServer } from "../src/api/server.js";
import { resolveServeConfig } from "../src/config.js";
import { defaultDbPath } from "../src/paths.js";

const { values } = parseArgs({
  options: {
    db: { type: "string", default: defaultDbPath },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "10" },
    norm: { type: "string", default: "linf" },
    budget: { type: "string", default: "0.05" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
if (!(seconds > 0 && seconds <= 60 && Number.isInteger(connections) && connections > 0 && connections <= 100)) {
  throw new Error("--seconds must be in (0, 60] and --connections an integer in 1..100 (the run is bounded on purpose)");
}

const autocannon = fileURLToPath(new URL("../node_modules/autocannon/autocannon.js", import.meta.url));
const server = await startServer(resolveServeConfig({ port: "0", host: "127.0.0.1", db: values.db, logLevel: "silent" }, {}));
const base = `http://127.0.0.1:${server.port}`;

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function run(workload: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, [autocannon, "-j", "-d", String(seconds), "-c", String(connections), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await once(child, "exit");
  const r = JSON.parse(out) as Result;
  console.log(
    JSON.stringify({
      workload,
      requests_per_s: Math.round(r.requests.average),
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      seconds,
      connections,
    }),
  );
}

try {
  const body = JSON.stringify({ norm: values.norm, budget: Number(values.budget), knowledge: "white-box" });
  await run("POST /v1/recommendations", ["-m", "POST", "-H", "content-type=application/json", "-b", body, `${base}/v1/recommendations`]);
  await run("GET /healthz", [`${base}/healthz`]);
} finally {
  await server.close();
}
