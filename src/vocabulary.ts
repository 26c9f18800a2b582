// The shared vocabulary (units are part of the contract): norms, attacker knowledge, strategy
// names, the Wilson interval, robust accuracy from per-sample distances, and the matrix snapshot
// the advisor reads. The engine, the matrix store and the advisor all import it; it imports
// nothing of theirs, so the decision logic depends on none of them.
//
// Units: every accuracy and interval bound is a FRACTION in [0, 1]; a budget ε is in the units of
// its norm (L∞ pixel units in [0, 1], L2 Euclidean, L0 an integer number of changed features); a
// compression rate is prunable parameters before ÷ non-zero prunable parameters after.

export const NORMS = ["l0", "l2", "linf"] as const;
export type Norm = (typeof NORMS)[number];

/** The attacker-knowledge lattice, strongest first. Each level may also run every attack of the levels after it. */
export const KNOWLEDGE_LEVELS = ["white-box", "transfer", "black-box"] as const;
export type Knowledge = (typeof KNOWLEDGE_LEVELS)[number];

/**
 * The pruning strategies, as stored: the ShrinkBench-style unstructured ones and structured-l1,
 * then the rest of the paper's pruning set (Merkle et al. 2021), named `<granularity>/<rule>`.
 * A strategy of the paper's set is granularity × rule (GRANULARITIES × PRUNING_RULES); the four
 * combinations today's names already are keep being stored under today's names (STRATEGY_ALIASES),
 * so the shipped matrix's keys and grid hashes do not change. Appended, never reordered: grids list
 * their strategies in this order, and their hash depends on it.
 */
export const PRUNING_STRATEGIES = [
  "global-magnitude",
  "layer-magnitude",
  "global-gradient",
  "layer-gradient",
  "random",
  "structured-l1",
  "kernel/random-local",
  "kernel/magnitude-local",
  "kernel/magnitude-global",
  "filter/random-local",
  "filter/magnitude-global",
] as const;
export type PruningStrategy = (typeof PRUNING_STRATEGIES)[number];

/** What a strategy removes: single weights, whole k×k kernels (conv layers), whole filters / neurons. */
export const GRANULARITIES = ["unstructured", "kernel", "filter"] as const;
export type Granularity = (typeof GRANULARITIES)[number];
/** How it chooses: at random per layer, by magnitude per layer, by magnitude over all layers at once. */
export const PRUNING_RULES = ["random-local", "magnitude-local", "magnitude-global"] as const;
export type PruningRule = (typeof PRUNING_RULES)[number];

/** The `<granularity>/<rule>` names that are today's strategies, and the name each is stored under. */
export const STRATEGY_ALIASES = {
  "unstructured/magnitude-global": "global-magnitude",
  "unstructured/magnitude-local": "layer-magnitude",
  "unstructured/random-local": "random",
  "filter/magnitude-local": "structured-l1",
} as const satisfies Record<string, PruningStrategy>;
export type StrategyAlias = keyof typeof STRATEGY_ALIASES;

/** Every name a request may use for a pruning strategy: the stored names and their aliases. */
export const PRUNING_STRATEGY_NAMES = [...PRUNING_STRATEGIES, ...(Object.keys(STRATEGY_ALIASES) as StrategyAlias[])] as const;

/** The stored name of a strategy name or alias; undefined for anything else. */
export function canonicalStrategy(name: unknown): PruningStrategy | undefined {
  if (typeof name !== "string") return undefined;
  if ((PRUNING_STRATEGIES as readonly string[]).includes(name)) return name as PruningStrategy;
  return Object.hasOwn(STRATEGY_ALIASES, name) ? STRATEGY_ALIASES[name as StrategyAlias] : undefined;
}

/** A pruning strategy's granularity (the gradient strategies are unstructured). */
export function granularityOf(strategy: PruningStrategy): Granularity {
  if (strategy === "structured-l1") return "filter";
  const slash = strategy.indexOf("/");
  return slash < 0 ? "unstructured" : (strategy.slice(0, slash) as Granularity);
}

/** `dense` is the unpruned model (rate 1); the others are the pruning strategies. */
export const STRATEGIES = ["dense", ...PRUNING_STRATEGIES] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Every name a request may use for a candidate's strategy: `dense`, the stored names and the aliases. */
export const STRATEGY_NAMES = ["dense", ...PRUNING_STRATEGY_NAMES] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** The stored name of a candidate strategy name (dense, a pruning strategy or an alias); undefined for anything else. */
export function canonicalCandidateStrategy(name: unknown): Strategy | undefined {
  return name === "dense" ? "dense" : canonicalStrategy(name);
}

