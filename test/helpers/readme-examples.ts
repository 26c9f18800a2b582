// The README's HTTP examples, run against a service seeded with the shipped matrix: the test
// (test/api/readme-examples.test.ts) checks that every command prints what the README shows, and
// `npm run docs:examples` rewrites the shown outputs after the shipped matrix changed.
//
// The examples live between `<!-- examples:begin -->` and `<!-- examples:end -->` in one
// ```console block: a line starting with "$ " is a command (continued by trailing backslashes),
// the lines up to the next command are its output. Commands name http://127.0.0.1:8080, the
// address `npm start` serves on; the runner substitutes the test service's address.
import { execFile } from "node:child_process";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { root, startService } from "./cli.js";

export const README = path.join(root, "README.md");
export const SHIPPED_MATRIX = path.join(root, "db", "matrix.jsonl");
const BEGIN = "<!-- examples:begin -->";
const END = "<!-- examples:end -->";
const ADDRESS = "http://127.0.0.1:8080";

export interface Example {
  command: string;
  output: string;
}

export function parseExamples(readme: string): Example[] {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} section`);
  const body = readme.slice(start + BEGIN.length, end);
  const lines = body.split("\n");
  const open = lines.findIndex((l) => l.startsWith("```console"));
  const close = lines.findIndex((l, i) => i > open && l.startsWith("```"));
  const examples: Example[] = [];
  for (let i = open + 1; i < close; ) {
    if (!lines[i]!.startsWith("$ ")) throw new Error(`README examples: expected a "$ " command line, got ${JSON.stringify(lines[i])}`);
    let command = lines[i]!.slice(2);
    while (command.endsWith("\\")) command = command + "\n" + lines[++i]!;
    i++;
    const output: string[] = [];
    while (i < close && !lines[i]!.startsWith("$ ")) output.push(lines[i++]!);
    examples.push({ command, output: output.join("\n").trimEnd() });
  }
  return examples;
}

export function renderExamples(readme: string, examples: Example[]): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  const block = ["```console", ...examples.flatMap((e) => [`$ ${e.command}`, ...(e.output ? [e.output] : [])]), "```"].join("\n");
  return `${readme.slice(0, start + BEGIN.length)}\n${block}\n${readme.slice(end)}`;
}

/** Starts a service on a fresh database seeded from the shipped matrix and runs every command (bash). */
export async function runExamples(examples: Example[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-readme-"));
  const svc = await startService(["--db", path.join(dir, "advisor.sqlite")], { ADVISOR_SEED_MATRIX: SHIPPED_MATRIX });
  try {
    const outputs: string[] = [];
    for (const e of examples) {
      const { stdout } = await promisify(execFile)("bash", ["-o", "pipefail", "-c", e.command.replaceAll(ADDRESS, svc.baseUrl)], { maxBuffer: 1 << 24 });
      outputs.push(stdout.trimEnd());
    }
    return outputs;
  } finally {
    svc.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

// `npm run docs:examples`: re-run the examples and write their outputs into the README.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const readme = await readFile(README, "utf8");
  const examples = parseExamples(readme);
  const outputs = await runExamples(examples);
  await writeFile(README, renderExamples(readme, examples.map((e, i) => ({ command: e.command, output: outputs[i]! }))));
  process.stdout.write(`README.md: ${examples.length} examples re-run against ${path.relative(root, SHIPPED_MATRIX)}\n`);
}
