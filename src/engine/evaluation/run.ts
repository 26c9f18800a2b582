// One robustness evaluation in progress (evaluateRobustness in robustness.ts drives it): checks
// its inputs, finds the clean errors, runs or takes over each stage, and reports. What is
// measured and why in this order is in robustness.ts's header.
import { tf, type LayersModel } from "../tf.js";
import { backendInfo, type BackendInfo } from "../backend.js";
import { weightsSha256 } from "../model-io.js";
import type { AttackBatch, Knowledge, Norm, PredictFn } from "../attacks/types.js";
import { verify } from "../attacks/verify.js";
import { logitsOf } from "../attacks/gradients.js";
import { compileModel, type PassEngine } from "../onnx/compiled.js";
import { EvaluationError, normalizeBudgets } from "./budgets.js";
import { levelsInScope, resolvePlan, type AttackPlan } from "./attack-plan.js";
import { beatenAt, curveOf } from "./curve.js";
import { TransferCache } from "./transfer-cache.js";
import { craftStage, transferKey } from "./crafting.js";
import { checkPositiveInt, mixSeed, planStages, priorRecord, runAttack, stageSeedOf, type Stage, type StagePlan } from "./stages.js";
import { checkCleanAccuracy, checkMasking, checkMonotone, sanityReport, unboundedCheck, uncheckedMasking, uncheckedUnbounded } from "./sanity.js";
import { constantModel, indicatorReport, newSignals, type AttackSignals, type GradientFlags } from "./indicators.js";
import { gradientFlags } from "./gradient-check.js";
import { deadClasses, outputWidth } from "./degenerate.js";
import type { AttackTrace } from "../attacks/types.js";
import type { AttackRecord, EvaluationProgress, LevelResult, RobustnessOptions, RobustnessResult, SampleSet, Surrogate } from "./robustness.js";

function inputShapeOf(model: LayersModel): number[] {
  return (model.inputs[0]?.shape ?? []).slice(1).map((d) => d ?? -1);
}

function classesOf(model: LayersModel): number {
  const out = model.outputs[0]?.shape ?? [];
  return out[out.length - 1] ?? -1;
}

interface Settings {
  opts: RobustnessOptions;
  backend: BackendInfo;
  norm: Norm;
  knowledge: Knowledge;
  target: LayersModel;
  samples: SampleSet;
  budgets: number[];
  batchSize: number;
  queryBudget: number;
  seed: number;
  levels: Knowledge[];
  plan: AttackPlan;
  shape: [number, number, number];
  surrogate: Surrogate | undefined;
  surrogateSha256: string | undefined;
  cache: TransferCache;
}

/** Checks the options and resolves their defaults (the surrogate's hash included). */
async function settingsOf(opts: RobustnessOptions): Promise<Settings> {
  const backend = backendInfo();
  const { norm, knowledge, target, samples } = opts;
  const budgets = normalizeBudgets(norm, opts.budgets);
  const batchSize = opts.batchSize ?? 100;
  const queryBudget = opts.queryBudget ?? 1000;
  const seed = opts.seed ?? 0;
  checkPositiveInt("batch size", batchSize);
  checkPositiveInt("query budget", queryBudget);
  const levels = levelsInScope(knowledge, opts.surrogate !== undefined);
  const plan = resolvePlan(norm, opts.attacks);

  const [h, w, c] = samples.shape;
  const n = samples.labels.length;
  if (samples.indices.length !== n || samples.x.length !== n * h * w * c) {
    throw new EvaluationError(`sample set inconsistent: ${n} labels, ${samples.indices.length} indices, ${samples.x.length} values for ${h}x${w}x${c} images`);
  }
  if (inputShapeOf(target).join() !== [h, w, c].join()) {
    throw new EvaluationError(`the target expects inputs ${inputShapeOf(target).join("x")}, the samples are ${h}x${w}x${c}`);
  }
  const surrogate = levels.includes("transfer") ? opts.surrogate : undefined;
  if (surrogate) {
    if (inputShapeOf(surrogate.model).join() !== inputShapeOf(target).join() || classesOf(surrogate.model) !== classesOf(target)) {
      throw new EvaluationError(
        `the surrogate (inputs ${inputShapeOf(surrogate.model).join("x")}, ${classesOf(surrogate.model)} classes) does not match the target (inputs ${inputShapeOf(target).join("x")}, ${classesOf(target)} classes)`,
      );
    }
  }
  const surrogateSha256 = surrogate ? (surrogate.weightsSha256 ?? (await weightsSha256(surrogate.model))) : undefined;
  const cache = opts.transferCache ?? new TransferCache();
  return { opts, backend, norm, knowledge, target, samples, budgets, batchSize, queryBudget, seed, levels, plan, shape: [h, w, c], surrogate, surrogateSha256, cache };
}

