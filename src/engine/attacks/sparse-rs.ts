// Sparse-RS for L0 (Croce, Andriushchenko, Singh, Flammarion, Hein, AAAI 2022), query-only.
// The perturbation is a set M of exactly k = budget input features, each set to 0 or 1 (so
// every proposal stays in the box and changes at most k features). Each step moves a few features
// out of M (restored to their clean value) and the same number of fresh ones in (set to a random
// extreme), queries once, and keeps the swap only when the margin loss goes down. The number of
// features swapped follows the paper's L0 schedule for α, rescaled to the query budget.
//
// One deliberate detail beyond the reference code: a feature drawn into M gets the extreme value
// that differs from its clean value when the random one would leave it unchanged (a clean 0 set
// to 0 spends a feature of the budget on nothing).
import { tf } from "../tf.js";
import type { Rng } from "../random.js";
import type { FixedBudgetAttack, GradientAccess, QueryAccess } from "./types.js";
import { plainBatch, randomSearch, sampleRngs } from "./square.js";
import { logitsOf } from "./gradients.js";

export interface SparseRsOptions {
  /** Initial share of the k perturbed features resampled per step (the paper's α_init). */
  alphaInit?: number;
}

/** The Sparse-RS L0 schedule for α at query `it` of `total`. */
export function sparseRsSchedule(alphaInit: number, it: number, total: number): number {
  const i = Math.floor((it / Math.max(1, total)) * 10_000);
  if (i <= 0) return alphaInit;
  if (i <= 50) return alphaInit / 2;
  if (i <= 200) return alphaInit / 4;
  if (i <= 500) return alphaInit / 5;
  if (i <= 1000) return alphaInit / 6;
  if (i <= 2000) return alphaInit / 8;
  if (i <= 4000) return alphaInit / 10;
  if (i <= 6000) return alphaInit / 12;
  if (i <= 8000) return alphaInit / 15;
  return alphaInit / 20;
}

/** 0 or 1 at random, but never the clean value itself. */
function extreme(clean: number, rng: Rng): number {
  const v = rng() < 0.5 ? 0 : 1;
  return Math.abs(v - clean) < 1e-7 ? 1 - v : v;
}

/**
 * k distinct positions out of 0..n-1 (partial Fisher-Yates on a scratch array). For k small
 * against n (every step's swap), the scratch array is a map of the entries the shuffle moved: the
 * same draws give the same positions, without filling an array of n entries per proposal.
 */
export function pick(n: number, k: number, rng: Rng): number[] {
  if (4 * k < n) {
    const moved = new Map<number, number>();
    const out = new Array<number>(k);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (n - i));
      const ai = moved.get(i) ?? i;
      out[i] = moved.get(j) ?? j;
      // a[i] and a[j] swap; a[i] is never read again (later draws are at positions > i).
      moved.set(j, ai);
    }
    return out;
  }
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, k);
}

export function sparseRs(opts: SparseRsOptions = {}): FixedBudgetAttack<QueryAccess> {
  const alphaInit = opts.alphaInit ?? 0.3;
  return {
    kind: "fixed-budget",
    name: "sparse-rs",
    norm: "l0",
    access: "query",
    params: { alphaInit, loss: "margin", values: "extremes" },
    async run(access, batch, budget) {
      const b = plainBatch(batch);
      const F = b.features;
      const k = Math.min(F, Math.floor(budget));
      if (!(k >= 1)) return batch.x.clone();
      const rngs = sampleRngs(b, batch.seed);
      // Per sample: the perturbed features (inM) and the rest (outM), and the swap under test.
      const inM: Int32Array[] = [];
      const outM: Int32Array[] = [];
      const pending: { pIn: number[]; pOut: number[] }[] = [];
      const best = await randomSearch(
        access,
        b,
        (i, out) => {
          const rng = rngs[i]!;
          const x0 = b.x.subarray(i * F, (i + 1) * F);
          const order = pick(F, F, rng);
          inM[i] = Int32Array.from(order.slice(0, k));
          outM[i] = Int32Array.from(order.slice(k));
          pending[i] = { pIn: [], pOut: [] };
          out.set(x0);
          for (const f of inM[i]!) out[f] = extreme(x0[f]!, rng);
        },
        (i, it, cur, out) => {
          const rng = rngs[i]!;
          const x0 = b.x.subarray(i * F, (i + 1) * F);
          const mIn = inM[i]!;
          const mOut = outM[i]!;
          out.set(cur);
          const m = Math.max(1, Math.min(Math.floor(sparseRsSchedule(alphaInit, it, access.queryBudget) * k), k));
          if (mOut.length === 0) {
            // Every feature is already in M: resample the values of a few instead.
            for (const p of pick(k, m, rng)) out[mIn[p]!] = rng() < 0.5 ? 0 : 1;
            pending[i] = { pIn: [], pOut: [] };
            return;
          }
          const swaps = Math.min(m, mOut.length);
          const pIn = pick(k, swaps, rng);
          const pOut = pick(mOut.length, swaps, rng);
          for (const p of pIn) out[mIn[p]!] = x0[mIn[p]!]!;
          for (const p of pOut) out[mOut[p]!] = extreme(x0[mOut[p]!]!, rng);
          pending[i] = { pIn, pOut };
        },
        (i) => {
          // Accepted: the swapped features change sides.
          const { pIn, pOut } = pending[i]!;
          const mIn = inM[i]!;
          const mOut = outM[i]!;
          pIn.forEach((p, j) => {
            const q = pOut[j]!;
            const t = mIn[p]!;
            mIn[p] = mOut[q]!;
            mOut[q] = t;
          });
        },
      );
      return tf.tensor4d(best, batch.x.shape);
    },
  };
}

export interface SparseRsWhiteBoxOptions extends SparseRsOptions {
  /** Forward queries per sample (default 5000). */
  queries?: number;
}

/**
 * Sparse-RS as a white-box attack (the way AutoAttack runs Square next to its gradient attacks):
 * the same search, querying the attacked model itself, with its own, larger query budget. In the
 * default white-box L0 plan it comes after the gradient attacks at each budget, so it only
 * searches the samples they left — in particular those with no usable input gradient, where
 * PGD-L0 and FMN stall and only a gradient-free search is left. Not counted as black-box
 * queries: it is part of the white-box level's own measurement.
 */
export function sparseRsWhiteBox(opts: SparseRsWhiteBoxOptions = {}): FixedBudgetAttack<GradientAccess> {
  const queries = opts.queries ?? 5000;
  if (!(Number.isInteger(queries) && queries >= 1)) throw new RangeError(`Sparse-RS queries must be a positive integer, got ${queries}`);
  const inner = sparseRs(opts);
  return {
    kind: "fixed-budget",
    name: "sparse-rs-wb",
    norm: "l0",
    access: "gradient",
    params: { ...inner.params, queryBudget: queries, queries: "the target model's own predictions (white-box)" },
    run(access, batch, budget) {
      const predict = (x: tf.Tensor4D): tf.Tensor2D => tf.tidy(() => logitsOf(access.model, x));
      return inner.run({ kind: "query", predict, queryBudget: queries }, batch, budget);
    },
  };
}
