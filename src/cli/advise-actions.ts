// What `advisor recommend` and `advisor gate` do: build the request from the flags, validate it
// with the API's own zod schemas, then ask a service (--url, the HTTP API) or a database file
// (--db, the same advisor code the service runs). Anything that is not an answer — bad flags,
// an unreachable server, an empty matrix, an unknown model — is a UsageError (exit 2); for the
// gate a verdict is exit 0 (pass) or 1 (fail).
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { AdvisorError } from "../advisor/index.js";
import { answerGate, answerRecommendation, parseInclude } from "../api/recommendation-view.js";
import { defaultModelSet } from "../api/matrix-cache.js";
import { answerSet, checkBudgetAgainstInputs } from "../api/routes/advisor.js";
import type { components } from "../api/schema.gen.js";
import { fieldOf, gateRequestSchema, scenarioSchema } from "../api/validation.js";
import { serveSettings } from "../config.js";
import { openSeededDatabase } from "../matrix/seed.js";
import { Database } from "../matrix/sqlite.js";
import { MatrixStore } from "../matrix/store.js";
import { findModel, uploadedModelIds } from "../models/storage.js";
import type { GateFlags, ScenarioFlags } from "./advise.js";
import { UsageError } from "./errors.js";

type Schemas = components["schemas"];
type Scenario = Schemas["Scenario"];
type GateRequest = Schemas["GateRequest"];
type Problem = Schemas["Problem"];

const FLAG_OF: Record<string, string> = {
  norm: "--norm",
  budget: "--budget",
  knowledge: "--knowledge",
  sizeLimit: "--max-parameters/--min-compression/--max-bytes/--structured-only",
  "sizeLimit.maxParameters": "--max-parameters",
  "sizeLimit.minCompression": "--min-compression",
  "sizeLimit.maxBytes": "--max-bytes",
  "sizeLimit.structuredOnly": "--structured-only",
  minCleanAccuracy: "--min-clean-accuracy",
  modelId: "--model",
  architecture: "--architecture",
  dataset: "--dataset",
  candidate: "--strategy/--rate",
  "candidate.strategy": "--strategy",
  "candidate.rate": "--rate",
  adversarialShare: "--adversarial-share",
  thresholds: "--min-robust-accuracy/--min-aggregated-accuracy/--max-drop",
  "thresholds.minRobustAccuracy": "--min-robust-accuracy",
  "thresholds.minAggregatedAccuracy": "--min-aggregated-accuracy",
  "thresholds.maxDropVsDense": "--max-drop",
};

/** The flag behind a request field ("scenario.budget" → "--budget"). */
export function flagOf(field: string | undefined): string | undefined {
  if (!field) return undefined;
  return FLAG_OF[field.replace(/^scenario\./, "")] ?? FLAG_OF[field];
}

function usage(message: string, field?: string): UsageError {
  const flag = flagOf(field);
  return new UsageError(flag ? `${flag}: ${message}` : message);
}

export function scenarioFromFlags(f: ScenarioFlags): Scenario {
  const raw: Record<string, unknown> = { norm: f.norm, budget: f.budget, knowledge: f.knowledge };
  const limit: Record<string, unknown> = {};
  if (f.maxParameters !== undefined) limit.maxParameters = f.maxParameters;
  if (f.minCompression !== undefined) limit.minCompression = f.minCompression;
  if (f.maxBytes !== undefined) limit.maxBytes = f.maxBytes;
  if (f.structuredOnly) limit.structuredOnly = true;
  if (Object.keys(limit).length > 0) raw.sizeLimit = limit;
  if (f.minCleanAccuracy !== undefined) raw.minCleanAccuracy = f.minCleanAccuracy;
  if (f.model !== undefined) raw.modelId = f.model;
  if (f.architecture !== undefined) raw.architecture = f.architecture;
  if (f.dataset !== undefined) raw.dataset = f.dataset;
  if (f.allowUnsoundEvidence) raw.allowUnsoundEvidence = true;
  if (f.adversarialShare !== undefined) raw.adversarialShare = f.adversarialShare;
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) throw usage(r.error.issues[0]!.message, fieldOf(r.error.issues[0]!));
  return r.data;
}