// ───────────────────────────────── statistics ─────────────────────────────────

export interface Interval {
  low: number;
  high: number;
}

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval for a binomial proportion (successes out of n), 95 % by default.
 * Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n.
 */
export function wilson(successes: number, n: number, z = Z95): Interval {
  if (!(Number.isInteger(successes) && Number.isInteger(n) && n >= 0 && successes >= 0 && successes <= n)) {
    throw new RangeError(`wilson(${successes}, ${n}): need integers 0 <= successes <= n`);
  }
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 and n the bounds are exactly 0 and 1; computing them would leave round-off.
  return { low: successes === 0 ? 0 : centre - half, high: successes === n ? 1 : centre + half };
}

// ─────────────────────────── the adversarial share ───────────────────────────

/**
 * The share r of a model's inputs that are adversarial (Merkle et al. 2021, "additional
 * assumptions on the adversarial scenario"): over such a stream the model is right on
 * (1 − r)·clean + r·robust of its inputs. r = 1 (every input attacked) is the default and makes
 * the aggregate the robust accuracy itself.
 */
export const DEFAULT_ADVERSARIAL_SHARE = 1;

export interface AggregatedEstimate {
  /** The adversarial share r. */
  share: number;
  /** (1 − r)·clean + r·robust (point estimates). */
  value: number;
  interval: Interval;
}

/**
 * Accuracy over a stream with a share r of adversarial inputs, with a 95 % interval:
 * value (1 − r)·clean + r·robust, bounds (1 − r)·clean bound + r·robust bound.
 *
 * Why this interval, and not one from the per-sample mean of (1 − r)·clean_i + r·robust_i on the
 * evaluated samples (which the snapshot would allow, the two being measured on the same images):
 * - clean accuracy is measured on the whole test split (10,000 images in the shipped matrix),
 *   robust accuracy on the evaluated samples (500, a subset). The per-sample mean would throw the
 *   larger clean measurement away, and at r = 0 it would not even be the clean accuracy the answer
 *   reports;
 * - it is sound whatever the dependence between the two estimates (they share images, and a
 *   robust sample is always a clean-correct one): if clean >= its lower bound and robust >= its
 *   lower bound, the aggregate is >= the combined bound, so the combined lower bound fails only
 *   when one of the two does — each Wilson 95 % bound is a one-sided 97.5 % bound, so with no
 *   assumption at all (union bound) the combination is a one-sided 95 % bound; under the normal
 *   approximation Wilson rests on, the standard deviation of (1 − r)·Ĉ + r·R̂ is at most
 *   (1 − r)·sd(Ĉ) + r·sd(R̂) for any correlation, so it holds with at least the 97.5 % of each
 *   part — the level of the robust-only bound;
 * - it is linear in r, like the point estimate: each candidate's lower bound is a straight line
 *   over r, so the shares at which the best candidate changes are exact crossings of lines;
 * - at r = 1 it IS the robust interval and at r = 0 the clean one (returned as they are, not
 *   recomputed, so share 1 answers exactly as without a share).
 */
export function aggregateAccuracy(clean: { value: number; interval: Interval }, robust: { value: number; interval: Interval }, share: number): AggregatedEstimate {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`adversarial share ${share}: need a fraction in [0, 1]`);
  if (share === 1) return { share, value: robust.value, interval: { ...robust.interval } };
  if (share === 0) return { share, value: clean.value, interval: { ...clean.interval } };
  const mix = (c: number, r: number): number => Math.min(1, Math.max(0, (1 - share) * c + share * r));
  return {
    share,
    value: mix(clean.value, robust.value),
    interval: { low: mix(clean.interval.low, robust.interval.low), high: mix(clean.interval.high, robust.interval.high) },
  };
}

// ─────────────────────── robust accuracy from per-sample distances ───────────────────────

/**
 * Sample robust at ε: d > fround(ε). Distances are stored as float32, so the budget is compared in
 * the same precision (a sample recorded as beaten at exactly ε counts as beaten at ε). A NaN
 * distance counts as beaten (conservative).
 */
export function isRobustAt(distance: number, budget: number): boolean {
  return distance > Math.fround(budget);
}

export function robustCount(distances: ArrayLike<number>, budget: number): number {
  let robust = 0;
  for (let i = 0; i < distances.length; i++) if (isRobustAt(distances[i]!, budget)) robust++;
  return robust;
}

export interface Estimate {
  robust: number;
  n: number;
  /** robust / n (0 when n = 0). */
  value: number;
  /** Wilson 95 %. */
  interval: Interval;
}

export function estimate(successes: number, n: number): Estimate {
  return { robust: successes, n, value: n > 0 ? successes / n : 0, interval: wilson(successes, n) };
}

