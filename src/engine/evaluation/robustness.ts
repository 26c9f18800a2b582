// Robustness evaluation of one target model under one norm and one attacker-knowledge level
// (DESIGN.md, "Pipeline" and "Vocabulary"). Per sample i it finds the minimal adversarial
// distance d_i over every attack in scope — 0 for a clean error, Infinity when never beaten —
// from minimization attacks (their verified distance) and fixed-budget attacks at the grid
// budgets (a success at b gives d_i <= b). Robust accuracy at ε is mean(d_i > ε): the worst case
// over attacks per sample, monotone by construction, with a Wilson 95 % interval.
//
// Efficient by design:
//   - Each level in scope is measured on its own (a level's attacks only look at what that level
//     has found so far), so a level's curve is exactly what its attacks reach alone, and the
//     records of an earlier call on the same target can be taken over stage by stage (`reuse`):
//     the matrix builder evaluates black-box, then transfer, then white-box, and no attack runs
//     twice on a target.
//   - Within a level, minimization attacks run first (they skip samples already beaten at the
//     smallest positive budget; with no positive budget they do not run), then fixed-budget
//     attacks at the grid budgets from the LARGEST down. A sample is never attacked at a budget
//     its level has already beaten it at, and an attack that runs on the target (white-box,
//     black-box) gives a sample up once it failed on it at a larger budget: a fixed-budget
//     attack's search space at a smaller budget is contained in the larger one's, so the smaller
//     run would fail too (up to the attack's randomness). This costs each robust sample ONE
//     failed run instead of one per budget — failed runs are what fixed-budget attacks spend
//     their time on (all steps, all queries). Transfer examples only need a forward pass on the
//     target and are judged at every budget.
//   - Clean errors are never attacked. So d_i is exact where it matters — at the grid — and an
//     upper bound of the minimal distance elsewhere.
//   - Transfer examples are crafted on the surrogate once (for the whole sample set, independent
//     of the target: craftTransferExamples) and reused from a TransferCache for every target.
//
// Success is only ever decided by verify(): measured distance, [0, 1] box, the target's label,
// the budget. Attacks merely propose.
import { tf, type LayersModel } from "../tf.js";
import { backendInfo, type BackendInfo } from "../backend.js";
import { subset, type Dataset } from "../data.js";
import { weightsSha256 } from "../model-io.js";
import type { Attack, AttackBatch, Knowledge, Norm, PredictFn } from "../attacks/types.js";
import { verify } from "../attacks/verify.js";
import { EvaluationError, normalizeBudgets, unboundedBudget } from "./budgets.js";
import { defaultPgd, levelsInScope, resolvePlan, type AttackPlan } from "./attack-plan.js";
import { beatenAt, curveOf, type CurvePoint } from "./curve.js";
import { TransferCache } from "./transfer-cache.js";
import {
  checkCleanAccuracy,
  checkMasking,
  checkMonotone,
  sanityReport,
  unboundedCheck,
  uncheckedMasking,
  uncheckedUnbounded,
  type SanityReport,
} from "./sanity.js";

/** The evaluated samples: images flat and row-major [n, H, W, C] in [0, 1], labels, and their indices in the data set. */
export interface SampleSet {
  x: Float32Array;
  labels: ArrayLike<number>;
  /** Index of each sample in its data set (provenance, and the transfer cache's per-sample key). */
  indices: ArrayLike<number>;
  /** [H, W, C] */
  shape: [number, number, number];
}

/** The rows `indices` of a data set (all rows when omitted) as a SampleSet. */
export function samplesFromDataset(ds: Dataset, indices?: ArrayLike<number>): SampleSet {
  const idx = indices === undefined ? Array.from({ length: ds.count }, (_, i) => i) : Array.from(indices);
  const sub = subset(ds, idx);
  return { x: sub.images, labels: sub.labels, indices: idx, shape: [ds.height, ds.width, 1] };
}

export interface Surrogate {
  /** The dense original the transfer attacker crafts on. */
  model: LayersModel;
  /** sha256 of its weights (model-io metadata); computed from the model when omitted. */
  weightsSha256?: string;
}

export interface EvaluationProgress {
  /** "craft": transfer examples being crafted on the surrogate (done/total count samples crafted). */
  phase: "start" | "craft" | "chunk" | "end";
  /** 0-based position of the stage among `stages`. */
  stageIndex: number;
  stages: number;
  knowledge: Knowledge;
  attack: string;
  /** Fixed budget of the stage; undefined for minimization attacks. */
  budget?: number;
  /** The unbounded white-box sanity run. */
  sanity?: boolean;
  /** Samples of this stage done / to attack. */
  done: number;
  total: number;
  /** Samples the stage has beaten so far. */
  beaten: number;
}

