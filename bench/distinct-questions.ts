// Load with a different question every request (bench/advisor.ts runs it as its own process, so
// the load generator does not share the service's event loop): POST /v1/recommendations with
// scenarios drawn from 12,000 distinct (norm, budget, knowledge, size limit) combinations, so the
// service's answer cache (src/api/answer-cache.ts) almost never hits and every answer is computed.
// Prints one JSON line in the shape of bench/autocannon.ts's summary.
import { parseArgs } from "node:util";
import autocannonLib from "autocannon";
import { distinctQuestion } from "./questions.js";

const { values } = parseArgs({ options: { url: { type: "string" }, seconds: { type: "string", default: "10" }, connections: { type: "string", default: "10" } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);

let i = 0;
const nextBody = (): string => distinctQuestion(++i);

const result = await autocannonLib({
  url: values.url!,
  duration: seconds,
  connections,
  requests: [{ method: "POST", headers: { "content-type": "application/json" }, setupRequest: (req) => ({ ...req, body: nextBody() }) }],
});
console.log(
  JSON.stringify({
    requests_per_s: Math.round(result.requests.average),
    requests: result.requests.total,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds,
    connections,
    distinctQuestions: Math.min(i, 12_000),
  }),
);
