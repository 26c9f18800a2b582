// Issue 16.1: an unexpected error (a bug, a database failure) answers 500 problem+json without
// internals, and the service keeps serving.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApi } from "../api/helpers.js";

test("an error thrown inside a route answers 500 problem+json and the next requests are served", async (t) => {
  const api = await startApi(t);
  const original = api.store.listVersions.bind(api.store);
  api.store.listVersions = () => Promise.reject(new Error("SQLITE_IOERR: disk I/O error at /secret/path"));
  const res = await api.call("GET", "/v1/matrix/versions");
  assert.equal(res.status, 500);
  assert.equal(res.contentType, "application/problem+json; charset=utf-8");
  assert.equal(res.body.title, "Internal Server Error");
  assert.doesNotMatch(JSON.stringify(res.body), /SQLITE|secret/, "no internals in the answer");
  assert.equal((await api.call("GET", "/healthz")).status, 200);
  api.store.listVersions = original;
  assert.equal((await api.call("GET", "/v1/matrix/versions")).status, 200);
});