export function gateRequestFromFlags(f: GateFlags): GateRequest {
  const thresholds: Record<string, unknown> = {};
  if (f.minRobustAccuracy !== undefined) thresholds.minRobustAccuracy = f.minRobustAccuracy;
  if (f.minAggregatedAccuracy !== undefined) thresholds.minAggregatedAccuracy = f.minAggregatedAccuracy;
  if (f.maxDrop !== undefined) thresholds.maxDropVsDense = f.maxDrop;
  const raw = { candidate: { strategy: f.strategy, rate: f.rate, ...(f.schedule === undefined ? {} : { schedule: f.schedule }) }, scenario: scenarioFromFlags(f), thresholds };
  const r = gateRequestSchema.safeParse(raw);
  if (!r.success) throw usage(r.error.issues[0]!.message, fieldOf(r.error.issues[0]!));
  return r.data;
}

function checkSource(f: ScenarioFlags): void {
  if ((f.url === undefined) === (f.db === undefined)) throw new UsageError("give exactly one of --url (a running service) or --db (a matrix database file)");
}

/** POSTs to the service; a problem response or a network failure is a UsageError (exit 2). */
async function post<T>(f: ScenarioFlags, route: string, body: unknown): Promise<T> {
  let url: URL;
  try {
    url = new URL(route, f.url!.endsWith("/") ? f.url : `${f.url}/`);
  } catch {
    throw new UsageError(`--url: not a URL: ${JSON.stringify(f.url)}`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, application/problem+json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(f.timeout),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new UsageError(`cannot reach the service at ${url.origin}: ${cause}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`the service at ${url.origin} answered ${res.status} with no JSON`);
  }
  if (!res.ok) {
    const p = parsed as Partial<Problem>;
    throw usage(`the service answered ${res.status} ${p.title ?? ""}: ${p.detail ?? text}`.replace(" :", ":"), p.field);
  }
  return parsed as T;
}

/**
 * A database file that does not exist yet is made as `advisor serve` makes it at start-up
 * (created, migrated, seeded from the shipped matrix, or ADVISOR_SEED_MATRIX), so a fresh
 * checkout answers at once; with ADVISOR_SEED_MATRIX=none a missing file stays an error.
 */
async function createFromShippedMatrix(file: string): Promise<void> {
  const setting = serveSettings.seedMatrix;
  const parsed = setting.schema.safeParse(process.env[setting.env] ?? setting.fallback);
  if (!parsed.success) throw new UsageError(`invalid seedMatrix from environment variable ${setting.env}: ${parsed.error.issues[0]!.message}`);
  if (parsed.data === null) throw new UsageError(`--db: no such database file: ${file} (and ${setting.env}=none: no shipped matrix to create it from)`);
  let opened;
  try {
    opened = await openSeededDatabase(file, parsed.data);
  } catch (err) {
    throw new UsageError(`--db: cannot create ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  await opened.db.close();
  const { seed } = opened;
  process.stderr.write(
    seed.seeded
      ? `--db: created ${file} from the shipped matrix ${seed.file} (${seed.result.inserted} rows, matrix version ${seed.result.version})\n`
      : `--db: created ${file}, but found no shipped matrix at ${seed.file} to seed it from\n`,
  );
}

/** Runs `fn` on the database file, opened read-only (a missing file is first created from the shipped matrix). */
async function withStore<T>(file: string, fn: (store: MatrixStore) => Promise<T>): Promise<T> {
  if (!existsSync(file)) await createFromShippedMatrix(file);
  let db: Database;
  try {
    db = await Database.open(file, { readonly: true });
  } catch (err) {
    throw new UsageError(`--db: cannot open ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return await fn(new MatrixStore(db));
  } finally {
    await db.close().catch(() => undefined);
  }
}

async function fromDb<T>(f: ScenarioFlags, scenario: Scenario, prefix: "" | "scenario.", answer: (snapshot: Awaited<ReturnType<MatrixStore["snapshot"]>>) => T): Promise<T> {
  return withStore(f.db!, async (store) => {
    let latest;
    try {
      latest = await store.latestPublishedVersion();
    } catch (err) {
      throw new UsageError(`--db: ${f.db} is not a matrix database: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!latest) throw new UsageError(`matrix is empty: ${f.db} has no published version (build or import one)`);
    const [snapshot, models, uploaded] = await Promise.all([store.snapshot(latest.id), store.listModels(latest.id), uploadedModelIds(store.db)]);
    const defaults = defaultModelSet(snapshot, models, uploaded);
    try {
      // The same model set the service answers from: uploaded models only when named by id.
      const source = { version: latest.id, snapshot, models, defaultSnapshot: defaults.snapshot, defaultModels: defaults.models };
      const from = await answerSet(source, scenario.modelId, (id) => findModel(store.db, id), `${prefix}modelId`);
      checkBudgetAgainstInputs(scenario, from.models, `${prefix}budget`);
      return answer(from.snapshot);
    } catch (err) {
      if (err instanceof AdvisorError) throw usage(err.message, err.field);
      if (err instanceof Error && "status" in err && (err as { status: number }).status < 500) throw usage(err.message, (err as { field?: string }).field);
      throw err;
    }
  });
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

function summaryLine(c: Schemas["CandidateSummary"]): string {
  const ra = c.robustAccuracy;
  const robust = ra ? `robust ${pct(ra.value)} [${pct(ra.interval.low)}, ${pct(ra.interval.high)}] at ${ra.norm} ε = ${ra.budget}` : "no evidence";
  const ag = c.aggregatedAccuracy;
  // Only with an adversarial share below 1.
  const aggregated = ag ? `; aggregated at share ${ag.share} ${pct(ag.value)} [${pct(ag.interval.low)}, ${pct(ag.interval.high)}]` : "";
  const spread = c.pruningSeeds?.robustAccuracy;
  // A variant measured with several pruning seeds is shown as its worst seed, with the spread.
  const seeds = c.pruningSeeds && spread ? `; worst of ${c.pruningSeeds.count} pruning seeds (robust ${pct(spread.min)}–${pct(spread.max)})` : "";
  return `${c.strategy} ${c.rate}× (${c.nonZeroParams.toLocaleString("en")} non-zero parameters, ${c.sparseBytes.toLocaleString("en")} bytes sparse): ${robust}${seeds}; clean ${pct(c.cleanAccuracy.value)}${aggregated}`;
}

export function formatRecommendation(r: Schemas["Recommendation"]): string {
  const lines = [`matrix version ${r.matrixVersion}: ${r.status}`];
  if (r.recommendation) lines.push(`recommendation: ${summaryLine(r.recommendation)}`);
  // Ranks 2–4 (the lean answer starts at rank 2; with all-alternatives at rank 1).
  for (const a of r.alternatives.filter((x) => x.rank > 1).slice(0, 3)) lines.push(`  #${a.rank} ${summaryLine(a.candidate)} (margin ${pct(a.margin)}${a.significant ? ", significant" : ""})`);
  lines.push(r.rationale);
  for (const w of r.warnings) lines.push(`warning (${w.code}): ${w.message}`);
  return lines.join("\n") + "\n";
}

export function formatGate(g: Schemas["GateResult"]): string {
  const lines = [`${g.pass ? "PASS" : "FAIL"}: ${g.candidate.strategy} ${g.candidate.rate}× (matrix version ${g.matrixVersion})`];
  for (const c of [...g.checks.filter((x) => !x.pass), ...g.checks.filter((x) => x.pass)]) lines.push(`  ${c.pass ? "ok  " : "FAIL"} ${c.check}: ${c.text}`);
  for (const w of g.warnings) lines.push(`warning (${w.code}): ${w.message}`);
  return lines.join("\n") + "\n";
}

function xml(s: string): string {
  // XML 1.0 forbids most control characters, even escaped.
  const clean = [...s].filter((c) => c.charCodeAt(0) >= 0x20 || c === "\t" || c === "\n" || c === "\r").join("");
  return clean.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** JUnit XML: one testcase per check (a failed check is a <failure>); no verdict is one <error>. */
export function junitReport(o: { name: string; seconds: number; result?: Schemas["GateResult"]; error?: string }): string {
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  if (o.result) {
    for (const c of o.result.checks) {
      const head = `    <testcase classname="${xml(o.name)}" name="${xml(`${c.check} (${c.field})`)}" time="0">`;
      if (c.pass) cases.push(`${head}\n      <system-out>${xml(c.text)}</system-out>\n    </testcase>`);
      else {
        failures++;
        cases.push(`${head}\n      <failure message="${xml(c.text)}" type="${xml(c.check)}">${xml(c.text)}</failure>\n    </testcase>`);
      }
    }
  } else {
    errors = 1;
    cases.push(`    <testcase classname="${xml(o.name)}" name="gate" time="0">\n      <error message="${xml(o.error ?? "no verdict")}" type="error">${xml(o.error ?? "")}</error>\n    </testcase>`);
  }
  // Every warning is a property too: a CI page that shows only properties and failures still shows them.
  const warningProps = (o.result?.warnings ?? []).map((w, i) => `      <property name="warning.${i + 1}.${xml(w.code)}" value="${xml(w.message)}"/>\n`).join("");
  const props = o.result
    ? `    <properties>\n      <property name="matrixVersion" value="${o.result.matrixVersion}"/>\n      <property name="pass" value="${o.result.pass}"/>\n${warningProps}    </properties>\n`
    : "";
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="advisor gate" tests="${cases.length}" failures="${failures}" errors="${errors}" time="${o.seconds.toFixed(3)}">\n` +
    `  <testsuite name="${xml(o.name)}" tests="${cases.length}" failures="${failures}" errors="${errors}" time="${o.seconds.toFixed(3)}">\n` +
    props +
    cases.join("\n") +
    `\n  </testsuite>\n</testsuites>\n`
  );
}

async function writeJunit(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, text);
}

export async function recommendAction(f: ScenarioFlags): Promise<void> {
  checkSource(f);
  const scenario = scenarioFromFlags(f);
  let include: ReturnType<typeof parseInclude>;
  try {
    include = parseInclude(f.include);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
  const query = include.size > 0 ? `?include=${[...include].join(",")}` : "";
  const result =
    f.url !== undefined
      ? await post<Schemas["Recommendation"]>(f, `v1/recommendations${query}`, scenario)
      : await fromDb(f, scenario, "", (snapshot): Schemas["Recommendation"] => answerRecommendation(snapshot, scenario, include));
  process.stdout.write(f.json ? JSON.stringify(result, null, 2) + "\n" : formatRecommendation(result));
}

export async function gateAction(f: GateFlags): Promise<void> {
  const started = performance.now();
  const name = `advisor.gate.${f.strategy ?? "?"}@${f.rate ?? "?"}`;
  let result: Schemas["GateResult"];
  try {
    checkSource(f);
    const request = gateRequestFromFlags(f);
    result =
      f.url !== undefined
        ? await post<Schemas["GateResult"]>(f, "v1/gate", request)
        : await fromDb(f, request.scenario, "scenario.", (snapshot): Schemas["GateResult"] => answerGate(snapshot, request));
  } catch (err) {
    // No verdict: still leave a report for the CI, then exit 2.
    const message = err instanceof Error ? err.message : String(err);
    if (f.junit) await writeJunit(f.junit, junitReport({ name, seconds: (performance.now() - started) / 1000, error: message })).catch(() => undefined);
    throw err instanceof UsageError ? err : new UsageError(message);
  }
  if (f.junit) await writeJunit(f.junit, junitReport({ name, seconds: (performance.now() - started) / 1000, result }));
  process.stdout.write(f.json ? JSON.stringify(result, null, 2) + "\n" : formatGate(result));
  process.exitCode = result.pass ? 0 : 1;
}
