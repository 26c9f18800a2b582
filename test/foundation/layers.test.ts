// Issue 18 item 4: dependencies point one way. The shared vocabulary imports nothing of the
// project; the advisor (pure decision logic) imports neither the engine, the matrix store, the API
// nor Node's I/O; the matrix store does not import the advisor; the engine imports neither.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../../src/paths.js";

const SRC = path.join(packageRoot, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every import/export-from specifier of a file, resolved to a path under src/ when relative. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)/g)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    return spec.startsWith(".") ? path.relative(SRC, path.resolve(path.dirname(file), spec)) : spec;
  });
}

function violations(folder: string, forbidden: RegExp): string[] {
  const out: string[] = [];
  const dir = path.join(SRC, folder);
  for (const f of statSync(dir).isDirectory() ? files(dir) : [dir]) {
    for (const target of imports(f)) if (forbidden.test(target)) out.push(`${path.relative(SRC, f)} → ${target}`);
  }
  return out;
}

test("the vocabulary imports nothing of the project", () => {
  assert.deepEqual(violations("vocabulary.ts", /^(engine|matrix|advisor|api|cli|jobs|models)\//), []);
});

test("the advisor depends on no engine, store, API or I/O", () => {
  assert.deepEqual(violations("advisor", /^(engine|matrix|api|cli|jobs|models)\/|^(node:)?(fs|child_process|net|http)|^express|^sqlite3|^@tensorflow/), []);
});

test("the matrix store and the engine do not import the advisor (nor the engine the store)", () => {
  assert.deepEqual(violations("matrix", /^(advisor|api|cli)\//), []);
  assert.deepEqual(violations("engine", /^(advisor|matrix|api|cli|jobs)\//), []);
});
