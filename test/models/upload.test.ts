// POST /v1/models end to end, in-process on a temp database with a synthetic data set and tiny
// models made by the engine: the happy path and its idempotency, the checks before anything is
// stored (each malformed upload is a clear 4xx problem and leaves nothing behind), API keys.
// Every response is checked against openapi.yaml (the contract in test/api/helpers.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { loadModel } from "../../src/engine/model-io.js";
import { modelLocation, modelsDirFor } from "../../src/models/storage.js";
import { startApi, type Api } from "../api/helpers.js";
import { listTree, modelParts, multipart, syntheticData, tinyModel, type Part } from "./helpers.js";

const KEY = "test-key-0123456789abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("ci", KEY)));
const AUTH = { authorization: `Bearer ${KEY}` };
const MAX_BYTES = 64 * 1024;

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

async function setup(t: TestContext): Promise<{ api: Api; modelsDir: string }> {
  const data = await syntheticData(t);
  const datasets = new Map([
    ["synthetic", data.dir],
    ["synthetic-copy", data.dir],
  ]);
  const api = await startApi(t, undefined, { keys, uploads: { datasets, maxBytes: MAX_BYTES, maxFiles: 6 } });
  return { api, modelsDir: modelsDirFor(api.dbFile) };
}

function upload(api: Api, parts: Part[], headers: Record<string, string> = AUTH): ReturnType<Api["call"]> {
  const { body, contentType } = multipart(parts);
  return api.call("POST", "/v1/models", { body, headers: { "content-type": contentType, ...headers } });
}

const dataset = (name = "synthetic"): Part => ({ name: "dataset", content: name });

async function modelCount(api: Api): Promise<number> {
  return (await api.store.db.get<{ n: number }>("SELECT count(*) AS n FROM models"))!.n;
}

test("upload → 201 with the weights' sha256 as id; the same upload again → 200, same id, nothing new in the database or on disk", async (t) => {
  const { api, modelsDir } = await setup(t);
  const model = await tinyModel(t);
  const before = await modelCount(api);

  const first = await upload(api, [dataset(), { name: "architecture", content: "tiny-cnn" }, ...(await modelParts(model.dir))]);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const id = first.body.id as string;
  assert.equal(id, model.metadata.weightsSha256, "the id is the engine's weights hash (models.id of the matrix)");
  assert.equal(first.body.created, true);
  assert.equal(first.body.architecture, "tiny-cnn");
  assert.equal(first.body.dataset, "synthetic");
  assert.deepEqual(first.body.inputShape, [8, 8, 1]);
  assert.equal(first.body.numClasses, 3);
  assert.deepEqual(first.body.parameters, { total: 239, trainable: 239, prunable: 234 });
  assert.equal((first.body.cleanAccuracy as { n: number }).n, 60, "clean accuracy on the whole test split");
  assert.equal(first.body.modelDir, `models/${id}`);
  assert.equal(await modelCount(api), before + 1);

  // Registered with its directory and data set: what a refresh job needs to find it by id.
  const where = await modelLocation(api.store.db, api.dbFile, id);
  assert.deepEqual(where, { dir: path.join(modelsDir, id), dataset: "synthetic" });
  const loaded = await loadModel(where.dir);
  assert.equal(loaded.metadata.weightsSha256, id, "the stored copy loads with the engine and has the same weights");
  loaded.model.dispose();
  const row = await api.store.db.get<{ metadata: string; clean_n: number }>("SELECT metadata, clean_n FROM models WHERE id = ?", [id]);
  assert.equal((JSON.parse(row!.metadata) as { source: string }).source, "upload");
  assert.equal(row!.clean_n, 60);

  const tree = await listTree(modelsDir);
  assert.deepEqual(tree, [".staging", id, `${id}/metadata.json`, `${id}/model.json`, `${id}/weights.bin`], "the model and an empty staging folder, nothing else");
  const mtime = (await readFile(path.join(modelsDir, id, "weights.bin"))).length;

  // Again, with X-API-Key this time, without metadata.json: the same weights are the same model.
  const second = await upload(api, [dataset(), ...(await modelParts(model.dir, { skip: ["metadata.json"] }))], { "x-api-key": KEY });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.id, id);
  assert.equal(second.body.created, false);
  assert.equal(second.body.architecture, "tiny-cnn", "the registered model is answered, not relabelled");
  assert.equal(await modelCount(api), before + 1, "no new row");
  assert.deepEqual(await listTree(modelsDir), tree, "no new files");
  assert.equal((await readFile(path.join(modelsDir, id, "weights.bin"))).length, mtime);

  // The same weights for another data set contradict the registration.
  const other = await upload(api, [dataset("synthetic-copy"), ...(await modelParts(model.dir))]);
  assert.equal(other.status, 409, JSON.stringify(other.body));
  assert.equal(other.body.field, "dataset");
  assert.match(String(other.body.detail), /already registered for data set synthetic, not synthetic-copy/);
  assert.deepEqual(await listTree(modelsDir), tree);
});