/**
 * The largest chunk of a query or transfer stage (see EvaluationRun.chunkSize). 1,000 samples of
 * a 32x32x3 image are 12 MB of input; the activations of the zoo's models at that batch stay well
 * inside the wasm backend's heap.
 */
export const QUERY_BATCH = 1000;

/** What every chunk of one stage shares. */
interface StageContext {
  fixedBudget: number | undefined;
  stageSeed: number;
  /** The transfer cache's key for this stage's examples (transfer stages only). */
  cacheKey?: string;
  /** Samples whose transfer examples were crafted by this stage (the rest count as reused). */
  craftedNow: Set<number>;
}

export class EvaluationRun {
  readonly stages: Stage[];
  private readonly F: number;
  private readonly n: number;
  private readonly y: Int32Array;
  private readonly sampleIndices: number[];
  private readonly cacheBefore: TransferCache["stats"];
  private readonly correct: boolean[];
  private readonly cleanCorrect: number;
  private readonly distances: Float32Array;
  private readonly levelDistances: Map<Knowledge, Float32Array>;
  private readonly stagePlan: StagePlan;
  /** Classes whose logit cannot depend on the input (from the weights), and the model's class count. */
  private readonly dead: ReturnType<typeof deadClasses>;
  private readonly classCount: number;
  /** Every class is dead: the model's answer never changes, so no attack runs (see the constructor). */
  private readonly constant: boolean;
  private readonly smallestPositive: number | undefined;
  private readonly perAttack: AttackRecord[] = [];
  /** Per fixed-budget attack record: samples it failed on at a larger budget (given up, see robustness.ts). */
  private readonly failures = new Map<AttackRecord, Uint8Array>();
  private readonly reusedRecords = new Set<AttackRecord>();
  private reusedStages = 0;
  private queries = 0;
  /** Every evaluated sample as one tensor: the white-box attacker's pool of data-set images (dataset-seed). Made on first use. */
  private pool: tf.Tensor4D | undefined;
  /** Zero / non-finite input gradients at the clean inputs (white-box in scope only; indicators.ts). */
  private readonly gradients: GradientFlags | undefined;
  /** The path the attacks' passes on the target take, and the compilations to release. */
  private readonly passes: PassEngine;
  private readonly releases: (() => void)[] = [];

  private constructor(private readonly s: Settings) {
    const [h, w, c] = s.shape;
    this.F = h * w * c;
    this.n = s.samples.labels.length;
    this.cacheBefore = { ...s.cache.stats };
    this.y = Int32Array.from(s.samples.labels);
    this.sampleIndices = Array.from(s.samples.indices);

    // Clean predictions: errors get d = 0 and are never attacked.
    this.correct = new Array<boolean>(this.n).fill(false);
    for (const part of this.chunks(Array.from({ length: this.n }, (_, i) => i), Math.max(s.batchSize, QUERY_BATCH))) {
      const b = this.tensors(part);
      const ok = tf.tidy(() => tf.equal(tf.argMax(this.predict(b.x), 1), b.y).dataSync());
      b.dispose();
      part.forEach((p, k) => (this.correct[p] = ok[k] === 1));
    }
    this.cleanCorrect = this.correct.filter(Boolean).length;
    this.distances = this.initial();
    this.levelDistances = new Map<Knowledge, Float32Array>(s.levels.map((l) => [l, this.initial()]));
    this.dead = deadClasses(s.target);
    this.classCount = outputWidth(s.target);
    const plan = planStages({
      levels: s.levels,
      plan: s.plan,
      norm: s.norm,
      budgets: s.budgets,
      features: this.F,
      queryBudget: s.queryBudget,
      unboundedCheck: s.opts.unboundedCheck !== false,
      initial: () => this.initial(),
    });
    // A constant model (every class pruned away, degenerate.ts): no input of any budget changes its
    // answer, so no attack can beat a sample it classifies correctly — the distances stay exactly
    // Infinity without running one. degenerate-model fails such a row (indicators.ts).
    this.constant = constantModel(this.dead.classes, this.classCount);
    this.stagePlan = this.constant ? Object.assign(plan, { stages: [] }) : plan;
    this.stages = this.stagePlan.stages;
    this.smallestPositive = s.budgets.find((b) => b > 0);
    // The attacks' passes on the target and the surrogate go through onnxruntime when it can run
    // them (onnx/compiled.ts), for the span of this evaluation (released in dispose()).
    const target = compileModel(s.target);
    this.passes = target.engine;
    this.releases.push(target.release);
    if (s.surrogate) this.releases.push(compileModel(s.surrogate.model).release);
    if (s.levels.includes("white-box")) {
      const correct = Array.from({ length: this.n }, (_, i) => i).filter((p) => this.correct[p]);
      this.gradients = gradientFlags(s.target, this.n, this.chunks(correct), (part) => this.tensors(part));
    }
  }

