import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import os from "node:os";
import path from "node:path";
import { root, runCli, startService } from "../helpers/cli.js";

const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { version: string };

function assertOneCleanLine(stderr: string, mentions: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0] ?? "", /^advisor: /);
  assert.match(lines[0] ?? "", mentions);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
}

test("advisor --version prints the package version", async () => {
  const r = await runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test("serve answers /healthz, /readyz and /openapi.yaml with request ids", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const svc = await startService(["--db", path.join(dir, "sub", "a.sqlite")]);
  t.after(() => svc.child.kill("SIGKILL"));

  const health = await fetch(`${svc.baseUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok", version: pkg.version });
  assert.match(health.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);

  const ready = await fetch(`${svc.baseUrl}/readyz`, { headers: { "X-Request-Id": "trace-42" } });
  assert.equal(ready.status, 200);
  assert.equal(ready.headers.get("x-request-id"), "trace-42");
  const body = (await ready.json()) as { status: string; schemaVersion: number };
  assert.equal(body.status, "ready");
  assert.ok(body.schemaVersion >= 1);

  const spec = await fetch(`${svc.baseUrl}/openapi.yaml`);
  assert.equal(spec.status, 200);
  assert.equal(await spec.text(), await readFile(path.join(root, "openapi.yaml"), "utf8"));

  const missing = await fetch(`${svc.baseUrl}/nope`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get("content-type") ?? "", /^application\/problem\+json/);

  // Every request was logged as JSON carrying its id.
  assert.match(svc.logs(), /"req":\{"id":"trace-42","method":"GET","url":"\/readyz"\}/);

  svc.child.kill("SIGTERM");
  const [code] = (await once(svc.child, "exit")) as [number | null];
  assert.equal(code, 0, "SIGTERM shuts down cleanly");
});

test("a non-numeric PORT is one clear line and exit 2", async () => {
  const r = await runCli(["serve"], { PORT: "eighty" });
  assert.equal(r.code, 2);
  assertOneCleanLine(r.stderr, /port.*PORT.*"eighty"/);
});

test("an invalid --port is one clear line and exit 2", async () => {
  for (const bad of ["70000", "-1", "12.5", ""]) {
    const r = await runCli(["serve", "--port", bad]);
    assert.equal(r.code, 2, `port ${JSON.stringify(bad)}`);
    assertOneCleanLine(r.stderr, /port.*--port/);
  }
});

test("an unwritable database path is one clear line and a non-zero exit", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "plain-file");
  await writeFile(file, "not a directory");
  // A parent that is a file, and a file system nobody may create files on (we may run as root,
  // so permission bits alone would not stop us).
  for (const db of [path.join(file, "advisor.sqlite"), "/proc/advisor.sqlite"]) {
    const r = await runCli(["serve", "--port", "0", "--db", db]);
    assert.notEqual(r.code, 0, db);
    assertOneCleanLine(r.stderr, /cannot open database/);
  }
});

test("a file that is not a database is one clear line and a non-zero exit", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "junk.sqlite");
  await writeFile(file, "x".repeat(4096));
  const r = await runCli(["serve", "--port", "0"], { ADVISOR_DB: file });
  assert.notEqual(r.code, 0);
  assertOneCleanLine(r.stderr, /cannot open database.*not a database/);
});

test("an unknown option is a usage error with exit 2", async () => {
  const r = await runCli(["serve", "--prot", "1"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option/);
});
