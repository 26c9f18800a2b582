// Issue 20, without a browser: the build of the page (web/build.ts, what `npm run build` runs) and
// how the service serves it — index.html under a Content-Security-Policy that allows this origin
// only, hashed assets cached for good and sent gzip-compressed when the client accepts it, a
// clear 404 when the page is not built — and the command lines the page shows for a question.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { createApp } from "../../src/api/app.js";
import { PAGE_CSP } from "../../src/api/web.js";
import { createLogger } from "../../src/logger.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { migrationsDir, openapiPath } from "../../src/paths.js";
import type { components } from "../../src/api/schema.gen.js";
import { schemasFor } from "../../web/build.js";
import { cliArgs, cliCommand, curlCommand, shellQuote } from "../../web/src/reproduce.js";
import { cliFlag } from "../../web/src/scenario-fields.js";
import { tempDir } from "../matrix/fixtures.js";
import { builtPage } from "./helpers.js";

type Scenario = components["schemas"]["Scenario"];

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

async function serve(t: TestContext, webDir: string): Promise<string> {
  const dir = await tempDir(t, "advisor-web-serve-");
  const store = await MatrixStore.open(path.join(dir, "matrix.sqlite"));
  const app = createApp({ db: store.db, store, logger: createLogger("silent"), migrationsDir, openapiPath, version: "0.0.0-test", webDir });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("the build: a hashed entry script, the chart chunk it imports (preloaded), a style sheet, each with a gzip copy, named in index.html", async () => {
  const { build, dir } = await builtPage();
  const assets = build.files.filter((f) => f.name.startsWith("assets/"));
  const [entry, ...rest] = assets;
  assert.match(entry!.name, /^assets\/app-[A-Z0-9]+\.js$/);
  const chunks = rest.filter((f) => f.name.endsWith(".js"));
  assert.ok(chunks.some((c) => /^assets\/charts-[A-Z0-9]+\.js$/.test(c.name)), "the charts in a chunk of their own");
  const styles = rest.filter((f) => f.name.endsWith(".css"));
  assert.equal(styles.length, 1);
  assert.match(styles[0]!.name, /^assets\/app-[A-Z0-9]+\.css$/);
  assert.equal(build.files.at(-1)!.name, "index.html");
  const html = await readFile(path.join(dir, "index.html"), "utf8");
  assert.ok(html.includes(`<script type="module" src="/${entry!.name}"></script>`));
  for (const c of chunks) assert.ok(html.includes(`<link rel="modulepreload" href="/${c.name}" />`), c.name);
  assert.ok(html.includes(`href="/${styles[0]!.name}"`));
  assert.ok(!html.includes("{{"), "no placeholder left");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script (the CSP forbids it)");
  for (const f of assets) {
    const body = await readFile(path.join(dir, f.name));
    assert.equal(body.length, f.bytes);
    assert.deepEqual(gunzipSync(await readFile(path.join(dir, `${f.name}.gz`))), body);
    assert.ok(f.gzipBytes < f.bytes);
  }
});

test("the build embeds the request schemas the form is made from: Scenario and every schema it references", async () => {
  const spec = parse(await readFile(openapiPath, "utf8")) as Record<string, unknown>;
  const schemas = schemasFor(spec, ["Scenario"]);
  assert.deepEqual(Object.keys(schemas).sort(), ["Knowledge", "Norm", "Scenario", "SizeLimit"]);
  assert.throws(() => schemasFor(spec, ["NoSuchSchema"]), /no schema NoSuchSchema/);
});

test("GET / serves the page under a CSP allowing only this origin; assets are immutable and gzip-compressed on request", async (t) => {
  const { build } = await builtPage();
  const base = await serve(t, build.dir);
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(page.headers.get("content-security-policy"), PAGE_CSP);
  assert.match(PAGE_CSP, /default-src 'none'/);
  assert.match(PAGE_CSP, /script-src 'self'(;|$)/);
  assert.match(PAGE_CSP, /connect-src 'self'(;|$)/);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  const html = await page.text();
  for (const f of build.files.filter((x) => x.name.startsWith("assets/"))) {
    assert.ok(html.includes(`/${f.name}`));
    const original = await readFile(path.join(build.dir, f.name));
    // fetch() asks for gzip and decodes it: the same bytes.
    const zipped = await fetch(`${base}/${f.name}`);
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers.get("content-encoding"), "gzip");
    assert.equal(zipped.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(zipped.headers.get("content-type") ?? "", f.name.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
    assert.deepEqual(Buffer.from(await zipped.arrayBuffer()), original);
    const plain = await fetch(`${base}/${f.name}`, { headers: { "accept-encoding": "identity" } });
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.deepEqual(Buffer.from(await plain.arrayBuffer()), original);
  }
  for (const bad of ["/assets/nope.js", "/assets/..%2Findex.html", "/assets/app.exe", "/index.html.gz"]) {
    const res = await fetch(`${base}${bad}`);
    assert.equal(res.status, 404, bad);
    assert.match(res.headers.get("content-type") ?? "", /problem\+json/);
  }
});

test("without a built page GET / is a 404 problem saying to run npm run build; the API is unaffected", async (t) => {
  const dir = await tempDir(t, "advisor-no-web-");
  const base = await serve(t, path.join(dir, "web"));
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { detail: string }).detail, /the web page is not built .*run `npm run build`/);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

test("the command lines of a question: every field as the CLI names it, values shell-quoted, no API key in them", () => {
  const s: Scenario = { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4, structuredOnly: true }, minCleanAccuracy: 0.8, modelId: "abc", allowUnsoundEvidence: false };
  assert.deepEqual(cliArgs(s, "http://127.0.0.1:8080"), [
    "advisor", "recommend", "--url", "http://127.0.0.1:8080",
    "--norm", "linf", "--budget", "0.03", "--knowledge", "white-box",
    "--min-compression", "4", "--structured-only", "--min-clean-accuracy", "0.8", "--model", "abc",
  ]);
  // A field the page's list does not describe yet gets the CLI's kebab-case name.
  assert.equal(cliFlag("adversarialShare"), "--adversarial-share");
  assert.equal(cliFlag("sizeLimit.maxBytes"), "--max-bytes");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("lenet5"), "lenet5");
  assert.equal(cliCommand({ norm: "l2", budget: 1, knowledge: "transfer", architecture: "my net" }, "http://h:1"), "advisor recommend --url http://h:1 --norm l2 --budget 1 --knowledge transfer --architecture 'my net'");
  const curl = curlCommand(s, "http://127.0.0.1:8080", true);
  assert.match(curl, /-H "X-API-Key: \$ADVISOR_API_KEY"/);
  assert.ok(curl.includes(`-d '${JSON.stringify(s)}'`));
  assert.doesNotMatch(curlCommand(s, "http://127.0.0.1:8080", false), /API-Key/);
});
