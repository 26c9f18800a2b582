// README acceptance: the curl examples, run against a service seeded with the shipped matrix
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
});
