// Projected gradient descent (Madry et al. 2018) for L∞ and L2 budgets, with a random start and
// restarts, as fixed-budget attacks.
//
// Loss: the margin loss max_{j≠y} z_j − z_y by default. Cross-entropy saturates once the true
// class is confidently wrong or right and its gradient mixes all classes by their softmax
// weights; the margin's gradient points straight at the nearest competing class, is not
// squashed by a softmax, and is positive exactly when the sample is misclassified — it is what
// a fixed-budget *success* check wants (Carlini & Wagner 2017; Croce & Hein 2020 use its scaled
// form in APGD). Measured on random 5- and 10-class linear models (samples within 0.9·ε of the
// boundary, which PGD must beat): margin missed 6 of 1,853, cross-entropy 127. But the margin's
// gradient is exactly 0 where neither the true class nor the best other class has an input
// gradient (a pruned model whose classifier column for a class is gone), and PGD stalls there
// while cross-entropy still feels the other classes; so the default plans run `loss: "ce"` too,
// named `pgd-<norm>-ce` (see evaluation/attack-plan.ts).
// With more than two classes the untargeted margin can lock onto the class ahead at the start
// when another class's boundary is nearer; random restarts fix that (the 6 misses above went
// to 0 with 3 restarts), hence `restarts`.
//
// Per sample the attack keeps the first iterate that the attacked model misclassifies (so a
// sample once beaten stays beaten; it leaves the batch, so later steps run on the rest only),
// stops a restart when every sample of it is beaten, and runs
// later restarts only on the samples no earlier restart beat. Samples never beaten get the last
// iterate of the last restart (the end of the ascent, more useful for transfer than x).
// `earlyStop: false` is plain PGD instead: a restart runs all its steps on every sample it
// attacks and only its final iterate counts (later restarts still skip samples it beat).
import { tf } from "../tf.js";
import { TRACE_NO_FAILED_RUN, type AttackBatch, type FixedBudgetAttack, type GradientAccess } from "./types.js";
import {
  addInBox,
  mergeIncomplete,
  sampleLoss,
  stillRising,
  tailLength,
  lossGradient,
  logitsOf,
  misclassified,
  normalizeL2,
  perSample,
  projectL2,
  projectLinf,
  replaceRows,
  subSeed,
  takeRows,
  type AttackLoss,
  inRowOrder,
} from "./gradients.js";

export interface PgdOptions {
  /** Gradient steps per restart (default 40). */
  steps?: number;
  /** Step size as a multiple of the budget ε (default 2.5 / steps, Madry et al.'s choice). */
  relativeStepSize?: number;
  /** Absolute step size; overrides relativeStepSize. */
  stepSize?: number;
  /** Number of runs from independent random starts (default 1). */
  restarts?: number;
  /** Start from a uniformly random point of the ε-ball (default true); else from x. */
  randomStart?: boolean;
  /** Loss to ascend (default "margin"). */
  loss?: AttackLoss;
  /** Keep each sample's first misclassified iterate and skip beaten samples (default true); false = plain PGD, final iterates only. */
  earlyStop?: boolean;
}

type PgdNorm = "linf" | "l2";

interface Resolved {
  steps: number;
  relativeStepSize: number;
  stepSize: number | undefined;
  restarts: number;
  randomStart: boolean;
  loss: AttackLoss;
  earlyStop: boolean;
}

function resolve(opts: PgdOptions): Resolved {
  const steps = opts.steps ?? 40;
  const restarts = opts.restarts ?? 1;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`PGD steps must be a positive integer, got ${steps}`);
  if (!(Number.isInteger(restarts) && restarts >= 1)) throw new RangeError(`PGD restarts must be a positive integer, got ${restarts}`);
  const relativeStepSize = opts.relativeStepSize ?? 2.5 / steps;
  if (!(relativeStepSize > 0)) throw new RangeError(`PGD relative step size must be > 0, got ${relativeStepSize}`);
  if (opts.stepSize !== undefined && !(opts.stepSize > 0)) throw new RangeError(`PGD step size must be > 0, got ${opts.stepSize}`);
  return {
    steps,
    relativeStepSize,
    stepSize: opts.stepSize,
    restarts,
    randomStart: opts.randomStart ?? true,
    loss: opts.loss ?? "margin",
    earlyStop: opts.earlyStop ?? true,
  };
}

