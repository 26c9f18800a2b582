// Issue 20: the web page, in a real browser (Debian's chromium through playwright-core) against
// the service on the shipped matrix. The page must show what the API answers — for three
// scenarios asked through the form — draw a curve per candidate with its band and the budget
// marker, a heatmap cell per candidate of the model, show a clicked cell's evidence rows, follow a
// refresh job, work with the keyboard, on a narrow window and behind an API key, load nothing
// from another origin and log no error. Screenshots go to test-output/web/ for a person to look at.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { loadGrid } from "../../src/matrix/grid.js";
import { parseMatrixRow } from "../../src/matrix/row.js";
import { evaluationFields } from "../../src/matrix/jsonl.js";
import { defaultRefreshGridPath } from "../../src/paths.js";
import type { components } from "../../src/api/schema.gen.js";
import { candidateKey, candidateName, pct, sameSchedule } from "../../web/src/format.js";
import { scenarioLeaves } from "../../web/src/reproduce.js";
import { contract } from "../api/helpers.js";
import { root } from "../helpers/cli.js";
import { answered, launchChromium, noBrowser, openPage, shot, startSite, type Site } from "./helpers.js";

type Schemas = components["schemas"];
type Scenario = Schemas["Scenario"];
type Recommendation = Schemas["Recommendation"];
type CandidateSummary = Schemas["CandidateSummary"];

const run = promisify(execFile);
const skip = noBrowser;

let site: Site;
let browser: Browser;

before(async () => {
  if (skip) return;
  [site, browser] = await Promise.all([startSite(), launchChromium()]);
});

after(async () => {
  await browser?.close();
  await site?.close();
});

