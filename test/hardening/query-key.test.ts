// Issue 16.5: an API key sent as ?api_key= was echoed in the problem's `instance` and written to
// the request log. Keys are never accepted from the query string (a /v1 request carrying a
// credential-looking query parameter is refused with 400), never echoed (`instance` is the path
// without its query) and never logged (such values are [REDACTED] in the logged URL). The README
// key recipe writes outside the repository, and key.txt / keys are git-ignored all the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { REDACTED, isSecretParam, redactUrl, secretParams } from "../../src/api/query-secrets.js";
import { createLogger } from "../../src/logger.js";
import { root } from "../helpers/cli.js";
import { startApi, type Api, type ApiResponse } from "../api/helpers.js";
import { syntheticData } from "../models/helpers.js";

// The valid key itself is the secret: the worst case is a real key pasted into a URL.
const SECRET = "test-key-SECRET-0123456789abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("ci", SECRET)));
const AUTH = { authorization: `Bearer ${SECRET}` };
const enc = encodeURIComponent(SECRET);

async function withLog(t: Parameters<typeof startApi>[0], o: { protectReads?: boolean } = {}): Promise<{ api: Api; log: () => string }> {
  const lines: string[] = [];
  const logger = createLogger("debug", { write: (s: string) => void lines.push(s) });
  const data = await syntheticData(t);
  const api = await startApi(t, undefined, { keys, logger, protectReads: o.protectReads, uploads: { datasets: new Map([["synthetic", data.dir]]), maxBytes: 64 * 1024 } });
  return { api, log: () => lines.join("") };
}

