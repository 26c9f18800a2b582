// README acceptance: the curl and CLI examples, run against a service seeded with the shipped matrix
// (db/matrix.jsonl), print exactly what the README shows (`npm run docs:examples` regenerates them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { README, SHIPPED_MATRIX, parseExamples, runExamples } from "../helpers/readme-examples.js";

const has = (tool: string): boolean => {
  try {
    execFileSync("bash", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const missing = ["curl", "jq"].filter((t) => !has(t));

test("the README's curl examples work as shown against the shipped matrix", { skip: !existsSync(SHIPPED_MATRIX) ? "no shipped matrix (db/matrix.jsonl)" : missing.length > 0 ? `needs ${missing.join(" and ")}` : false }, async () => {
  const examples = parseExamples(await readFile(README, "utf8"));
  assert.ok(examples.length >= 4, "the README shows at least four examples");
  const outputs = await runExamples(examples);
  examples.forEach((e, i) => assert.equal(outputs[i], e.output, `README example ${i + 1}: ${e.command.split("\n")[0]}`));
  // What the adversarial-share section says in words, so a regenerated output cannot quietly turn it around.
  const sweep = examples.find((e) => e.command.includes("--adversarial-share $r"))!.output;
  assert.match(sweep, /^r = 0: global-magnitude 4× \(cumulative\)[\s\S]*\nr = 1: random 8× \(cumulative\)/);
  assert.match(
    examples.find((e) => e.command.includes("jq -r '.rationale'"))!.output,
    /global-gradient at 8× for 0\.177 ≤ r ≤ 0\.278 \(the recommendation at r = 0\.25\), random at 2× \(cumulative\) for 0\.278 ≤ r ≤ 0\.358, random at 4× \(cumulative\) for 0\.358 ≤ r ≤ 0\.619, 1 other candidate for r ≥ 0\.619;/,
  );
});