test("TF.js converter style weight file names and a softmax output are accepted, with a warning about softmax", async (t) => {
  const { api } = await setup(t);
  const model = await tinyModel(t, { seed: 5, softmax: true });
  const json = JSON.parse(await readFile(path.join(model.dir, "model.json"), "utf8")) as { weightsManifest: { paths: string[] }[] };
  json.weightsManifest[0]!.paths = ["group1-shard1of1.bin"];
  const res = await upload(api, [
    dataset(),
    { name: "files", filename: "model.json", content: JSON.stringify(json) },
    { name: "files", filename: "group1-shard1of1.bin", content: await readFile(path.join(model.dir, "weights.bin")) },
  ]);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.architecture, "custom", "no label and no metadata.json: custom");
  assert.match((res.body.warnings as string[])[0] ?? "", /softmax/);
});

test("malformed uploads are clear 4xx problems naming the problem, and leave nothing in the database or on disk", async (t) => {
  const { api, modelsDir } = await setup(t);
  const model = await tinyModel(t, { seed: 2 });
  const flat = await tinyModel(t, { seed: 3, inputShape: [64] });
  const fiveClasses = await tinyModel(t, { seed: 4, classes: 5 });
  const modelJson = await readFile(path.join(model.dir, "model.json"), "utf8");
  const weights = await readFile(path.join(model.dir, "weights.bin"));
  const withManifestPath = (p: string): string => {
    const j = JSON.parse(modelJson) as { weightsManifest: { paths: string[] }[] };
    j.weightsManifest[0]!.paths = [p];
    return JSON.stringify(j);
  };
  const file = (filename: string, content: Buffer | string): Part => ({ name: "files", filename, content });
  const before = await modelCount(api);

  const cases: { name: string; parts: Part[]; headers?: Record<string, string>; status: number; detail: RegExp; field?: string }[] = [
    { name: "bad JSON", parts: [dataset(), file("model.json", "{ not json"), file("weights.bin", weights)], status: 400, detail: /model\.json is not valid JSON/, field: "model.json" },
    { name: "not a layers model", parts: [dataset(), file("model.json", JSON.stringify({ format: "graph-model", modelTopology: {}, weightsManifest: [] })), file("weights.bin", weights)], status: 400, detail: /layers models/ },
    { name: "no model.json", parts: [dataset(), file("weights.bin", weights)], status: 400, detail: /no model\.json/, field: "model.json" },
    { name: "missing weight file", parts: [dataset(), file("model.json", modelJson)], status: 400, detail: /weight file weights\.bin .*missing/, field: "weightsManifest[0].paths[0]" },
    { name: "byte count mismatch", parts: [dataset(), file("model.json", modelJson), file("weights.bin", weights.subarray(0, weights.length - 4))], status: 400, detail: /hold \d+ bytes, but its weights describe \d+/, field: "weightsManifest[0]" },
    { name: "extra file", parts: [dataset(), file("model.json", modelJson), file("weights.bin", weights), file("notes.bin", "x")], status: 400, detail: /notes\.bin is not named in model\.json's weightsManifest/, field: "notes.bin" },
    { name: "path traversal in the manifest", parts: [dataset(), file("model.json", withManifestPath("../weights.bin")), file("weights.bin", weights)], status: 400, detail: /not a plain weight file name/, field: "weightsManifest[0].paths[0]" },
    { name: "file uploaded twice", parts: [dataset(), file("model.json", modelJson), file("weights.bin", weights), file("weights.bin", weights)], status: 400, detail: /uploaded twice/ },
    { name: "no dataset field", parts: [file("model.json", modelJson), file("weights.bin", weights)], status: 400, detail: /dataset is required/, field: "dataset" },
    { name: "unknown dataset", parts: [dataset("cifar-10"), file("model.json", modelJson), file("weights.bin", weights)], status: 400, detail: /unknown data set "cifar-10" \(known: synthetic/, field: "dataset" },
    { name: "unknown form field", parts: [dataset(), { name: "strategy", content: "random" }, file("model.json", modelJson)], status: 400, detail: /unknown form field "strategy"/, field: "strategy" },
    { name: "wrong input shape", parts: [dataset(), ...(await modelParts(flat.dir))], status: 422, detail: /input shape \[batch, 64\] does not match data set synthetic: its images need \[batch, 8, 8, 1\]/, field: "inputShape" },
    { name: "wrong class count", parts: [dataset(), ...(await modelParts(fiveClasses.dir))], status: 422, detail: /output shape \[batch, 5\] does not match data set synthetic, which has 3 classes/, field: "numClasses" },
    { name: "oversize (declared length)", parts: [dataset(), file("model.json", modelJson), file("weights.bin", Buffer.alloc(MAX_BYTES * 2))], status: 413, detail: /exceeds 0\.063 MiB/ },
    { name: "too many files", parts: [dataset(), ...Array.from({ length: 7 }, (_, i) => file(`w${i}.bin`, "x"))], status: 413, detail: /at most 6 files/ },
    { name: "no key", parts: [dataset(), ...(await modelParts(model.dir))], headers: {}, status: 401, detail: /needs an API key/ },
    { name: "malformed Authorization", parts: [dataset(), ...(await modelParts(model.dir))], headers: { authorization: `Basic ${KEY}` }, status: 401, detail: /Bearer/ },
    { name: "wrong key", parts: [dataset(), ...(await modelParts(model.dir))], headers: { authorization: "Bearer not-the-key-0123456789abcdefghijklmnop" }, status: 403, detail: /not valid/ },
    { name: "wrong X-API-Key", parts: [dataset(), ...(await modelParts(model.dir))], headers: { "x-api-key": "nope" }, status: 403, detail: /not valid/ },
  ];
  for (const c of cases) {
    const res = await upload(api, c.parts, c.headers ?? AUTH);
    assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
    assert.match(res.contentType, /^application\/problem\+json/, c.name);
    assert.match(String(res.body.detail), c.detail, c.name);
    if (c.field !== undefined) assert.equal(res.body.field, c.field, c.name);
    if (c.status === 401) assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="pruning-advisor"', c.name);
    assert.doesNotMatch(JSON.stringify(res.body), new RegExp(KEY), `${c.name}: the key is never echoed`);
  }

  // Oversize without a declared length (chunked), in two files each below the limit: the limit on
  // the whole upload is enforced while streaming.
  const { body, contentType } = multipart([dataset(), file("model.json", modelJson), file("a.bin", Buffer.alloc(40 * 1024)), file("weights.bin", Buffer.alloc(40 * 1024))]);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < body.length; i += 16 * 1024) controller.enqueue(body.subarray(i, i + 16 * 1024));
      controller.close();
    },
  });
  const chunked = await api.call("POST", "/v1/models", { body: stream, headers: { "content-type": contentType, ...AUTH } });
  assert.equal(chunked.status, 413, JSON.stringify(chunked.body));
  assert.match(String(chunked.body.detail), /the upload exceeds/);
  assert.equal(chunked.body.field, "weights.bin");

  // Not multipart at all.
  const json = await api.call("POST", "/v1/models", { json: { dataset: "synthetic" }, headers: AUTH });
  assert.equal(json.status, 415);

  assert.equal(await modelCount(api), before, "nothing registered");
  assert.deepEqual(await listTree(modelsDir), [".staging"], "no model directory, no partial write, no staged upload left");

  // The server still works after all of that.
  const ok = await upload(api, [dataset(), ...(await modelParts(model.dir))]);
  assert.equal(ok.status, 201);
});

