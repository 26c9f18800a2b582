// Issue 16.9: a bounded fuzz of the whole HTTP API. openapi.yaml is read at test time and every
// operation gets generated requests: valid-ish and malformed JSON bodies, wrong types, huge
// numbers, unicode, odd and duplicated query parameters, odd path parameters, wrong methods and
// content types, with and without a valid API key (or with one in the query string), plus
// truncated and malformed multipart bodies to POST /v1/models (a file part with no closing
// boundary, cut part headers, garbage boundaries, oversized parts…). Loopback only.
//
// It asserts: no 5xx, every request gets a complete response (no dropped connection, no hang),
// every error is problem+json, every answer of a documented operation matches openapi.yaml, the
// server still answers /healthz afterwards and nothing is left in the uploads' staging folder.
// The PRNG is seeded: FUZZ_SEED=<n> reproduces a run (FUZZ_REQUESTS=<n> changes its size);
// FUZZ_DUMP=<file> writes every failure in full, FUZZ_TRACE=<file> every request and its answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { parse } from "yaml";
import { readFile, writeFile } from "node:fs/promises";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { modelsDirFor } from "../../src/models/storage.js";
import { openapiPath } from "../../src/paths.js";
import { MODEL_A, MODEL_B, contract, startApi } from "../api/helpers.js";
import { listTree, syntheticData } from "../models/helpers.js";
import { mulberry32 } from "../../src/engine/random.js";

const SEED = Number(process.env.FUZZ_SEED ?? 16);
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 2400);
const CONCURRENCY = 8;
const KEY = "fuzz-key-0123456789abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("fuzz", KEY)));
const MAX_BYTES = 64 * 1024;
const MAX_FILES = 6;

// ---------------------------------------------------------------- seeded randomness

/** The engine's seeded PRNG: the same seed gives the same requests. */
const prng = mulberry32;
let rnd = prng(SEED);
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number): boolean => rnd() < p;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));

// ---------------------------------------------------------------- the spec

type Node = Record<string, unknown>;
interface Param {
  name: string;
  in: string;
  schema: Node;
}
interface Operation {
  method: string;
  template: string;
  params: Param[];
  bodyTypes: string[];
  examples: unknown[];
}

async function operations(): Promise<Operation[]> {
  const doc = parse(await readFile(openapiPath, "utf8")) as Node;
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths as Node)) {
    for (const [method, raw] of Object.entries(item as Node)) {
      const op = raw as Node;
      const params = ((op.parameters ?? []) as unknown[]).map((p) => contract.deref(p) as unknown as Param).map((p) => ({ ...p, schema: contract.deref(p.schema) }));
      const content = ((op.requestBody ? contract.deref(op.requestBody).content : undefined) ?? {}) as Record<string, Node>;
      const examples = Object.values(content).flatMap((m) => ["example" in m ? [m.example] : [], Object.values((m.examples ?? {}) as Node).map((e) => contract.deref(e).value)].flat());
      ops.push({ method: method.toUpperCase(), template, params, bodyTypes: Object.keys(content), examples });
    }
  }
  return ops;
}

// ---------------------------------------------------------------- generated values

const UNICODE = ["ü", "☃", "𝄞", "\u202e", "\u0000", "\ufeff", "💩", "Ω≈ç√", "中文", "\ud800"];
const uni = (): string => Array.from({ length: 1 + int(6) }, () => pick(UNICODE)).join("");
const WEIRD_JSON: unknown[] = [
  null, true, false, 0, -0, -1, 1, 0.5, 1e308, -1e308, 5e-324, 2 ** 53 + 1, 1e21, 1.2345678901234568e29,
  "", " ", "NaN", "Infinity", "-1", "0x10", "linf", "white-box", "a".repeat(5000), [], {}, [1, 2, 3], [null], [[[[[]]]]], { a: 1 }, { __proto__: { polluted: 1 } },
];
const weirdJson = (): unknown => (chance(0.15) ? uni() : pick(WEIRD_JSON));

