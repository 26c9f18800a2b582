// `node --import tsx bench/http-prototypes.ts [--seconds 8] [--connections 10]`: a bare Express
// app with one JSON route, served by `app.listen` (Node's own request and response classes, which
// Express re-prototypes per request) and by src/api/http-server.ts (classes born with Express's
// prototypes), one after the other, loaded by autocannon in a second process. Prints req/s,
// p50/p99 and the scavenges and mark-compacts seen while loaded (PerformanceObserver 'gc'), with
// the scavenges' median and p90 pause.
import type { AddressInfo } from "node:net";
import http, { type Server } from "node:http";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { parseArgs } from "node:util";
import express from "express";
import { createHttpServer } from "../src/api/http-server.js";
import { autocannon, loadBounds } from "./autocannon.js";
import { quantile } from "./quantile.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "8" }, connections: { type: "string", default: "10" } } });
const bounds = loadBounds(values);

function app(): express.Express {
  const a = express();
  a.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  return a;
}

async function measure(label: string, server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const scavenges: number[] = [];
  let markCompacts = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges.push(e.duration);
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  const r = await autocannon(bounds, `http://127.0.0.1:${port}/healthz`);
  obs.disconnect();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log(
    JSON.stringify({
      server: label,
      requests_per_s: r.requests_per_s,
      p50_ms: r.p50_ms,
      p99_ms: r.p99_ms,
      scavenges: scavenges.length,
      scavengeMedianMs: Number(quantile(scavenges, 0.5).toFixed(2)),
      scavengeP90Ms: Number(quantile(scavenges, 0.9).toFixed(2)),
      markCompacts,
    }),
  );
}

// What app.listen does: http.createServer(app).
await measure("app.listen (Node's classes, re-prototyped per request)", http.createServer(app()));
await measure("createHttpServer (born with Express's prototypes)", createHttpServer(app()));
