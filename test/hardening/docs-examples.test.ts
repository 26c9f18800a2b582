// Issue 16, item 6: every command in docs/ runs verbatim on a fresh clone and prints what the page
// shows. The pages' commands sit in examples sections (the README's machinery,
// test/helpers/readme-examples.ts) and run in a fresh checkout — no data/, no database — so the
// first `--db data/advisor.sqlite` creates the database from the shipped matrix. The CI files'
// gate step runs with their own environment; their `npm ci` and `npm run build` steps are what the
// fresh checkout stands in for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import { DOCS_DIR, SHIPPED_MATRIX, docPages, freshCheckout, parseExamples, runCommand, runExamples, userEnv } from "../helpers/readme-examples.js";

const skip = !existsSync(SHIPPED_MATRIX) ? "no shipped matrix (db/matrix.jsonl)" : false;
const BEGIN = "<!-- examples:begin -->";
const END = "<!-- examples:end -->";

test("docs/: every shell block is an examples section (so the test below runs it)", async () => {
  for (const page of await docPages()) {
    const text = await readFile(page, "utf8");
    // Outside the sections no fenced block may hold commands.
    const outside = text.replace(new RegExp(`${BEGIN}[\\s\\S]*?${END}`, "g"), "");
    const blocks = [...outside.matchAll(/^```(\w*)/gm)].filter((_, i) => i % 2 === 0).map((m) => m[1]);
    assert.deepEqual(blocks.filter((lang) => lang === "" || /^(sh|bash|shell|console|zsh)$/.test(lang!)), [], `${path.relative(DOCS_DIR, page)}: a command block outside <!-- examples:begin/end -->`);
  }
});

test("docs/: every command runs verbatim on a fresh checkout and prints what the page shows", { skip }, async () => {
  const pages = await docPages();
  assert.ok(pages.some((p) => p.endsWith("ci-gate-example.md")));
  for (const page of pages) {
    const text = await readFile(page, "utf8");
    if (!text.includes(BEGIN)) continue;
    const examples = parseExamples(text);
    const outputs = await runExamples(examples);
    examples.forEach((e, i) => assert.equal(outputs[i], e.output, `${path.relative(DOCS_DIR, page)} example ${i + 1}: ${e.command.split("\n")[0]}`));
  }
  const gate = parseExamples(await readFile(path.join(DOCS_DIR, "ci-gate-example.md"), "utf8"));
  // What the page promises in words, so a regenerated output cannot quietly turn it around.
  assert.match(gate.find((e) => e.command.includes("--rate 4 ") && e.command.includes("--db"))!.output, /^PASS: global-magnitude 4×[\s\S]*\nexit 0$/);
  assert.match(gate.find((e) => e.command.includes("--rate 64"))!.output, /^FAIL: global-magnitude 64×[\s\S]*\nexit 1$/);
  assert.match(gate.find((e) => e.command.includes("gate-model.sh"))!.output, /^PASS:[\s\S]*passes\nexit 0$/);
  assert.match(gate.find((e) => e.command.includes("--url"))!.output, /^PASS: global-magnitude 4×[\s\S]*\nexit 0$/);
});

interface Pipeline {
  name: string;
  env: Record<string, string>;
  commands: string[];
  report: string;
}

async function pipelines(): Promise<Pipeline[]> {
  const gh = parse(await readFile(path.join(DOCS_DIR, "ci", "github-actions.yml"), "utf8")) as {
    jobs: Record<string, { steps: { run?: string; env?: Record<string, string>; uses?: string; with?: { path?: string } }[] }>;
  };
  const steps = Object.values(gh.jobs).flatMap((j) => j.steps);
  const ghGate = steps.find((s) => s.run?.includes("gate-model.sh"))!;
  const gl = parse(await readFile(path.join(DOCS_DIR, "ci", "gitlab-ci.yml"), "utf8")) as Record<string, { variables: Record<string, string>; script: string[]; artifacts: { reports: { junit: string } } }>;
  const glJob = Object.values(gl)[0]!;
  assert.equal(steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))?.with?.path, ghGate.env!.JUNIT_REPORT, "GitHub uploads the report the gate writes");
  return [
    { name: "github-actions.yml", env: ghGate.env!, commands: steps.flatMap((s) => (s.run ? [s.run] : [])), report: ghGate.env!.JUNIT_REPORT! },
    { name: "gitlab-ci.yml", env: glJob.variables, commands: glJob.script, report: glJob.artifacts.reports.junit },
  ];
}

test("docs/ci: the GitHub and GitLab pipelines' gate passes on a fresh checkout with their environment", { skip }, async () => {
  for (const p of await pipelines()) {
    const built = ["npm ci", "npm run build"];
    assert.deepEqual(p.commands.filter((c) => built.includes(c)), built, `${p.name}: installs and builds first`);
    const rest = p.commands.filter((c) => !built.includes(c));
    assert.deepEqual(rest, ["docs/ci/gate-model.sh"], p.name);
    const checkout = await freshCheckout();
    try {
      const out = await runCommand(rest[0]!, checkout.dir, userEnv(p.env));
      assert.match(out, /^PASS: global-magnitude 4× \(matrix version \d+\)\n[\s\S]*advisor gate: global-magnitude 4x passes$/, p.name);
      assert.match(await readFile(path.join(checkout.dir, p.report), "utf8"), /<testsuite [^>]*tests="3" failures="0" errors="0"/, `${p.name}: the JUnit report the pipeline publishes`);
    } finally {
      await checkout.remove();
    }
  }
});
