// Auto-PGD (APGD; Croce & Hein, ICML 2020) for L∞ and L2 budgets, as fixed-budget attacks:
// APGD-CE (untargeted, cross-entropy) and APGD-DLR-T (targeted difference-of-logits-ratio loss,
// one run per target among the `targets` most likely non-true classes, 9 by default), the two
// white-box attacks of AutoAttack's standard evaluation.
//
// What APGD adds to PGD is a step size that needs no tuning and a momentum step:
//   - start: a random point on the ε-sphere (L∞: ε·u/‖u‖∞ with u uniform in [−1, 1]; L2:
//     ε·g/‖g‖₂ with g Gaussian), clipped to the [0, 1] box; step size η = 2ε;
//   - step: z = P(x_k + η·s(∇)) with s = sign (L∞) or ∇/‖∇‖₂ (L2), then
//     x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1})), α = 0.75 (α = 1 on the first step),
//     where P projects onto the ε-ball around the clean input and then into the box;
//   - checkpoints w_j = ⌈p_j·N⌉ with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)
//     (as intervals: 22 % of the N iterations, then 3 % less each time, never under 6 %);
//   - at each checkpoint, per sample, η is halved and the iterate restarts from the highest-loss
//     point so far (with that point's gradient) when either
//       1. the loss went up in at most ρ = 0.75 of the steps since the last checkpoint, or
//       2. η was not halved at the last checkpoint and the best loss has not improved since.
// Condition 1 uses "at most" (≤ ρ·interval), as the authors' code does; the paper writes "<".
//
// Losses, both per sample and increasing towards misclassification:
//   - ce: softmax cross-entropy logsumexp(z) − z_y;
//   - dlr-t: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²), π the classes sorted by logit
//     (descending) at the current point. The ratio is invariant to shifting and scaling the
//     logits. With fewer than 4 classes there is no π4 (and with 2 or 3 the ratio can be
//     constant in x), so the loss falls back to the plain targeted margin z_t − z_y.
// Cross-entropy's gradient mixes every class by its softmax weight, so it is not zero where the
// margin's is (e.g. when the true class and the runner-up both have their classifier column pruned
// away, the margin max_{j≠y} z_j − z_y is flat although other classes can still overtake).
//
// Per sample, the attack keeps the first iterate the attacked model misclassifies and stops
// attacking that sample (it is dropped from the batch, so later iterations run on the rest only).
// Later restarts and targets run only on samples no earlier run beat. A sample never beaten gets
// the highest-loss point of the last run (within budget and box; more useful for transfer than x).
// Attacks only propose: verify.ts measures distance, box and label.
import { tf, type LayersModel } from "../tf.js";
import { applyModel, compiledLossGradient } from "../onnx/compiled.js";
import { TRACE_NO_FAILED_RUN, type AttackBatch, type FixedBudgetAttack, type GradientAccess } from "./types.js";
import {
  addInBox,
  likelyOtherClasses,
  logitsOf,
  lossGradient,
  mergeIncomplete,
  misclassified,
  normalizeL2,
  perSample,
  projectL2,
  projectLinf,
  replaceRows,
  sampleLoss,
  stillRising,
  subSeed,
  tailLength,
  takeRows,
  wherePerSample,
  inRowOrder,
} from "./gradients.js";

export type ApgdNorm = "linf" | "l2";
export type ApgdLoss = "ce" | "dlr-t";

export interface ApgdOptions {
  /** Iterations per run (default 100). */
  steps?: number;
  /** Runs from independent random starts, per target for dlr-t (default 1). */
  restarts?: number;
  /** dlr-t only: how many of the most likely non-true classes (at the clean input) to target, one run each (default 9; capped at classes − 1). */
  targets?: number;
  /** Share of loss increases between checkpoints below which (≤) the step size is halved (default 0.75). */
  rho?: number;
  /** Momentum α: weight of the new projected step against the previous move (default 0.75). */
  momentum?: number;
  /** Initial step size as a multiple of ε (default 2). */
  relativeStepSize?: number;
  /**
   * How many runs (targets × restarts) one batched pass may hold at most (default: as many as fit
   * in MAX_PASS_ROWS rows). 1 runs them one after the other. Either way every row gets the same
   * result (see "Runs in one pass" below): a speed setting, not part of the attack's parameters.
   */
  runsPerPass?: number;
  /** Called after every pass with its runs, rows, and the rows it dropped as invalid (tests, benches). */
  onPass?: (p: PassInfo) => void;
}

