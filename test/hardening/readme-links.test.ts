// Issue 16.8: the README and docs/ are read in a clone, which has no ../shared: every link and
// every path they mention must stay inside the repository, and every link must resolve (a file
// that exists, an anchor that is a heading of the target).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../../src/paths.js";

function markdownFiles(): string[] {
  const out = [path.join(packageRoot, "README.md")];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".md")) out.push(p);
    }
  };
  if (existsSync(path.join(packageRoot, "docs"))) walk(path.join(packageRoot, "docs"));
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'. */
function anchors(file: string): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-"));
  }
  return out;
}

test("README.md and docs/ link and point only inside the repository, and every link resolves", () => {
  const files = markdownFiles();
  assert.ok(files.length >= 2);
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const rel = path.relative(packageRoot, file);
    assert.doesNotMatch(text, /\.\.\/shared|DESIGN\.md|torch_bench\.py/, `${rel} mentions a file outside the repository`);
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [p, anchor] = target.split("#") as [string, string | undefined];
      const resolved = p === "" ? file : path.resolve(path.dirname(file), p);
      assert.ok(resolved.startsWith(packageRoot), `${rel}: link ${target} leaves the repository`);
      assert.ok(existsSync(resolved), `${rel}: link ${target} points to a missing file`);
      if (anchor !== undefined && resolved.endsWith(".md")) assert.ok(anchors(resolved).has(anchor), `${rel}: link ${target}: no heading #${anchor} in ${path.relative(packageRoot, resolved)}`);
    }
  }
});