const ID_VALUES = [
  MODEL_A, MODEL_B, "0123", "a".repeat(64), "A".repeat(65), "%00", "..%2F..%2Fetc%2Fpasswd", "..", ".", "%2e%2e", "%E2%98%83", "%ZZ", "%", "%E0%A4%A",
  "-1", "0", "1", "2", "7", "99999999999999999999999", "1e3", "0x10", "1.5", "%20", "null", "undefined", "__proto__", "constructor", "x".repeat(3000), "%F0%9F%92%A9",
];

/** Percent-encodes every byte but unreserved ASCII (a lone surrogate becomes U+FFFD's bytes). */
const enc = (s: string): string => [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

/** A raw (already URL-encoded where needed) query value for a parameter schema: valid or not. */
function queryValue(schema: Node): string {
  const wild = (): string =>
    pick([
      "", "+", "%20", "abc", "-1", "0", "1.5", "1e999", "99999999999999999999", "NaN", "Infinity", "0x1F", "%ZZ", "%", "%E0%A4%A", "%00",
      enc(uni()), "a".repeat(4000), "true", "null", "[1,2]", "%7B%22a%22%3A1%7D", "linf,l2", ",", ",,,",
    ]);
  if (chance(0.45)) return wild();
  if (Array.isArray(schema.enum)) {
    const v = String(pick(schema.enum as unknown[]));
    return chance(0.8) ? enc(v) : pick([enc(v.toUpperCase()), `${enc(v)}+`, `${enc(v)},${enc(v)}`, `${enc(v)}x`]);
  }
  const type = schema.type;
  if (type === "integer") {
    const min = typeof schema.minimum === "number" ? schema.minimum : 0;
    return String(pick([min, min + int(100), min - 1, 2 ** 31, 2 ** 53, 1000, 1001]));
  }
  if (type === "number") return pick(["0", "0.1", "0.3", "1", "2", "-0", "1e-320", "1e308", "0.30000000000000004"]);
  if (type === "array") return [0, 1, 2].slice(0, 1 + int(3)).map(() => queryValue(contract.deref((schema.items ?? {}) as Node))).join(",");
  return enc(pick([MODEL_A, MODEL_B, "lenet300", "mnist", "fashion-mnist", "dense", "global-magnitude", "eyJ2IjoxfQ", "MTIz", "abc"]));
}

const ODD_PARAMS = ["foo", "__proto__", "constructor", "hasOwnProperty", "toString", "a%00", "", "a[b]", "limit[]", "x".repeat(300), "%ZZ", "api_key", "token", "key"];

function queryString(op: Operation): string {
  const parts: string[] = [];
  for (const p of op.params.filter((q) => q.in === "query")) {
    if (chance(0.5)) continue;
    const n = chance(0.1) ? 2 : 1; // a duplicated parameter becomes an array with the simple parser
    for (let i = 0; i < n; i++) parts.push(`${chance(0.05) ? p.name.toUpperCase() : p.name}=${queryValue(p.schema)}`);
  }
  if (chance(0.2)) parts.push(`${pick(ODD_PARAMS)}=${queryValue({})}`);
  if (chance(0.03)) parts.push(...Array.from({ length: 1500 }, (_, i) => `p${i}=${i}`));
  if (chance(0.05)) parts.push(pick(["&&&", "=", "a", "=x", "a==b", "%26=%3D"]));
  for (let i = parts.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts.length ? `?${parts.join("&")}` : chance(0.05) ? "?" : "";
}

function pathOf(op: Operation): string {
  return op.template.replace(/\{([^}]+)\}/g, () => (chance(0.2) ? pick(["1", MODEL_A]) : pick(ID_VALUES)));
}

// ---------------------------------------------------------------- JSON bodies

function mutate(v: unknown, depth = 0): unknown {
  if (v && typeof v === "object" && !Array.isArray(v) && depth < 4) {
    const o = { ...(v as Node) };
    const keysOf = Object.keys(o);
    const r = rnd();
    if (r < 0.25 && keysOf.length) delete o[pick(keysOf)];
    else if (r < 0.55 && keysOf.length) o[pick(keysOf)] = weirdJson();
    else if (r < 0.7) o[pick(["extra", "__proto__", "constructor", uni(), "grid", "budget", "norm"])] = weirdJson();
    else if (keysOf.length) {
      const k = pick(keysOf);
      o[k] = mutate(o[k], depth + 1);
    }
    return o;
  }
  if (Array.isArray(v) && depth < 4) {
    const a = [...(v as unknown[])];
    const r = rnd();
    if (r < 0.3) a.push(weirdJson());
    else if (r < 0.5) a.splice(int(a.length + 1), 1);
    else if (a.length) a[int(a.length)] = mutate(a[int(a.length)], depth + 1);
    else a.push(...Array.from({ length: int(2000) }, () => 0.1));
    return a;
  }
  return weirdJson();
}

const VALID_ISH: Record<string, unknown[]> = {
  "/v1/recommendations": [{ norm: "linf", budget: 0.1 }, { norm: "l0", budget: 5, knowledge: "black-box", modelId: MODEL_A }, { norm: "l2", budget: 1, sizeLimit: { maxParameters: 1000 } }],
  "/v1/gate": [{ candidate: { strategy: "global-magnitude", rate: 4 }, scenario: { norm: "linf", budget: 0.1 }, thresholds: { minRobustAccuracy: 0.4 } }],
  "/v1/models/{id}/refresh": [{ grid: "default" }, { grid: { rates: [1, 4], norms: ["linf"], samples: 10 } }, {}, { replace: true, grid: "default" }],
};

function jsonBody(op: Operation): { body: Buffer | undefined; type: string | undefined } {
  const seeds = [...op.examples, ...(VALID_ISH[op.template] ?? [])];
  const base = seeds.length ? pick(seeds) : { a: 1 };
  const r = rnd();
  let text: string;
  if (r < 0.15) text = JSON.stringify(base);
  else if (r < 0.6) text = JSON.stringify(mutate(mutate(base)));
  else if (r < 0.7) text = JSON.stringify(weirdJson());
  else if (r < 0.8) {
    const s = JSON.stringify(base);
    text = s.slice(0, int(s.length)); // truncated
  } else if (r < 0.9) {
    text = pick([
      "", "{", "}", "{'norm':'linf'}", '{"norm":"linf",}', '{"a":1}{"b":2}', "\ufeff{}", "nul", "NaN", '{"budget":1e99999}', '{"budget":-}',
      '{"a":"\\ud800"}', '{"a":"\\u0000"}', "[".repeat(20000) + "]".repeat(20000), '{"a":'.repeat(6000) + "1" + "}".repeat(6000),
      `{"${"k".repeat(30000)}":1}`, '{"__proto__":{"norm":"linf"},"budget":0.1}', '{"constructor":{"prototype":{"x":1}}}',
    ]);
  } else if (r < 0.95) text = JSON.stringify({ ...(base as Node), pad: "x".repeat(70 * 1024) }); // over the 64 KiB limit
  else return { body: chance(0.5) ? bytes(int(3000)) : undefined, type: chance(0.5) ? "application/json" : undefined };
  const type = pick([
    "application/json", "application/json", "application/json", "application/json; charset=utf-8", "application/merge-patch+json",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/json; charset=utf-16",
    "", "*/*", "application/jsonx",
  ]);
  return { body: Buffer.from(text), type: type === "" ? undefined : type };
}

// ---------------------------------------------------------------- multipart bodies

interface Part {
  headers: string[];
  content: Buffer;
}

const filePart = (name: string, content: Buffer | string, field = "files"): Part => ({
  headers: [`Content-Disposition: form-data; name="${field}"; filename="${name}"`, "Content-Type: application/octet-stream"],
  content: Buffer.isBuffer(content) ? content : Buffer.from(content),
});
const fieldPart = (name: string, value: string): Part => ({ headers: [`Content-Disposition: form-data; name="${name}"`], content: Buffer.from(value) });

/**
 * A real layers model for the synthetic data set (8x8x1 → 3 classes: Flatten → Dense), so some
 * uploads get past every check of the request and reach the model validation (child process).
 */
const REAL_TOPOLOGY = {
  class_name: "Sequential",
  config: {
    name: "fuzz",
    layers: [
      { class_name: "Flatten", config: { batch_input_shape: [null, 8, 8, 1], name: "f" } },
      { class_name: "Dense", config: { units: 3, activation: "linear", use_bias: true, name: "d", kernel_initializer: { class_name: "Zeros", config: {} }, bias_initializer: { class_name: "Zeros", config: {} } } },
    ],
  },
  keras_version: "tfjs-layers 4.22.0",
  backend: "tensor_flow.js",
};
const REAL_WEIGHTS = [
  { name: "d/kernel", shape: [64, 3], dtype: "float32" },
  { name: "d/bias", shape: [3], dtype: "float32" },
];
const REAL_BYTES = (64 * 3 + 3) * 4;

/** The real model's weights: small random floats, or raw random bytes (NaN and Inf included). */
const realWeights = (): Buffer => (chance(0.5) ? Buffer.from(Float32Array.from({ length: REAL_BYTES / 4 }, () => rnd() * 2 - 1).buffer) : bytes(REAL_BYTES));

/** A model.json whose manifest names weights.bin with `bytes` bytes of float32 (topology junk unless asked). */
function modelJson(bytesNamed: number, o: { topology?: unknown } = {}): string {
  const n = Math.max(1, Math.floor(bytesNamed / 4));
  return JSON.stringify({
    format: "layers-model",
    generatedBy: "fuzz",
    modelTopology: o.topology ?? pick([{}, null, { class_name: "Sequential", config: { layers: [] } }, { class_name: "Nope" }, "x", [1]]),
    weightsManifest: pick([
      [{ paths: ["weights.bin"], weights: [{ name: "w", shape: [n], dtype: "float32" }] }],
      [{ paths: ["../weights.bin"], weights: [{ name: "w", shape: [n], dtype: "float32" }] }],
      [{ paths: ["weights.bin", "other.bin"], weights: [{ name: "w", shape: [n, 2 ** 31], dtype: "float32" }] }],
      [{ paths: ["weights.bin"], weights: [{ name: "w", shape: [-1], dtype: "complex64" }] }],
      [{ paths: [], weights: [] }],
      "nope",
      [{ paths: ["weights.bin"], weights: [{ name: "w", shape: [n], dtype: "float32", quantization: { dtype: "uint8", scale: 1, min: 0 } }] }],
    ]),
  });
}

function multipartParts(): Part[] {
  const parts: Part[] = [];
  // Rarely the configured data set: an upload that gets that far is checked in a child process
  // (seconds each, one at a time), and the point here is the request parsing before that.
  if (chance(0.85)) parts.push(fieldPart("dataset", chance(0.04) ? "synthetic" : pick(["", "nope", "fashion-mnist", "Synthetic", uni(), "s".repeat(300)])));
  if (chance(0.3)) parts.push(fieldPart("architecture", pick(["tiny", uni(), "a".repeat(300), ""])));
  if (chance(0.05)) parts.push(fieldPart(pick(["foo", "files", "", "dataset"]), "x"));
  if (chance(0.03)) {
    // Well-formed: the model validation decides (201 / 200 / 422), unless a corruption below hits it.
    parts.push(filePart("model.json", JSON.stringify({ format: "layers-model", modelTopology: REAL_TOPOLOGY, weightsManifest: [{ paths: ["weights.bin"], weights: REAL_WEIGHTS }] })));
    parts.push(filePart("weights.bin", realWeights()));
  } else {
    const weights = int(4) * 4 + pick([0, 0, 0, 1, 3]);
    if (chance(0.85)) parts.push(filePart("model.json", chance(0.8) ? modelJson(weights) : pick(["", "{", "null", "[]", '{"format":"layers-model"}', bytes(200).toString("latin1")])));
    if (chance(0.7)) parts.push(filePart("weights.bin", bytes(weights)));
  }
  if (chance(0.1)) parts.push(filePart("metadata.json", pick(["{}", "{", '{"weightsSha256":"x"}', "null"])));
  if (chance(0.1)) parts.push(filePart(pick(["../evil.bin", "", ".hidden", "a/b.bin", "x".repeat(200), "ü.json", "model.json", "con", "weights.bin"]), bytes(16)));
  if (chance(0.04)) parts.push(filePart("big.bin", bytes(MAX_BYTES + 1 + int(1000))));
  if (chance(0.04)) for (let i = 0; i < MAX_FILES + 1; i++) parts.push(filePart(`f${i}.bin`, bytes(8)));
  for (let i = parts.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts;
}

/** A real model upload, well formed: the model validation (a child process) decides. */
function wellFormedUpload(): FuzzRequest {
  const boundary = `----fuzz${int(1e9)}`;
  const parts = [
    fieldPart("dataset", "synthetic"),
    filePart("model.json", JSON.stringify({ format: "layers-model", modelTopology: REAL_TOPOLOGY, weightsManifest: [{ paths: ["weights.bin"], weights: REAL_WEIGHTS }] })),
    filePart("weights.bin", realWeights()),
  ];
  const chunks = parts.flatMap((p) => [Buffer.from(`--${boundary}\r\n${p.headers.join("\r\n")}\r\n\r\n`), p.content, Buffer.from("\r\n")]);
  const body = Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]);
  return { op: "POST /v1/models", method: "POST", path: "/v1/models", headers: { authorization: `Bearer ${KEY}`, "content-type": `multipart/form-data; boundary=${boundary}` }, body };
}