/** What one batched pass did (ApgdOptions.onPass). */
export interface PassInfo {
  /** First run of the pass and how many runs it held. */
  firstRun: number;
  runs: number;
  /** Rows of the pass (runs × samples pending at its start). */
  rows: number;
  /** Rows dropped because an earlier run beat a sample at or before theirs. */
  dropped: number;
  /** Runs of the pass whose results were final (the rest run again in the next pass). */
  finalRuns: number;
}

/** Rows of one batched pass at most: the runs of a pass are cut so that runs × pending ≤ this. */
export const MAX_PASS_ROWS = 1000;

interface Resolved {
  runsPerPass: number;
  steps: number;
  restarts: number;
  targets: number;
  rho: number;
  momentum: number;
  relativeStepSize: number;
}

function resolve(loss: ApgdLoss, opts: ApgdOptions): Resolved {
  const steps = opts.steps ?? 100;
  const restarts = opts.restarts ?? 1;
  const targets = loss === "dlr-t" ? (opts.targets ?? 9) : 1;
  const rho = opts.rho ?? 0.75;
  const momentum = opts.momentum ?? 0.75;
  const relativeStepSize = opts.relativeStepSize ?? 2;
  const runsPerPass = opts.runsPerPass ?? Infinity;
  if (!(runsPerPass >= 1)) throw new RangeError(`APGD runsPerPass must be >= 1, got ${runsPerPass}`);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`APGD steps must be a positive integer, got ${steps}`);
  if (!(Number.isInteger(restarts) && restarts >= 1)) throw new RangeError(`APGD restarts must be a positive integer, got ${restarts}`);
  if (!(Number.isInteger(targets) && targets >= 1)) throw new RangeError(`APGD targets must be a positive integer, got ${targets}`);
  if (!(rho > 0 && rho <= 1)) throw new RangeError(`APGD rho must be in (0, 1], got ${rho}`);
  if (!(momentum > 0 && momentum <= 1)) throw new RangeError(`APGD momentum must be in (0, 1], got ${momentum}`);
  if (!(relativeStepSize > 0 && Number.isFinite(relativeStepSize))) throw new RangeError(`APGD relative step size must be > 0, got ${relativeStepSize}`);
  return { steps, restarts, targets, rho, momentum, relativeStepSize, runsPerPass };
}

/**
 * The checkpoint intervals of an N-iteration run: the first after ⌊0.22·N⌋ iterations, each next
 * one ⌊0.03·N⌋ shorter, never shorter than ⌊0.06·N⌋ (all at least 1), until N is reached.
 * Returned as the iteration counts (1-based) at which the step-size conditions are checked.
 */
export function apgdCheckpoints(steps: number): number[] {
  const first = Math.max(Math.floor(0.22 * steps), 1);
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  const min = Math.max(Math.floor(0.06 * steps), 1);
  const out: number[] = [];
  let at = 0;
  for (let k = first; at + k <= steps; k = Math.max(k - decrease, min)) {
    at += k;
    out.push(at);
  }
  return out;
}

/** Yields to the event loop so timers and signals run between long stretches of work. */
const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Per-sample loss [n] from logits [n, K]; `ceLabels` marks gradients.ts' cross-entropy for these
 * labels, `dlrRows` the targeted DLR for these labels and targets (both have a fused onnxruntime
 * graph: onnx/export.ts).
 */
export type LossFn = ((logits: tf.Tensor2D) => tf.Tensor1D) & { ceLabels?: tf.Tensor1D; dlrRows?: { y: Int32Array; t: Int32Array } };

/**
 * One forward and backward pass: the per-sample loss at x, its input gradient and the logits.
 * The returned tensors belong to the caller's scope.
 */