export interface RobustnessOptions {
  target: LayersModel;
  /** Required for knowledge "transfer"; with "white-box" the transfer level runs only when given. */
  surrogate?: Surrogate;
  samples: SampleSet;
  norm: Norm;
  knowledge: Knowledge;
  /** Validated and sorted ascending (L0: integers >= 0; L2, L∞: finite >= 0; L∞ <= 1). */
  budgets: readonly number[];
  /** Attacks per level; a given list replaces that level's default. */
  attacks?: Partial<AttackPlan>;
  /** Forward queries per sample for each black-box attack run (default 1000). */
  queryBudget?: number;
  /** Samples per attack batch (default 100). */
  batchSize?: number;
  seed?: number;
  /** Share one cache between evaluations with the same surrogate: transfer examples are crafted once. */
  transferCache?: TransferCache;
  /** Run the unbounded white-box sanity attack (default true; only when white-box is in scope). */
  unboundedCheck?: boolean;
  onProgress?: (p: EvaluationProgress) => void;
  /**
   * Attack records of earlier evaluations of the SAME target on the SAME samples with the same
   * seed, batch size and query budget (e.g. a weaker knowledge level evaluated first). A stage
   * whose attack (knowledge, name, params, sanity flag) ran there at the stage's budget is not run
   * again: its verified per-sample distances are taken over. Attacks are seeded per sample or per
   * sample set, so the result equals a re-run; only time (and queries) are saved.
   */
  reuse?: readonly AttackRecord[];
}

export interface AttackRecord {
  name: string;
  kind: Attack["kind"];
  knowledge: Knowledge;
  access: "gradient" | "query";
  params: Record<string, number | string | boolean>;
  /** Budgets it ran at (fixed-budget attacks); empty for minimization attacks. */
  budgets: number[];
  /** Per sample, the smallest verified distance this attack achieved: 0 for clean errors, Infinity where it failed or did not run. */
  distances: Float32Array;
  /** Sample attacks run (summed over budgets). */
  attempted: number;
  /** Successful proposals (summed over budgets). */
  beaten: number;
  /** The unbounded sanity run. */
  sanity?: boolean;
  /** Forward queries this attack made (query attacks), including those of reused runs. */
  queries?: number;
}

export interface LevelResult {
  knowledge: Knowledge;
  attacks: string[];
  /** Min over this level's attacks: what this level's attacks reach on their own. */
  distances: Float32Array;
  curve: CurvePoint[];
}

export interface RobustnessResult {
  norm: Norm;
  knowledge: Knowledge;
  budgets: number[];
  sampleIndices: number[];
  n: number;
  cleanCorrect: number;
  /** Per sample: 0 = clean error, Infinity = never beaten, else the minimal verified adversarial distance. */
  distances: Float32Array;
  curve: CurvePoint[];
  perAttack: AttackRecord[];
  perLevel: LevelResult[];
  sanity: SanityReport;
  backend: BackendInfo;
  seconds: number;
  /** Forward queries the black-box attacks made. */
  queries: number;
  seed: number;
  queryBudget: number;
  batchSize: number;
  transfer?: { surrogateSha256: string; runs: number; crafted: number; reused: number };
  /** Stages taken over from `reuse` instead of being run. */
  reusedStages?: number;
}

interface Stage {
  level: Knowledge;
  attack: Attack;
  record: AttackRecord;
  budget?: number;
  sanity?: boolean;
}

/** A seed for one stage: the evaluation seed mixed with the stage's name (FNV-1a). */
function mixSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

function checkPositiveInt(name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new EvaluationError(`${name} must be a positive integer, got ${v}`);
}

function inputShapeOf(model: LayersModel): number[] {
  return (model.inputs[0]?.shape ?? []).slice(1).map((d) => d ?? -1);
}

function classesOf(model: LayersModel): number {
  const out = model.outputs[0]?.shape ?? [];
  return out[out.length - 1] ?? -1;
}

