// Dataset-seeded minimization attack for L0, L2 and L∞ (the starting point Foolbox gives
// Brendel-Bethge: a DatasetAttack followed by a binary search towards the original). It needs no
// gradient, so it cannot stall, and it gives every sample it can a finite distance: per sample,
//   1. candidates: the pool images (data-set images the attacker knows, see GradientAccess.pool)
//      that the attacked model classifies as something other than the sample's label, plus three
//      fixed points of the box — all-black, all-white, and 1 − x (the farthest point in L∞);
//   2. the `candidates` nearest of them in the attack's norm;
//   3. per candidate, a binary search on the segment from the candidate (adversarial) towards x:
//      L2 / L∞ bisect t in x + t·(c − x) ∈ [0, 1]; L0 orders the features where c and x differ by
//      |c − x| (largest first) and bisects how many of them take c's value (the rest keep x's);
//      the search keeps its adversarial end, so it ends on an adversarial point;
//   4. the closest of those points.
// When no candidate is adversarial (the model labels every pool image and the three box points
// as the sample's class) the sample is returned unchanged: a failure, which verify() records.
// Its result upper-bounds the other attacks' per sample (the evaluation keeps, per sample, the
// smallest verified distance over all attacks), so the unbounded sanity check passes by
// construction whenever the model can be made to output another class at all.
// Deterministic: no randomness; ties go to the lower pool index.
import { tf, type LayersModel } from "../tf.js";
import type { AttackBatch, GradientAccess, MinimizationAttack, Norm } from "./types.js";
import { logitsOf, misclassified } from "./gradients.js";
import { L0_CHANGE_THRESHOLD } from "./verify.js";

export interface DatasetSeedOptions {
  /** Nearest adversarial candidates searched per sample (default 3). */
  candidates?: number;
  /** Bisection steps on the segment for L2 / L∞ (default 20: t to within 1e-6). L0 bisects the feature count to the end. */
  searchSteps?: number;
}

/** The pool's labels under `model`, computed once per (pool, model). */
const poolLabels = new WeakMap<tf.Tensor, WeakMap<LayersModel, Int32Array>>();

function labelsOf(model: LayersModel, pool: tf.Tensor4D): Int32Array {
  let byModel = poolLabels.get(pool);
  if (!byModel) poolLabels.set(pool, (byModel = new WeakMap()));
  let labels = byModel.get(model);
  if (!labels) {
    const chunk = 256;
    labels = new Int32Array(pool.shape[0]);
    for (let s = 0; s < pool.shape[0]; s += chunk) {
      const e = Math.min(pool.shape[0], s + chunk);
      const part = tf.tidy(() => tf.argMax(logitsOf(model, tf.slice(pool, [s, 0, 0, 0], [e - s, -1, -1, -1])), 1).dataSync());
      labels.set(part, s);
    }
    byModel.set(model, labels);
  }
  return labels;
}

/** Distance of two flat images in `norm` (L0: features differing by more than the threshold, as verify counts them). */
function distance(a: Float32Array, ao: number, b: Float32Array, bo: number, F: number, norm: Norm): number {
  let d = 0;
  if (norm === "l2") {
    for (let f = 0; f < F; f++) {
      const v = a[ao + f]! - b[bo + f]!;
      d += v * v;
    }
    return Math.sqrt(d);
  }
  if (norm === "linf") {
    for (let f = 0; f < F; f++) d = Math.max(d, Math.abs(a[ao + f]! - b[bo + f]!));
    return d;
  }
  for (let f = 0; f < F; f++) if (Math.abs(a[ao + f]! - b[bo + f]!) > L0_CHANGE_THRESHOLD) d++;
  return d;
}

/** Per row of `points` (flat, rows × F): misclassified (with the attacks' safety margin) for label ys[row]? */
function wrongRows(model: LayersModel, points: Float32Array, ys: Int32Array, shape: [number, number, number]): Uint8Array {
  const rows = ys.length;
  return tf.tidy(() => {
    const x = tf.tensor4d(points, [rows, ...shape]);
    const y = tf.tensor1d(ys, "int32");
    return Uint8Array.from(misclassified(logitsOf(model, x), y).dataSync());
  });
}

const breathe = (): Promise<void> => new Promise((r) => setImmediate(r));