  static async start(opts: RobustnessOptions): Promise<EvaluationRun> {
    return new EvaluationRun(await settingsOf(opts));
  }

  private initial(): Float32Array {
    return Float32Array.from(this.correct, (ok) => (ok ? Infinity : 0));
  }

  private row(p: number): Float32Array {
    return this.s.samples.x.subarray(p * this.F, (p + 1) * this.F);
  }

  private tensors(positions: number[]): AttackBatch & { dispose(): void } {
    const [h, w, c] = this.s.shape;
    const xs = new Float32Array(positions.length * this.F);
    positions.forEach((p, k) => xs.set(this.row(p), k * this.F));
    const x = tf.tensor4d(xs, [positions.length, h, w, c]);
    const yt = tf.tensor1d(Int32Array.from(positions, (p) => this.y[p]!), "int32");
    return { x, y: yt, seed: 0, dispose: () => (x.dispose(), yt.dispose()) };
  }

  // The reference forward pass — TF.js's, whatever path the attacks' passes take (onnx/compiled.ts):
  // it decides the clean errors and, in verify(), every success. model.apply rather than
  // model.predict: predict slices its input into batches (a copy, even for one batch), apply runs
  // the same layers on the tensor as given — the same logits, bit for bit.
  private readonly predict: PredictFn = (x) => tf.tidy(() => this.s.target.apply(x, { training: false }) as tf.Tensor2D);

  /** The query attacks' forward pass: the attacks' path (onnxruntime when the target is compiled), counted. */
  private readonly countingPredict: PredictFn = (x) => {
    this.queries += x.shape[0];
    return tf.tidy(() => logitsOf(this.s.target, x));
  };

  private chunks(positions: number[], size = this.s.batchSize): number[][] {
    const out: number[][] = [];
    for (let k = 0; k < positions.length; k += size) out.push(positions.slice(k, k + size));
    return out;
  }

  /**
   * Samples per chunk of a stage. Gradient attacks on the target use the grid's batch size: their
   * random starts are seeded per chunk, so it is part of what defines their results. Query attacks
   * (per-sample random streams seeded by the stage seed and the sample) and transfer stages (a
   * lookup in the transfer cache and one forward pass) give every sample the same outcome whatever
   * its batch, so they take all candidates at once, up to QUERY_BATCH: fewer, larger forward
   * passes per query round instead of one round per chunk.
   */
  private chunkSize(st: Stage): number {
    return st.level === "white-box" ? this.s.batchSize : Math.max(this.s.batchSize, QUERY_BATCH);
  }

  private failedBy(r: AttackRecord): Uint8Array {
    let f = this.failures.get(r);
    if (!f) this.failures.set(r, (f = new Uint8Array(this.n)));
    return f;
  }

  /** A verified success of stage `st` on sample p at distance d. */
  private beat(st: Stage, levelD: Float32Array, p: number, d: number): void {
    this.distances[p] = Math.min(this.distances[p]!, d);
    levelD[p] = Math.min(levelD[p]!, d);
    st.record.distances[p] = Math.min(st.record.distances[p]!, d);
  }