/** A uniformly random point of the ε-ball around 0 (the caller clips it to the box). */
function randomBallPoint(shape: [number, number, number, number], norm: PgdNorm, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === "linf") return tf.randomUniform(shape, -eps, eps, "float32", seed) as tf.Tensor4D;
    // Uniform in the L2 ball: a Gaussian direction, radius ε·u^(1/d).
    const [n] = shape;
    const d = shape[1] * shape[2] * shape[3];
    const g = tf.randomNormal(shape, 0, 1, "float32", seed);
    const norms = tf.maximum(tf.sqrt(tf.sum(tf.square(tf.reshape(g, [n, d])), 1)), 1e-12);
    const u = tf.randomUniform([n], 0, 1, "float32", subSeed(seed, 1));
    const r = tf.mul(eps, tf.pow(u, 1 / d));
    return tf.mul(g, perSample(tf.div(r, norms))) as tf.Tensor4D;
  });
}

/**
 * What distinguishes one PGD from another: where a restart starts and how a step moves and
 * projects. Both return a perturbation δ with x + δ inside the box and within the budget.
 */
export interface PgdGeometry {
  /** The starting δ of restart `restart` (0-based), drawing any randomness from `seed`. */
  start(x: tf.Tensor4D, seed: number, restart: number): tf.Tensor4D;
  step(x: tf.Tensor4D, delta: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D;
}

export interface PgdLoopOptions {
  steps: number;
  restarts: number;
  loss: AttackLoss;
  earlyStop: boolean;
}

/** Yields to the event loop so timers and signals run between long stretches of work. */
const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One PGD run's outcome per row: the proposal, whether it is misclassified, and (traced) what the run saw. */
type PgdRunResult = {
  adv: tf.Tensor4D;
  beaten: boolean[];
  /** Traced runs: some iterate was misclassified (with earlyStop this is `beaten`; plain PGD returns only the last one). */
  seen?: boolean[];
  /** Traced runs: the best loss was still rising over the run's tail (gradients.ts, stillRising). */
  rising?: boolean[];
};

/**
 * One PGD run on (x, y): returns adv holding, per sample, the first misclassified iterate
 * (earlyStop) or the final iterate, and whether adv is misclassified by the model. With `traced`,
 * also what the run saw (AttackTrace): the losses of the iterates 0…steps (the last one is the
 * point after the last step) give its start, its best before the tail and its best at the end.
 * Tracing adds a maximum over [n] per step and reads three [n] arrays once; the iterates are
 * the same with and without it.
 */
function pgdRun(
  access: GradientAccess,
  geometry: PgdGeometry,
  o: PgdLoopOptions,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  seed: number,
  restart: number,
  traced = false,
): Promise<PgdRunResult> {
  return o.earlyStop ? pgdRunEarlyStop(access, geometry, o, x, y, seed, restart, traced) : pgdRunPlain(access, geometry, o, x, y, seed, restart, traced);
}

/**
 * Plain PGD (no early stop): every row runs every step, only the final iterate counts, and a
 * row that some iterate misclassified is reported as seen.
 */
async function pgdRunPlain(
  access: GradientAccess,
  geometry: PgdGeometry,
  o: PgdLoopOptions,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  seed: number,
  restart: number,
  traced: boolean,
): Promise<PgdRunResult> {
  const model = access.model;
  let delta = tf.tidy(() => geometry.start(x, seed, restart));
  // Traced: loss at the start, best loss so far and before the tail, any iterate misclassified.
  let startLoss: tf.Tensor1D | undefined;
  let best: tf.Tensor1D | undefined;
  let beforeTail: tf.Tensor1D | undefined;
  let seenAny: tf.Tensor1D | undefined;
  const tailFrom = o.steps - tailLength(o.steps);
  try {
    for (let i = 0; i < o.steps; i++) {
      const [nextDelta, traceStep] = tf.tidy(() => {
        const adv = addInBox(x, delta);
        const { grad, logits, loss } = lossGradient(model, adv, y, o.loss);
        const d = geometry.step(x, delta, grad);
        const t = traced
          ? {
              loss: i === 0 ? loss.clone() : undefined,
              best: (best === undefined ? loss.clone() : tf.maximum(best, loss)) as tf.Tensor1D,
              seen: (seenAny === undefined ? misclassified(logits, y) : tf.logicalOr(seenAny, misclassified(logits, y))) as tf.Tensor1D,
            }
          : undefined;
        return [d, t] as const;
      });
      delta.dispose();
      delta = nextDelta;
      if (traceStep) {
        startLoss ??= traceStep.loss;
        best?.dispose();
        best = traceStep.best;
        seenAny?.dispose();
        seenAny = traceStep.seen;
        if (i === tailFrom) beforeTail = best.clone();
      }
      if (i % 10 === 9) await breathe();
    }
    return tf.tidy(() => {
      const last = addInBox(x, delta);
      const lastLogits = logitsOf(model, last);
      const wrongLast = misclassified(lastLogits, y);
      const out: PgdRunResult = { adv: last, beaten: Array.from(wrongLast.dataSync(), (v) => v === 1) };
      if (traced) {
        out.seen = Array.from(tf.logicalOr(seenAny ?? wrongLast, wrongLast).dataSync(), (v) => v === 1);
        if (startLoss && best && beforeTail) {
          const s0 = startLoss.dataSync();
          const b = beforeTail.dataSync();
          const end = tf.maximum(best, sampleLoss(lastLogits, y, o.loss)).dataSync();
          out.rising = Array.from(end, (e, k) => stillRising(s0[k]!, b[k]!, e));
        }
      }
      return out;
    });
  } finally {
    for (const t of [delta, startLoss, best, beforeTail, seenAny]) t?.dispose();
  }
}

/**
 * PGD with early stop: a row misclassified at some iterate keeps that iterate and leaves the run
 * (its later steps could not change what the run returns for it, so the remaining steps run on
 * the other rows only; each row's computation is its own, so the iterates are those of a run
 * that kept every row in the batch). The run ends when every row has left.
 */
async function pgdRunEarlyStop(
  access: GradientAccess,
  geometry: PgdGeometry,
  o: PgdLoopOptions,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  seed: number,
  restart: number,
  traced: boolean,
): Promise<PgdRunResult> {
  const model = access.model;
  const n = x.shape[0];
  let delta = tf.tidy(() => geometry.start(x, seed, restart));
  // The rows (of x) still attacked, their inputs and labels, and the rows that left with their point.
  let active = Array.from({ length: n }, (_, i) => i);
  let xA = x;
  let yA = y;
  const done: { rows: number[]; adv: tf.Tensor4D }[] = [];
  // Traced, per active row: loss at the start, best loss so far and before the tail.
  let startLoss: tf.Tensor1D | undefined;
  let best: tf.Tensor1D | undefined;
  let beforeTail: tf.Tensor1D | undefined;
  const tailFrom = o.steps - tailLength(o.steps);
  let ranAll = true;
  const subset = <T extends tf.Tensor>(t: T, keep: number[]): T => {
    const out = takeRows(t, keep);
    t.dispose();
    return out;
  };
  try {
    for (let i = 0; i < o.steps; i++) {
      const [nextDelta, adv, wrong, traceStep] = tf.tidy(() => {
        const a = addInBox(xA, delta);
        const { grad, logits, loss } = lossGradient(model, a, yA, o.loss);
        const t = traced
          ? { loss: i === 0 ? loss.clone() : undefined, best: (best === undefined ? loss.clone() : tf.maximum(best, loss)) as tf.Tensor1D }
          : undefined;
        return [geometry.step(xA, delta, grad), a, misclassified(logits, yA), t] as const;
      });
      delta.dispose();
      delta = nextDelta;
      if (traceStep) {
        startLoss ??= traceStep.loss;
        best?.dispose();
        best = traceStep.best;
        if (i === tailFrom) beforeTail = best.clone();
      }
      const wrongHost = (await wrong.data()) as Uint8Array;
      wrong.dispose();
      const hit: number[] = [];
      const keep: number[] = [];
      wrongHost.forEach((w, k) => (w ? hit : keep).push(k));
      if (hit.length > 0) done.push({ rows: hit.map((k) => active[k]!), adv: takeRows(adv, hit) });
      adv.dispose();
      if (keep.length === 0) {
        active = [];
        ranAll = false;
        break;
      }
      if (hit.length > 0) {
        active = keep.map((k) => active[k]!);
        const xNext = takeRows(xA, keep);
        const yNext = takeRows(yA, keep);
        if (xA !== x) xA.dispose();
        if (yA !== y) yA.dispose();
        xA = xNext;
        yA = yNext;
        delta = subset(delta, keep);
        if (startLoss) startLoss = subset(startLoss, keep);
        if (best) best = subset(best, keep);
        if (beforeTail) beforeTail = subset(beforeTail, keep);
      }
      if (i % 10 === 9) await breathe();
    }
    const beaten = new Array<boolean>(n).fill(false);
    for (const d of done) for (const row of d.rows) beaten[row] = true;
    let rising: boolean[] | undefined;
    if (active.length > 0) {
      // Rows never misclassified: the point after the last step.
      const fin = tf.tidy(() => {
        const last = addInBox(xA, delta);
        const lastLogits = logitsOf(model, last);
        const wrongLast = misclassified(lastLogits, yA);
        const end = traced && ranAll && best ? (tf.maximum(best, sampleLoss(lastLogits, yA, o.loss)) as tf.Tensor1D) : undefined;
        return { last, wrongLast, end };
      });
      const wrongLast = fin.wrongLast.dataSync();
      active.forEach((row, k) => (beaten[row] = wrongLast[k] === 1));
      if (fin.end && startLoss && beforeTail) {
        const s0 = startLoss.dataSync();
        const b = beforeTail.dataSync();
        const end = fin.end.dataSync();
        rising = new Array<boolean>(n).fill(false);
        active.forEach((row, k) => (rising![row] = stillRising(s0[k]!, b[k]!, end[k]!)));
      }
      fin.wrongLast.dispose();
      fin.end?.dispose();
      done.push({ rows: active, adv: fin.last });
    }
    const adv = inRowOrder(done, n);
    const out: PgdRunResult = { adv, beaten };
    if (traced) {
      out.seen = beaten;
      if (rising) out.rising = rising;
    }
    return out;
  } finally {
    for (const t of [delta, startLoss, best, beforeTail]) t?.dispose();
    if (xA !== x) xA.dispose();
    if (yA !== y) yA.dispose();
    for (const d of done) d.adv.dispose();
  }
}

/**
 * PGD with restarts over a batch: restart r (random start seeded from batch.seed and r) attacks
 * only the samples no earlier restart beat (earlyStop) or every sample (plain PGD, where a
 * sample takes the first restart whose final iterate beats it). Samples never beaten get the
 * last restart's iterate. The caller disposes the result.
 */
export async function runPgd(access: GradientAccess, geometry: PgdGeometry, o: PgdLoopOptions, batch: AttackBatch): Promise<tf.Tensor4D> {
  const { x, y } = batch;
  const n = x.shape[0];
  if (n === 0) return x.clone();
  let result: tf.Tensor4D | undefined;
  // Indices (into the batch) of the samples the next restart attacks.
  let pending = Array.from({ length: n }, (_, i) => i);
  const trace = batch.trace;
  const seen = trace ? new Uint8Array(n) : undefined;
  const incomplete = trace ? new Uint8Array(n).fill(TRACE_NO_FAILED_RUN) : undefined;
  try {
    for (let r = 0; r < o.restarts && pending.length > 0; r++) {
      const whole = pending.length === n;
      const xs = whole ? x : takeRows(x, pending);
      const ys = whole ? y : takeRows(y, pending);
      let run: PgdRunResult;
      try {
        run = await pgdRun(access, geometry, o, xs, ys, subSeed(batch.seed, r), r, trace !== undefined);
      } finally {
        if (!whole) {
          xs.dispose();
          ys.dispose();
        }
      }
      const { adv, beaten } = run;
      run.seen?.forEach((v, k) => {
        if (v) seen![pending[k]!] = 1;
      });
      run.rising?.forEach((v, k) => {
        if (!beaten[k]) incomplete![pending[k]!] = mergeIncomplete(incomplete![pending[k]!]!, v);
      });
      // Samples beaten in this restart take its iterate; on the last restart every pending
      // sample does (its last iterate).
      const lastRestart = r === o.restarts - 1;
      const takeLocal: number[] = [];
      const stillPending: number[] = [];
      beaten.forEach((b, k) => {
        if (b || lastRestart) takeLocal.push(k);
        if (!b) stillPending.push(pending[k]!);
      });
      const base = result ?? x;
      const merged = tf.tidy(() => {
        if (whole && takeLocal.length === n) return adv.clone();
        return replaceRows(base, takeLocal.map((k) => pending[k]!), takeRows(adv, takeLocal));
      });
      adv.dispose();
      result?.dispose();
      result = merged;
      // Plain PGD (no early stop) still only needs restarts for samples not yet beaten.
      pending = stillPending;
    }
    const out = result ?? x.clone();
    result = undefined;
    if (trace) {
      trace.seen = seen;
      trace.incomplete = incomplete;
    }
    return out;
  } finally {
    result?.dispose();
  }
}

function geometryFor(norm: PgdNorm, eps: number, step: number, randomStart: boolean): PgdGeometry {
  const project = (x: tf.Tensor4D, d: tf.Tensor4D): tf.Tensor4D => (norm === "linf" ? projectLinf(x, d, eps) : projectL2(x, d, eps));
  return {
    start: (x, seed) => (randomStart ? project(x, randomBallPoint(x.shape, norm, eps, seed)) : tf.zerosLike(x)),
    step: (x, delta, grad) => {
      const direction = norm === "linf" ? tf.sign(grad) : normalizeL2(grad);
      return project(x, tf.add(delta, tf.mul(step, direction)) as tf.Tensor4D);
    },
  };
}

function makePgd(norm: PgdNorm, opts: PgdOptions): FixedBudgetAttack<GradientAccess> {
  const o = resolve(opts);
  const params: Record<string, number | string | boolean> = {
    steps: o.steps,
    restarts: o.restarts,
    randomStart: o.randomStart,
    loss: o.loss,
    earlyStop: o.earlyStop,
    seeding: "restart r draws its random start from tf's seeded ops, seed = mix(batch.seed, r)",
  };
  if (o.stepSize !== undefined) params.stepSize = o.stepSize;
  else params.relativeStepSize = o.relativeStepSize;
  return {
    kind: "fixed-budget",
    // The cross-entropy variant runs next to the margin one in the default plans: a distinct name.
    name: `pgd-${norm}${o.loss === "ce" ? "-ce" : ""}`,
    norm,
    access: "gradient",
    params,
    async run(access: GradientAccess, batch: AttackBatch, budget: number): Promise<tf.Tensor4D> {
      if (!(budget >= 0 && Number.isFinite(budget))) throw new RangeError(`PGD budget must be a finite number >= 0, got ${budget}`);
      if (budget === 0) return batch.x.clone();
      const step = o.stepSize ?? o.relativeStepSize * budget;
      return runPgd(access, geometryFor(norm, budget, step, o.randomStart), o, batch);
    },
  };
}

/** PGD under an L∞ budget (sign-gradient steps, clipping projection). */
export function pgdLinf(opts: PgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makePgd("linf", opts);
}

/** PGD under an L2 budget (L2-normalised gradient steps, projection onto the L2 ball). */
export function pgdL2(opts: PgdOptions = {}): FixedBudgetAttack<GradientAccess> {
  return makePgd("l2", opts);
}