export async function evaluateRobustness(opts: RobustnessOptions): Promise<RobustnessResult> {
  const t0 = performance.now();
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
  const F = h * w * c;
  const n = samples.labels.length;
  if (samples.indices.length !== n || samples.x.length !== n * F) {
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
  const cacheBefore = { ...cache.stats };

  const y = Int32Array.from(samples.labels);
  const sampleIndices = Array.from(samples.indices);
  const row = (p: number): Float32Array => samples.x.subarray(p * F, (p + 1) * F);
  const tensors = (positions: number[]): AttackBatch & { dispose(): void } => {
    const xs = new Float32Array(positions.length * F);
    positions.forEach((p, k) => xs.set(row(p), k * F));
    const x = tf.tensor4d(xs, [positions.length, h, w, c]);
    const yt = tf.tensor1d(Int32Array.from(positions, (p) => y[p]!), "int32");
    return { x, y: yt, seed: 0, dispose: () => (x.dispose(), yt.dispose()) };
  };
  const predict: PredictFn = (x) => target.predict(x, { batchSize: Math.max(1, x.shape[0]) }) as tf.Tensor2D;
  let queries = 0;
  const countingPredict: PredictFn = (x) => {
    queries += x.shape[0];
    return predict(x);
  };
  const chunks = (positions: number[]): number[][] => {
    const out: number[][] = [];
    for (let k = 0; k < positions.length; k += batchSize) out.push(positions.slice(k, k + batchSize));
    return out;
  };

  // Clean predictions: errors get d = 0 and are never attacked.
  const correct = new Array<boolean>(n).fill(false);
  for (const part of chunks(Array.from({ length: n }, (_, i) => i))) {
    const b = tensors(part);
    const ok = tf.tidy(() => tf.equal(tf.argMax(predict(b.x), 1), b.y).dataSync());
    b.dispose();
    part.forEach((p, k) => (correct[p] = ok[k] === 1));
  }
  const cleanCorrect = correct.filter(Boolean).length;
  const initial = (): Float32Array => Float32Array.from(correct, (ok) => (ok ? Infinity : 0));
  const distances = initial();
  const levelDistances = new Map<Knowledge, Float32Array>(levels.map((l) => [l, initial()]));

  // Stages, in execution order.
  const stages: Stage[] = [];
  const record = (level: Knowledge, attack: Attack, sanity = false): AttackRecord => ({
    name: attack.name,
    kind: attack.kind,
    knowledge: level,
    access: attack.access,
    params: attack.access === "query" ? { ...attack.params, queryBudget } : { ...attack.params },
    budgets: [],
    distances: initial(),
    attempted: 0,
    beaten: 0,
    ...(sanity ? { sanity } : {}),
  });
  const runUnbounded = levels.includes("white-box") && opts.unboundedCheck !== false;
  const sanityAttack = plan["white-box"].find((a) => a.kind === "fixed-budget") ?? defaultPgd(norm);
  const hugeBudget = unboundedBudget(norm, F);
  for (const level of levels) {
    const attacks = plan[level];
    for (const a of attacks) if (a.kind === "minimization") stages.push({ level, attack: a, record: record(level, a) });
    const fixed = attacks.filter((a) => a.kind === "fixed-budget").map((a) => ({ a, rec: record(level, a) }));
    // Budget 0 cannot be beaten by a correct sample: no fixed-budget attack runs there. Largest
    // budget first, so that a sample an attack fails on is given up at once (see the header).
    for (const b of budgets.filter((b) => b > 0).reverse()) for (const { a, rec } of fixed) stages.push({ level, attack: a, record: rec, budget: b });
    if (level === "white-box" && runUnbounded) {
      stages.push({ level, attack: sanityAttack, record: record(level, sanityAttack, true), budget: hugeBudget, sanity: true });
    }
  }

  const smallestPositive = budgets.find((b) => b > 0);
  const perAttack: AttackRecord[] = [];
  const canonicalParams = (p: Record<string, number | string | boolean>): string => JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]]));
  const priorFor = (st: Stage): AttackRecord | undefined =>
    opts.reuse?.find(
      (r) =>
        r.knowledge === st.level &&
        r.name === st.attack.name &&
        r.kind === st.attack.kind &&
        (r.sanity ?? false) === (st.sanity ?? false) &&
        r.distances.length === n &&
        canonicalParams(r.params) === canonicalParams(st.record.params) &&
        (st.attack.kind === "fixed-budget" ? st.budget !== undefined && r.budgets.includes(st.budget) : r.budgets.length === 0),
    );
  // Per fixed-budget attack record: samples it failed on at a larger budget (given up, see header).
  const failures = new Map<AttackRecord, Uint8Array>();
  const failedBy = (r: AttackRecord): Uint8Array => {
    let f = failures.get(r);
    if (!f) failures.set(r, (f = new Uint8Array(n)));
    return f;
  };
  const reusedRecords = new Set<AttackRecord>();
  let reusedStages = 0;
  for (const [si, st] of stages.entries()) {
    if (!perAttack.includes(st.record)) perAttack.push(st.record);
    const levelD = levelDistances.get(st.level)!;
    const fixedBudget = st.attack.kind === "fixed-budget" ? st.budget : undefined;
    const candidates: number[] = [];
    // Minimization attacks skip samples beaten at the smallest positive budget: nothing they could
    // find there would change the curve at any budget of the grid. Only this level's findings
    // count, so the level's outcome does not depend on the other levels (exact `reuse`).
    const threshold = fixedBudget ?? smallestPositive;
    const givesUp = fixedBudget !== undefined && !st.sanity && st.level !== "transfer";
    const failed = givesUp ? failedBy(st.record) : undefined;
    for (let p = 0; p < n; p++) {
      if (!correct[p] || failed?.[p] === 1) continue;
      if (st.sanity ? levelD[p] === Infinity : threshold !== undefined && !beatenAt(levelD[p]!, threshold)) candidates.push(p);
    }
    // After the stage: a candidate this attack did not beat at this budget is given up.
    const giveUpFailures = (): void => {
      if (failed) for (const p of candidates) if (!beatenAt(st.record.distances[p]!, fixedBudget!)) failed[p] = 1;
    };
    const stageSeed = stageSeedOf(seed, st.level, st.attack, fixedBudget, st.sanity);
    let done = 0;
    let beaten = 0;
    const stageInfo = (): Pick<EvaluationProgress, "stageIndex" | "stages" | "knowledge" | "attack" | "budget" | "sanity"> => ({
      stageIndex: si,
      stages: stages.length,
      knowledge: st.level,
      attack: st.attack.name,
      budget: fixedBudget,
      sanity: st.sanity,
    });
    const progress = (phase: EvaluationProgress["phase"]): void => opts.onProgress?.({ ...stageInfo(), phase, done, total: candidates.length, beaten });
    progress("start");
    if (fixedBudget !== undefined && !st.record.budgets.includes(fixedBudget)) st.record.budgets.push(fixedBudget);

    const prior = candidates.length > 0 ? priorFor(st) : undefined;
    if (prior) {
      // Taken over: the earlier run attacked every sample that is a candidate here (it had at most
      // the same attacks before this stage), with the same per-sample outcome.
      for (const p of candidates) {
        const d = prior.distances[p]!;
        // Distances are float32: a success at b was stored as fround(min(measured, b)).
        if (!(d > 0 && (fixedBudget === undefined ? d < Infinity : d <= Math.fround(fixedBudget)))) continue;
        beaten++;
        distances[p] = Math.min(distances[p]!, d);
        levelD[p] = Math.min(levelD[p]!, d);
        st.record.distances[p] = Math.min(st.record.distances[p]!, d);
      }
      if (!reusedRecords.has(prior)) {
        reusedRecords.add(prior);
        if (prior.queries !== undefined) {
          st.record.queries = (st.record.queries ?? 0) + prior.queries;
          queries += prior.queries;
        }
      }
      reusedStages++;
      giveUpFailures();
      done = candidates.length;
      st.record.attempted += candidates.length;
      st.record.beaten += beaten;
      progress("end");
      continue;
    }
    const queriesBefore = queries;

    // Transfer: make sure the whole sample set has examples crafted on the surrogate for this stage.
    let cacheKey: string | undefined;
    let craftedNow = new Set<number>();
    if (st.level === "transfer" && candidates.length > 0) {
      cacheKey = transferKey(surrogateSha256!, st.attack, norm, fixedBudget, stageSeed);
      craftedNow = await craftStage({ surrogate: surrogate!.model, samples, batchSize, cache }, cacheKey, st.attack, fixedBudget, stageSeed, (done, total) =>
        opts.onProgress?.({ ...stageInfo(), phase: "craft", done, total, beaten: 0 }),
      );
    }

    for (const [ci, part] of chunks(candidates).entries()) {
      const b = tensors(part);
      let adv: tf.Tensor4D | undefined;
      try {
        if (st.level === "transfer") {
          const xs = new Float32Array(part.length * F);
          part.forEach((p, k) => xs.set(cache.get(cacheKey!, sampleIndices[p]!, row(p))!, k * F));
          cache.stats.reused += part.filter((p) => !craftedNow.has(p)).length;
          adv = tf.tensor4d(xs, [part.length, h, w, c]);
        } else if (st.level === "white-box") {
          adv = await runAttack(st.attack, { kind: "gradient", model: target }, { x: b.x, y: b.y, seed: mixSeed(stageSeed, `chunk${ci}`) }, fixedBudget);
        } else {
          // Query attacks derive per-sample streams from the stage seed: a sample's search does not depend on its batch.
          adv = await runAttack(st.attack, { kind: "query", predict: countingPredict, queryBudget }, { x: b.x, y: b.y, seed: stageSeed }, fixedBudget);
        }
        const verdict = verify(predict, b.x, b.y, adv, norm, fixedBudget);
        part.forEach((p, k) => {
          if (!verdict.success[k]) return;
          const measured = verdict.distance[k]!;
          // A fixed-budget success at b means beaten at b (verify allows float round-off above b).
          const dist = fixedBudget === undefined ? measured : Math.min(measured, fixedBudget);
          beaten++;
          distances[p] = Math.min(distances[p]!, dist);
          levelD[p] = Math.min(levelD[p]!, dist);
          st.record.distances[p] = Math.min(st.record.distances[p]!, dist);
        });
      } finally {
        adv?.dispose();
        b.dispose();
      }
      done += part.length;
      progress("chunk");
    }
    st.record.attempted += candidates.length;
    st.record.beaten += beaten;
    giveUpFailures();
    if (st.attack.access === "query") st.record.queries = (st.record.queries ?? 0) + (queries - queriesBefore);
    progress("end");
  }

  const curve = curveOf(distances, budgets);
  const perLevel: LevelResult[] = levels.map((l) => ({
    knowledge: l,
    attacks: plan[l].map((a) => a.name),
    distances: levelDistances.get(l)!,
    curve: curveOf(levelDistances.get(l)!, budgets),
  }));

  const wb = levelDistances.get("white-box");
  let unbounded = uncheckedUnbounded(
    levels.includes("white-box") ? "disabled (unboundedCheck: false)" : `white-box attacks are not in scope for knowledge ${knowledge}`,
  );
  if (wb && runUnbounded) {
    let beatenAny = 0;
    for (let p = 0; p < n; p++) if (correct[p] && wb[p]! < Infinity) beatenAny++;
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

  return {
    norm,
    knowledge,
    budgets,
    sampleIndices,
    n,
    cleanCorrect,
    distances,
    curve,
    perAttack,
    perLevel,
    sanity,
    backend,
    seconds: (performance.now() - t0) / 1000,
    queries,
    seed,
    queryBudget,
    batchSize,
    ...(opts.reuse === undefined ? {} : { reusedStages }),
    ...(surrogateSha256 === undefined
      ? {}
      : {
          transfer: {
            surrogateSha256,
            runs: cache.stats.runs - cacheBefore.runs,
            crafted: cache.stats.crafted - cacheBefore.crafted,
            reused: cache.stats.reused - cacheBefore.reused,
          },
        }),
  };
}