  /**
   * The samples stage `st` attacks: clean-correct, not given up by its attack, and not already
   * beaten at the stage's budget by this level. Minimization attacks skip samples beaten at the
   * smallest positive budget: nothing they could find there would change the curve at any budget
   * of the grid. Only this level's findings count, so the level's outcome does not depend on the
   * other levels (exact `reuse`).
   */
  private candidatesOf(st: Stage, levelD: Float32Array, fixedBudget: number | undefined, failed: Uint8Array | undefined): number[] {
    const threshold = fixedBudget ?? this.smallestPositive;
    const candidates: number[] = [];
    for (let p = 0; p < this.n; p++) {
      if (!this.correct[p] || failed?.[p] === 1) continue;
      if (st.sanity ? levelD[p] === Infinity : threshold !== undefined && !beatenAt(levelD[p]!, threshold)) candidates.push(p);
    }
    return candidates;
  }

  /**
   * Takes an earlier run's outcome over: it attacked every sample that is a candidate here (it had
   * at most the same attacks before this stage), with the same per-sample outcome. Returns how
   * many candidates it beat.
   */
  private takeOver(st: Stage, levelD: Float32Array, prior: AttackRecord, candidates: number[], fixedBudget: number | undefined): number {
    let beaten = 0;
    for (const p of candidates) {
      const d = prior.distances[p]!;
      // Distances are float32: a success at b was stored as fround(min(measured, b)).
      if (!(d > 0 && (fixedBudget === undefined ? d < Infinity : d <= Math.fround(fixedBudget)))) continue;
      beaten++;
      this.beat(st, levelD, p, d);
    }
    if (prior.signals) {
      // What the earlier run saw on these samples comes along with its outcome.
      const sig = this.signalsOf(st.record);
      sig.seenMeasured ||= prior.signals.seenMeasured;
      sig.risingMeasured ||= prior.signals.risingMeasured;
      for (const p of candidates) {
        sig.silentAt[p] = Math.min(sig.silentAt[p]!, prior.signals.silentAt[p]!);
        sig.rising[p] ||= prior.signals.rising[p]!;
        sig.settled[p] ||= prior.signals.settled[p]!;
      }
    }
    if (!this.reusedRecords.has(prior)) {
      this.reusedRecords.add(prior);
      if (prior.queries !== undefined) {
        st.record.queries = (st.record.queries ?? 0) + prior.queries;
        this.queries += prior.queries;
      }
    }
    this.reusedStages++;
    return beaten;
  }

  /** Adversarial examples for one chunk of candidates: from the transfer cache, or by running the attack. */
  private async examplesFor(st: Stage, part: number[], b: AttackBatch, ci: number, ctx: StageContext, trace?: AttackTrace): Promise<tf.Tensor4D> {
    const { s, F } = this;
    if (st.level === "transfer") {
      const [h, w, c] = s.shape;
      const xs = new Float32Array(part.length * F);
      part.forEach((p, k) => xs.set(s.cache.get(ctx.cacheKey!, this.sampleIndices[p]!, this.row(p))!, k * F));
      s.cache.stats.reused += part.filter((p) => !ctx.craftedNow.has(p)).length;
      return tf.tensor4d(xs, [part.length, h, w, c]);
    }
    if (st.level === "white-box") {
      this.pool ??= tf.tensor4d(s.samples.x, [this.n, ...s.shape]);
      const batch: AttackBatch = { x: b.x, y: b.y, seed: mixSeed(ctx.stageSeed, `chunk${ci}`), ...(trace ? { trace } : {}) };
      return runAttack(st.attack, { kind: "gradient", model: s.target, pool: this.pool }, batch, ctx.fixedBudget);
    }
    // Query attacks derive per-sample streams from the stage seed: a sample's search does not depend on its batch.
    return runAttack(st.attack, { kind: "query", predict: this.countingPredict, queryBudget: s.queryBudget }, { x: b.x, y: b.y, seed: ctx.stageSeed }, ctx.fixedBudget);
  }

  /** Attacks one chunk, verifies the examples, and records the successes; returns how many it beat. */
  private async attackChunk(st: Stage, levelD: Float32Array, part: number[], ci: number, ctx: StageContext): Promise<number> {
    const b = this.tensors(part);
    let adv: tf.Tensor4D | undefined;
    let beaten = 0;
    // White-box attacks on the target report what they saw (indicators of attack failure); not the
    // unbounded sanity run, which is a check of its own.
    const trace: AttackTrace | undefined = st.level === "white-box" && !st.sanity ? {} : undefined;
    try {
      adv = await this.examplesFor(st, part, b, ci, ctx, trace);
      const verdict = verify(this.predict, b.x, b.y, adv, this.s.norm, ctx.fixedBudget);
      if (trace) this.recordTrace(st, part, trace, verdict, ctx.fixedBudget);
      part.forEach((p, k) => {
        if (!verdict.success[k]) return;
        const measured = verdict.distance[k]!;
        // A fixed-budget success at b means beaten at b (verify allows float round-off above b).
        const dist = ctx.fixedBudget === undefined ? measured : Math.min(measured, ctx.fixedBudget);
        beaten++;
        this.beat(st, levelD, p, dist);
      });
    } finally {
      adv?.dispose();
      b.dispose();
    }
    return beaten;
  }

