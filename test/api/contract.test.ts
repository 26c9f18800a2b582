// openapi.yaml itself: the operations the API promises, with an example each, every example
// valid against its schema, every error documented as problem+json; and the validator rejects
// what it should (so the contract checks in the other API tests mean something).
import { test } from "node:test";
import assert from "node:assert/strict";
import { contract } from "./helpers.js";

const OPERATIONS = [
  "post /v1/recommendations",
  "post /v1/gate",
  "get /v1/matrix",
  "get /v1/matrix/curves",
  "get /v1/models",
  "get /v1/matrix/versions",
  "post /v1/models",
  "post /v1/models/{id}/refresh",
  "get /v1/jobs",
  "get /v1/jobs/{id}",
  "delete /v1/jobs/{id}",
];

test("openapi.yaml documents every operation with an example, and every example matches its schema", () => {
  for (const op of OPERATIONS) {
    const [method, path] = op.split(" ") as [string, string];
    assert.ok(contract.operation(method, path).operationId, op);
  }
  assert.deepEqual(contract.operationsWithoutExamples(), []);
  assert.deepEqual(contract.exampleProblems(), []);
});

test("every error response of the v1 operations is application/problem+json with a Problem schema carrying `field`", () => {
  const problem = contract.deref({ $ref: "#/components/schemas/Problem" });
  assert.ok((problem.properties as Record<string, unknown>).field);
  for (const op of OPERATIONS) {
    const [method, path] = op.split(" ") as [string, string];
    const responses = contract.operation(method, path).responses as Record<string, unknown>;
    const errors = Object.keys(responses).filter((s) => Number(s) >= 400);
    assert.ok(errors.length > 0, `${op} documents errors`);
    for (const status of errors) {
      const schema = contract.responseSchema(method, path, Number(status), "application/problem+json");
      assert.equal(contract.deref(schema), problem, `${op} ${status}`);
    }
    if (method === "post") for (const s of ["400", "413", "415", "503"]) assert.ok(s in responses, `${op} documents ${s}`);
  }
});

test("POST /v1/models requires an API key (bearer or X-API-Key) and documents 401 with WWW-Authenticate and 403", () => {
  const op = contract.operation("post", "/v1/models");
  assert.deepEqual(op.security, [{ BearerKey: [] }, { ApiKeyHeader: [] }]);
  const schemes = (contract.doc.components as { securitySchemes: Record<string, { type: string }> }).securitySchemes;
  assert.equal(schemes.BearerKey?.type, "http");
  assert.equal(schemes.ApiKeyHeader?.type, "apiKey");
  const responses = op.responses as Record<string, unknown>;
  for (const s of ["201", "200", "400", "401", "403", "409", "413", "415", "422", "503"]) assert.ok(s in responses, `documents ${s}`);
  assert.ok((contract.deref(responses["401"]).headers as Record<string, unknown>)["WWW-Authenticate"]);
});

test("the contract validator rejects wrong types, missing fields, unknown enum values and extra fields where forbidden", () => {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  assert.deepEqual(contract.validate(ref("Problem"), { type: "about:blank", title: "x", status: 400, field: "budget" }), []);
  assert.ok(contract.validate(ref("Problem"), { type: "about:blank", title: "x" }).length > 0);
  assert.ok(contract.validate(ref("Problem"), { type: "about:blank", title: "x", status: 700 }).length > 0);
  assert.ok(contract.validate(ref("Scenario"), { norm: "l3", budget: 1, knowledge: "white-box" }).length > 0);
  assert.ok(contract.validate(ref("Scenario"), { norm: "l2", budget: 1, knowledge: "white-box", extra: 1 }).length > 0);
  assert.ok(contract.validate(ref("MatrixPage"), { version: 1, rows: [], nextCursor: 5 }).length > 0);
  assert.deepEqual(contract.validate(ref("MatrixPage"), { version: 1, rows: [], nextCursor: null }), []);
  // oneOf with null
  assert.deepEqual(contract.validate(ref("VersionsResponse"), { latest: null, versions: [] }), []);
  assert.ok(contract.validate(ref("VersionsResponse"), { latest: 1.5, versions: [] }).length > 0);
  assert.throws(() => contract.check("POST", "/v1/gate", 418, "application/json", {}), /does not document status 418/);
  assert.throws(() => contract.check("POST", "/v1/gate", 400, "application/json", {}), /does not document application\/json/);
});