async function api<T>(method: "GET" | "POST", p: string, body?: unknown, base = site.baseUrl): Promise<T> {
  const res = await fetch(base + p, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${p}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** What the browser logged as errors, less the failed requests a test provoked on purpose. */
function unexpected(errors: readonly string[], allowedStatuses: readonly number[] = []): string[] {
  return errors.filter((e) => !allowedStatuses.some((s) => e.includes(`status of ${s}`)));
}

function sameOrigin(requests: readonly string[], base: string): string[] {
  return requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith("data:"));
}

/** Polls `check` (every 100 ms) until it holds; fails naming `what` after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function evaluate<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

/** Sets every control of the form to the scenario (empties the others) and submits it. */
async function ask(page: Page, s: Scenario): Promise<void> {
  const values = new Map(scenarioLeaves(s));
  for (const c of await page.locator("#scenario-form select[name]").all()) {
    const name = (await c.getAttribute("name"))!;
    await c.selectOption(String(values.get(name) ?? ""));
  }
  for (const c of await page.locator("#scenario-form input[type=checkbox][name]").all()) {
    await c.setChecked(values.get((await c.getAttribute("name"))!) === true);
  }
  for (const c of await page.locator("#scenario-form input[type=number][name], #scenario-form input[type=text][name]").all()) {
    const v = values.get((await c.getAttribute("name"))!);
    await c.fill(v === undefined ? "" : String(v));
  }
  await page.getByRole("button", { name: "Recommend", exact: true }).click();
  await answered(page);
}

const SCENARIOS: { name: string; scenario: Scenario }[] = [
  { name: "linf-min-compression", scenario: { norm: "linf", budget: 0.03, knowledge: "white-box", sizeLimit: { minCompression: 4 } } },
  { name: "l2-lenet5-max-bytes", scenario: { norm: "l2", budget: 1, knowledge: "transfer", architecture: "lenet5", sizeLimit: { maxBytes: 200_000 } } },
  { name: "l0-structured", scenario: { norm: "l0", budget: 12, knowledge: "black-box", sizeLimit: { structuredOnly: true }, minCleanAccuracy: 0.85 } },
  // lenet300 holds both schedules: one-shot and cumulative variants of a strategy and rate are two
  // candidates, two heatmap cells and (as runner-up here) their own curve.
  { name: "linf-lenet300-both-schedules", scenario: { norm: "linf", budget: 0.01, knowledge: "white-box", architecture: "lenet300", sizeLimit: { minCompression: 4 } } },
];

const ALL = "?include=all-alternatives,unscored";

/** The checks of one answered scenario: the page against the API's own answers. */
async function checkAnswer(page: Page, s: Scenario, name: string): Promise<void> {
  const lean = await api<Recommendation>("POST", "/v1/recommendations", s);
  const full = await api<Recommendation>("POST", `/v1/recommendations${ALL}`, s);
  const w = lean.recommendation;
  assert.ok(w, `${name}: the shipped matrix answers it`);

  // The recommendation, its numbers, rationale, warnings and the next alternatives.
  const winner = page.locator("#winner");
  assert.deepEqual(
    { model: await winner.getAttribute("data-model-id"), strategy: await winner.getAttribute("data-strategy"), rate: Number(await winner.getAttribute("data-rate")) },
    { model: w.modelId, strategy: w.strategy, rate: w.rate },
    name,
  );
  assert.match((await winner.textContent())!, new RegExp(candidateName(w).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  const facts = (await page.locator("#answer dl.facts").textContent())!;
  assert.ok(facts.includes(pct(w.robustAccuracy!.value)) && facts.includes(pct(w.score)), `${name}: robust accuracy and score shown (${facts})`);
  assert.equal((await page.locator("#answer .rationale").textContent())!, lean.rationale);
  assert.deepEqual(await page.locator("#answer ul.warnings li").evaluateAll((els) => els.map((e) => e.getAttribute("data-code"))), lean.warnings.map((x) => x.code));
  const altNames = await page.locator("#answer table.alternatives tbody th").allTextContents();
  assert.deepEqual(altNames, lean.alternatives.map((a) => candidateName(a.candidate)), `${name}: ranks 2–5 as the lean answer`);

  // Every candidate of the winner's model: the same question without its limits, for that model.
  const { sizeLimit: _l, minCleanAccuracy: _m, ...rest } = s;
  const all = await api<Recommendation>("POST", `/v1/recommendations${ALL}`, { ...rest, modelId: w.modelId });
  const everyone: CandidateSummary[] = [...all.alternatives.map((a) => a.candidate), ...(all.unscored ?? []).map((u) => u.candidate)];
  const summaryOf = (c: { modelId: string; strategy: string; rate: number }) => everyone.find((x) => candidateKey(x) === candidateKey(c)) ?? (candidateKey(c) === candidateKey(w) ? w : undefined);

  // Curves: the recommendation, the runner-up and the winner's dense model, each once, with bands.
  const runnerUp = lean.alternatives.find((a) => a.rank === 2)?.candidate;
  const wanted: { modelId: string; strategy: string; rate: number; schedule?: string; robustAccuracy?: CandidateSummary["robustAccuracy"] }[] = [];
  for (const c of [w, runnerUp, { modelId: w.modelId, strategy: "dense", rate: 1 }]) if (c && !wanted.some((x) => candidateKey(x) === candidateKey(c))) wanted.push({ ...c, robustAccuracy: "robustAccuracy" in c ? c.robustAccuracy : summaryOf(c)?.robustAccuracy });
  const knowledge = w.robustAccuracy!.knowledgeUsed;
  let points = 0;
  for (const c of wanted) {
    const q = new URLSearchParams({ model: c.modelId, norm: s.norm, knowledge, candidates: `${c.strategy}@${c.rate}` });
    // Both schedules' curves come back for a strategy and rate: the candidate's own.
    const curves = (await api<Schemas["CurvesResponse"]>("GET", `/v1/matrix/curves?${q.toString()}`)).curves.filter((x) => sameSchedule(x, c));
    // The page draws the row the advisor used (several seeds may have rows).
    const used = (c.robustAccuracy?.evaluationIds ?? []).map(String);
    const curve = curves.find((x) => used.includes(String(x.evaluationId))) ?? curves[0];
    assert.ok(curve, `${name}: ${candidateKey(c)} has a curve`);
    points += curve.points.length;
  }
  assert.equal(await page.locator("#curves-chart g.curve-line path").count(), wanted.length, `${name}: one line per curve`);
  // Each curve named as its candidate, the schedule included.
  const columns = await page.locator("#curves-table thead th").allTextContents();
  for (const c of [w, runnerUp]) if (c) assert.ok(columns.some((t) => t.startsWith(candidateName(c))), `${name}: a curve named ${candidateName(c)} (${columns.join(" | ")})`);
  assert.equal(await page.locator("#curves-chart g.curve-band path").count(), wanted.length, `${name}: one 95 % band per curve`);
  assert.equal(await page.locator("#curves-chart g.curve-points circle").count(), points, `${name}: a dot per measured budget`);
  assert.equal(await page.locator("#curves-chart g.budget-rule line").count(), 1, `${name}: the asked budget marked`);
  assert.match((await page.locator("#curves-chart g.budget-label").textContent())!, new RegExp(`ε = ${s.budget}`));
  const markers = wanted.filter((c) => c.robustAccuracy).length;
  assert.equal(await page.locator("#curves-chart g.budget-marker path").count(), markers, `${name}: the advisor's value at ε on each curve`);

  // Heatmap: every candidate of the winner's model, those outside the limits greyed, the winner outlined.
  const feasible = new Set([...full.alternatives.map((a) => candidateKey(a.candidate)), ...(full.unscored ?? []).map((u) => candidateKey(u.candidate))]);
  assert.equal(await page.locator("#heatmap-chart rect[data-cell]").count(), everyone.length, `${name}: a cell per candidate`);
  const places = await page.locator("#heatmap-chart rect[data-cell]").evaluateAll((els) => els.map((e) => `${e.getAttribute("x")},${e.getAttribute("y")}`));
  assert.equal(new Set(places).size, places.length, `${name}: no two cells drawn on the same place`);
  assert.equal(await page.locator('#heatmap-chart rect[data-status="outside-limits"]').count(), everyone.filter((c) => !feasible.has(candidateKey(c))).length, `${name}: greyed cells`);
  assert.equal(await page.locator("#heatmap-chart g.heat-winner rect").count(), 1);
  assert.equal(await page.locator('#heatmap-chart rect[data-status="recommendation"]').getAttribute("data-cell"), candidateKey(w));

  // A click on another ranked cell shows its evidence rows, as GET /v1/matrix/rows/{id} has them.
  const other = full.alternatives.find((a) => a.rank > 1 && a.candidate.modelId === w.modelId)!.candidate;
  await page.locator(`#heatmap-chart rect[data-cell="${candidateKey(other)}"]`).click();
  await page.waitForSelector("#evidence[data-state=ready]");
  assert.match((await page.locator("#evidence h3").textContent())!, new RegExp(`Evidence for ${candidateName(other).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  const shownIds = await page.locator("#evidence article.row").evaluateAll((els) => els.map((e) => e.getAttribute("data-row-id")));
  assert.deepEqual(shownIds, other.robustAccuracy!.evaluationIds.map(String));
  for (const id of other.robustAccuracy!.evaluationIds) {
    const row = await api<Schemas["MatrixRow"]>("GET", `/v1/matrix/rows/${id}`);
    const article = page.locator(`#evidence article.row[data-row-id="${id}"]`);
    assert.deepEqual(await article.locator("tr[data-attack]").evaluateAll((els) => els.map((e) => e.getAttribute("data-attack"))), row.attacks.map((a) => a.name));
    assert.match((await article.textContent())!, new RegExp(`${row.n} samples`));
    assert.ok((await article.locator(".sanity li").count()) >= 3, "the sanity checks are listed");
  }
  assert.equal(await page.locator(`#heatmap-chart rect[data-cell="${candidateKey(other)}"]`).getAttribute("aria-pressed"), "true");
}

test("the page answers the default question on load, like the API; every view is drawn and photographed; nothing comes from elsewhere", { skip }, async () => {
  const { page, errors, requests } = await openPage(browser, site.baseUrl);
  await answered(page);
  await checkAnswer(page, SCENARIOS[0]!.scenario, "default");
  // Every field of the API's Scenario has a labelled control, named by its path.
  const schema = contract.deref({ $ref: "#/components/schemas/Scenario" });
  const paths: string[] = [];
  for (const [k, v] of Object.entries(schema.properties as Record<string, unknown>)) {
    const r = contract.deref(v);
    if (r.type === "object" && r.properties) paths.push(...Object.keys(r.properties as object).map((c) => `${k}.${c}`));
    else paths.push(k);
  }
  assert.deepEqual(await evaluate<string[]>(page, "[...document.querySelectorAll('#scenario-form [name]')].map((e) => e.name)"), paths);
  assert.deepEqual(await evaluate<string[]>(page, "[...document.querySelectorAll('#scenario-form [name]')].filter((e) => e.labels.length === 0).map((e) => e.name)"), []);
  // The models: clean accuracy and coverage as GET /v1/models has them.
  const models = (await api<Schemas["ModelsResponse"]>("GET", "/v1/models")).models;
  assert.equal(await page.locator("table.models tbody tr").count(), models.length);
  for (const m of models) assert.match((await page.locator(`table.models tr[data-model-id="${m.modelId}"]`).textContent())!, new RegExp(`${pct(m.clean!.correct / m.clean!.n).replace(/\./g, "\\.")}`));
  await page.locator("#curves-data summary").click();
  assert.equal(await page.locator("#curves-table tbody tr").count(), 8, "the curves' 8 grid budgets as table rows");
  await shot(page, "page");
  await shot(page, "ask", "#ask");
  await shot(page, "answer", "#results");
  await shot(page, "curves", "#curves");
  await shot(page, "heatmap-evidence", "#heatmap");
  await shot(page, "reproduce", "#reproduce");
  assert.deepEqual(sameOrigin(requests, site.baseUrl), [], "no request leaves the service's origin");
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});

test("three scenarios asked through the form: the API's recommendation, a curve per candidate, a cell per candidate, a clicked cell's evidence", { skip }, async () => {
  const { page, errors } = await openPage(browser, site.baseUrl);
  for (const { name, scenario } of SCENARIOS) {
    await ask(page, scenario);
    await checkAnswer(page, scenario, name);
    await shot(page, `heatmap-${name}`, "#heatmap");
  }
  // An adversarial share below 1 ranks by the aggregate: the API's winner, its share sweep, the score named.
  const shared: Scenario = { ...SCENARIOS[0]!.scenario, adversarialShare: 0.3 };
  await ask(page, shared);
  await checkAnswer(page, shared, "adversarial share 0.3");
  const sweep = (await api<Recommendation>("POST", "/v1/recommendations", shared)).shareSweep ?? [];
  assert.ok(sweep.length > 0);
  assert.equal(await page.locator("#answer .sweep").textContent(), `Best over the adversarial share: ${sweep.map((g, i) => `${i > 0 ? "; " : ""}${g.from.toFixed(2)}–${g.to.toFixed(2)}: ${candidateName(g.candidate)}`).join("")}.`);
  assert.match((await page.locator("#heatmap-caption").textContent())!, /\(1 − 0\.3\)·clean \+ 0\.3·robust accuracy/);
  await shot(page, "heatmap-adversarial-share", "#heatmap");

  // No candidate within the limits is an answer too: said, with the nearest model's cells all greyed.
  const none: Scenario = { norm: "linf", budget: 0.1, knowledge: "white-box", sizeLimit: { maxParameters: 1000 } };
  await ask(page, none);
  assert.equal(await page.locator("#winner").getAttribute("data-status"), "infeasible");
  const cells = await page.locator("#heatmap-chart rect[data-cell]").count();
  assert.ok(cells > 0);
  assert.equal(await page.locator('#heatmap-chart rect[data-status="outside-limits"]').count(), cells);
  assert.equal(await page.locator("#answer .rationale").textContent(), (await api<Recommendation>("POST", "/v1/recommendations", none)).rationale);
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});

test("the curl and `advisor recommend` lines the page shows ask the same question and get the same answer", { skip }, async () => {
  const { page } = await openPage(browser, `${site.baseUrl}/#scenario=${encodeURIComponent(JSON.stringify(SCENARIOS[1]!.scenario))}`);
  await answered(page);
  const lean = await api<Recommendation>("POST", "/v1/recommendations", SCENARIOS[1]!.scenario);
  const curl = (await page.locator("#curl").textContent())!;
  const viaCurl = JSON.parse((await run("bash", ["-c", curl])).stdout) as Recommendation;
  assert.deepEqual(viaCurl, lean);
  const cli = (await page.locator("#cli").textContent())!;
  assert.match(cli, /^advisor recommend --url http:\/\/127\.0\.0\.1:\d+ --norm l2 --budget 1 --knowledge transfer --architecture lenet5 --max-bytes 200000$/);
  const main = path.join(root, "src", "cli", "main.ts");
  const viaCli = JSON.parse((await run("bash", ["-c", `advisor() { "${process.execPath}" --import tsx "${main}" "$@"; }; ${cli} --json`], { cwd: root })).stdout) as Recommendation;
  assert.deepEqual(viaCli.recommendation, lean.recommendation);
  await page.close();
});

test("a value the service refuses is shown at its field, which gets the focus", { skip }, async () => {
  const { page, errors } = await openPage(browser, site.baseUrl);
  await page.locator("#f-budget").fill("-1");
  await page.getByRole("button", { name: "Recommend", exact: true }).click();
  await page.waitForSelector("#f-budget-error:not([hidden])");
  assert.match((await page.locator("#f-budget-error").textContent())!, /^budget: budget must not be negative/);
  assert.equal(await page.locator("#f-budget").getAttribute("aria-invalid"), "true");
  assert.equal(await evaluate<string>(page, "document.activeElement.id"), "f-budget");
  await page.locator("#f-budget").fill("0.03");
  await page.locator('[name="sizeLimit.maxParameters"]').fill("1.5");
  await page.getByRole("button", { name: "Recommend", exact: true }).click();
  await page.waitForSelector("#f-sizeLimit-maxParameters-error:not([hidden])");
  assert.equal(await evaluate<string>(page, "document.activeElement.name"), "sizeLimit.maxParameters");
  assert.equal(await page.locator("#f-budget").getAttribute("aria-invalid"), null, "the earlier error is gone");
  await shot(page, "field-error", "#ask");
  assert.deepEqual(unexpected(errors, [400]), []);
  await page.close();
});

test("keyboard: Tab walks the form in order to the button, Enter asks, arrow keys move across the heatmap and Enter shows a cell's evidence", { skip }, async () => {
  const { page, errors } = await openPage(browser, site.baseUrl);
  const active = () => evaluate<string>(page, "document.activeElement.id || document.activeElement.getAttribute('data-cell') || document.activeElement.tagName");
  await page.keyboard.press("Tab");
  assert.equal(await evaluate<string>(page, "document.activeElement.className"), "skip", "the skip link comes first");
  const ids = await evaluate<string[]>(page, "[...document.querySelectorAll('#scenario-form [name]')].map((e) => e.id)");
  let guard = 0;
  while ((await active()) !== ids[0] && guard++ < 5) await page.keyboard.press("Tab");
  for (const id of ids.slice(1)) {
    await page.keyboard.press("Tab");
    assert.equal(await active(), id);
  }
  await page.keyboard.press("Tab");
  assert.equal(await evaluate<string>(page, "document.activeElement.textContent"), "Recommend");
  // Enter in a field asks.
  await page.locator("#f-budget").focus();
  await page.keyboard.press("Control+a");
  await page.keyboard.type("0.05");
  await page.keyboard.press("Enter");
  await answered(page);
  assert.equal(await active(), "results", "the answer gets the focus");
  assert.match(decodeURIComponent(await evaluate<string>(page, "location.hash")), /"budget":0\.05/);
  // The heatmap is one tab stop (the chosen cell); arrows move, Enter chooses.
  const start = page.locator('#heatmap-chart rect[data-cell][tabindex="0"]');
  assert.equal(await page.locator('#heatmap-chart rect[data-cell][tabindex="0"]').count(), 1);
  const from = (await start.getAttribute("data-cell"))!;
  await start.focus();
  await page.keyboard.press("ArrowLeft");
  const to = await active();
  assert.notEqual(to, from);
  // A cell's key is `${modelId}/${strategy}@${rate}` (a strategy name may hold a slash too).
  const parts = (key: string): [string, string] => [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
  const [fromModel, fromCand] = parts(from);
  const [toModel, toCand] = parts(to);
  assert.equal(toModel, fromModel);
  assert.equal(toCand.split("@")[0], fromCand.split("@")[0], "the same strategy");
  assert.ok(Number(toCand.split("@")[1]) < Number(fromCand.split("@")[1]), "a smaller rate");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#evidence[data-state=ready]");
  assert.equal(await page.locator(`#heatmap-chart rect[data-cell="${to}"]`).getAttribute("aria-pressed"), "true");
  assert.match((await page.locator("#evidence h3").textContent())!, new RegExp(`${toCand.split("@")[0]} ${toCand.split("@")[1]}×`));
  assert.equal(await page.locator('#heatmap-chart rect[data-cell][tabindex="0"]').count(), 1, "still one tab stop");
  await page.keyboard.press("Tab");
  assert.equal(await evaluate<string | null>(page, "document.activeElement.getAttribute('data-cell')"), null, "Tab leaves the heatmap");
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});

test("a narrow window (390 px): one column, nothing wider than the window", { skip }, async () => {
  const { page, errors } = await openPage(browser, site.baseUrl, { width: 390, height: 844 });
  await answered(page);
  assert.ok(await evaluate<boolean>(page, "document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling");
  const ask = (await page.locator("#ask").boundingBox())!;
  const results = (await page.locator("#results").boundingBox())!;
  assert.ok(results.y >= ask.y + ask.height - 1, "the answer below the form");
  assert.ok((await page.locator("#heatmap-chart svg[aria-label^=Strategies]").boundingBox())!.width <= 390);
  await shot(page, "narrow-top", "viewport");
  await shot(page, "narrow-heatmap", "#heatmap");
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});

test("API key: with reads protected the page asks for a key, keeps it in sessionStorage only and sends it as a header, never in a URL", { skip }, async () => {
  const key = "web-test-key-0123456789abcdefghijklmnopqrstuvwxyz";
  const base = await site.another({ keys: new ApiKeys(parseKeyEntries(keyLine("web", key))), protectReads: true });
  const { page, errors, requests } = await openPage(browser, base);
  assert.equal(await page.locator("#key-panel").getAttribute("open"), "", "the key panel opens");
  assert.match((await page.locator("#key-status").textContent())!, /needs an API key/);
  const sent: (string | undefined)[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/v1/")) sent.push(r.headers()["x-api-key"]);
  });
  await page.locator("#api-key").fill(key);
  await page.getByRole("button", { name: "Use this key" }).click();
  await answered(page);
  assert.ok(await page.locator("#winner").getAttribute("data-model-id"));
  assert.equal(await evaluate<string | null>(page, "sessionStorage.getItem('pruning-advisor.api-key')"), key);
  assert.equal(await evaluate<number>(page, "localStorage.length"), 0);
  assert.ok(sent.length > 0 && sent.every((k) => k === key), "every /v1 request after that carries the key as X-API-Key");
  assert.ok(!(await page.locator("#curl").textContent())!.includes(key), "the curl line names $ADVISOR_API_KEY, not the key");
  assert.ok(requests.every((u) => !u.includes(key)), "no URL carries the key");
  assert.equal(await page.locator("#api-key").inputValue(), "", "the field is emptied");
  // The same tab keeps it across a reload.
  await page.reload();
  await page.waitForSelector("body[data-state=ready]");
  await answered(page);
  assert.deepEqual(unexpected(errors, [401]), []);
  await page.close();
});

test("refresh jobs: the page follows a job's progress and ETA, and says when it published a new matrix version", { skip }, async () => {
  const models = (await api<Schemas["ModelsResponse"]>("GET", "/v1/models")).models;
  const lenet5 = models.find((m) => m.architecture === "lenet5")!;
  const grid = { ...(await loadGrid(defaultRefreshGridPath)), architectures: [], model: { id: lenet5.modelId, architecture: "lenet5", dir: lenet5.modelDir ?? "" } };
  const jobs = site.jobs.jobs;
  // The job store driven as a runner drives it (the runner itself is tested in test/jobs/).
  const submitted = await jobs.submit({ modelId: lenet5.modelId, gridHash: createHash("sha256").update("web page test").digest("hex"), grid, workers: 1, requestedBy: "web-test" }, async () => null);
  assert.equal(submitted.outcome, "queued");
  const id = submitted.job.id;
  const { page, errors } = await openPage(browser, site.baseUrl);
  const row = page.locator(`table.jobs tr[data-job-id="${id}"]`);
  await page.waitForSelector(`table.jobs tr[data-job-id="${id}"][data-state=queued]`);
  const token = "web-test-run";
  assert.ok(await jobs.claim(id, { token, host: "test", pid: process.pid }));
  const eta = new Date(Date.now() + 2 * 3600_000).toISOString();
  await jobs.progress(id, token, { cellsTotal: 151, cellsDone: 12, currentCell: "evaluate lenet5/random@8 linf white-box", currentDetail: "batch 3 of 5", etaAt: eta });
  await page.waitForSelector(`table.jobs tr[data-job-id="${id}"][data-state=running]`, { timeout: 20_000 });
  let text = (await row.textContent())!;
  assert.match(text, /12 of 151 cells/);
  assert.match(text, /2\.0 h/);
  assert.match(text, /evaluate lenet5\/random@8 linf white-box: batch 3 of 5/);
  assert.equal(await row.locator("progress").getAttribute("value"), "12");
  await jobs.progress(id, token, { cellsDone: 150 });
  await until("150 of 151 cells", async () => ((await row.textContent()) ?? "").includes("150 of 151 cells"));
  await shot(page, "jobs-running", "#jobs");
  // It publishes a new version: lenet5's dense L∞ white-box row again, as measured (a refresh
  // re-measuring it would find the same); what matters here is that the page notices.
  const q = new URLSearchParams({ model: lenet5.modelId, strategy: "dense", rate: "1", norm: "linf", knowledge: "white-box", limit: "1" });
  const { row: r, sampleIndices, distances } = parseMatrixRow((await api<Schemas["MatrixPage"]>("GET", `/v1/matrix?${q.toString()}`)).rows[0]);
  const version = await site.store.createVersion("web page test: a refresh publishing one row again");
  await site.store.insertEvaluation({ ...evaluationFields(r), variantId: r.variantId, matrixVersion: version, sampleIndices, distances });
  await site.store.publishVersion(version);
  assert.ok(await jobs.succeed(id, token, version));
  await page.waitForSelector(`table.jobs tr[data-job-id="${id}"][data-state=succeeded]`, { timeout: 20_000 });
  await until("the notice", async () => ((await page.locator("#jobs-notice").textContent()) ?? "").includes(`job ${id} published matrix version ${version}`));
  await until("the new version in the header", async () => (await page.locator("#matrix-version").textContent()) === `Matrix version ${version}`);
  text = (await row.textContent())!;
  assert.match(text, new RegExp(`matrix version ${version}`));
  await page.getByRole("button", { name: "Ask again on the new version" }).click();
  await answered(page);
  assert.match((await page.locator("#answer .meta").textContent())!, new RegExp(`^Matrix version ${version}:`));
  await shot(page, "models", "#models");
  await shot(page, "jobs", "#jobs");
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});
