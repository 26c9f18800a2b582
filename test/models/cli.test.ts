// The command line side: `advisor keys hash`, keys files (hashed only; a plain key is refused and
// never printed), `advisor models add`, and TensorFlow.js staying out of the API process until a
// model arrives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, resolveServeConfig } from "../../src/config.js";
import { ApiKeys } from "../../src/auth/keys.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { runCli, root, startService } from "../helpers/cli.js";
import { tempDir } from "../matrix/fixtures.js";
import { listTree, modelParts, multipart, syntheticData, tinyModel } from "./helpers.js";

const PLAIN = "plain-text-secret-key-0123456789-abcdefghij";
const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

async function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

test("advisor keys hash prints a name:sha256hex line that configures the key; short keys are refused", async (t) => {
  const r = await runWithStdin(["keys", "hash", "--name", "ci"], `${PLAIN}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ci:[0-9a-f]{64}\n$/);
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(PLAIN), "the key is not echoed");

  const dir = await tempDir(t, "advisor-keys-");
  const file = path.join(dir, "keys");
  await writeFile(file, `# API keys\n${r.stdout}\n`);
  const config = resolveServeConfig({ apiKeysFile: file }, {});
  const keys = new ApiKeys(config.apiKeysFile ?? []);
  assert.equal(keys.verify(PLAIN), "ci");
  assert.equal(keys.verify(PLAIN.slice(0, -1)), null);
  assert.equal(keys.verify(""), null);

  const short = await runWithStdin(["keys", "hash", "--name", "ci"], "short\n");
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 32/);
});

test("a keys file with a plain-text key is refused in one line that never shows the key; so are inline plain keys", async (t) => {
  const dir = await tempDir(t, "advisor-keys-");
  const file = path.join(dir, "keys");
  await writeFile(file, `ok:${"a".repeat(64)}\nci:${PLAIN}\n`);
  assert.throws(
    () => resolveServeConfig({}, { ADVISOR_API_KEYS_FILE: file }),
    (err: Error) => err instanceof ConfigError && /apiKeysFile from environment variable ADVISOR_API_KEYS_FILE: entry 2 is not name:sha256hex/.test(err.message) && !err.message.includes(PLAIN),
  );
  assert.throws(
    () => resolveServeConfig({}, { ADVISOR_API_KEYS: `ci:${PLAIN}` }),
    (err: Error) => err instanceof ConfigError && /invalid apiKeys from environment variable ADVISOR_API_KEYS/.test(err.message) && !err.message.includes(PLAIN),
  );
  assert.throws(() => resolveServeConfig({}, { ADVISOR_PROTECT_READS: "true" }), /protectReads.*needs API keys/);
  assert.throws(() => resolveServeConfig({ apiKeysFile: path.join(dir, "missing") }, {}), /invalid apiKeysFile from --api-keys-file: file not found/);
  assert.throws(() => resolveServeConfig({}, { ADVISOR_UPLOAD_MAX_BYTES: "lots" }), /invalid uploadMaxBytes from environment variable ADVISOR_UPLOAD_MAX_BYTES/);
  assert.equal(resolveServeConfig({}, { ADVISOR_UPLOAD_MAX_BYTES: "2M" }).uploadMaxBytes, 2 * 1024 * 1024);
  assert.throws(() => resolveServeConfig({ datasets: "fashion-mnist" }, {}), /invalid datasets from --datasets: expected name=directory/);

  const r = await runCli(["serve", "--port", "0", "--db", path.join(dir, "a.sqlite"), "--api-keys-file", file]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /invalid apiKeysFile from --api-keys-file: entry 2 is not name:sha256hex .*plain-text keys are refused/);
  assert.doesNotMatch(r.stderr + r.stdout, new RegExp(PLAIN));
});

