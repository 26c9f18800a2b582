// `npm run bench:load -- --db FILE [--seconds 10] [--connections 10]`: a bounded load run on
// loopback. Starts the service in this process on a free port, then drives it from a second
// process (autocannon) — first POST /v1/recommendations, then GET /healthz — and prints one
// JSON line per endpoint: requests/s, p50/p99 latency, non-2xx and errors.
import { parseArgs } from "node:util";
import { startServer } from "../src/api/server.js";
import { resolveServeConfig } from "../src/config.js";
import { defaultDbPath } from "../src/paths.js";
import { autocannon, jsonPost, loadBounds } from "./autocannon.js";

const { values } = parseArgs({
  options: {
    db: { type: "string", default: defaultDbPath },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "10" },
    norm: { type: "string", default: "linf" },
    budget: { type: "string", default: "0.05" },
  },
});
const bounds = loadBounds(values);
const server = await startServer(resolveServeConfig({ port: "0", host: "127.0.0.1", db: values.db, logLevel: "silent" }, {}));
const base = `http://127.0.0.1:${server.port}`;

try {
  const body = { norm: values.norm, budget: Number(values.budget), knowledge: "white-box" };
  console.log(JSON.stringify({ workload: "POST /v1/recommendations", ...(await autocannon(bounds, `${base}/v1/recommendations`, jsonPost(body))) }));
  console.log(JSON.stringify({ workload: "GET /healthz", ...(await autocannon(bounds, `${base}/healthz`)) }));
} finally {
  await server.close();
}
