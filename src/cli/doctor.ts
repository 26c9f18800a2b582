// `advisor doctor`: which TensorFlow.js backend this machine gets (and why the better ones were
// skipped), the versions in play, which path the attacks' passes take (onnxruntime or TF.js, and
// why), and a short speed probe of the engine's hot loops on LeNet-5: a training step, an
// input-gradient step, and one step of a gradient attack as an evaluation runs it.
// The engine (TensorFlow.js, ~1 s to load) is imported only when the command runs, so the other
// subcommands do not pay for it.
import type { Command } from "commander";
import { packageVersion } from "../paths.js";
import type { tf as TF } from "../engine/tf.js";
import type { BackendInfo, initBackend as InitBackend } from "../engine/backend.js";
import type { createModel as CreateModel } from "../engine/models.js";
import type { compileModel as CompileModel, PassEngine } from "../engine/onnx/compiled.js";
import type { lossGradient as LossGradient } from "../engine/attacks/gradients.js";
import { UsageError } from "./errors.js";

interface Engine {
  tf: typeof TF;
  initBackend: typeof InitBackend;
  createModel: typeof CreateModel;
  compileModel: typeof CompileModel;
  lossGradient: typeof LossGradient;
}

async function loadEngine(): Promise<Engine> {
  const [{ tf }, { initBackend }, { createModel }, { compileModel }, { lossGradient }] = await Promise.all([
    import("../engine/tf.js"),
    import("../engine/backend.js"),
    import("../engine/models.js"),
    import("../engine/onnx/compiled.js"),
    import("../engine/attacks/gradients.js"),
  ]);
  return { tf, initBackend, createModel, compileModel, lossGradient };
}

interface DoctorFlags {
  json?: boolean;
  seconds?: string;
  batch?: string;
}

export interface ProbeResult {
  samplesPerSec: number;
  steps: number;
  seconds: number;
}

export interface DoctorReport {
  backend: BackendInfo & { wasmSimd?: boolean; wasmThreads?: boolean };
  versions: { advisor: string; tfjs: string; node: string };
  /** The path of the attacks' forward and gradient passes during an evaluation (src/engine/onnx/). */
  attackPasses: PassEngine;
  probe: {
    model: "lenet5";
    batch: number;
    data: "random";
    train: ProbeResult;
    inputGradient: ProbeResult;
    /** One cross-entropy lossGradient as PGD takes it, on the attacks' path. */
    attackGradient: ProbeResult;
  };
}

/** The cpu backend manages ~17 samples/s on a LeNet-5 training step: probe it with less. */
const DEFAULT_BATCH: Record<BackendInfo["name"], number> = { tensorflow: 128, wasm: 128, cpu: 16 };

