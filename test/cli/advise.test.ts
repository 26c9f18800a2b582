// `advisor gate` and `advisor recommend` as a CI pipeline runs them: exit codes 0 / 1 / 2, the
// JUnit report, --json, against a database file (--db) and a running service (--url).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { MatrixStore } from "../../src/matrix/store.js";
import { gateAction, recommendAction } from "../../src/cli/advise-actions.js";
import type { GateFlags } from "../../src/cli/advise.js";
import { exitCodeFor, UsageError } from "../../src/cli/errors.js";
import { runCli } from "../helpers/cli.js";
import { fixtureModel, fixtureModelId, tempDir } from "../matrix/fixtures.js";
import { UPLOAD_SOURCE } from "../../src/models/storage.js";
import { buildFixtureMatrix, MODEL_A, MODEL_B, startApi } from "../api/helpers.js";

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

async function fixtureDb(t: TestContext): Promise<{ dir: string; db: string }> {
  const dir = await tempDir(t, "advisor-cli-");
  const db = path.join(dir, "matrix.sqlite");
  const store = await MatrixStore.open(db);
  await buildFixtureMatrix(store);
  await store.close();
  return { dir, db };
}

const scenarioArgs = ["--norm", "linf", "--budget", "0.1", "--knowledge", "white-box", "--model", MODEL_A];

test("gate --db: exit 0 on pass and 1 on fail, with a JUnit report of one testcase per check", async (t) => {
  const { dir, db } = await fixtureDb(t);
  const passJunit = path.join(dir, "reports", "pass.xml");
  const pass = await runCli(["gate", "--db", db, ...scenarioArgs, "--strategy", "global-magnitude", "--rate", "4", "--min-robust-accuracy", "0.4", "--max-drop", "0.02", "--junit", passJunit]);
  assert.equal(pass.code, 0, pass.stderr + pass.stdout);
  assert.match(pass.stdout, /^PASS: global-magnitude 4×/);
  const px = await readFile(passJunit, "utf8");
  assert.match(px, /^<\?xml version="1\.0"/);
  assert.match(px, /<testsuite name="advisor\.gate\.global-magnitude@4" tests="3" failures="0" errors="0"/);
  assert.equal(px.match(/<testcase /g)?.length, 3, "evidence, minRobustAccuracy, maxDropVsDense");
  assert.doesNotMatch(px, /<failure/);

  const failJunit = path.join(dir, "fail.xml");
  const fail = await runCli(["gate", "--db", db, ...scenarioArgs, "--max-parameters", "20000", "--strategy", "random", "--rate", "4", "--max-drop", "0.05", "--junit", failJunit, "--json"]);
  assert.equal(fail.code, 1, fail.stderr);
  const body = JSON.parse(fail.stdout) as { pass: boolean; checks: { check: string; pass: boolean }[]; matrixVersion: number };
  assert.equal(body.pass, false);
  assert.equal(body.matrixVersion, 1);
  const fx = await readFile(failJunit, "utf8");
  assert.equal(fx.match(/<testcase /g)?.length, body.checks.length);
  assert.match(fx, /failures="1"/);
  assert.match(fx, /<failure message="[^"]*maxDropVsDense/);
});

test("gate: bad input and an unreachable server exit 2 with a JUnit error; the other no-verdict cases are UsageErrors (exit 2)", async (t) => {
  const { dir, db } = await fixtureDb(t);
  const junit = path.join(dir, "error.xml");
  // Two real processes for the exit code as a pipeline sees it …
  const bad = await runCli(["gate", "--db", db, ...scenarioArgs, "--strategy", "global-magnitude", "--rate", "4", "--junit", `${junit}.bad`]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^advisor: --min-robust-accuracy\/--min-aggregated-accuracy\/--max-drop: the gate needs at least one threshold/);
  assert.match(await readFile(`${junit}.bad`, "utf8"), /errors="1"[\s\S]*<error /);
  const down = await runCli(["gate", "--url", "http://127.0.0.1:9", ...scenarioArgs, "--strategy", "dense", "--rate", "1", "--min-robust-accuracy", "0.1", "--junit", `${junit}.down`]);
  assert.equal(down.code, 2, down.stderr);
  assert.match(down.stderr, /^advisor: cannot reach the service at http:\/\/127\.0\.0\.1:9/);
  assert.match(await readFile(`${junit}.down`, "utf8"), /<error message="cannot reach/);

  // … and the rest in-process: each is a UsageError, which main.ts turns into exit 2.
  const base: GateFlags = { db, norm: "linf", budget: 0.1, knowledge: "white-box", model: MODEL_A, strategy: "dense", rate: 1, minRobustAccuracy: 0.1, timeout: 5000 };
  const cases: [Partial<GateFlags>, RegExp][] = [
    [{ norm: "l0", budget: 2.5 }, /^--budget: .*integer/],
    [{ norm: "l0", budget: 100000 }, /^--budget: .*exceeds the 784 input features/],
    [{ norm: "l3" }, /^--norm: unknown norm "l3"/],
    [{ knowledge: "grey-box" }, /^--knowledge: unknown attacker knowledge/],
    [{ strategy: "random", rate: 64 }, /^--strategy\/--rate: no candidate random at rate 64 .*available: dense@1/],
    [{ model: "nope" }, /^--model: no model matches modelId "nope"/],
    [{ maxParameters: 0 }, /^--max-parameters: /],
    [{ minRobustAccuracy: 40 }, /^--min-robust-accuracy: /],
    // A missing file is created from the shipped matrix (test/hardening/cli-fresh-db.test.ts) unless seeding is off.
    [{ db: path.join(dir, "missing.sqlite") }, /^--db: no such database file: .*ADVISOR_SEED_MATRIX=none/],
    [{ url: "http://127.0.0.1:9" }, /exactly one of --url .* or --db/],
  ];
  const seedSetting = process.env.ADVISOR_SEED_MATRIX;
  process.env.ADVISOR_SEED_MATRIX = "none";
  t.after(() => {
    if (seedSetting === undefined) delete process.env.ADVISOR_SEED_MATRIX;
    else process.env.ADVISOR_SEED_MATRIX = seedSetting;
  });
  for (const [i, [flags, message]] of cases.entries()) {
    const file = `${junit}.${i}`;
    await assert.rejects(gateAction({ ...base, ...flags, junit: file }), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(exitCodeFor(err), 2);
      assert.match(err.message, message);
      return true;
    });
    assert.match(await readFile(file, "utf8"), /<error /);
  }
});