function multipartBody(): { body: Buffer; type: string | undefined; corruption: string } {
  const boundary = pick(["b0undary", `----fuzz${int(1e9)}`, "x", "a".repeat(70), "with space", '"quoted"', "--", "ü"]);
  const parts = multipartParts();
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\n${p.headers.join("\r\n")}\r\n\r\n`), p.content, Buffer.from("\r\n"));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  let body = Buffer.concat(chunks);
  let type: string | undefined = `multipart/form-data; boundary=${boundary.includes(" ") || boundary.includes('"') ? JSON.stringify(boundary) : boundary}`;
  const corruption = pick([
    "none", "none", "truncate", "truncate", "no-closing-boundary", "no-closing-boundary", "cut-headers", "wrong-boundary", "no-boundary-param",
    "lf-only", "byte-flips", "preamble", "bad-disposition", "long-header", "empty-body", "not-multipart-type", "no-content-type", "only-boundary",
  ]);
  switch (corruption) {
    case "truncate":
      body = body.subarray(0, int(body.length));
      break;
    case "no-closing-boundary": {
      // The issue's reproducer: the last part is never closed.
      const end = body.lastIndexOf(`--${boundary}--`);
      body = body.subarray(0, end === -1 ? body.length : end);
      break;
    }
    case "cut-headers": {
      const at = body.indexOf("Content-Disposition", int(Math.max(1, body.length / 2)));
      body = body.subarray(0, at === -1 ? int(body.length) : at + int(30));
      break;
    }
    case "wrong-boundary":
      type = `multipart/form-data; boundary=${pick(["nope", "b0undar", "x".repeat(200), "", ";;", "=", "%00"])}`;
      break;
    case "no-boundary-param":
      type = pick(["multipart/form-data", "multipart/form-data;", "multipart/form-data; charset=utf-8", "multipart/mixed; boundary=b0undary"]);
      break;
    case "lf-only":
      body = Buffer.from(body.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
      break;
    case "byte-flips":
      body = Buffer.from(body);
      for (let i = 0; i < 1 + int(20); i++) if (body.length) body[int(body.length)] = int(256);
      break;
    case "preamble":
      body = Buffer.concat([bytes(int(500)), Buffer.from("\r\n"), body]);
      break;
    case "bad-disposition":
      body = Buffer.from(
        body
          .toString("latin1")
          .replace(/Content-Disposition: form-data; name="[^"]*"/, pick(["Content-Disposition: form-data; name=", "Content-Disposition: attachment", "Content-Disposition:", "X-Nothing: 1", 'Content-Disposition: form-data; name="files"; filename*=UTF-8\'\'%E2%98%83.bin'])),
        "latin1",
      );
      break;
    case "long-header":
      body = Buffer.from(body.toString("latin1").replace("Content-Type: application/octet-stream", `X-Long: ${"h".repeat(20000 + int(60000))}`), "latin1");
      break;
    case "empty-body":
      body = Buffer.alloc(0);
      break;
    case "not-multipart-type":
      type = pick(["application/json", "text/plain", "application/octet-stream", "multipart/", "multipart/form-data-x; boundary=b"]);
      break;
    case "no-content-type":
      type = undefined;
      break;
    case "only-boundary":
      body = Buffer.from(pick([`--${boundary}`, `--${boundary}--`, `--${boundary}\r\n`, `--${boundary}\r\n\r\n`, "\r\n\r\n"]));
      break;
  }
  return { body, type, corruption };
}

// ---------------------------------------------------------------- requests

interface FuzzRequest {
  op: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const WRONG_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"];

function authHeaders(): Record<string, string> {
  return pick<Record<string, string>>([
    { authorization: `Bearer ${KEY}` },
    { authorization: `Bearer ${KEY}` },
    { authorization: `Bearer ${KEY}` },
    { "x-api-key": KEY },
    { "x-api-key": KEY },
    {},
    {},
    { authorization: "Bearer wrong-key-0123456789abcdefghijklmnopqrstuvwxyz" },
    { "x-api-key": "short" },
    { authorization: pick(["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", `bearer  ${KEY}  `, `Bearer ${KEY} extra`, `Token ${KEY}`, "x".repeat(8000)]) },
  ]);
}

function generate(op: Operation, multipartOnly = false): FuzzRequest {
  const headers: Record<string, string> = { ...authHeaders() };
  let method = op.method;
  if (!multipartOnly && chance(0.08)) method = pick(WRONG_METHODS.filter((m) => m !== op.method));
  let url = pathOf(op) + queryString(op);
  if (chance(0.03)) url = pick([op.template, `${op.template}/`, `${op.template}//x`, `${op.template.toUpperCase()}`, `${op.template}/..`, `${op.template}%2F`, `${op.template};a=b`]);
  if (chance(0.03)) url += `${url.includes("?") ? "&" : "?"}api_key=${KEY}`;
  if (chance(0.05)) headers["x-request-id"] = pick(["", "ok-id-1", "x".repeat(300), "a b", "\u00ff", "../../etc"]);
  if (chance(0.05)) headers.connection = "close";
  if (chance(0.05)) headers.accept = pick(["text/html", "application/xml", "*/*", ""]);
  if (chance(0.01)) headers["x-huge"] = "h".repeat(20000); // over Node's header limit → 431 from Node itself
  let body: Buffer | undefined;
  if (multipartOnly || op.bodyTypes.includes("multipart/form-data")) {
    const m = chance(0.9) || multipartOnly ? multipartBody() : { ...jsonBody(op), corruption: "json" };
    body = m.body;
    if (m.type !== undefined) headers["content-type"] = m.type;
  } else if (op.bodyTypes.length || chance(0.1)) {
    const j = jsonBody(op);
    body = j.body;
    if (j.type !== undefined) headers["content-type"] = j.type;
  }
  if (body !== undefined && chance(0.05)) headers["transfer-encoding"] = "chunked";
  return { op: `${op.method} ${op.template}`, method, path: url, headers, body };
}