function positive(value: string | undefined, flag: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} expects a positive ${integer ? "integer" : "number"}, got "${value}"`);
  }
  return n;
}

/** Runs `step` once to warm up, then repeatedly until `seconds` have passed (at least once). */
function timeSteps(step: () => void, batch: number, seconds: number): ProbeResult {
  step();
  let steps = 0;
  const t0 = performance.now();
  let elapsed: number;
  do {
    step();
    steps++;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < seconds);
  return { samplesPerSec: Math.round((steps * batch) / elapsed), steps, seconds: Math.round(elapsed * 100) / 100 };
}

/** LeNet-5 on random data: training steps (SGD), input-gradient steps, then attack-gradient steps on the attacks' path. */
export function speedProbe(engine: Engine, batch: number, seconds: number): DoctorReport["probe"] & { attackPasses: PassEngine } {
  const { tf, createModel } = engine;
  const model = createModel({ architecture: "lenet5", inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 1);
  const labels = tf.randomUniform([batch], 0, 10, "int32", 2);
  const y = tf.oneHot(labels, 10);
  const optimizer = tf.train.sgd(0.01);
  const loss = (input: TF.Tensor): TF.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(input) as TF.Tensor) as TF.Scalar;
  try {
    const train = timeSteps(
      () => {
        const value = optimizer.minimize(() => loss(x), true);
        value?.dataSync();
        value?.dispose();
      },
      batch,
      seconds / 3,
    );
    const gradOfInput = tf.grad(loss);
    const inputGradient = timeSteps(
      () => {
        const g = gradOfInput(x);
        g.dataSync();
        g.dispose();
      },
      batch,
      seconds / 3,
    );
    const { engine: attackPasses, release } = engine.compileModel(model);
    let attackGradient: ProbeResult;
    try {
      attackGradient = timeSteps(
        () => {
          const r = engine.lossGradient(model, x as TF.Tensor4D, labels as TF.Tensor1D, "ce");
          r.grad.dataSync();
          tf.dispose([r.grad, r.logits, r.loss]);
        },
        batch,
        seconds / 3,
      );
    } finally {
      release();
    }
    return { model: "lenet5", batch, data: "random", train, inputGradient, attackGradient, attackPasses };
  } finally {
    optimizer.dispose();
    tf.dispose([x, labels, y]);
    model.dispose();
  }
}

async function wasmFlags(tf: typeof TF): Promise<{ wasmSimd?: boolean; wasmThreads?: boolean }> {
  try {
    return {
      wasmSimd: Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")),
      wasmThreads: Boolean(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")),
    };
  } catch {
    return {};
  }
}

export async function doctor(opts: { seconds: number; batch?: number }): Promise<DoctorReport> {
  const engine = await loadEngine();
  const info = await engine.initBackend();
  const backend = info.name === "wasm" ? { ...info, ...(await wasmFlags(engine.tf)) } : { ...info };
  const batch = opts.batch ?? DEFAULT_BATCH[info.name];
  const { attackPasses, ...probe } = speedProbe(engine, batch, opts.seconds);
  return {
    backend,
    versions: { advisor: packageVersion(), tfjs: info.tfjsVersion, node: process.version },
    attackPasses,
    probe,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

function formatText(r: DoctorReport): string {
  const b = r.backend;
  const extras: string[] = [];
  if (b.requested !== undefined) extras.push(`forced by ADVISOR_BACKEND`);
  if (b.wasmSimd !== undefined) extras.push(`SIMD ${b.wasmSimd ? "on" : "off"}`);
  if (b.wasmThreads !== undefined) extras.push(`threads ${b.wasmThreads ? "on" : "off"}`);
  const lines = [
    `backend          ${b.label}${extras.length > 0 ? ` (${extras.join(", ")})` : ""}`,
    ...(b.fallbacks.length > 0 ? b.fallbacks.map((f, i) => `${i === 0 ? "skipped         " : "                "} ${f}`) : []),
    `versions         advisor ${r.versions.advisor}, tfjs ${r.versions.tfjs}, node ${r.versions.node}`,
    `attack passes    ${r.attackPasses.name === "onnxruntime" ? r.attackPasses.detail : `TF.js (${r.attackPasses.detail})`}`,
    `speed probe      lenet5, batch ${r.probe.batch}, random data`,
    `  train step     ${r.probe.train.samplesPerSec} samples/s (${plural(r.probe.train.steps, "step")} in ${r.probe.train.seconds} s)`,
    `  input gradient ${r.probe.inputGradient.samplesPerSec} samples/s (${plural(r.probe.inputGradient.steps, "step")} in ${r.probe.inputGradient.seconds} s)`,
    `  attack step    ${r.probe.attackGradient.samplesPerSec} samples/s (${plural(r.probe.attackGradient.steps, "step")} in ${r.probe.attackGradient.seconds} s, ${r.attackPasses.name === "onnxruntime" ? "onnxruntime" : "TF.js"})`,
  ];
  if (b.name === "wasm") lines.push("note             the wasm backend uses one core per process: run one worker per core");
  if (b.name === "cpu") lines.push("note             the cpu backend is slow: install @tensorflow/tfjs-node (or tfjs-node-gpu) or use the wasm backend");
  return lines.join("\n") + "\n";
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("show the compute backend, versions and a short LeNet-5 speed probe (env: ADVISOR_BACKEND)")
    .option("--json", "print one JSON object instead of text")
    .option("--seconds <s>", "length of the speed probe in seconds (default 2)")
    .option("--batch <n>", "batch size of the probe (default 128; 16 on the cpu backend)")
    .action(async (flags: DoctorFlags) => {
      const seconds = positive(flags.seconds, "--seconds", false) ?? 2;
      const batch = positive(flags.batch, "--batch", true);
      const report = await doctor({ seconds, ...(batch !== undefined ? { batch } : {}) });
      process.stdout.write(flags.json ? JSON.stringify(report) + "\n" : formatText(report));
    });
}