test("advisor models add registers a model (same id the second time, exit 0) and refuses bad input with one line, exit 2", async (t) => {
  const data = await syntheticData(t);
  const model = await tinyModel(t, { seed: 21, architecture: "tiny-from-metadata" });
  const dir = await tempDir(t, "advisor-add-");
  const db = path.join(dir, "matrix.sqlite");
  const env = { ADVISOR_DATASETS: `synthetic=${data.dir}` };

  const first = await runCli(["models", "add", model.dir, "--data", "synthetic", "--db", db], env);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `${model.metadata.weightsSha256}\n`);
  assert.match(first.stderr, /^registered: tiny-from-metadata for synthetic, input \[8,8,1\], 3 classes/);
  const second = await runCli(["models", "add", model.dir, "--data", "synthetic", "--db", db, "--json"], env);
  assert.equal(second.code, 0, second.stderr);
  const again = JSON.parse(second.stdout) as { id: string; created: boolean };
  assert.equal(again.id, model.metadata.weightsSha256);
  assert.equal(again.created, false);

  const bad = await tempDir(t, "advisor-bad-");
  await writeFile(path.join(bad, "model.json"), "{ not json");
  const cases: [string[], RegExp][] = [
    [["models", "add", bad, "--data", "synthetic", "--db", db], /model\.json is not valid JSON/],
    [["models", "add", model.dir, "--data", "cifar-10", "--db", db], /--data: unknown data set "cifar-10" \(known: synthetic/],
    [["models", "add", path.join(bad, "nope"), "--data", "synthetic", "--db", db], /is not a directory/],
    [["models", "add", (await tinyModel(t, { seed: 22, classes: 4 })).dir, "--data", "synthetic", "--db", db], /output shape \[batch, 4\] does not match data set synthetic/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, env);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
  }

  const store = await MatrixStore.open(db);
  const rows = await store.db.all<{ id: string; architecture: string; model_dir: string }>("SELECT id, architecture, model_dir FROM models");
  await store.close();
  assert.deepEqual(rows, [{ id: model.metadata.weightsSha256, architecture: "tiny-from-metadata", model_dir: `models/${model.metadata.weightsSha256}` }]);
  const tree = await listTree(path.join(dir, "models"));
  assert.deepEqual(tree.filter((p) => !p.includes("/")), [model.metadata.weightsSha256], "one model directory, no leftovers");
});

test("the API process does not load TensorFlow.js until a model is uploaded", async () => {
  const script = `await import(${JSON.stringify(path.join(root, "src/cli/serve.ts"))}); await import(${JSON.stringify(path.join(root, "src/api/app.ts"))});
process.stdout.write(String(globalThis._tfengine === undefined));`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0);
  assert.equal(out, "true");
});

test("advisor serve with a keys file and data sets: an upload with the key is registered, the key never appears in the logs", async (t) => {
  const data = await syntheticData(t);
  const model = await tinyModel(t, { seed: 31 });
  const dir = await tempDir(t, "advisor-serve-");
  const hashed = await runWithStdin(["keys", "hash", "--name", "uploader"], PLAIN);
  await writeFile(path.join(dir, "keys"), hashed.stdout);
  const svc = await startService(["--db", path.join(dir, "matrix.sqlite"), "--api-keys-file", path.join(dir, "keys"), "--datasets", `synthetic=${data.dir}`, "--upload-max-bytes", "1M"]);
  t.after(() => void svc.child.kill("SIGTERM"));
  const { body, contentType } = multipart([{ name: "dataset", content: "synthetic" }, ...(await modelParts(model.dir))]);
  const post = (headers: Record<string, string>) => fetch(`${svc.baseUrl}/v1/models`, { method: "POST", body, headers: { "content-type": contentType, ...headers } });
  assert.equal((await post({})).status, 401);
  const ok = await post({ authorization: `Bearer ${PLAIN}` });
  assert.equal(ok.status, 201);
  assert.equal(((await ok.json()) as { id: string }).id, model.metadata.weightsSha256);
  assert.equal((await post({ "x-api-key": PLAIN })).status, 200);
  svc.child.kill("SIGTERM");
  await once(svc.child, "exit");
  assert.match(svc.logs(), /"apiKey":"uploader"/, "the key's name is logged");
  assert.doesNotMatch(svc.logs(), new RegExp(PLAIN), "the key is not");
});
