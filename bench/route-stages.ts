// `node --import tsx bench/route-stages.ts [--db file] [--questions 3000] [--rounds 3]`: CPU µs per
// question of each stage of POST /v1/recommendations, in process, on bench/distinct-questions.ts's
// questions (every answer computed: no answer cache): JSON.parse of the body, the zod schema,
// the advisor's answer (answerRecommendation), its serialisation to UTF-8 bytes, and the ETag.
// CPU time (process.cpuUsage), so the figures hold on a shared machine. Without --db the shipped
// matrix is seeded into a temp database.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { MatrixCache } from "../src/api/matrix-cache.js";
import { answerRecommendation } from "../src/api/recommendation-view.js";
import { parseOr400, scenarioSchema } from "../src/api/validation.js";
import { seedMatrix } from "../src/matrix/seed.js";
import { MatrixStore } from "../src/matrix/store.js";
import { shippedMatrixPath } from "../src/paths.js";
import { distinctQuestion } from "./questions.js";

const { values } = parseArgs({ options: { db: { type: "string" }, questions: { type: "string", default: "3000" }, rounds: { type: "string", default: "3" } } });
const work = await mkdtemp(path.join(os.tmpdir(), "advisor-route-stages-"));
try {
  let db = values.db;
  if (!db) {
    db = path.join(work, "shipped.sqlite");
    const s = await MatrixStore.open(db);
    await seedMatrix(s, shippedMatrixPath, db);
    await s.close();
  }
  const store = await MatrixStore.open(db);
  const loaded = await new MatrixCache(store, { checkIntervalMs: 3_600_000 }).refresh();
  if (!loaded) throw new Error(`${db}: no published matrix`);
  const snapshot = loaded.defaultSnapshot;
  const n = Number(values.questions);
  const bodies = Array.from({ length: n }, (_, i) => distinctQuestion(i + 1));
  const include = new Set<never>();
  const stages = { parse: 0, validate: 0, answer: 0, serialise: 0, etag: 0 };
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  for (let round = 0; round < Number(values.rounds); round++) {
    const last = round === Number(values.rounds) - 1; // the earlier rounds warm up
    for (const text of bodies) {
      let t = cpu();
      const json: unknown = JSON.parse(text);
      let u = cpu();
      if (last) stages.parse += u - t;
      const scenario = parseOr400(scenarioSchema, json);
      t = cpu();
      if (last) stages.validate += t - u;
      const answer = answerRecommendation(snapshot, scenario, include);
      u = cpu();
      if (last) stages.answer += u - t;
      const bytes = Buffer.from(JSON.stringify(answer));
      t = cpu();
      if (last) stages.serialise += t - u;
      createHash("sha1").update(bytes).digest("base64");
      u = cpu();
      if (last) stages.etag += u - t;
    }
  }
  const perQuestion = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round((10 * v) / n) / 10]));
  console.log(JSON.stringify({ rows: snapshot.candidates.reduce((s, c) => s + c.evaluations.length, 0), questions: n, cpuUsPerQuestion: perQuestion, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) }));
  await store.close();
} finally {
  await rm(work, { recursive: true, force: true });
}