export function estimateAt(distances: ArrayLike<number>, budget: number): Estimate {
  return estimate(robustCount(distances, budget), distances.length);
}

// ─────────────────────────── indicators of attack failure ───────────────────────────

/**
 * The indicators of attack failure (Pintor et al. 2022) the engine computes per evaluation
 * (src/engine/evaluation/indicators.ts, where the admissibility rule is) and the matrix stores with
 * each row. `unconstrained-failure` and `weaker-attack-wins` are the sanity report's `unbounded`
 * and `masking` checks under the paper's names; a row failing them is named by those checks.
 */
export const ATTACK_FAILURE_INDICATORS = [
  "zero-gradients",
  "silent-success",
  "incomplete-optimisation",
  "unconstrained-failure",
  "weaker-attack-wins",
  "degenerate-model",
  "convergence",
] as const;
export type AttackFailureIndicator = (typeof ATTACK_FAILURE_INDICATORS)[number];

// ─────────────────────────── the matrix as the advisor reads it ───────────────────────────

/** Identifies an evidence row of the matrix (SQLite rowid, or a string key in JSON Lines). */
export type EvidenceId = number | string;

/** One attack that contributed to an evaluation, as recorded (provenance). */
export interface AttackRecord {
  name: string;
  params: Record<string, unknown>;
}

/**
 * One (norm, knowledge) robustness result of one candidate.
 *
 * `distances[i]` is, for the test image `sampleIndices[i]`, the minimal adversarial distance (in
 * the units of `norm`) found by ANY attack allowed at `knowledge` — i.e. the per-sample worst
 * case over every attack of this level and of the weaker levels, as the engine computes it:
 * 0 = already misclassified without attack, Infinity = never beaten. A fixed-budget attack that
 * succeeded at grid budget b contributes d_i <= b. Robust accuracy at ε = count(d_i > ε) / n,
 * with n = distances.length. Distances are compared in float32 precision (d_i > fround(ε)), as
 * the engine stores them.
 */
export interface Evaluation {
  id: EvidenceId;
  norm: Norm;
  knowledge: Knowledge;
  /** The grid budgets at which fixed-budget attacks ran, ascending (the advisor sorts a copy anyway). May be empty for minimization-only runs. */
  budgets: number[];
  /** The exact evaluated test images (indices into the data set's test split), aligned with `distances`. */
  sampleIndices: number[];
  /** Per-sample minimal adversarial distance; same length as `sampleIndices`. */
  distances: Float32Array;
  attacks: AttackRecord[];
  /** The engine's sanity check flagged gradient masking (a weaker-knowledge attack beat the white-box ones). */
  maskingSuspected: boolean;
  /**
   * The engine's sanity checks this row failed (e.g. `unbounded`: the unbounded attack did not beat
   * every sample; `masking`), from its stored report; absent or empty: none failed. The advisor
   * does not score such evidence unless asked to (Scenario.allowUnsoundEvidence).
   */
  failedChecks?: string[];
}

/** Clean (no-attack) accuracy as counts: `correct` of `n` test images. */
export interface CleanCount {
  correct: number;
  n: number;
}

/** One (model, strategy, rate, pruning seed) variant of the matrix. */
export interface Candidate {
  modelId: string;
  architecture: string;
  dataset: string;
  strategy: Strategy;
  /** Requested compression rate of the grid (1 for dense). */
  rate: number;
  /** Measured compression rate (prunable before ÷ non-zero prunable after). */
  achievedRate: number;
  /** Non-zero parameters of the whole model (prunable or not). */
  nonZeroParams: number;
  /** Size of the model stored sparse, in bytes. */
  sparseBytes: number;
  /** Kernel and filter strategies: bytes of the dense model with the removable filters physically dropped, when measured. */
  droppedBytes?: number;
  /** `cumulative`: pruned from the previous rate's fine-tuned variant; absent: one-shot (from the dense model). */
  schedule?: "cumulative";
  /** Really shrinks compute: true for filter-granularity strategies (structured-l1, filter/*) and for dense. */
  structured: boolean;
  /**
   * The seed pruning and fine-tuning ran with (for dense: the training seed), when known. The same
   * (model, strategy, rate) measured with several pruning seeds is several candidates, which the
   * advisor folds into one (src/advisor/seeds.ts).
   */
  pruningSeed?: number;
  clean: CleanCount;
  evaluations: Evaluation[];
}

/** The matrix as the advisor sees it: one version, every candidate with its evaluations. */
export interface MatrixSnapshot {
  version: number;
  candidates: Candidate[];
}
