// The action of `advisor attack` (options in attack.ts).
import { initBackend } from "../engine/backend.js";
import { shapeText } from "../engine/data.js";
import { loadDatasetDirectory } from "../engine/dataset-formats.js";
import { loadModel, type ModelMetadata } from "../engine/model-io.js";
import { parseBudgets } from "../engine/evaluation/budgets.js";
import { distancesToJson, evaluateRobustness, samplesFromDataset, type RobustnessResult } from "../engine/evaluation/robustness.js";
import { UsageError } from "./errors.js";
import { asUsage } from "./options.js";
import { progressBar } from "./progress.js";
import type { AttackFlags } from "./attack.js";

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
const num = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

function describeShape(m: ModelMetadata): string {
  return `inputs ${m.inputShape.join("x")}, ${m.numClasses} classes`;
}

export async function attackAction(flags: AttackFlags): Promise<void> {
  const budgets = asUsage((v: string) => parseBudgets(flags.norm, v))(flags.budgets);
  if (flags.knowledge === "transfer" && flags.surrogate === undefined) {
    throw new UsageError("--knowledge transfer needs --surrogate <dir> (the dense model the transfer examples are crafted on)");
  }
  await initBackend();
  const { model, metadata } = await loadModel(flags.model);
  const surrogate = flags.surrogate === undefined ? undefined : await loadModel(flags.surrogate);
  if (surrogate) {
    const s = surrogate.metadata;
    if (s.inputShape.join() !== metadata.inputShape.join() || s.numClasses !== metadata.numClasses) {
      throw new UsageError(`the surrogate ${flags.surrogate} (${describeShape(s)}) does not match the model ${flags.model} (${describeShape(metadata)})`);
    }
  }
  const splits = await loadDatasetDirectory(flags.data);
  const test = splits.test;
  if (metadata.inputShape.join("x") !== shapeText(test) || test.numClasses !== metadata.numClasses) {
    throw new UsageError(
      `the model expects ${metadata.inputShape.join("x")} images in ${metadata.numClasses} classes but ${flags.data} holds ${shapeText(test)} images in ${test.numClasses} classes`,
    );
  }
  const count = Math.min(flags.samples, test.count);
  const samples = samplesFromDataset(test, Array.from({ length: count }, (_, i) => i));

  const bar = progressBar(1000, "attack {stage} |{bar}| {percentage}% | ETA {eta_formatted}");
  let result: RobustnessResult;
  try {
    result = await evaluateRobustness({
      target: model,
      surrogate: surrogate ? { model: surrogate.model, weightsSha256: surrogate.metadata.weightsSha256 } : undefined,
      samples,
      norm: flags.norm,
      knowledge: flags.knowledge,
      budgets,
      batchSize: flags.batchSize,
      seed: flags.seed,
      queryBudget: flags.queries,
      onProgress: (p) => {
        const stage =
          `${p.knowledge} ${p.attack}${p.sanity ? " (unbounded)" : p.budget === undefined ? "" : ` @ ${num(p.budget)}`}` +
          (p.phase === "craft" ? " (crafting on the surrogate)" : "");
        bar.update(Math.round((1000 * (p.stageIndex + (p.total ? p.done / p.total : 1))) / p.stages), { stage });
        if (p.phase === "end") bar.line(`${stage}: beaten ${p.beaten} of ${p.total} attacked`);
      },
    });
  } finally {
    bar.stop();
    model.dispose();
    surrogate?.model.dispose();
  }

  const summary = {
    model: { dir: flags.model, architecture: metadata.architecture, weightsSha256: metadata.weightsSha256 },
    surrogate: surrogate ? { dir: flags.surrogate, weightsSha256: surrogate.metadata.weightsSha256 } : null,
    dataset: test.name,
    ...result,
    distances: distancesToJson(result.distances),
    perAttack: result.perAttack.map((a) => ({ ...a, distances: distancesToJson(a.distances) })),
    perLevel: result.perLevel.map((l) => ({ ...l, distances: distancesToJson(l.distances) })),
  };
  if (flags.json) {
    process.stdout.write(JSON.stringify(summary) + "\n");
    return;
  }
  process.stdout.write(report(result, flags, metadata, test.name).join("\n") + "\n");
}