export function lossAndGradient(model: LayersModel, x: tf.Tensor4D, loss: LossFn): { grad: tf.Tensor4D; logits: tf.Tensor2D; loss: tf.Tensor1D } {
  // The cross-entropy is gradients.ts' own loss: its lossGradient (the same computation, in one
  // onnxruntime pass when the model is compiled).
  if (loss.ceLabels) return lossGradient(model, x, loss.ceLabels, "ce");
  if (loss.dlrRows) {
    const [y, t] = [tf.tensor1d(loss.dlrRows.y, "int32"), tf.tensor1d(loss.dlrRows.t, "int32")];
    const fused = compiledLossGradient(model, x, y, "dlr-t", t);
    tf.dispose([y, t]);
    if (fused) return fused;
  }
  let logitsKept: tf.Tensor2D | undefined;
  let lossKept: tf.Tensor1D | undefined;
  const grad = tf.grad((xi: tf.Tensor) => {
    const logits = applyModel(model, xi as tf.Tensor4D);
    const l = loss(logits);
    logitsKept = tf.keep(logits);
    lossKept = tf.keep(l);
    return tf.sum(l);
  })(x) as tf.Tensor4D;
  const logits = logitsKept!.clone();
  const l = lossKept!.clone();
  logitsKept!.dispose();
  lossKept!.dispose();
  return { grad, logits, loss: l };
}

/** Cross-entropy per sample. */
function ceLoss(y: tf.Tensor1D): LossFn {
  return Object.assign((logits: tf.Tensor2D) => sampleLoss(logits, y, "ce"), { ceLabels: y });
}

/**
 * Targeted DLR per sample (see the header), with labels y and targets t as host arrays of the
 * rows' classes. The numerator z_t − z_y and the denominator's class weights are built on the
 * host and enter as constants: the sort order needs no gradient, TopK has none in tfjs, and a
 * copy of the logits through the host keeps the ordering off the gradient tape.
 */
export function dlrTargetedLoss(y: Int32Array, t: Int32Array, classes: number): LossFn {
  const m = y.length;
  const num = new Float32Array(m * classes);
  for (let r = 0; r < m; r++) {
    num[r * classes + t[r]!] = 1;
    num[r * classes + y[r]!] = -1;
  }
  const fn = (logits: tf.Tensor2D): tf.Tensor1D =>
    tf.tidy(() => {
      const numerator = tf.sum(tf.mul(logits, tf.tensor2d(num, [m, classes])), 1);
      if (classes < 4) return numerator as tf.Tensor1D;
      const host = logits.dataSync() as Float32Array;
      const den = new Float32Array(m * classes);
      const order = Array.from({ length: classes }, (_, k) => k);
      for (let r = 0; r < m; r++) {
        const row = host.subarray(r * classes, (r + 1) * classes);
        // Descending by logit; ties by class index (any fixed rule will do).
        order.sort((a, b) => row[b]! - row[a]! || a - b);
        den[r * classes + order[0]!] = 1;
        den[r * classes + order[2]!] = -0.5;
        den[r * classes + order[3]!] = -0.5;
      }
      const denominator = tf.add(tf.sum(tf.mul(logits, tf.tensor2d(den, [m, classes])), 1), 1e-12);
      return tf.div(numerator, denominator) as tf.Tensor1D;
    });
  return Object.assign(fn, { dlrRows: { y, t } });
}

/** The per-row state of one APGD run; every tensor has the run's active rows as first axis. */
interface State {
  x: tf.Tensor4D;
  /** Current and previous iterate. */
  xAdv: tf.Tensor4D;
  xPrev: tf.Tensor4D;
  grad: tf.Tensor4D;
  /** Step size per row. */
  eta: tf.Tensor1D;
  /** Highest-loss point so far, its gradient and loss. */
  xBest: tf.Tensor4D;
  gradBest: tf.Tensor4D;
  lossBest: tf.Tensor1D;
  /** Loss of the previous iterate and the count of increases since the last checkpoint. */
  lossPrev: tf.Tensor1D;
  increases: tf.Tensor1D;
  /** At the last checkpoint: whether η was halved (1/0) and the best loss then. */
  reducedLast: tf.Tensor1D;
  lossBestLast: tf.Tensor1D;
}

type StateKey = keyof State;
const STATE_KEYS: StateKey[] = ["x", "xAdv", "xPrev", "grad", "eta", "xBest", "gradBest", "lossBest", "lossPrev", "increases", "reducedLast", "lossBestLast"];