test("gate and recommend --url against a running service; recommend --db in-process", async (t) => {
  const api = await startApi(t);
  const gatePass = await runCli(["gate", "--url", api.baseUrl, ...scenarioArgs, "--strategy", "global-magnitude", "--rate", "4", "--min-robust-accuracy", "0.4"]);
  assert.equal(gatePass.code, 0, gatePass.stderr);
  assert.match(gatePass.stdout, /^PASS: global-magnitude 4× \(matrix version 1\)/);
  const rec = await runCli(["recommend", "--url", `${api.baseUrl}/`, ...scenarioArgs, "--json"]);
  assert.equal(rec.code, 0, rec.stderr);
  const r = JSON.parse(rec.stdout) as { status: string; matrixVersion: number; recommendation: { strategy: string } };
  assert.equal(r.status, "ok");
  assert.equal(r.recommendation.strategy, "global-magnitude");

  // Same question through the HTTP API (in-process gate) and the database: same verdict.
  const flags: GateFlags = { url: api.baseUrl, norm: "linf", budget: 0.1, knowledge: "white-box", model: MODEL_A, strategy: "random", rate: 4, minRobustAccuracy: 0.5, timeout: 5000 };
  const viaUrl = await captureStdout(() => gateAction(flags));
  const viaDb = await captureStdout(() => gateAction({ ...flags, url: undefined, db: api.dbFile }));
  assert.equal(process.exitCode, 1);
  process.exitCode = 0;
  assert.match(viaUrl, /^FAIL: random 4×[\s\S]*FAIL minRobustAccuracy/);
  assert.equal(viaDb, viaUrl);
  const recDb = await captureStdout(() => recommendAction({ db: api.dbFile, norm: "linf", budget: 0.1, knowledge: "white-box", model: MODEL_A, structuredOnly: true, timeout: 5000 }));
  assert.match(recDb, /^matrix version 1: ok\nrecommendation: dense 1×/);
});

test("recommend/gate --db answer from the service's model set: uploaded models only when named, 'refresh first' for one without rows", async (t) => {
  const { db } = await fixtureDb(t);
  const store = await MatrixStore.open(db);
  await store.db.run("UPDATE models SET metadata = json_set(metadata, '$.source', ?) WHERE id = ?", [UPLOAD_SOURCE, MODEL_B]);
  const unmeasured = fixtureModelId("uploaded, not refreshed");
  await store.upsertModel(fixtureModel({ id: unmeasured }));
  await store.db.run("UPDATE models SET metadata = json_set(metadata, '$.source', ?) WHERE id = ?", [UPLOAD_SOURCE, unmeasured]);
  await store.close();

  const cited = (json: string): string[] => [...new Set((JSON.parse(json) as { evidence: { candidate: { modelId: string } }[] }).evidence.map((e) => e.candidate.modelId))];
  const base = { db, norm: "linf", budget: 0.1, knowledge: "white-box", timeout: 5000, json: true, include: "evidence" } as const;
  assert.deepEqual(cited(await captureStdout(() => recommendAction(base))), [MODEL_A], "B is uploaded: not in the default set");
  assert.deepEqual(cited(await captureStdout(() => recommendAction({ ...base, model: MODEL_B }))), [MODEL_B]);
  await assert.rejects(recommendAction({ ...base, dataset: "mnist" }), (err: unknown) => err instanceof UsageError && /^--dataset: /.test(err.message));
  await assert.rejects(recommendAction({ ...base, model: unmeasured }), (err: unknown) => err instanceof UsageError && /^--model: model [0-9a-f]+ .*is registered, but matrix version 1 holds no rows for it yet: refresh/.test(err.message));
  const gate = await runCli(["gate", "--db", db, "--norm", "linf", "--budget", "0.1", "--knowledge", "white-box", "--model", unmeasured, "--strategy", "dense", "--rate", "1", "--min-robust-accuracy", "0.1"]);
  assert.equal(gate.code, 2, gate.stderr);
  assert.match(gate.stderr, /--model: .*refresh the matrix for this model first/);
});

async function captureStdout(fn: () => Promise<void>): Promise<string> {
  const original = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return out;
}
