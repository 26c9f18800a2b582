// Where a training step's time goes, in CPU time (steadier than wall time on a shared machine).
//   node --import tsx bench/train-profile.ts [lenet5|lenet300] [--kernels] [--reps 3]
// Trains a fresh model exactly as bench/run.ts's train-* workloads (Adam 1e-3, batch 128, the first
// 12,800 Fashion-MNIST training images in order), `reps` times in one process, and prints one JSON
// line per run: samples per wall second, samples per CPU second (process.cpuUsage, all threads),
// the first 10-step block's CPU ms per step (warm-up: JIT, wasm tier-up, heap growth) and the
// fastest 10-step block's. With --kernels, then profiles 30 more steps with tf.profile, each kernel
// timed in CPU time, and prints the kernels by median CPU ms per step.
import { parseArgs } from "node:util";
import { initBackend } from "../src/engine/backend.js";
import { DEFAULT_DATA_DIR, head, loadIdxDirectory } from "../src/engine/data.js";
import { createModel, type Architecture } from "../src/engine/models.js";
import { tf } from "../src/engine/tf.js";
import { batchTensors, trainStep, trainableVariables } from "../src/engine/train.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { kernels: { type: "boolean", default: false }, reps: { type: "string", default: "3" }, backend: { type: "string" } },
});
const architecture = (positionals[0] ?? "lenet5") as Architecture;
const info = await initBackend(values.backend);
const data = head((await loadIdxDirectory(DEFAULT_DATA_DIR)).train, 12_800);
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};

const model = createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
for (let rep = 0; rep < Number(values.reps); rep++) {
  const m = rep === 0 ? model : createModel({ architecture, inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  const optimizer = tf.train.adam(1e-3);
  const vars = trainableVariables(m);
  const blocks: number[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let block = process.cpuUsage();
  for (let start = 0; start < data.count; start += 128) {
    const { x, y } = batchTensors(data, start, 128);
    trainStep(m, optimizer, vars, x, y, data.numClasses);
    tf.dispose([x, y]);
    if ((start / 128) % 10 === 9) {
      blocks.push(cpuMs(block) / 10);
      block = process.cpuUsage();
    }
  }
  const cpu = cpuMs(c0) / 1000;
  const wall = (performance.now() - t0) / 1000;
  const round = (v: number): number => Math.round(v * 10) / 10;
  console.log(JSON.stringify({
    workload: `train-${architecture}`, backend: info.name, run: rep + 1,
    samples_per_s: Math.round(data.count / wall), samples_per_cpu_s: Math.round(data.count / cpu),
    first_block_cpu_ms_per_step: round(blocks[0] ?? NaN), best_block_cpu_ms_per_step: round(Math.min(...blocks)),
  }));
  optimizer.dispose();
  if (rep > 0) m.dispose();
}

if (values.kernels) {
  // Kernel timings in CPU time: tf.profile asks the backend to time each kernel.
  const backend = tf.backend() as unknown as { time: (f: () => void) => Promise<{ kernelMs: number }> };
  backend.time = async (f) => {
    const c = process.cpuUsage();
    f();
    return { kernelMs: cpuMs(c) };
  };
  const optimizer = tf.train.adam(1e-3);
  const vars = trainableVariables(model);
  const steps = 30;
  const times = new Map<string, number[]>();
  for (let s = 0; s < steps; s++) {
    const { x, y } = batchTensors(data, s * 128, 128);
    const p = await tf.profile(() => void trainStep(model, optimizer, vars, x, y, data.numClasses));
    const perStep = new Map<string, number>();
    for (const k of p.kernels) {
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      perStep.set(key, (perStep.get(key) ?? 0) + ((await k.kernelTimeMs) as number));
    }
    for (const [key, ms] of perStep) times.set(key, [...(times.get(key) ?? []), ms]);
    tf.dispose([x, y]);
  }
  const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)] ?? NaN;
  const rows = [...times].map(([kernel, ms]) => ({ kernel, cpu_ms_per_step: Math.round(median(ms) * 1000) / 1000 }));
  rows.sort((a, b) => b.cpu_ms_per_step - a.cpu_ms_per_step);
  for (const r of rows) if (r.cpu_ms_per_step >= 0.05) console.log(JSON.stringify(r));
  optimizer.dispose();
}
model.dispose();