export function datasetSeed(norm: Norm, opts: DatasetSeedOptions = {}): MinimizationAttack<GradientAccess> {
  const candidates = opts.candidates ?? 3;
  const searchSteps = opts.searchSteps ?? 20;
  if (!(Number.isInteger(candidates) && candidates >= 1)) throw new RangeError(`dataset-seed candidates must be a positive integer, got ${candidates}`);
  if (!(Number.isInteger(searchSteps) && searchSteps >= 1)) throw new RangeError(`dataset-seed search steps must be a positive integer, got ${searchSteps}`);
  return {
    kind: "minimization",
    name: `dataset-seed-${norm}`,
    norm,
    access: "gradient",
    params: {
      candidates,
      searchSteps: norm === "l0" ? "to the end (feature count)" : searchSteps,
      pool: "the evaluation's samples + black, white and 1 − x",
      search: norm === "l0" ? "bisect how many of the differing features (largest |c − x| first) take the candidate's value" : "bisect t on x + t·(c − x)",
      seeding: "deterministic (no randomness)",
    },
    async run(access: GradientAccess, batch: AttackBatch): Promise<tf.Tensor4D> {
      const { model } = access;
      const [n, h, w, c] = batch.x.shape;
      const F = h * w * c;
      if (n === 0) return batch.x.clone();
      const shape: [number, number, number] = [h, w, c];
      const x = Float32Array.from(batch.x.dataSync());
      const y = Int32Array.from(batch.y.dataSync());
      const pool = access.pool ?? batch.x;
      const P = pool.shape[0];
      const poolX = pool.dataSync() as Float32Array;
      const poolY = labelsOf(model, pool);

      // The three box points per sample, labelled by the model: [black, white, 1 − x] × n.
      const extras = new Float32Array(3 * n * F);
      for (let i = 0; i < n; i++) {
        extras.fill(1, (n + i) * F, (n + i + 1) * F);
        for (let f = 0; f < F; f++) extras[(2 * n + i) * F + f] = 1 - x[i * F + f]!;
      }
      const extraY = tf.tidy(() => tf.argMax(logitsOf(model, tf.tensor4d(extras, [3 * n, ...shape])), 1).dataSync());

      // Per sample, the `candidates` nearest adversarial candidates (source array, offset).
      type Cand = { src: Float32Array; off: number; d: number };
      const chosen: Cand[][] = [];
      for (let i = 0; i < n; i++) {
        const best: Cand[] = [];
        const consider = (src: Float32Array, off: number): void => {
          const d = distance(x, i * F, src, off, F, norm);
          if (best.length === candidates && d >= best[best.length - 1]!.d) return;
          let k = best.length;
          while (k > 0 && best[k - 1]!.d > d) k--;
          best.splice(k, 0, { src, off, d });
          if (best.length > candidates) best.pop();
        };
        for (let j = 0; j < P; j++) if (poolY[j] !== y[i]) consider(poolX, j * F);
        for (let e = 0; e < 3; e++) if (extraY[e * n + i] !== y[i]) consider(extras, (e * n + i) * F);
        chosen.push(best);
        if (i % 50 === 49) await breathe();
      }

      // A sample with a candidate had an adversarial point in hand; each search keeps its adversarial end.
      if (batch.trace) batch.trace.seen = Uint8Array.from(chosen, (list) => (list.length > 0 ? 1 : 0));
      // One search row per (sample, candidate).
      const rows: { i: number; cand: Cand }[] = [];
      chosen.forEach((list, i) => list.forEach((cand) => rows.push({ i, cand })));
      const out = Float32Array.from(x);
      if (rows.length === 0) return tf.tensor4d(out, [n, ...shape]);
      const R = rows.length;
      const ys = Int32Array.from(rows, (r) => y[r.i]!);
      const points = new Float32Array(R * F);
      // Row r's point at search position s: L2/L∞ s = t ∈ [0, 1]; L0 s = features taken from c.
      let place: (r: number, s: number) => void;
      const lo = new Float64Array(R);
      const hi = new Float64Array(R);
      if (norm === "l0") {
        const orders = rows.map(({ i, cand }) => {
          const idx: number[] = [];
          for (let f = 0; f < F; f++) if (Math.abs(cand.src[cand.off + f]! - x[i * F + f]!) > L0_CHANGE_THRESHOLD) idx.push(f);
          idx.sort((a, b) => Math.abs(cand.src[cand.off + b]! - x[i * F + b]!) - Math.abs(cand.src[cand.off + a]! - x[i * F + a]!) || a - b);
          return Int32Array.from(idx);
        });
        orders.forEach((o, r) => (hi[r] = o.length));
        place = (r, s) => {
          const { i, cand } = rows[r]!;
          points.set(x.subarray(i * F, (i + 1) * F), r * F);
          const o = orders[r]!;
          for (let k = 0; k < s; k++) points[r * F + o[k]!] = cand.src[cand.off + o[k]!]!;
        };
      } else {
        hi.fill(1);
        place = (r, t) => {
          const { i, cand } = rows[r]!;
          for (let f = 0; f < F; f++) {
            const a = x[i * F + f]!;
            const v = t === 1 ? cand.src[cand.off + f]! : a + t * (cand.src[cand.off + f]! - a);
            points[r * F + f] = Math.min(1, Math.max(0, v));
          }
        };
      }
      const maxSteps = norm === "l0" ? Math.ceil(Math.log2(F + 1)) + 1 : searchSteps;
      for (let step = 0; step < maxSteps; step++) {
        const mid = new Float64Array(R);
        let active = false;
        for (let r = 0; r < R; r++) {
          mid[r] = norm === "l0" ? Math.floor((lo[r]! + hi[r]!) / 2) : (lo[r]! + hi[r]!) / 2;
          if (norm === "l0" ? hi[r]! - lo[r]! > 1 : true) active = true;
          place(r, norm === "l0" && hi[r]! - lo[r]! <= 1 ? hi[r]! : mid[r]!);
        }
        if (!active) break;
        const wrong = wrongRows(model, points, ys, shape);
        for (let r = 0; r < R; r++) {
          if (norm === "l0" && hi[r]! - lo[r]! <= 1) continue;
          if (wrong[r] === 1) hi[r] = mid[r]!;
          else lo[r] = mid[r]!;
        }
        await breathe();
      }
      // Per sample, the closest end point (the adversarial end of each search).
      const bestD = new Float64Array(n).fill(Infinity);
      for (let r = 0; r < R; r++) {
        place(r, hi[r]!);
        const { i } = rows[r]!;
        const d = distance(x, i * F, points, r * F, F, norm);
        if (d < bestD[i]!) {
          bestD[i] = d;
          out.set(points.subarray(r * F, (r + 1) * F), i * F);
        }
      }
      return tf.tensor4d(out, [n, ...shape]);
    },
  };
}
