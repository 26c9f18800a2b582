// Issue 16.1: a multipart upload whose file part never reaches its closing boundary killed the
// process (busboy's file stream emitted 'error' with nobody listening). It must answer 400
// problem+json, keep serving, and leave nothing in staging.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { modelsDirFor } from "../../src/models/storage.js";
import { startApi } from "../api/helpers.js";
import { listTree, syntheticData } from "../models/helpers.js";

const KEY = "test-key-0123456789abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("ci", KEY)));

const TRUNCATED = [
  // The reproducer of the issue: the file part has no closing boundary at all.
  '--b0undary\r\nContent-Disposition: form-data; name="files"; filename="model.json"\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n',
  // Cut inside the part headers.
  '--b0undary\r\nContent-Disposition: form-data; name="files"; filena',
  // A field, then a file cut mid-content.
  '--b0undary\r\nContent-Disposition: form-data; name="dataset"\r\n\r\nsynthetic\r\n--b0undary\r\nContent-Disposition: form-data; name="files"; filename="weights.bin"\r\n\r\n\x00\x01\x02',
  // Only the preamble.
  "--b0und",
];

test("truncated multipart uploads answer 400 problem+json, the server keeps serving, staging stays empty", async (t) => {
  const data = await syntheticData(t);
  const api = await startApi(t, undefined, { keys, uploads: { datasets: new Map([["synthetic", data.dir]]), maxBytes: 64 * 1024 } });
  for (const body of TRUNCATED) {
    const res = await api.call("POST", "/v1/models", {
      body,
      headers: { authorization: `Bearer ${KEY}`, "content-type": "multipart/form-data; boundary=b0undary" },
    });
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.equal(res.contentType, "application/problem+json; charset=utf-8");
    assert.match(String(res.body.detail), /multipart|unexpected end|no files/i);
    const health = await api.call("GET", "/healthz");
    assert.equal(health.status, 200, "the server still answers");
  }
  assert.deepEqual(await listTree(modelsDirFor(api.dbFile)), [".staging"], "nothing left in staging");
});
