// Times each stage of one evaluation cell (all knowledge levels, as the builder runs them) for a
// model and norm: where does a cell's time go? Usage: tsx bench/profile-cell.ts <modelDir> <norm> [samples]
import { loadModel } from "../src/engine/model-io.js";
import { head } from "../src/engine/data.js";
import { loadDataset } from "../src/engine/dataset-formats.js";
import { initBackend } from "../src/engine/backend.js";
import { evaluateRobustness, samplesFromDataset, type AttackRecord } from "../src/engine/evaluation/robustness.js";
import { TransferCache } from "../src/engine/evaluation/transfer-cache.js";
import { gridAttackPlan, queryBudgetFor, EVALUATION_ORDER } from "../src/matrix/cells.js";
import { loadGrid } from "../src/matrix/grid.js";
import type { Norm } from "../src/engine/attacks/types.js";

const [dir, normArg, samplesArg, denseArg] = process.argv.slice(2);
const norm = normArg as Norm;
await initBackend();
const grid = await loadGrid("db/grids/default.yaml");
const data = await loadDataset(grid.dataset.dir, grid.dataset.format, grid.dataset.name);
const samples = samplesFromDataset(head(data.test, Number(samplesArg ?? 100)));
const target = await loadModel(dir!);
const dense = await loadModel(denseArg ?? dir!);
const cache = new TransferCache();
const reuse: AttackRecord[] = [];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (const knowledge of EVALUATION_ORDER) {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let label = "";
  const times: [string, number, number][] = [];
  const r = await evaluateRobustness({
    target: target.model, surrogate: knowledge === "black-box" ? undefined : { model: dense.model }, samples, norm, knowledge,
    budgets: grid.budgets[norm]!, attacks: gridAttackPlan(grid, norm), queryBudget: queryBudgetFor(grid, norm),
    batchSize: Number(process.env.BATCH ?? grid.attacks.batchSize), seed: 1, transferCache: cache, reuse: [...reuse],
    onProgress: (p) => {
      if (p.phase === "start") { last = performance.now(); lastCpu = process.cpuUsage(); label = `${p.knowledge}/${p.attack}@${p.sanity ? "unb" : p.budget ?? "min"} n=${p.total}`; }
      if (p.phase === "end") {
        const cpu = process.cpuUsage(lastCpu);
        times.push([label + ` beaten=${p.beaten}`, (performance.now() - last) / 1000, (cpu.user + cpu.system) / 1e6]);
      }
    },
  });
  reuse.push(...r.perAttack);
  console.log(`== ${knowledge}: ${r.seconds.toFixed(1)} s, curve ${r.curve.map((c) => (c.robust / c.n).toFixed(2)).join(" ")}`);
  // CPU seconds next to wall seconds: on a shared machine the CPU time is the steadier figure.
  for (const [l, s, cpu] of times) if (s > Number(process.env.MIN_S ?? 0.5)) console.log(`  ${s.toFixed(1).padStart(6)} s  ${cpu.toFixed(1).padStart(6)} cpu-s  ${l}`);
}
const cpuAll = process.cpuUsage(cpu0);
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s, ${((cpuAll.user + cpuAll.system) / 1e6).toFixed(1)} cpu-s`);