function report(r: RobustnessResult, flags: AttackFlags, metadata: ModelMetadata, dataset: string): string[] {
  const lines: string[] = [];
  const first = r.sampleIndices[0];
  const last = r.sampleIndices[r.sampleIndices.length - 1];
  lines.push(
    `${flags.model} (${metadata.architecture}, weights ${metadata.weightsSha256.slice(0, 12)}…) under ${r.norm} attacks, knowledge ${r.knowledge}` +
      (flags.surrogate ? `, surrogate ${flags.surrogate}` : ""),
  );
  lines.push(`${r.n} test images of ${dataset} (indices ${first}..${last}), clean accuracy ${pct(r.cleanCorrect / r.n)} (${r.cleanCorrect}/${r.n})`);
  lines.push("");
  lines.push(["budget".padEnd(10), "robust acc".padStart(10), "  95 % interval".padEnd(22), "robust/n"].join(" "));
  for (const p of r.curve) {
    lines.push([num(p.budget).padEnd(10), pct(p.accuracy).padStart(10), `  [${pct(p.interval.low)}, ${pct(p.interval.high)}]`.padEnd(22), `${p.robust}/${p.n}`].join(" "));
  }
  lines.push("");
  lines.push("attacks (beaten = successful proposals, verified on the model):");
  for (const a of r.perAttack) {
    const where = a.sanity ? `unbounded check at ${num(a.budgets[0] ?? NaN)}` : a.kind === "minimization" ? "minimization" : `budgets ${a.budgets.map(num).join(", ")}`;
    const params = Object.entries(a.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    lines.push(`  ${a.knowledge.padEnd(9)} ${a.name.padEnd(12)} ${where.padEnd(28)} beaten ${a.beaten} of ${a.attempted} attacked  (${params})`);
  }
  // Levels run strongest first and weaker ones only attack the samples still unbeaten, so only the
  // strongest level's curve is its own; the others show what they found on the leftovers.
  r.perLevel.forEach((l, i) => {
    const label = i === 0 ? `${l.knowledge} attacks alone` : `${l.knowledge} attacks (on samples the stronger levels left unbeaten)`;
    lines.push(`  ${label}: ${l.curve.map((p) => `${num(p.budget)} → ${pct(p.accuracy)}`).join(", ")}`);
  });
  lines.push("");
  const s = r.sanity;
  const verdict = (ok: boolean | null): string => (ok === null ? "not checked" : ok ? "pass" : "FAIL");
  lines.push(`sanity: ${s.pass ? "PASS" : "FAIL"}`);
  lines.push(`  robust accuracy at 0 equals clean accuracy: ${verdict(s.cleanAccuracy.pass)} (${pct(s.cleanAccuracy.acc0)} vs ${pct(s.cleanAccuracy.expected)})`);
  lines.push(`  curve never rises: ${verdict(s.monotone.pass)}${s.monotone.violations.length ? ` (rises at ${s.monotone.violations.map(num).join(", ")})` : ""}`);
  const u = s.unbounded;
  lines.push(
    u.checked
      ? `  unbounded white-box success (${u.attack} at ${num(u.budget ?? NaN)}): ${u.successRate === null ? "no clean-correct sample" : pct(u.successRate)} of ${u.n} clean-correct samples, need >= ${pct(u.threshold)}: ${verdict(u.pass)}`
      : `  unbounded white-box success: not checked (${u.note})`,
  );
  const m = s.masking;
  if (!m.checked) lines.push(`  gradient masking: not checked (${m.note})`);
  else {
    const flagged = m.perBudget.filter((p) => p.flagged);
    lines.push(
      flagged.length
        ? `  gradient masking: FLAGGED — weaker-knowledge attacks beat samples the white-box attacks did not: ${flagged
            .map((p) => `${p.excess} (${pct(p.excessShare)}) at ${num(p.budget)}`)
            .join(", ")}`
        : `  gradient masking: not flagged (max excess ${Math.max(0, ...m.perBudget.map((p) => p.excess))} sample(s))`,
    );
    lines.push(`    rule: ${m.rule}`);
  }
  lines.push("");
  lines.push(`${r.seconds.toFixed(1)} s on ${r.backend.label}, ${r.queries} black-box queries (budget ${r.queryBudget} per sample and run), seed ${r.seed}`);
  return lines;
}