function transferKey(surrogateSha256: string, attack: Attack, norm: Norm, budget: number | undefined, stageSeed: number): string {
  return TransferCache.key({ surrogateSha256, attack: attack.name, norm, params: attack.params, budget: budget ?? null, seed: stageSeed });
}

/** The seed of one stage of an evaluation: what makes crafting outside an evaluation give the same examples. */
function stageSeedOf(seed: number, level: Knowledge, attack: Attack, budget: number | undefined, sanity = false): number {
  return mixSeed(seed, `${level}/${attack.name}/${sanity ? "unbounded" : (budget ?? "min")}`);
}

/**
 * Crafts, on the surrogate, the examples of one transfer stage for every sample of the set that the
 * cache lacks (in chunks of `batchSize`, seeded per chunk); returns the positions crafted now.
 */
async function craftStage(
  ctx: { surrogate: LayersModel; samples: SampleSet; batchSize: number; cache: TransferCache },
  key: string,
  attack: Attack,
  budget: number | undefined,
  stageSeed: number,
  onChunk?: (done: number, total: number) => void,
): Promise<Set<number>> {
  const { samples, cache, batchSize } = ctx;
  const [h, w, c] = samples.shape;
  const F = h * w * c;
  const row = (p: number): Float32Array => samples.x.subarray(p * F, (p + 1) * F);
  const missing: number[] = [];
  for (let p = 0; p < samples.labels.length; p++) if (!cache.has(key, samples.indices[p]!, row(p))) missing.push(p);
  for (let k = 0, ci = 0; k < missing.length; k += batchSize, ci++) {
    const part = missing.slice(k, k + batchSize);
    const xs = new Float32Array(part.length * F);
    part.forEach((p, j) => xs.set(row(p), j * F));
    const x = tf.tensor4d(xs, [part.length, h, w, c]);
    const y = tf.tensor1d(Int32Array.from(part, (p) => samples.labels[p]!), "int32");
    try {
      const adv = await runAttack(attack, { kind: "gradient", model: ctx.surrogate }, { x, y, seed: mixSeed(stageSeed, `craft${ci}`) }, budget);
      const data = adv.dataSync() as Float32Array;
      adv.dispose();
      part.forEach((p, j) => cache.set(key, samples.indices[p]!, row(p), data.slice(j * F, (j + 1) * F)));
      cache.stats.runs++;
      cache.stats.crafted += part.length;
    } finally {
      x.dispose();
      y.dispose();
    }
    onChunk?.(Math.min(missing.length, k + part.length), missing.length);
  }
  return new Set(missing);
}

