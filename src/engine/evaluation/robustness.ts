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
import type { LayersModel } from "../tf.js";
import type { BackendInfo } from "../backend.js";
import { inputShapeOf, subset, type Dataset } from "../data.js";
import type { Attack, Knowledge, Norm } from "../attacks/types.js";
import type { AttackPlan } from "./attack-plan.js";
import type { CurvePoint } from "./curve.js";
import type { TransferCache } from "./transfer-cache.js";
import type { SanityReport } from "./sanity.js";
import type { AttackSignals, IndicatorReport } from "./indicators.js";
import { EvaluationRun } from "./run.js";

export { craftTransferExamples, type CraftOptions } from "./crafting.js";

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
  return { x: sub.images, labels: sub.labels, indices: idx, shape: inputShapeOf(ds) };
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
  /** What the attack's runs on the target reported (white-box attacks that trace, indicators.ts). */
  signals?: AttackSignals;
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
  /** Indicators of attack failure (indicators.ts); the convergence probe, when run, is added by the caller (withConvergence). */
  indicators: IndicatorReport;
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

/** Evaluates `target` (see the header); stages run one after the other, in EvaluationRun. */
export async function evaluateRobustness(opts: RobustnessOptions): Promise<RobustnessResult> {
  const t0 = performance.now();
  const run = await EvaluationRun.start(opts);
  try {
    for (const [si, st] of run.stages.entries()) await run.runStage(si, st);
    return run.result(t0);
  } finally {
    run.dispose();
  }
}

/** Per-sample distances as JSON-friendly numbers (Infinity → null). */
export function distancesToJson(d: Float32Array): (number | null)[] {
  return Array.from(d, (v) => (Number.isFinite(v) ? v : null));
}
