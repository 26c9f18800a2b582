// What the indicators of attack failure add to an evaluation, measured in one process so that the
// load of a shared machine hits both sides alike: the gradient check and the dead-class scan once
// per evaluation, and each traced white-box attack against the same attack untraced (alternating,
// best of `rounds`), on the first N test images of a model at the default grid's settings.
// Usage: tsx bench/indicator-overhead.ts <modelDir> [norm=linf] [samples=50] [rounds=3]
import { loadModel } from "../src/engine/model-io.js";
import { head } from "../src/engine/data.js";
import { loadDataset } from "../src/engine/dataset-formats.js";
import { initBackend } from "../src/engine/backend.js";
import { tf } from "../src/engine/tf.js";
import type { AttackBatch, AttackTrace, GradientAccess, Norm } from "../src/engine/attacks/types.js";
import { runAttack } from "../src/engine/evaluation/stages.js";
import { gradientFlags } from "../src/engine/evaluation/gradient-check.js";
import { deadClasses } from "../src/engine/evaluation/degenerate.js";
import { gridAttackPlan } from "../src/matrix/cells.js";
import { loadGrid } from "../src/matrix/grid.js";

const [dir, normArg = "linf", samplesArg = "50", roundsArg = "3"] = process.argv.slice(2);
if (!dir) throw new Error("usage: tsx bench/indicator-overhead.ts <modelDir> [norm] [samples] [rounds]");
const norm = normArg as Norm;
const n = Number(samplesArg);
const rounds = Number(roundsArg);
await initBackend();
const grid = await loadGrid("db/grids/default.yaml");
const data = head((await loadDataset(grid.dataset.dir, grid.dataset.format, grid.dataset.name)).test, n);
const { model } = await loadModel(dir);
const x = tf.tensor4d(data.images, [n, data.height, data.width, data.channels]);
const y = tf.tensor1d(data.labels, "int32");
const access: GradientAccess = { kind: "gradient", model, pool: x };
const budgets = grid.budgets[norm]!.filter((b) => b > 0);
const budget = budgets[Math.floor(budgets.length / 2)]!;

const ms = (f: () => unknown): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const best = (v: number[]): number => Math.min(...v);

const all = Array.from({ length: n }, (_, i) => i);
const batchOf = (p: number[]) => ({ x: tf.gather(x, p), y: tf.gather(y, p), dispose() {} });
const check = best(Array.from({ length: rounds }, () => ms(() => gradientFlags(model, n, [all], (p) => {
  const b = batchOf(p);
  return { x: b.x as tf.Tensor4D, y: b.y as tf.Tensor1D, dispose: () => (b.x.dispose(), b.y.dispose()) };
}))));
const scan = best(Array.from({ length: rounds }, () => ms(() => deadClasses(model))));
console.log(`${n} samples, ${norm}, budget ${budget}: gradient check ${check.toFixed(0)} ms, dead-class scan ${scan.toFixed(0)} ms (once per evaluation)`);

let plain = 0;
let traced = 0;
for (const attack of gridAttackPlan(grid, norm)["white-box"]) {
  const times: Record<"plain" | "traced", number[]> = { plain: [], traced: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ["plain", "traced"] as const) {
      const batch: AttackBatch = { x, y, seed: 1, ...(mode === "traced" ? { trace: {} as AttackTrace } : {}) };
      const t0 = performance.now();
      const adv = await runAttack(attack, access, batch, attack.kind === "fixed-budget" ? budget : undefined);
      times[mode].push(performance.now() - t0);
      adv.dispose();
    }
  }
  plain += best(times.plain);
  traced += best(times.traced);
  console.log(`  ${attack.name.padEnd(18)} ${best(times.plain).toFixed(0).padStart(7)} ms untraced, ${best(times.traced).toFixed(0).padStart(7)} ms traced`);
}
console.log(`white-box attacks at one budget: ${plain.toFixed(0)} ms untraced, ${traced.toFixed(0)} ms traced (${((100 * (traced - plain)) / plain).toFixed(1)} %); ` +
  `gradient check + scan ${(check + scan).toFixed(0)} ms = ${((100 * (check + scan)) / plain).toFixed(1)} % of those attacks (an evaluation runs them at every budget)`);