interface Outcome {
  status: number | null;
  contentType: string;
  body: Buffer;
  error?: string;
}

function send(port: number, agent: http.Agent, r: FuzzRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined && headers["transfer-encoding"] === undefined) headers["content-length"] = String(r.body.length);
    let req: http.ClientRequest;
    try {
      req = http.request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const declared = res.headers["content-length"];
          const complete = res.complete && (declared === undefined || r.method === "HEAD" || Number(declared) === body.length);
          done({ status: res.statusCode ?? null, contentType: String(res.headers["content-type"] ?? ""), body, ...(complete ? {} : { error: "incomplete response" }) });
        });
        res.on("error", (err) => done({ status: res.statusCode ?? null, contentType: "", body: Buffer.alloc(0), error: `response: ${err.message}` }));
        res.on("aborted", () => done({ status: res.statusCode ?? null, contentType: "", body: Buffer.alloc(0), error: "response aborted" }));
      });
    } catch (err) {
      // The client library refuses to send it (e.g. an invalid header value): not a server failure.
      done({ status: -1, contentType: "", body: Buffer.alloc(0), error: `not sent: ${(err as Error).message}` });
      return;
    }
    req.setTimeout(50_000, () => req.destroy(new Error("no answer within 50 s")));
    req.on("error", (err: NodeJS.ErrnoException) => done({ status: null, contentType: "", body: Buffer.alloc(0), error: `${err.code ?? ""} ${err.message}` }));
    if (r.body !== undefined && headers["transfer-encoding"] === "chunked" && r.body.length > 1) {
      req.write(r.body.subarray(0, r.body.length >> 1));
      req.end(r.body.subarray(r.body.length >> 1));
    } else req.end(r.body);
  });
}