function disposeState(s: State): void {
  for (const k of STATE_KEYS) s[k].dispose();
}

/** Replaces state entries, disposing the old tensors that are not reused. */
function update(s: State, next: Partial<State>): void {
  for (const k of Object.keys(next) as StateKey[]) {
    const t = next[k]!;
    if (t !== s[k]) {
      s[k].dispose();
      (s as unknown as Record<StateKey, tf.Tensor>)[k] = t;
    }
  }
}

interface RunSetup {
  norm: ApgdNorm;
  eps: number;
  o: Resolved;
}

/** P(xa): onto the ε-ball around x0, then into the box. */
function projectTo(setup: RunSetup, xa: tf.Tensor4D, x0: tf.Tensor4D): tf.Tensor4D {
  const { norm, eps } = setup;
  return tf.tidy(() => {
    const d = tf.sub(xa, x0) as tf.Tensor4D;
    return addInBox(x0, norm === "linf" ? projectLinf(x0, d, eps) : projectL2(x0, d, eps));
  });
}

/**
 * A run's random start for the rows of x (see the header). tf's seeded random ops fill the tensor
 * element by element from one stream, so row k's start depends only on the seed and on k — not on
 * how many rows follow it. That is what lets a batched pass draw the starts of several runs.
 */
function randomStart(setup: RunSetup, x: tf.Tensor4D, seed: number): tf.Tensor4D {
  const { norm, eps } = setup;
  return tf.tidy(() => {
    const shape = x.shape;
    const n = shape[0];
    let u: tf.Tensor;
    if (norm === "linf") {
      u = tf.randomUniform(shape, -1, 1, "float32", seed);
      u = tf.div(u, perSample(tf.maximum(tf.max(tf.abs(tf.reshape(u, [n, -1])), 1), 1e-12)));
    } else {
      u = normalizeL2(tf.randomNormal(shape, 0, 1, "float32", seed) as tf.Tensor4D);
    }
    return projectTo(setup, tf.add(x, tf.mul(eps, u)) as tf.Tensor4D, x);
  });
}

/**
 * Given the rows the current step found misclassified (`hits`, ascending), the rows whose result
 * is no longer wanted: they leave the run without a result (a hit among them is not a success).
 */
type Arbiter = (hits: number[]) => Set<number>;

/**
 * One APGD run on (x, y) (targets t for dlr-t) from `start` (taken over: disposed here). Returns,
 * per row, the first misclassified iterate when one was found, else the highest-loss point,
 * whether the row was beaten, and whether `arbiter` dropped it (its adv is then meaningless).
 * Every row's computation is its own: a row's result does not depend on the other rows.
 */
