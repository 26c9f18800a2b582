// A first-order greedy pixel attack for L0, as a minimization attack (in the spirit of JSMA,
// Papernot et al. 2016, and of the greedy L0 baselines in Croce & Hein 2019): per step, the
// loss gradient g at the current point scores every feature not changed yet by what moving it to
// the box edge the gradient favours is worth to first order, g_i · (e_i − x_i) with e_i = 1 when
// g_i > 0 and 0 when g_i < 0 (the farther edge when g_i = 0); the best-scoring features are set
// to their edge, and the loop goes on until the model misclassifies the point. Few features per
// step while few are changed (1 per step up to 1/growth changed), then a `growth` share of those
// changed (so the whole image is reachable in ~60 steps). A changed feature is never revisited.
// At the end, the count is bisected within the last step's additions (the features in the order
// they were added; the last prefix that was not adversarial is the lower end), so a step that
// added m features overshoots by none of them where a shorter prefix already succeeds.
//
// Cross-entropy by default: its gradient mixes every class by its softmax weight, so it is not
// zero when the true and the best other class have no input gradient (a pruned classifier
// column) while a third class does — where the margin's gradient is exactly 0 and PGD/FMN stall.
// One forward + backward pass per step on the samples still unbeaten; deterministic.
import { tf } from "../tf.js";
import type { AttackBatch, GradientAccess, MinimizationAttack } from "./types.js";
import { logitsOf, lossGradient, misclassified, type AttackLoss } from "./gradients.js";
import { L0_CHANGE_THRESHOLD } from "./verify.js";

export interface GreedyL0Options {
  /** Gradient steps at most (default 100). */
  steps?: number;
  /** Features added per step as a share of those already changed (default 0.1; at least 1 per step). */
  growth?: number;
  /** Loss whose gradient scores the features (default "ce"). */
  loss?: AttackLoss;
  /** Stop a sample after this many changed features (default: every feature). */
  maxFeatures?: number;
}

const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