/** Everything a client sees of a response: status line aside, the headers and the body. */
function visible(res: ApiResponse): string {
  return [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n") + "\n" + JSON.stringify(res.body);
}

/** pino-http logs a request once its response is finished, which can be just after the client has it. */
async function settled(log: () => string, requests: number): Promise<string> {
  for (let i = 0; i < 100 && (log().match(/"msg":"request (completed|errored|aborted)"/g) ?? []).length < requests; i++) await new Promise((r) => setTimeout(r, 10));
  return log();
}

const REFUSED: { method: string; url: string; field: string; json?: unknown; headers?: Record<string, string> }[] = [
  { method: "GET", url: `/v1/models?api_key=${enc}`, field: "api_key" },
  { method: "GET", url: `/v1/models?api_key=${enc}`, field: "api_key", headers: AUTH }, // a valid header does not excuse it
  { method: "POST", url: `/v1/models?api_key=${enc}`, field: "api_key" },
  { method: "POST", url: `/v1/models?apikey=${enc}`, field: "apikey", headers: { "content-type": "multipart/form-data; boundary=x" } },
  { method: "GET", url: `/v1/matrix?version=1&access_token=${enc}`, field: "access_token" },
  { method: "GET", url: `/v1/matrix/versions?token=${enc}`, field: "token" },
  { method: "GET", url: `/v1/jobs/7?key=${enc}`, field: "key" },
  { method: "DELETE", url: `/v1/jobs/7?X-API-Key=${enc}`, field: "X-API-Key" },
  { method: "POST", url: `/v1/recommendations?API_KEY=${enc}`, field: "API_KEY", json: { budget: 0.1, norm: "linf" } },
  { method: "POST", url: `/v1/models/abc/refresh?api%5Fkey=${enc}`, field: "api_key", json: { grid: "default" } },
  { method: "GET", url: `/v1/jobs?api_key[]=${enc}&state=running`, field: "api_key[]" },
];

test("a /v1 request with a key in its query string answers 400 naming the parameter; the key is nowhere in the response or the log", async (t) => {
  const { api, log } = await withLog(t);
  for (const r of REFUSED) {
    const res = await api.call(r.method, r.url, { json: r.json, headers: r.headers });
    const what = `${r.method} ${r.url}`;
    assert.equal(res.status, 400, `${what} → ${JSON.stringify(res.body)}`);
    assert.equal(res.contentType, "application/problem+json; charset=utf-8");
    assert.equal(res.body.field, r.field, what);
    assert.match(String(res.body.detail), /never accepted in the query string.*Authorization: Bearer/, what);
    assert.equal(res.body.instance, new URL(api.baseUrl + r.url).pathname, "instance is the path, without the query");
    assert.ok(!visible(res).includes(SECRET) && !visible(res).includes(enc), `${what}: the key is echoed`);
  }
  const text = await settled(log, REFUSED.length);
  assert.ok(!text.includes(SECRET) && !text.includes(enc), "the key is in the log");
  assert.ok(text.includes(`/v1/models?api_key=${REDACTED}"`) && text.includes(`/v1/matrix?version=1&access_token=${REDACTED}"`), "the logged URL keeps the other parameters and redacts the key");
  assert.ok(!/"apiKey":"ci"/.test(text), "a key in the query is not accepted even when it is valid");
});

test("outside /v1 and where no key is asked for, a key in the query is never echoed nor logged either", async (t) => {
  const { api, log } = await withLog(t, { protectReads: true });
  const health = await api.call("GET", `/healthz?token=${enc}`);
  assert.equal(health.status, 200);
  const missing = await api.call("GET", `/nope?api_key=${enc}&x=1`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.instance, "/nope");
  assert.ok(!visible(missing).includes(SECRET) && !visible(missing).includes(enc));
  // With ADVISOR_PROTECT_READS the key in the query is refused as such (400), not taken for a missing key (401).
  const protectedRead = await api.call("GET", `/v1/models?api_key=${enc}`);
  assert.equal(protectedRead.status, 400);
  // A problem for another reason does not echo the query string either.
  const noVersion = await api.call("GET", "/v1/matrix?version=9", { headers: AUTH });
  assert.equal(noVersion.status, 404);
  assert.equal(noVersion.body.instance, "/v1/matrix");
  const text = await settled(log, 4);
  assert.ok(!text.includes(SECRET) && !text.includes(enc), "the key is in the log");
  assert.ok(text.includes(`/healthz?token=${REDACTED}`) && text.includes(`/nope?api_key=${REDACTED}&x=1`), text);
});

test("redactUrl / secretParams: credential-looking names in any spelling, other parameters untouched", () => {
  assert.equal(redactUrl("/v1/matrix?version=2&limit=5"), "/v1/matrix?version=2&limit=5");
  assert.equal(redactUrl("/a?API-Key=s&b=1&access_token=t&Token=u&key%5B%5D=v&x"), `/a?API-Key=${REDACTED}&b=1&access_token=${REDACTED}&Token=${REDACTED}&key%5B%5D=${REDACTED}&x`);
  assert.equal(redactUrl("/a?api_key=%ZZbad"), `/a?api_key=${REDACTED}`, "a malformed escape is no way around it");
  assert.equal(redactUrl("/no-query"), "/no-query");
  assert.deepEqual(secretParams("/a?model=m&apikey=1&apikey=2&password=p"), ["apikey", "password"]);
  for (const n of ["api_key", "apiKey", "api-key", "X-API-Key", "key", "token", "access_token", "client_secret"]) assert.ok(isSecretParam(n), n);
  for (const n of ["model", "dataset", "version", "limit", "cursor", "candidates", "at", "state", "before", "keyword"]) assert.ok(!isSecretParam(n), n);
});

test("the README key recipe writes outside the repository, and key.txt / keys are git-ignored", async () => {
  const readme = await readFile(path.join(root, "README.md"), "utf8");
  assert.doesNotMatch(readme, /tee key\.txt|>> ?keys\b/, "the recipe writes the plain key into the working folder");
  assert.match(readme, /tee ~\/\.config\/pruning-advisor\/key\.txt/);
  const ignored = execFileSync("git", ["check-ignore", "key.txt", "keys", "docs/key.txt"], { cwd: root, encoding: "utf8" });
  assert.deepEqual(ignored.trim().split("\n"), ["key.txt", "keys", "docs/key.txt"]);
});
