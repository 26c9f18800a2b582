// The documentation's examples — the README's HTTP examples and every command in docs/ — run as
// a new user would run them on a fresh clone: the tests (test/api/readme-examples.test.ts,
// test/hardening/docs-examples.test.ts) check that every command prints what the page shows, and
// `npm run docs:examples` rewrites the shown outputs after the shipped matrix changed.
//
// Examples live between `<!-- examples:begin -->` and `<!-- examples:end -->` (a page may have
// several such sections), each one ```console block: a line starting with "$ " is a command
// (continued by trailing backslashes), the lines up to the next command are its output.
//
// Commands run with bash in a fresh checkout (freshCheckout below): the repository's docs/ and
// db/ (with the shipped matrix), no data/ and no database, and `node dist/cli/main.js` being the
// CLI as `npm run build` makes it. Commands naming http://127.0.0.1:8080, the address `npm start`
// serves on, get a service seeded with the shipped matrix; the runner substitutes its address.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { root, startService } from "./cli.js";

export const README = path.join(root, "README.md");
export const DOCS_DIR = path.join(root, "docs");
export const SHIPPED_MATRIX = path.join(root, "db", "matrix.jsonl");
const BEGIN = "<!-- examples:begin -->";
const END = "<!-- examples:end -->";
const ADDRESS = "http://127.0.0.1:8080";

export interface Example {
  command: string;
  output: string;
}

/** The [start, end) offsets of the text between each BEGIN and its END. */
function sections(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (let at = text.indexOf(BEGIN); at >= 0; at = text.indexOf(BEGIN, at + 1)) {
    const end = text.indexOf(END, at);
    const next = text.indexOf(BEGIN, at + 1);
    if (end < 0 || (next >= 0 && next < end)) throw new Error(`${BEGIN} without its ${END}`);
    out.push([at + BEGIN.length, end]);
  }
  if (out.length === 0) throw new Error(`no ${BEGIN} … ${END} section`);
  return out;
}

function parseSection(body: string): Example[] {
  const lines = body.split("\n");
  const open = lines.findIndex((l) => l.startsWith("```console"));
  const close = lines.findIndex((l, i) => i > open && l.startsWith("```"));
  if (open < 0 || close < 0) throw new Error("an examples section holds one ```console block");
  const examples: Example[] = [];
  for (let i = open + 1; i < close; ) {
    if (!lines[i]!.startsWith("$ ")) throw new Error(`examples: expected a "$ " command line, got ${JSON.stringify(lines[i])}`);
    let command = lines[i]!.slice(2);
    while (command.endsWith("\\")) command = command + "\n" + lines[++i]!;
    i++;
    const output: string[] = [];
    while (i < close && !lines[i]!.startsWith("$ ")) output.push(lines[i++]!);
    examples.push({ command, output: output.join("\n").trimEnd() });
  }
  return examples;
}

/** Every example of a page, its sections in order. */
export function parseExamples(text: string): Example[] {
  return sections(text).flatMap(([start, end]) => parseSection(text.slice(start, end)));
}

/** The page with its sections' examples replaced by `examples` (as many as parseExamples found). */
export function renderExamples(text: string, examples: Example[]): string {
  let out = "";
  let from = 0;
  let next = 0;
  for (const [start, end] of sections(text)) {
    const count = parseSection(text.slice(start, end)).length;
    const mine = examples.slice(next, (next += count));
    const block = ["```console", ...mine.flatMap((e) => [`$ ${e.command}`, ...(e.output ? [e.output] : [])]), "```"].join("\n");
    out += `${text.slice(from, start)}\n${block}\n`;
    from = end;
  }
  return out + text.slice(from);
}

/** The Markdown pages under docs/ (with examples sections or not). */
export async function docPages(): Promise<string[]> {
  const entries = await readdir(DOCS_DIR, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".md"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * A directory that looks like a fresh clone after `npm ci && npm run build`: the repository's
 * package.json, docs/ and db/, and dist/cli/main.js — here a two-line stand-in that runs the
 * sources through tsx, so the test needs no build. Nothing else: no data/, no reports/.
 */
export async function freshCheckout(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "advisor-checkout-"));
  for (const entry of ["package.json", "docs", "db"]) await symlink(path.join(root, entry), path.join(dir, entry));
  await mkdir(path.join(dir, "dist", "cli"), { recursive: true });
  const tsx = import.meta.resolve("tsx/esm/api");
  const main = pathToFileURL(path.join(root, "src", "cli", "main.ts")).href;
  await writeFile(path.join(dir, "dist", "cli", "main.js"), `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(main)});\n`);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What a new user's shell has: no PORT, ADVISOR_*, STRATEGY … left over from elsewhere. */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "TERM"];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])), ...extra };
}

/** Runs one command with bash -o pipefail in `cwd`; a non-zero exit is an error naming its stderr. */
export async function runCommand(command: string, cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)("bash", ["-o", "pipefail", "-c", command], { cwd, env, maxBuffer: 1 << 24 });
    return stdout.trimEnd();
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`command exited with ${e.code}: ${command}\nstdout: ${e.stdout ?? ""}\nstderr: ${e.stderr ?? ""}`, { cause: err });
  }
}

/** Runs the commands in order in one fresh checkout (with a seeded service if one names it). */
export async function runExamples(examples: Example[]): Promise<string[]> {
  const checkout = await freshCheckout();
  const serviceDir = await mkdtemp(path.join(os.tmpdir(), "advisor-service-"));
  try {
    const needsService = examples.some((e) => e.command.includes(ADDRESS));
    const svc = needsService ? await startService(["--db", path.join(serviceDir, "advisor.sqlite")], { ADVISOR_SEED_MATRIX: SHIPPED_MATRIX }) : null;
    try {
      const outputs: string[] = [];
      for (const e of examples) outputs.push(await runCommand(svc ? e.command.replaceAll(ADDRESS, svc.baseUrl) : e.command, checkout.dir));
      return outputs;
    } finally {
      svc?.child.kill("SIGKILL");
    }
  } finally {
    await checkout.remove();
    await rm(serviceDir, { recursive: true, force: true });
  }
}

// `npm run docs:examples`: re-run the examples of the README and of docs/ and write their outputs in.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  for (const page of [README, ...(await docPages())]) {
    const text = await readFile(page, "utf8");
    if (!text.includes(BEGIN)) continue;
    const examples = parseExamples(text);
    const outputs = await runExamples(examples);
    await writeFile(page, renderExamples(text, examples.map((e, i) => ({ command: e.command, output: outputs[i]! }))));
    process.stdout.write(`${path.relative(root, page)}: ${examples.length} examples re-run against ${path.relative(root, SHIPPED_MATRIX)}\n`);
  }
}