async function apgdRun(
  model: LayersModel,
  x: tf.Tensor4D,
  yHost: Int32Array,
  targetHost: Int32Array | undefined,
  classes: number,
  setup: RunSetup,
  start: tf.Tensor4D,
  traced = false,
  arbiter?: Arbiter,
): Promise<{ adv: tf.Tensor4D; beaten: boolean[]; dropped: boolean[]; rising?: boolean[] }> {
  const { norm, o } = setup;
  const n = x.shape[0];
  const project = (xa: tf.Tensor4D, x0: tf.Tensor4D): tf.Tensor4D => projectTo(setup, xa, x0);
  const direction = (g: tf.Tensor4D): tf.Tensor4D => (norm === "linf" ? (tf.sign(g) as tf.Tensor4D) : normalizeL2(g));
  // Rows (of this run's batch) still attacked, and the results of the rows already beaten.
  let active = Array.from({ length: n }, (_, i) => i);
  const done: { rows: number[]; adv: tf.Tensor4D }[] = [];
  const beaten = new Array<boolean>(n).fill(false);
  // The active rows' labels (a tensor, rebuilt when rows are dropped) and their loss.
  let yActive = tf.tensor1d(yHost, "int32");
  const lossFor = (): LossFn =>
    targetHost === undefined
      ? ceLoss(yActive)
      : dlrTargetedLoss(
          Int32Array.from(active, (r) => yHost[r]!),
          Int32Array.from(active, (r) => targetHost[r]!),
          classes,
        );
  let loss = lossFor();
  const dropped = new Array<boolean>(n).fill(false);

  const first = tf.tidy(() => lossAndGradient(model, start, loss));
  const s: State = {
    x: x.clone(),
    xAdv: start,
    xPrev: start.clone(),
    grad: first.grad,
    eta: tf.fill([n], o.relativeStepSize * setup.eps) as tf.Tensor1D,
    xBest: start.clone(),
    gradBest: first.grad.clone(),
    lossBest: first.loss.clone(),
    lossPrev: first.loss,
    increases: tf.zeros([n]),
    reducedLast: tf.ones([n]),
    lossBestLast: first.loss.clone(),
  };
  const firstWrong = misclassified(first.logits, yActive);
  first.logits.dispose();
  // Traced (AttackTrace): per row, the loss at the start and the best loss before the run's tail
  // (the losses of the start and of the iterates 1…steps; host copies, read twice per run).
  const tailFrom = o.steps - tailLength(o.steps);
  const startLoss = traced ? Float32Array.from(await s.lossPrev.data()) : undefined;
  const beforeTail = startLoss && tailFrom === 0 ? Float32Array.from(startLoss) : traced ? new Float32Array(n) : undefined;
  /** Copies the active rows' best loss into `into` (indexed by the run's rows). */
  const bestOfActive = async (into: Float32Array): Promise<void> => {
    const v = await s.lossBest.data();
    active.forEach((row, k) => (into[row] = v[k]!));
  };
  /** A [rows] bool tensor as host flags (the tensor is disposed). */
  const flags = async (t: tf.Tensor): Promise<Uint8Array> => {
    try {
      return (await t.data()) as Uint8Array;
    } finally {
      t.dispose();
    }
  };

  /**
   * Moves the rows flagged in `wrongHost` to `done` (with their current iterate) and drops them
   * from the state, together with the rows the arbiter no longer wants (to `done` as they are,
   * flagged dropped).
   */
  const retire = (wrongHost: Uint8Array): void => {
    const unwanted = arbiter?.(active.filter((_, k) => wrongHost[k] === 1));
    const hit: number[] = [];
    const drop: number[] = [];
    const keep: number[] = [];
    wrongHost.forEach((w, k) => (unwanted?.has(active[k]!) ? drop : w ? hit : keep).push(k));
    if (hit.length === 0 && drop.length === 0) return;
    if (hit.length > 0) done.push({ rows: hit.map((k) => active[k]!), adv: takeRows(s.xAdv, hit) });
    if (drop.length > 0) done.push({ rows: drop.map((k) => active[k]!), adv: takeRows(s.xAdv, drop) });
    for (const k of hit) beaten[active[k]!] = true;
    for (const k of drop) dropped[active[k]!] = true;
    active = keep.map((k) => active[k]!);
    if (keep.length === 0) return;
    const next: Partial<State> = {};
    for (const key of STATE_KEYS) (next as Record<StateKey, tf.Tensor>)[key] = takeRows(s[key], keep);
    update(s, next);
    const yNext = takeRows(yActive, keep);
    yActive.dispose();
    yActive = yNext;
    loss = lossFor();
  };

  const checkpoints = new Set(apgdCheckpoints(o.steps));
  let sinceCheck = 0;
  try {
    retire(await flags(firstWrong));
    for (let i = 0; i < o.steps && active.length > 0; i++) {
      const a = i === 0 ? 1 : o.momentum;
      const { wrong, ...next } = tf.tidy(() => {
        const step = tf.mul(perSample(s.eta), direction(s.grad));
        const z = project(tf.add(s.xAdv, step) as tf.Tensor4D, s.x);
        const moved = tf.add(tf.add(s.xAdv, tf.mul(a, tf.sub(z, s.xAdv))), tf.mul(1 - a, tf.sub(s.xAdv, s.xPrev))) as tf.Tensor4D;
        const xAdv = project(moved, s.x);
        const r = lossAndGradient(model, xAdv, loss);
        const better = tf.greater(r.loss, s.lossBest);
        return {
          xPrev: s.xAdv.clone(),
          xAdv,
          grad: r.grad,
          xBest: wherePerSample(better, xAdv, s.xBest),
          gradBest: wherePerSample(better, r.grad, s.gradBest),
          lossBest: tf.where(better, r.loss, s.lossBest) as tf.Tensor1D,
          increases: tf.add(s.increases, tf.cast(tf.greater(r.loss, s.lossPrev), "float32")) as tf.Tensor1D,
          lossPrev: r.loss,
          wrong: misclassified(r.logits, yActive),
        };
      });
      update(s, next);
      sinceCheck++;
      if (beforeTail && i + 1 === tailFrom) await bestOfActive(beforeTail);
      retire(await flags(wrong));
      if (active.length > 0 && checkpoints.has(i + 1)) {
        const interval = sinceCheck;
        sinceCheck = 0;
        const halved = tf.tidy(() => {
          const oscillating = tf.lessEqual(s.increases, o.rho * interval);
          const stalled = tf.logicalAnd(tf.equal(s.reducedLast, 0), tf.greaterEqual(s.lossBestLast, s.lossBest));
          const halve = tf.logicalOr(oscillating, stalled);
          return {
            eta: tf.where(halve, tf.mul(s.eta, 0.5), s.eta) as tf.Tensor1D,
            xAdv: wherePerSample(halve, s.xBest, s.xAdv),
            grad: wherePerSample(halve, s.gradBest, s.grad),
            reducedLast: tf.cast(halve, "float32") as tf.Tensor1D,
            lossBestLast: s.lossBest.clone(),
            increases: tf.zerosLike(s.increases),
          };
        });
        update(s, halved);
      }
      if (i % 10 === 9) await breathe();
    }
    // Rows never beaten: their highest-loss point.
    let rising: boolean[] | undefined;
    if (active.length > 0) {
      if (startLoss && beforeTail) {
        const end = new Float32Array(n);
        await bestOfActive(end);
        rising = new Array<boolean>(n).fill(false);
        for (const row of active) rising[row] = stillRising(startLoss[row]!, beforeTail[row]!, end[row]!);
      }
      done.push({ rows: active, adv: s.xBest.clone() });
    }
    const adv = inRowOrder(done, n);
    return { adv, beaten, dropped, ...(rising ? { rising } : {}) };
  } finally {
    disposeState(s);
    yActive.dispose();
    for (const d of done) d.adv.dispose();
    if (!firstWrong.isDisposed) firstWrong.dispose();
  }
}