test("without configured keys, POST /v1/models answers 503 saying that keys must be configured", async (t) => {
  const data = await syntheticData(t);
  const api = await startApi(t, undefined, { uploads: { datasets: new Map([["synthetic", data.dir]]) } });
  for (const headers of [{}, AUTH]) {
    const res = await upload(api, [dataset()], headers);
    assert.equal(res.status, 503);
    assert.match(String(res.body.detail), /no API keys are configured.*ADVISOR_API_KEYS_FILE.*advisor keys hash/);
  }
});

test("read endpoints are open by default; with protectReads every /v1 operation needs a key, health checks stay open", async (t) => {
  const open = await startApi(t, undefined, { keys });
  assert.equal((await open.call("GET", "/v1/models")).status, 200);

  const api = await startApi(t, undefined, { keys, protectReads: true });
  const none = await api.call("GET", "/v1/models");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="pruning-advisor"');
  assert.equal((await api.call("GET", "/v1/matrix/versions", { headers: { "x-api-key": "wrong" } })).status, 403);
  assert.equal((await api.call("POST", "/v1/recommendations", { json: { norm: "linf", budget: 0.1, knowledge: "white-box", dataset: "fashion-mnist" } })).status, 401);
  assert.equal((await api.call("GET", "/v1/models", { headers: AUTH })).status, 200);
  assert.equal((await api.call("POST", "/v1/recommendations", { json: { norm: "linf", budget: 0.1, knowledge: "white-box", dataset: "fashion-mnist" }, headers: AUTH })).status, 200);
  assert.equal((await api.call("GET", "/healthz")).status, 200);
  assert.equal((await api.call("GET", "/readyz")).status, 200);
});