export function greedyL0(opts: GreedyL0Options = {}): MinimizationAttack<GradientAccess> {
  const steps = opts.steps ?? 100;
  const growth = opts.growth ?? 0.1;
  const loss = opts.loss ?? "ce";
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`greedy-L0 steps must be a positive integer, got ${steps}`);
  if (!(growth >= 0 && Number.isFinite(growth))) throw new RangeError(`greedy-L0 growth must be a finite number >= 0, got ${growth}`);
  if (opts.maxFeatures !== undefined && !(Number.isInteger(opts.maxFeatures) && opts.maxFeatures >= 1)) {
    throw new RangeError(`greedy-L0 maxFeatures must be a positive integer, got ${opts.maxFeatures}`);
  }
  return {
    kind: "minimization",
    name: loss === "ce" ? "greedy-l0" : "greedy-l0-margin",
    norm: "l0",
    access: "gradient",
    params: {
      steps,
      growth,
      loss,
      maxFeatures: opts.maxFeatures ?? "all",
      values: "box edge favoured by the gradient",
      seeding: "deterministic (no randomness)",
    },
    async run(access: GradientAccess, batch: AttackBatch): Promise<tf.Tensor4D> {
      const { model } = access;
      const [n, h, w, c] = batch.x.shape;
      const F = h * w * c;
      const shape: [number, number, number] = [h, w, c];
      if (n === 0) return batch.x.clone();
      const maxFeatures = Math.min(F, opts.maxFeatures ?? F);
      const x = Float32Array.from(batch.x.dataSync());
      const y = Int32Array.from(batch.y.dataSync());
      const adv = Float32Array.from(x);
      // Per sample: features in the order they were changed, how many, how many before the last step.
      const order = Array.from({ length: n }, () => new Int32Array(maxFeatures));
      const edgeOf = Array.from({ length: n }, () => new Float32Array(maxFeatures));
      const count = new Int32Array(n);
      const before = new Int32Array(n);
      const changed = new Uint8Array(n * F);
      // 0 = running, 1 = beaten (adversarial at `count`), 2 = gave up.
      const state = new Uint8Array(n);

      const evaluate = (rows: number[], withGradient: boolean): { wrong: Uint8Array; grad?: Float32Array } =>
        tf.tidy(() => {
          const pts = new Float32Array(rows.length * F);
          rows.forEach((i, k) => pts.set(adv.subarray(i * F, (i + 1) * F), k * F));
          const xs = tf.tensor4d(pts, [rows.length, ...shape]);
          const ys = tf.tensor1d(Int32Array.from(rows, (i) => y[i]!), "int32");
          if (!withGradient) return { wrong: Uint8Array.from(misclassified(logitsOf(model, xs), ys).dataSync()) };
          const g = lossGradient(model, xs, ys, loss);
          return { wrong: Uint8Array.from(misclassified(g.logits, ys).dataSync()), grad: g.grad.dataSync() as Float32Array };
        });

      for (let step = 0; step < steps; step++) {
        const rows: number[] = [];
        for (let i = 0; i < n; i++) if (state[i] === 0) rows.push(i);
        if (rows.length === 0) break;
        const { wrong, grad } = evaluate(rows, true);
        rows.forEach((i, k) => {
          if (wrong[k] === 1) {
            state[i] = 1;
            return;
          }
          if (count[i]! >= maxFeatures) {
            state[i] = 2;
            return;
          }
          // Score every unchanged feature that would really move.
          const scored: { f: number; s: number; e: number }[] = [];
          for (let f = 0; f < F; f++) {
            if (changed[i * F + f] === 1) continue;
            const g = grad![k * F + f]!;
            const xf = x[i * F + f]!;
            const e = g > 0 ? 1 : g < 0 ? 0 : xf < 0.5 ? 1 : 0;
            if (Math.abs(e - xf) <= L0_CHANGE_THRESHOLD) continue;
            scored.push({ f, s: g * (e - xf), e });
          }
          if (scored.length === 0) {
            state[i] = 2;
            return;
          }
          const m = Math.min(Math.max(1, Math.floor(count[i]! * growth)), maxFeatures - count[i]!, scored.length);
          scored.sort((a, b) => b.s - a.s || a.f - b.f);
          before[i] = count[i]!;
          for (let j = 0; j < m; j++) {
            const { f, e } = scored[j]!;
            adv[i * F + f] = e;
            changed[i * F + f] = 1;
            order[i]![count[i]!] = f;
            edgeOf[i]![count[i]!] = e;
            count[i]!++;
          }
        });
        if (step % 10 === 9) await breathe();
      }
      // Samples still running after the last step: their last point is unchecked.
      const last: number[] = [];
      for (let i = 0; i < n; i++) if (state[i] === 0) last.push(i);
      if (last.length > 0) {
        const { wrong } = evaluate(last, false);
        last.forEach((i, k) => (state[i] = wrong[k] === 1 ? 1 : 2));
      }
      // Bisect each beaten sample's count within its last step's additions (lo not adversarial, hi adversarial).
      const lo = Int32Array.from(before);
      const hi = Int32Array.from(count);
      const setPrefix = (i: number, k: number): void => {
        adv.set(x.subarray(i * F, (i + 1) * F), i * F);
        for (let j = 0; j < k; j++) adv[i * F + order[i]![j]!] = edgeOf[i]![j]!;
      };
      for (;;) {
        const rows: number[] = [];
        const mids: number[] = [];
        for (let i = 0; i < n; i++) {
          if (state[i] !== 1 || hi[i]! - lo[i]! <= 1) continue;
          const mid = (lo[i]! + hi[i]!) >> 1;
          setPrefix(i, mid);
          rows.push(i);
          mids.push(mid);
        }
        if (rows.length === 0) break;
        const { wrong } = evaluate(rows, false);
        rows.forEach((i, k) => {
          if (wrong[k] === 1) hi[i] = mids[k]!;
          else lo[i] = mids[k]!;
        });
      }
      const out = Float32Array.from(x);
      for (let i = 0; i < n; i++) {
        if (state[i] !== 1) continue;
        setPrefix(i, hi[i]!);
        out.set(adv.subarray(i * F, (i + 1) * F), i * F);
      }
      // What it saw is what it returns: a beaten row's shortest adversarial prefix.
      if (batch.trace) batch.trace.seen = Uint8Array.from(state, (v) => (v === 1 ? 1 : 0));
      return tf.tensor4d(out, [n, ...shape]);
    },
  };
}