// ── Runs in one pass ──
// The runs of APGD-DLR-T (targets × restarts) used to run one after the other, each on the
// samples no earlier run beat, each drawing its random start as one tensor over those samples: a
// sample's start is row k of the run's seeded stream, k its rank among them. A pass runs several
// runs side by side as one batch — the fixed cost of a gradient call is paid once for all — with
// the result of running them in order, row for row:
//   - block b of the pass is run q0 + b over the samples pending at the pass's start, each drawing
//     its start at its rank among them (randomStart);
//   - when run q beats the sample of rank j (a row of its own block that is still valid), every
//     later run's row of rank ≥ j is dropped: in order, that run would not attack the sample of
//     rank j, and would draw every later sample's start at a smaller rank;
//   - afterwards the runs are taken in order while every sample still pending has a row that was
//     not dropped; the first run that lacks one starts the next pass, over the samples then
//     pending (so with true ranks). Where nothing is beaten (robust samples, the costly case) all
//     runs finish in one pass.
// A row that was never dropped computed exactly what the run in order would have (rows do not
// interact inside a run), and it is never dropped after an earlier run's valid beat at a rank at
// or before its own, so the sample's rank at the run is the one its start was drawn at.

interface Pass {
  /** The samples pending at the pass's start (ascending; rank k = position). */
  base: number[];
  /** Per pass row (block b, rank k at row b·m + k). */
  adv: tf.Tensor4D;
  beaten: boolean[];
  dropped: boolean[];
  rising?: boolean[];
}