const describe = (r: FuzzRequest): string =>
  `${r.method} ${r.path.slice(0, 200)} headers=${JSON.stringify(r.headers).slice(0, 300)} body=${r.body === undefined ? "none" : JSON.stringify(r.body.subarray(0, 300).toString("latin1"))}${r.body && r.body.length > 300 ? `…(${r.body.length} bytes)` : ""}`;

test(`fuzz: ${TOTAL} generated requests over every operation of openapi.yaml (seed ${SEED}): no 5xx, no dropped connection, still healthy, staging empty`, async (t) => {
  rnd = prng(SEED);
  const started = Date.now();
  const data = await syntheticData(t);
  const api = await startApi(t, undefined, {
    keys,
    uploads: { datasets: new Map([["synthetic", data.dir]]), maxBytes: MAX_BYTES, maxFiles: MAX_FILES },
    // A job manager so the job endpoints run for real; no request can queue a job: the only
    // registered models are the fixture's, which have no files (a refresh answers 409).
    jobs: { workers: 1, pollMs: 60_000 },
  });
  const port = Number(new URL(api.baseUrl).port);
  const ops = await operations();
  assert.ok(ops.length >= 15, `openapi.yaml has ${ops.length} operations`);

  // Every operation gets its share; POST /v1/models gets an extra share of multipart bodies.
  const upload = ops.find((o) => o.method === "POST" && o.template === "/v1/models");
  assert.ok(upload, "POST /v1/models is in openapi.yaml");
  const extra = Math.round(TOTAL * 0.2);
  const perOp = Math.ceil((TOTAL - extra) / ops.length);
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < perOp; i++) for (const op of ops) requests.push(generate(op));
  // A few well-formed uploads reach the model validation (seconds each, one at a time).
  for (let i = 0; i < extra; i++) requests.push(i % 200 === 100 ? wellFormedUpload() : generate(upload, true));
  // Spread the slow uploads over the run.
  for (let i = requests.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [requests[i], requests[j]] = [requests[j]!, requests[i]!];
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  t.after(() => agent.destroy());
  const byStatus = new Map<string, number>();
  const byOp = new Map<string, Map<number, number>>();
  const failures: string[] = [];
  const contractMismatches: string[] = [];
  const trace: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const r = requests[next++]!;
      const t0 = Date.now();
      const o = await send(port, agent, r);
      const ms = Date.now() - t0;
      const key = o.status === null ? "dropped" : o.status === -1 ? "not sent (client refused)" : String(o.status);
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      const perStatus = byOp.get(r.op) ?? new Map<number, number>();
      perStatus.set(o.status ?? 0, (perStatus.get(o.status ?? 0) ?? 0) + 1);
      byOp.set(r.op, perStatus);
      if (process.env.FUZZ_TRACE) trace.push(`${ms}ms ${r.op} | ${r.method} ${r.path.slice(0, 120)} → ${o.status} ${o.error ?? ""} ${o.body.toString("utf8").slice(0, 160)}`);
      if (o.status === -1) continue;
      if (o.error !== undefined || o.status === null) failures.push(`dropped (${o.error}): ${describe(r)}`);
      else if (o.status >= 500) failures.push(`${o.status} ${o.body.toString("utf8").slice(0, 300)}: ${describe(r)}`);
      else if (o.status >= 400 && r.method !== "HEAD" && o.status !== 431 && !o.contentType.startsWith("application/problem+json"))
        failures.push(`${o.status} is not problem+json (${o.contentType}): ${describe(r)}`);
      else if (r.method !== "HEAD" && o.status !== 431) {
        // A documented operation's answer must match openapi.yaml (unknown paths: a Problem 404).
        // The raw path (new URL() would resolve dot segments the server sees as they are).
        const pathname = r.path.split("?", 1)[0]!;
        const template = contract.templateOf(pathname);
        const documented = template !== undefined && (contract.doc.paths as Record<string, Node>)[template]![r.method.toLowerCase()] !== undefined;
        if (documented) {
          try {
            const text = o.body.toString("utf8");
            contract.check(r.method, pathname, o.status, o.contentType, /json/.test(o.contentType) ? JSON.parse(text) : text);
          } catch (err) {
            contractMismatches.push(`${(err as Error).message.split("\n").slice(0, 3).join(" ")} ← ${describe(r)}`);
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (Date.now() - started) / 1000;

  const counts = [...byStatus.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}: ${n}`);
  t.diagnostic(`seed ${SEED}: ${requests.length} requests in ${seconds.toFixed(1)} s (concurrency ${CONCURRENCY}); by status: ${counts.join(", ")}`);
  for (const [op, statuses] of [...byOp.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    t.diagnostic(`  ${op}: ${[...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s || "dropped"}×${n}`).join(" ")}`);
  }

  assert.ok(requests.length >= 2000 || TOTAL < 2000, `${requests.length} requests`);
  if (process.env.FUZZ_TRACE) await writeFile(process.env.FUZZ_TRACE, trace.join("\n"));
  if (process.env.FUZZ_DUMP) await writeFile(process.env.FUZZ_DUMP, [...failures, ...contractMismatches].join("\n"));
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures (FUZZ_SEED=${SEED} reproduces them)`);
  assert.deepEqual(contractMismatches.slice(0, 10), [], `${contractMismatches.length} answers do not match openapi.yaml (FUZZ_SEED=${SEED})`);
  const health = await api.call("GET", "/healthz");
  assert.equal(health.status, 200, "the server still answers /healthz");
  const models = modelsDirFor(api.dbFile);
  assert.deepEqual(await listTree(path.join(models, ".staging")), [], "nothing left in the uploads' staging folder");
  assert.ok(seconds < 60, `the fuzz took ${seconds.toFixed(1)} s (bound: 60 s)`);
});

// Found by the fuzz: a body on a GET (or DELETE) was parsed as JSON for every route, so /healthz,
// /metrics and /openapi.yaml answered a stray body with 400, 413 or 415 (undocumented); merely
// skipping it left it unread, and closing a `Connection: close` socket with unread data reset it
// before the 100 KB of /openapi.yaml reached the client. Such a body is now read and discarded.
test("a stray body on a GET or DELETE is ignored (read and discarded): the documented answer, complete, even with Connection: close", async (t) => {
  const api = await startApi(t, undefined, { keys, jobs: { workers: 1, pollMs: 60_000 } });
  const port = Number(new URL(api.baseUrl).port);
  const agent = new http.Agent({ keepAlive: false });
  t.after(() => agent.destroy());
  const cases: [string, string, number, Buffer, string][] = [
    ["GET", "/healthz", 200, Buffer.from("{not json"), "application/json"],
    ["GET", "/metrics", 200, Buffer.from('{"a":1}'), "application/json; charset=utf-16"],
    ["GET", "/readyz", 200, Buffer.from("x".repeat(70 * 1024)), "application/json"],
    ["GET", "/v1/matrix/versions", 200, Buffer.from("[1,2"), "application/merge-patch+json"],
    ["DELETE", "/v1/jobs/99", 404, Buffer.from("{}"), "text/plain"],
    ["GET", "/openapi.yaml", 200, Buffer.alloc(2 * 1024 * 1024, 120), "application/json"],
  ];
  for (const [method, p, status, body, type] of cases) {
    for (let i = 0; i < (p === "/openapi.yaml" ? 10 : 1); i++) {
      const o = await send(port, agent, { op: p, method, path: p, headers: { "content-type": type, connection: "close", "x-api-key": KEY }, body });
      assert.equal(o.error, undefined, `${method} ${p}: ${o.error}`);
      assert.equal(o.status, status, `${method} ${p} with a ${body.length}-byte body → ${o.status} ${o.body.toString("utf8").slice(0, 200)}`);
    }
  }
  assert.equal((await api.call("GET", "/healthz")).status, 200);
});