  private signalsOf(r: AttackRecord): AttackSignals {
    return (r.signals ??= newSignals(this.n));
  }

  /**
   * Folds one chunk's trace into the attack's signals: a row the attack saw beaten but verify()
   * did not accept is a silent success (at the budget; for a minimization attack at the rejected
   * point's distance); a failed row's incomplete flag counts (a beaten row's does not).
   */
  private recordTrace(st: Stage, part: number[], trace: AttackTrace, verdict: { success: boolean[]; distance: Float32Array }, fixedBudget: number | undefined): void {
    if (!trace.seen && !trace.incomplete) return;
    const sig = this.signalsOf(st.record);
    if (trace.seen) sig.seenMeasured = true;
    if (trace.incomplete) sig.risingMeasured = true;
    part.forEach((p, k) => {
      if (verdict.success[k]) return;
      if (trace.seen?.[k] === 1) sig.silentAt[p] = Math.min(sig.silentAt[p]!, fixedBudget ?? verdict.distance[k]!);
      const v = trace.incomplete?.[k];
      if (v === 1) sig.rising[p] = 1;
      else if (v === 0) sig.settled[p] = 1;
    });
  }

  async runStage(si: number, st: Stage): Promise<void> {
    const { s, n } = this;
    if (!this.perAttack.includes(st.record)) this.perAttack.push(st.record);
    const levelD = this.levelDistances.get(st.level)!;
    const fixedBudget = st.attack.kind === "fixed-budget" ? st.budget : undefined;
    const givesUp = fixedBudget !== undefined && !st.sanity && st.level !== "transfer";
    const failed = givesUp ? this.failedBy(st.record) : undefined;
    const candidates = this.candidatesOf(st, levelD, fixedBudget, failed);
    const stageSeed = stageSeedOf(s.seed, st.level, st.attack, fixedBudget, st.sanity);
    let done = 0;
    let beaten = 0;
    const stageInfo = (): Pick<EvaluationProgress, "stageIndex" | "stages" | "knowledge" | "attack" | "budget" | "sanity"> => ({
      stageIndex: si,
      stages: this.stages.length,
      knowledge: st.level,
      attack: st.attack.name,
      budget: fixedBudget,
      sanity: st.sanity,
    });
    const progress = (phase: EvaluationProgress["phase"]): void => s.opts.onProgress?.({ ...stageInfo(), phase, done, total: candidates.length, beaten });
    progress("start");
    if (fixedBudget !== undefined && !st.record.budgets.includes(fixedBudget)) st.record.budgets.push(fixedBudget);

    const prior = candidates.length > 0 ? priorRecord(s.opts.reuse, st, n) : undefined;
    const queriesBefore = this.queries;
    if (prior) {
      beaten = this.takeOver(st, levelD, prior, candidates, fixedBudget);
      done = candidates.length;
    } else {
      const ctx: StageContext = { fixedBudget, stageSeed, craftedNow: new Set<number>() };
      // Transfer: make sure the whole sample set has examples crafted on the surrogate for this stage.
      if (st.level === "transfer" && candidates.length > 0) {
        ctx.cacheKey = transferKey(s.surrogateSha256!, st.attack, s.norm, fixedBudget, stageSeed);
        ctx.craftedNow = await craftStage({ surrogate: s.surrogate!.model, samples: s.samples, batchSize: s.batchSize, cache: s.cache }, ctx.cacheKey, st.attack, fixedBudget, stageSeed, (done, total) =>
          s.opts.onProgress?.({ ...stageInfo(), phase: "craft", done, total, beaten: 0 }),
        );
      }
      for (const [ci, part] of this.chunks(candidates, this.chunkSize(st)).entries()) {
        beaten += await this.attackChunk(st, levelD, part, ci, ctx);
        done += part.length;
        progress("chunk");
      }
      if (st.attack.access === "query") st.record.queries = (st.record.queries ?? 0) + (this.queries - queriesBefore);
    }
    st.record.attempted += candidates.length;
    st.record.beaten += beaten;
    // A candidate this attack did not beat at this budget is given up (see robustness.ts).
    if (failed) for (const p of candidates) if (!beatenAt(st.record.distances[p]!, fixedBudget!)) failed[p] = 1;
    progress("end");
  }