/** Runs q0 … q0+B−1 of an APGD attack side by side over the samples `pending` (see above). */
async function runPass(
  model: LayersModel,
  x: tf.Tensor4D,
  pending: number[],
  yHost: Int32Array,
  likely: Int32Array | undefined,
  targetsCount: number,
  classes: number,
  setup: RunSetup,
  q0: number,
  B: number,
  seed: number,
  traced: boolean,
): Promise<Pass> {
  const n = x.shape[0];
  const m = pending.length;
  const { restarts } = setup.o;
  const whole = m === n;
  const xs = whole ? x : takeRows(x, pending);
  let xBatch: tf.Tensor4D | undefined;
  let start: tf.Tensor4D | undefined;
  try {
    [xBatch, start] = tf.tidy(() => {
      const starts = Array.from({ length: B }, (_, b) => randomStart(setup, xs, subSeed(seed, q0 + b)));
      return B === 1 ? [xs.clone(), starts[0]!] : [tf.concat(new Array<tf.Tensor4D>(B).fill(xs)), tf.concat(starts)];
    });
    const ys = new Int32Array(B * m);
    const targets = likely === undefined ? undefined : new Int32Array(B * m);
    for (let b = 0; b < B; b++) {
      const t = Math.floor((q0 + b) / restarts);
      pending.forEach((i, k) => {
        ys[b * m + k] = yHost[i]!;
        if (targets) targets[b * m + k] = likely![i * targetsCount + t]!;
      });
    }
    // threshold[b]: the smallest rank a valid row of an earlier block beat (Infinity: none yet).
    const threshold = new Array<number>(B).fill(Infinity);
    const arbiter: Arbiter = (hits) => {
      for (const h of hits) {
        const b = Math.floor(h / m);
        const k = h % m;
        if (k < threshold[b]!) for (let later = b + 1; later < B; later++) threshold[later] = Math.min(threshold[later]!, k);
      }
      const unwanted = new Set<number>();
      for (let b = 1; b < B; b++) for (let k = threshold[b]!; k < m; k++) unwanted.add(b * m + k);
      return unwanted;
    };
    const run = await apgdRun(model, xBatch, ys, targets, classes, setup, start, traced, B > 1 ? arbiter : undefined);
    start = undefined; // apgdRun took it over
    return { base: pending, ...run };
  } finally {
    start?.dispose();
    xBatch?.dispose();
    if (!whole) xs.dispose();
  }
}

/**
 * Takes one run's outcome over, as running it in order does: the rows `rows` of the pass hold
 * its results for the samples `pending`; a beaten sample (or, on the last run, every sample)
 * gets its result through `put(samples, passRows)`; unbeaten samples fold the run's incomplete
 * flag in. Returns the samples still pending.
 */
function mergeRun(
  pass: Pass,
  rows: number[],
  pending: number[],
  last: boolean,
  incomplete: Uint8Array | undefined,
  put: (samples: number[], passRows: number[]) => void,
): number[] {
  const still: number[] = [];
  const takeSamples: number[] = [];
  const takePass: number[] = [];
  rows.forEach((row, k) => {
    const i = pending[k]!;
    const beaten = pass.beaten[row]!;
    if (!beaten && pass.rising) incomplete![i] = mergeIncomplete(incomplete![i]!, pass.rising[row]!);
    if (beaten || last) {
      takeSamples.push(i);
      takePass.push(row);
    }
    if (!beaten) still.push(i);
  });
  if (takeSamples.length > 0) put(takeSamples, takePass);
  return still;
}