export interface CraftOptions {
  surrogate: Surrogate;
  samples: SampleSet;
  norm: Norm;
  budgets: readonly number[];
  /** The transfer level's attacks (default: the engine's transfer attacks for the norm). */
  attacks?: Attack[];
  batchSize?: number;
  seed?: number;
  cache: TransferCache;
  onProgress?: (p: { attack: string; budget?: number; done: number; total: number }) => void;
}

/**
 * Crafts every transfer example an evaluation with the same samples, norm, budgets, attacks, seed
 * and batch size would craft (the same examples: same stage seeds, same chunks), ahead of time —
 * e.g. once per surrogate in a matrix build, saved with TransferCache.writeFile and shared by all
 * workers. Returns how many examples were crafted now (0 when the cache had them all).
 */
export async function craftTransferExamples(o: CraftOptions): Promise<{ crafted: number; stages: number; seconds: number }> {
  const t0 = performance.now();
  const budgets = normalizeBudgets(o.norm, o.budgets);
  const batchSize = o.batchSize ?? 100;
  checkPositiveInt("batch size", batchSize);
  const attacks = resolvePlan(o.norm, o.attacks === undefined ? {} : { transfer: o.attacks }).transfer;
  const sha = o.surrogate.weightsSha256 ?? (await weightsSha256(o.surrogate.model));
  const positive = budgets.filter((b) => b > 0);
  const ctx = { surrogate: o.surrogate.model, samples: o.samples, batchSize, cache: o.cache };
  let crafted = 0;
  let stages = 0;
  if (positive.length === 0) return { crafted, stages, seconds: 0 };
  for (const a of attacks) {
    for (const budget of a.kind === "minimization" ? [undefined] : positive) {
      const stageSeed = stageSeedOf(o.seed ?? 0, "transfer", a, budget);
      const now = await craftStage(ctx, transferKey(sha, a, o.norm, budget, stageSeed), a, budget, stageSeed, (done, total) =>
        o.onProgress?.({ attack: a.name, ...(budget === undefined ? {} : { budget }), done, total }),
      );
      crafted += now.size;
      stages++;
    }
  }
  return { crafted, stages, seconds: (performance.now() - t0) / 1000 };
}

/** Runs either kind of attack; a minimization attack ignores the budget. */
async function runAttack(
  attack: Attack,
  access: { kind: "gradient"; model: LayersModel } | { kind: "query"; predict: PredictFn; queryBudget: number },
  batch: AttackBatch,
  budget: number | undefined,
): Promise<tf.Tensor4D> {
  // The plan checked that each level's attacks have the access kind given here.
  const run = attack.run as (access: unknown, batch: AttackBatch, budget?: number) => Promise<tf.Tensor4D>;
  if (attack.kind === "fixed-budget") {
    if (budget === undefined) throw new Error(`fixed-budget attack ${attack.name} run without a budget`);
    return run.call(attack, access, batch, budget);
  }
  return run.call(attack, access, batch);
}

/** Per-sample distances as JSON-friendly numbers (Infinity → null). */
export function distancesToJson(d: Float32Array): (number | null)[] {
  return Array.from(d, (v) => (Number.isFinite(v) ? v : null));
}
