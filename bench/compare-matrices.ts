// Before → after for a rebuilt matrix: which rows fail the engine's checks, and how robust
// accuracy moved, cell by cell (same architecture, strategy, rate, pruning seed, schedule, norm,
// knowledge). Both files are imported into temporary databases exactly as `advisor serve` imports
// the shipped matrix, so a row's failed checks are the ones the advisor sees.
//
//   node --import tsx bench/compare-matrices.ts BEFORE.jsonl AFTER.jsonl [--architecture A]
//        [--at "lenet5/layer-magnitude/32x/l0/white-box@8" ...]
//
// `--at CELL@BUDGET` prints that cell's robust accuracy at that budget before → after (the
// winners an issue asks about); a cell is architecture/strategy/<rate>x[/p<seed>][/cumulative]/norm/knowledge.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { importJsonl } from "../src/matrix/jsonl.js";
import { curveFromDistances } from "../src/matrix/row.js";
import { MatrixStore } from "../src/matrix/store.js";
import type { Candidate, Evaluation } from "../src/vocabulary.js";

interface Row {
  key: string;
  candidate: Candidate;
  evaluation: Evaluation;
}

function cellKey(c: Candidate, e: Evaluation): string {
  const seed = c.pruningSeed !== undefined && c.strategy !== "dense" ? `/p${c.pruningSeed}` : "";
  return `${c.architecture}/${c.strategy}/${c.rate}x${seed}${c.schedule ? "/cumulative" : ""}/${e.norm}/${e.knowledge}`;
}

async function rowsOf(file: string, architecture: string | undefined): Promise<Map<string, Row>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "compare-matrices-"));
  const store = await MatrixStore.open(path.join(dir, "m.sqlite"));
  try {
    await importJsonl(store, await readFile(file, "utf8"), { description: `compare-matrices: ${file}` });
    const out = new Map<string, Row>();
    for (const candidate of (await store.snapshot()).candidates) {
      if (architecture !== undefined && candidate.architecture !== architecture) continue;
      for (const evaluation of candidate.evaluations) {
        const key = cellKey(candidate, evaluation);
        // Each pruning seed of a variant is a cell of its own (p1 in an old file's rows too).
        out.set(key, { key, candidate, evaluation });
      }
    }
    return out;
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const robustAt = (e: Evaluation, budget: number): number => curveFromDistances(e.distances, [budget])[0]!.accuracy;
const failed = (r: Row | undefined): string[] => r?.evaluation.failedChecks ?? [];
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

function countByCheck(rows: Iterable<Row>): { rows: number; failing: number; byCheck: Map<string, number> } {
  const byCheck = new Map<string, number>();
  let n = 0;
  let failing = 0;
  for (const r of rows) {
    n++;
    const checks = failed(r);
    if (checks.length > 0) failing++;
    for (const c of checks) byCheck.set(c, (byCheck.get(c) ?? 0) + 1);
  }
  return { rows: n, failing, byCheck };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { architecture: { type: "string" }, at: { type: "string", multiple: true } } });
  if (positionals.length !== 2) throw new Error("usage: compare-matrices.ts BEFORE.jsonl AFTER.jsonl [--architecture A] [--at CELL@BUDGET ...]");
  const [beforeFile, afterFile] = positionals as [string, string];
  const [before, after] = await Promise.all([rowsOf(beforeFile, values.architecture), rowsOf(afterFile, values.architecture)]);
  const both = [...after.keys()].filter((k) => before.has(k));
  console.log(`rows: before ${before.size}, after ${after.size}, in both ${both.length} (only after: ${after.size - both.length}, only before: ${before.size - both.length})`);

  for (const [label, set] of [["before (cells in both)", both.map((k) => before.get(k)!)], ["after (cells in both)", both.map((k) => after.get(k)!)], ["after (all rows)", [...after.values()]]] as const) {
    const c = countByCheck(set);
    const checks = [...c.byCheck].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    console.log(`failing rows ${label}: ${c.failing} of ${c.rows}${checks ? ` (${checks})` : ""}`);
  }
  const stillFailing = [...after.values()].filter((r) => failed(r).length > 0);
  for (const r of stillFailing) console.log(`  still failing: ${r.key}: ${failed(r).join(", ")}`);

  // How far robust accuracy moved, per norm and knowledge, over every grid budget of the cells in both.
  const moves = new Map<string, { n: number; sum: number; down: number; up: number; max: number; maxAt: string }>();
  for (const k of both) {
    const b = before.get(k)!.evaluation;
    const a = after.get(k)!.evaluation;
    const group = `${a.norm}/${a.knowledge}`;
    const m = moves.get(group) ?? { n: 0, sum: 0, down: 0, up: 0, max: 0, maxAt: "" };
    for (const budget of a.budgets) {
      if (budget === 0) continue;
      const d = robustAt(a, budget) - robustAt(b, budget);
      m.n++;
      m.sum += d;
      if (d < 0) m.down++;
      if (d > 0) m.up++;
      if (Math.abs(d) > Math.abs(m.max)) [m.max, m.maxAt] = [d, `${k}@${budget}`];
    }
    moves.set(group, m);
  }
  console.log("robust accuracy after − before, over the grid budgets > 0 of cells in both:");
  for (const [group, m] of [...moves].sort()) {
    console.log(`  ${group}: mean ${(100 * m.sum / m.n).toFixed(2)} points over ${m.n} points (${m.down} lower, ${m.up} higher); largest ${(100 * m.max).toFixed(1)} at ${m.maxAt}`);
  }

  for (const spec of values.at ?? []) {
    const [key, budgetText] = spec.split("@") as [string, string | undefined];
    const budget = Number(budgetText);
    const show = (r: Row | undefined): string => (r ? `${pct(robustAt(r.evaluation, budget))}${failed(r).length ? ` [fails ${failed(r).join(", ")}]` : ""}` : "(no row)");
    console.log(`${key} at ${budget}: ${show(before.get(key))} → ${show(after.get(key))}`);
  }
}

await main();