function makeApgd(norm: ApgdNorm, lossKind: ApgdLoss, opts: ApgdOptions): FixedBudgetAttack<GradientAccess> {
  const o = resolve(lossKind, opts);
  const params: Record<string, number | string | boolean> = {
    steps: o.steps,
    restarts: o.restarts,
    loss: lossKind,
    rho: o.rho,
    momentum: o.momentum,
    relativeStepSize: o.relativeStepSize,
    checkpoints: "first after 22 % of the steps, each next 3 % shorter, at least 6 %",
    earlyStop: true,
    seeding: "run (target k, restart r) draws its random start from tf's seeded ops, seed = mix(batch.seed, k·restarts + r)",
  };
  if (lossKind === "dlr-t") params.targets = o.targets;
  return {
    kind: "fixed-budget",
    name: `apgd-${lossKind}-${norm}`,
    norm,
    access: "gradient",
    params,
    async run(access: GradientAccess, batch: AttackBatch, budget: number): Promise<tf.Tensor4D> {
      if (!(budget >= 0 && Number.isFinite(budget))) throw new RangeError(`APGD budget must be a finite number >= 0, got ${budget}`);
      const { x, y } = batch;
      const n = x.shape[0];
      if (n === 0 || budget === 0) return x.clone();
      const model = access.model;
      const yHost = Int32Array.from((await y.data()) as ArrayLike<number>);
      // Targets: the most likely non-true classes at the clean input, as AutoAttack picks them.
      let classes = 0;
      let likely: Int32Array | undefined;
      if (lossKind === "dlr-t") {
        const z = logitsOf(model, x);
        classes = z.shape[1];
        const count = Math.min(o.targets, classes - 1);
        const idx = likelyOtherClasses(z, y, count);
        likely = Int32Array.from((await idx.data()) as ArrayLike<number>);
        z.dispose();
        idx.dispose();
      }
      const runs = lossKind === "dlr-t" ? Math.min(o.targets, classes - 1) : 1;
      const setup: RunSetup = { norm, eps: budget, o };
      const total = runs * o.restarts;
      let result: tf.Tensor4D | undefined;
      let pending = Array.from({ length: n }, (_, i) => i);
      const trace = batch.trace;
      const incomplete = trace ? new Uint8Array(n).fill(TRACE_NO_FAILED_RUN) : undefined;
      try {
        // Run q = t·restarts + r (target t, restart r), in order; a pass holds runs q0…q0+B−1.
        for (let q0 = 0; q0 < total && pending.length > 0; ) {
          const m = pending.length;
          const B = Math.max(1, Math.min(total - q0, o.runsPerPass, Math.floor(MAX_PASS_ROWS / m)));
          const pass = await runPass(model, x, pending, yHost, likely, runs, classes, setup, q0, B, batch.seed, trace !== undefined);
          let finalRuns = 0;
          try {
            const rankOf = new Map(pass.base.map((i, k) => [i, k] as const));
            for (let b = 0; b < B && pending.length > 0; b++) {
              const rows = pending.map((i) => b * m + rankOf.get(i)!);
              // A dropped row: this run's start for the sample was drawn at a rank it no longer has.
              if (rows.some((row) => pass.dropped[row])) break;
              const q = q0 + b;
              pending = mergeRun(pass, rows, pending, q === total - 1, incomplete, (samples, passRows) => {
                const merged = tf.tidy(() => replaceRows(result ?? x, samples, takeRows(pass.adv, passRows)));
                result?.dispose();
                result = merged;
              });
              finalRuns++;
            }
          } finally {
            pass.adv.dispose();
          }
          opts.onPass?.({ firstRun: q0, runs: B, rows: B * m, dropped: pass.dropped.filter(Boolean).length, finalRuns });
          q0 += finalRuns;
        }
        const out = result ?? x.clone();
        result = undefined;
        if (trace) {
          // APGD keeps a row's first misclassified iterate and stops there: what it saw is what it returns.
          const unbeaten = new Set(pending);
          trace.seen = Uint8Array.from({ length: n }, (_, i) => (unbeaten.has(i) ? 0 : 1));
          trace.incomplete = incomplete;
        }
        return out;
      } finally {
        result?.dispose();
      }
    },
  };
}

/** APGD under an L∞ or L2 budget with the given loss. */
export function apgd(norm: ApgdNorm, loss: ApgdLoss, opts: ApgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makeApgd(norm, loss, opts);
}

/** APGD-CE under an L∞ budget (`apgd-ce-linf`). */
export function apgdCeLinf(opts: ApgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makeApgd("linf", "ce", opts);
}

/** APGD-CE under an L2 budget (`apgd-ce-l2`). */
export function apgdCeL2(opts: ApgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makeApgd("l2", "ce", opts);
}

/** Targeted APGD-DLR under an L∞ budget over the top `targets` non-true classes (`apgd-dlr-t-linf`). */
export function apgdDlrTLinf(opts: ApgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makeApgd("linf", "dlr-t", opts);
}

/** Targeted APGD-DLR under an L2 budget over the top `targets` non-true classes (`apgd-dlr-t-l2`). */
export function apgdDlrTL2(opts: ApgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makeApgd("l2", "dlr-t", opts);
}