  /** Frees the run's tensors (the pool); call once, after the last stage. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = undefined;
    for (const release of this.releases.splice(0)) release();
  }

  /** The result once every stage ran; `t0` is when the evaluation started. */
  result(t0: number): RobustnessResult {
    const { s, n, distances, levelDistances, cleanCorrect } = this;
    const { levels, budgets, knowledge } = s;
    const { runUnbounded, sanityAttack, hugeBudget } = this.stagePlan;
    const curve = curveOf(distances, budgets);
    const perLevel: LevelResult[] = levels.map((l) => ({
      knowledge: l,
      attacks: s.plan[l].map((a) => a.name),
      distances: levelDistances.get(l)!,
      curve: curveOf(levelDistances.get(l)!, budgets),
    }));

    const wb = levelDistances.get("white-box");
    const { dead, classCount, constant } = this;
    let unbounded = uncheckedUnbounded(
      levels.includes("white-box") ? "disabled (unboundedCheck: false)" : `white-box attacks are not in scope for knowledge ${knowledge}`,
    );
    if (wb && runUnbounded && constant) {
      // No input of any budget changes a constant model's answer: the check's premise (every
      // input can be turned into another class) does not hold. degenerate-model fails the row.
      unbounded = uncheckedUnbounded(`not applicable: the model is constant (all ${classCount} classes pruned away, degenerate-model), no input is classified differently`);
    } else if (wb && runUnbounded) {
      let beatenAny = 0;
      for (let p = 0; p < n; p++) if (this.correct[p] && wb[p]! < Infinity) beatenAny++;
      unbounded = unboundedCheck(beatenAny, cleanCorrect, sanityAttack.name, hugeBudget);
    }
    const masking =
      wb === undefined
        ? uncheckedMasking(`needs white-box attacks in scope (knowledge is ${knowledge})`)
        : levels.length === 1
          ? uncheckedMasking("no weaker-knowledge attacks in scope")
          : checkMasking({
              budgets,
              whiteBox: wb,
              all: distances,
              transfer: levelDistances.get("transfer"),
              blackBox: levelDistances.get("black-box"),
            });
    const sanity = sanityReport({ cleanAccuracy: checkCleanAccuracy(distances, cleanCorrect), monotone: checkMonotone(curve), unbounded, masking });
    const indicators = indicatorReport({
      distances,
      budgets,
      gradients: this.gradients,
      gradientNote: `white-box attacks are not in scope for knowledge ${knowledge}`,
      signals: this.perAttack.filter((r) => r.knowledge === "white-box" && !r.sanity && r.signals).map((r) => ({ label: `${r.knowledge}/${r.name}`, signals: r.signals! })),
      deadClasses: dead.classes,
      classCount,
      ...(dead.classes === null ? { degenerateNote: dead.note } : {}),
      sanity,
    });

    const { cache } = s;
    const { cacheBefore } = this;
    return {
      norm: s.norm,
      knowledge,
      budgets,
      sampleIndices: this.sampleIndices,
      n,
      cleanCorrect,
      distances,
      curve,
      perAttack: this.perAttack,
      perLevel,
      sanity,
      indicators,
      // Results record the path of the attacks' passes with the backend: "wasm+onnxruntime".
      backend: this.passes.name === "onnxruntime" ? { ...s.backend, label: `${s.backend.label}+onnxruntime`, passes: this.passes.detail } : s.backend,
      seconds: (performance.now() - t0) / 1000,
      queries: this.queries,
      seed: s.seed,
      queryBudget: s.queryBudget,
      batchSize: s.batchSize,
      ...(s.opts.reuse === undefined ? {} : { reusedStages: this.reusedStages }),
      ...(s.surrogateSha256 === undefined
        ? {}
        : {
            transfer: {
              surrogateSha256: s.surrogateSha256,
              runs: cache.stats.runs - cacheBefore.runs,
              crafted: cache.stats.crafted - cacheBefore.crafted,
              reused: cache.stats.reused - cacheBefore.reused,
            },
          }),
    };
  }
}
