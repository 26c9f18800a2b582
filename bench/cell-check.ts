// Runs one evaluation cell as the builder does (black-box, transfer, white-box with reuse) on a
// grid's settings and prints, per level, a sha256 of everything the row takes from the result
// (distances, curve, per-attack records, sanity, indicators, queries; not times) and the CPU
// seconds per attack: a before/after check that a speed change leaves the rows identical.
// Usage: tsx bench/cell-check.ts <grid> <targetDir> <denseDir> <norm> [samples] [levels, comma-separated]
import { createHash } from "node:crypto";
import { tf } from "../src/engine/tf.js";
import { loadModel } from "../src/engine/model-io.js";
import { head } from "../src/engine/data.js";
import { loadDataset } from "../src/engine/dataset-formats.js";
import { initBackend } from "../src/engine/backend.js";
import { evaluateRobustness, samplesFromDataset, type AttackRecord, type RobustnessResult } from "../src/engine/evaluation/robustness.js";
import { TransferCache } from "../src/engine/evaluation/transfer-cache.js";
import { gridAttackPlan, queryBudgetFor, EVALUATION_ORDER } from "../src/matrix/cells.js";
import { loadGrid } from "../src/matrix/grid.js";
import type { Knowledge, Norm } from "../src/engine/attacks/types.js";

const [gridFile, targetDir, denseDir, normArg, samplesArg, levelsArg] = process.argv.slice(2);
if (!gridFile || !targetDir || !denseDir || !normArg) throw new Error("usage: cell-check.ts <grid> <targetDir> <denseDir> <norm> [samples] [levels]");
const norm = normArg as Norm;
const levels = levelsArg ? (levelsArg.split(",") as Knowledge[]) : [...EVALUATION_ORDER];
await initBackend();
// KERNEL_TIMES=1: wall time per wasm kernel (wrapped kernel functions), printed at the end.
const kernelTimes = new Map<string, [number, number]>();
if (process.env.KERNEL_TIMES) {
  for (const k of tf.getKernelsForBackend(tf.getBackend())) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = inner(args);
        const e = kernelTimes.get(k.kernelName) ?? [0, 0];
        e[0] += performance.now() - t0;
        e[1]++;
        kernelTimes.set(k.kernelName, e);
        return out;
      },
    });
  }
}
const grid = await loadGrid(gridFile);
const data = await loadDataset(grid.dataset.dir, grid.dataset.format, grid.dataset.name);
const samples = samplesFromDataset(head(data.test, Number(samplesArg ?? grid.samples)));
const target = await loadModel(targetDir);
const dense = await loadModel(denseDir);
const cache = new TransferCache();
const reuse: AttackRecord[] = [];

/** What a row keeps of a result, as canonical JSON (typed arrays as plain arrays; times left out). */
function rowContent(r: RobustnessResult): string {
  const { seconds: _s, backend: _b, ...rest } = r;
  return JSON.stringify(rest, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : String(x))) : v));
}

const cpu0 = process.cpuUsage();
for (const knowledge of EVALUATION_ORDER.filter((k) => levels.includes(k))) {
  const perAttack = new Map<string, number>();
  let lastCpu = process.cpuUsage();
  const r = await evaluateRobustness({
    target: target.model,
    ...(knowledge !== "black-box" ? { surrogate: { model: dense.model } } : {}),
    samples,
    norm,
    knowledge,
    budgets: grid.budgets[norm]!,
    attacks: gridAttackPlan(grid, norm),
    queryBudget: queryBudgetFor(grid, norm),
    batchSize: grid.attacks.batchSize,
    seed: grid.seeds[0] ?? 1,
    transferCache: cache,
    reuse: [...reuse],
    onProgress: (p) => {
      if (p.phase === "start") lastCpu = process.cpuUsage();
      if (p.phase === "end") {
        const c = process.cpuUsage(lastCpu);
        const key = `${p.knowledge}/${p.attack}${p.sanity ? "@unbounded" : ""}`;
        perAttack.set(key, (perAttack.get(key) ?? 0) + (c.user + c.system) / 1e6);
        // STAGES=1: every stage with its candidates and successes.
        if (process.env.STAGES) console.log(`    ${((c.user + c.system) / 1e6).toFixed(1).padStart(6)} cpu-s  ${key}@${p.budget ?? "min"} n=${p.total} beaten=${p.beaten}`);
      }
    },
  });
  reuse.push(...r.perAttack);
  const sha = createHash("sha256").update(rowContent(r)).digest("hex");
  console.log(`== ${knowledge}: sha256 ${sha.slice(0, 16)} curve ${r.curve.map((c) => c.robust).join(" ")} queries ${r.queries}`);
  for (const [k, s] of perAttack) if (s > 0.2) console.log(`  ${s.toFixed(1).padStart(6)} cpu-s  ${k}`);
}
const all = process.cpuUsage(cpu0);
console.log(`total ${((all.user + all.system) / 1e6).toFixed(1)} cpu-s`);
for (const [k, [ms, calls]] of [...kernelTimes].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25)) console.log(`  ${(ms / 1000).toFixed(2).padStart(7)} s ${String(calls).padStart(8)} calls  ${k}`);
