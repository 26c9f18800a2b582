// Square Attack (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020): a score-based black-box
// attack by random search. Each step proposes a square-shaped change of the current perturbation
// at a random place, queries the model once, and keeps the change only when the margin loss
// (logit of the true class minus the largest other logit) goes down. The square's area follows
// the paper's piecewise-constant schedule for p, rescaled to the query budget.
//
// Query-only: the attack sees a predict function and a per-sample query budget, never the model.
// Samples stop being queried as soon as their margin is negative (beaten) or their budget is used.
// Randomness is drawn per sample from a stream seeded by the run seed and the sample's pixels, so
// a sample's trajectory does not depend on which other samples share its batch.
import { tf } from "../tf.js";
import { mulberry32, type Rng } from "../random.js";
import type { AttackBatch, FixedBudgetAttack, PredictFn, QueryAccess } from "./types.js";

/** The paper's schedule for p (fraction of features changed per step), `it` of `total` queries. */
export function squareSchedule(pInit: number, it: number, total: number): number {
  const i = Math.floor((it / Math.max(1, total)) * 10_000);
  if (i <= 10) return pInit;
  if (i <= 50) return pInit / 2;
  if (i <= 200) return pInit / 4;
  if (i <= 500) return pInit / 8;
  if (i <= 1000) return pInit / 16;
  if (i <= 2000) return pInit / 32;
  if (i <= 4000) return pInit / 64;
  if (i <= 6000) return pInit / 128;
  if (i <= 8000) return pInit / 256;
  return pInit / 512;
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing of the query-based attacks (Square and Sparse-RS use it).

/** Clean batch as plain arrays: rows of `features` values, labels, and the image shape. */
export interface PlainBatch {
  n: number;
  features: number;
  shape: [number, number, number];
  x: Float32Array;
  y: Int32Array;
}

export function plainBatch(batch: AttackBatch): PlainBatch {
  const [n, h, w, c] = batch.x.shape;
  return { n, features: h * w * c, shape: [h, w, c], x: batch.x.dataSync() as Float32Array, y: Int32Array.from(batch.y.dataSync()) };
}

/** A seeded stream per sample: the run seed mixed with a hash of the sample's pixels (FNV-1a of the float bits). */
export function sampleRngs(b: PlainBatch, seed: number): Rng[] {
  const bits = new Uint32Array(b.x.buffer, b.x.byteOffset, b.x.length);
  return Array.from({ length: b.n }, (_, i) => {
    let h = 0x811c9dc5 ^ (seed >>> 0);
    for (let j = i * b.features; j < (i + 1) * b.features; j++) h = Math.imul(h ^ bits[j]!, 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    return mulberry32((h ^ (h >>> 13)) >>> 0);
  });
}

/**
 * One query of `rows` (a subset of the batch, by position) whose candidate inputs are packed in
 * `candidates` (rows.length × features): returns the margin loss per row, logit of the label minus
 * the largest other logit (negative = misclassified).
 */
export function queryMargins(predict: PredictFn, b: PlainBatch, rows: number[], candidates: Float32Array): Float32Array {
  const [h, w, c] = b.shape;
  // Read outside tidy: tidy walks whatever its callback returns, element by element for a typed array.
  const logitsT = tf.tidy(() => predict(tf.tensor4d(candidates, [rows.length, h, w, c])));
  const logits = logitsT.dataSync() as Float32Array;
  logitsT.dispose();
  const classes = logits.length / rows.length;
  const out = new Float32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const label = b.y[rows[r]!]!;
    let other = -Infinity;
    for (let k = 0; k < classes; k++) if (k !== label) other = Math.max(other, logits[r * classes + k]!);
    // NaN logits never count as a success.
    const m = logits[r * classes + label]! - other;
    out[r] = Number.isNaN(m) ? Infinity : m;
  }
  return out;
}

export function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** The generic random-search loop: initial candidate, then `propose` / accept-if-better until beaten or out of queries. */
export async function randomSearch(
  access: QueryAccess,
  b: PlainBatch,
  init: (i: number, out: Float32Array) => void,
  propose: (i: number, it: number, best: Float32Array, out: Float32Array) => void,
  accepted?: (i: number) => void,
): Promise<Float32Array> {
  const F = b.features;
  const best = new Float32Array(b.x.length);
  const budget = Math.floor(access.queryBudget);
  if (b.n === 0 || budget < 1) return Float32Array.from(b.x);
  const all = Array.from({ length: b.n }, (_, i) => i);
  for (const i of all) init(i, best.subarray(i * F, (i + 1) * F));
  const margin = queryMargins(access.predict, b, all, best);
  for (let it = 1; it < budget; it++) {
    const active = all.filter((i) => margin[i]! > 0);
    if (active.length === 0) break;
    const cand = new Float32Array(active.length * F);
    active.forEach((i, r) => propose(i, it, best.subarray(i * F, (i + 1) * F), cand.subarray(r * F, (r + 1) * F)));
    const m = queryMargins(access.predict, b, active, cand);
    active.forEach((i, r) => {
      if (m[r]! < margin[i]!) {
        margin[i] = m[r]!;
        best.set(cand.subarray(r * F, (r + 1) * F), i * F);
        accepted?.(i);
      }
    });
    // Let timers and signals run between queries.
    if (it % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  return best;
}

// ---------------------------------------------------------------------------------------------

export interface SquareOptions {
  /** Initial fraction of features changed per step (paper: 0.05 for L∞, 0.1 for L2). */
  pInit?: number;
}

function choice(rng: Rng): number {
  return rng() < 0.5 ? -1 : 1;
}

function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Square side for a step: sqrt(p · features / channels), at least 1, at most min(H, W) − 1. */
function side(p: number, b: PlainBatch, min: number): number {
  const [h, w, c] = b.shape;
  const s = Math.max(min, Math.round(Math.sqrt((p * b.features) / c)));
  return Math.max(1, Math.min(s, Math.min(h, w) - 1));
}

/** What both Square variants start from; null when the budget allows no change at all. */
interface SquareSetup {
  b: PlainBatch;
  eps: number;
  h: number;
  w: number;
  c: number;
  F: number;
  rngs: Rng[];
  /** Index of pixel (y, x), channel ch in a sample's row. */
  at: (y: number, x: number, ch: number) => number;
}

function squareSetup(batch: AttackBatch, budget: number): SquareSetup | null {
  if (!(budget > 0)) return null;
  const b = plainBatch(batch);
  const [h, w, c] = b.shape;
  return { b, eps: budget, h, w, c, F: b.features, rngs: sampleRngs(b, batch.seed), at: (y, x, ch) => (y * w + x) * c + ch };
}

export function squareLinf(opts: SquareOptions = {}): FixedBudgetAttack<QueryAccess> {
  const pInit = opts.pInit ?? 0.05;
  return {
    kind: "fixed-budget",
    name: "square-linf",
    norm: "linf",
    access: "query",
    params: { pInit, loss: "margin", init: "vertical-stripes" },
    async run(access, batch, budget) {
      const setup = squareSetup(batch, budget);
      if (setup === null) return batch.x.clone();
      const { b, eps, h, w, c, F, rngs, at } = setup;
      const best = await randomSearch(
        access,
        b,
        (i, out) => {
          // Vertical stripes: one random sign per column and channel.
          const rng = rngs[i]!;
          const x0 = b.x.subarray(i * F, (i + 1) * F);
          for (let col = 0; col < w; col++)
            for (let ch = 0; ch < c; ch++) {
              const d = eps * choice(rng);
              for (let row = 0; row < h; row++) out[at(row, col, ch)] = clip01(x0[at(row, col, ch)]! + d);
            }
        },
        (i, it, best, out) => {
          const rng = rngs[i]!;
          const x0 = b.x.subarray(i * F, (i + 1) * F);
          const s = side(squareSchedule(pInit, it - 1, access.queryBudget), b, 1);
          const top = randInt(rng, 0, h - s);
          const left = randInt(rng, 0, w - s);
          out.set(best);
          // A window whose new values equal the current ones would waste a query: redraw (bounded).
          for (let tries = 0; tries < 16; tries++) {
            let changed = false;
            for (let ch = 0; ch < c; ch++) {
              const d = eps * choice(rng);
              for (let row = top; row < top + s; row++)
                for (let col = left; col < left + s; col++) {
                  const k = at(row, col, ch);
                  out[k] = clip01(x0[k]! + d);
                  if (Math.abs(out[k]! - best[k]!) >= 1e-7) changed = true;
                }
            }
            if (changed) break;
          }
        },
      );
      return tf.tensor4d(best, batch.x.shape);
    },
  };
}

/**
 * Σ v² over a vector, left to right (what `v.reduce((a, x) => a + x * x, 0)` gives, bit for bit:
 * a typed array's reduce calls its callback per element through the builtin, several times slower).
 */
function sumSquares(v: Float64Array): number {
  let a = 0;
  for (let k = 0; k < v.length; k++) a += v[k]! * v[k]!;
  return a;
}

/** Pseudo-Gaussian bump on an r×q rectangle (concentric rings weighted 1/(k+1)²), unit L2 norm. */
function rectangleBump(r: number, q: number): Float64Array {
  const d = new Float64Array(r * q);
  if (r === 0 || q === 0) return d;
  const cr = Math.floor(r / 2);
  const cq = Math.floor(q / 2);
  for (let k = 0; k <= Math.max(cr, cq); k++) {
    for (let y = Math.max(cr - k, 0); y < Math.min(cr - k + 2 * k + 1, r); y++)
      for (let x = Math.max(cq - k, 0); x < Math.min(cq - k + 2 * k + 1, q); x++) d[y * q + x]! += 1 / (k + 1) ** 2;
  }
  const norm = Math.sqrt(sumSquares(d));
  return d.map((v) => v / norm);
}

/** The paper's L2 update shape: two bumps of opposite sign in the halves of an s×s square, unit norm, random orientation. */
export function squareBump(s: number, rng: Rng): Float64Array {
  const top = rectangleBump(Math.floor(s / 2), s);
  const bottom = rectangleBump(s - Math.floor(s / 2), s);
  const d = new Float64Array(s * s);
  d.set(top, 0);
  for (let j = 0; j < bottom.length; j++) d[top.length + j] = -bottom[j]!;
  const norm = Math.sqrt(sumSquares(d)) || 1;
  const transpose = rng() > 0.5;
  const out = new Float64Array(s * s);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) out[y * s + x] = (transpose ? d[x * s + y]! : d[y * s + x]!) / norm;
  return out;
}

export function squareL2(opts: SquareOptions = {}): FixedBudgetAttack<QueryAccess> {
  const pInit = opts.pInit ?? 0.1;
  return {
    kind: "fixed-budget",
    name: "square-l2",
    norm: "l2",
    access: "query",
    params: { pInit, loss: "margin", init: "pseudo-gaussian-grid" },
    async run(access, batch, budget) {
      const setup = squareSetup(batch, budget);
      if (setup === null) return batch.x.clone();
      const { b, eps, h, w, c, F, rngs, at } = setup;
      /** x + delta·eps/||delta||, clipped into the box. */
      const rescaleInto = (x0: Float32Array, delta: Float64Array, out: Float32Array): void => {
        const norm = Math.sqrt(sumSquares(delta));
        const f = norm > 0 ? eps / norm : 0;
        for (let k = 0; k < F; k++) out[k] = clip01(x0[k]! + delta[k]! * f);
      };
      const best = await randomSearch(
        access,
        b,
        (i, out) => {
          // A grid of s×s bumps (s = H/5) with random signs per bump and channel.
          const rng = rngs[i]!;
          const s = Math.max(1, Math.floor(h / 5));
          const startY = Math.floor((h - s * 5) / 2);
          const startX = Math.floor((w - s * 5) / 2);
          const delta = new Float64Array(F);
          for (let gy = 0; gy < Math.floor(h / s); gy++)
            for (let gx = 0; gx < Math.floor(w / s); gx++) {
              const bump = squareBump(s, rng);
              for (let ch = 0; ch < c; ch++) {
                const sign = choice(rng);
                for (let y = 0; y < s; y++)
                  for (let x = 0; x < s; x++) {
                    const yy = startY + gy * s + y;
                    const xx = startX + gx * s + x;
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) delta[at(yy, xx, ch)]! += bump[y * s + x]! * sign;
                  }
              }
            }
          rescaleInto(b.x.subarray(i * F, (i + 1) * F), delta, out);
        },
        (i, it, best, out) => {
          const rng = rngs[i]!;
          const x0 = b.x.subarray(i * F, (i + 1) * F);
          let s = side(squareSchedule(pInit, it - 1, access.queryBudget), b, 3);
          if (s % 2 === 0 && s + 1 <= Math.min(h, w) - 1) s += 1;
          const y1 = randInt(rng, 0, h - s);
          const x1 = randInt(rng, 0, w - s);
          const y2 = randInt(rng, 0, h - s);
          const x2 = randInt(rng, 0, w - s);
          const delta = new Float64Array(F);
          for (let k = 0; k < F; k++) delta[k] = best[k]! - x0[k]!;
          const imageNorm2 = sumSquares(delta);
          // Rows and columns of the two windows' union, visited in raster order (the sums below
          // add the same terms in the same order as a scan of the whole image would).
          const rowFrom = Math.min(y1, y2);
          const rowTo = Math.max(y1, y2) + s;
          const colFrom = Math.min(x1, x2);
          const colTo = Math.max(x1, x2) + s;
          const bump = squareBump(s, rng);
          for (let ch = 0; ch < c; ch++) {
            // Mass in window 1 and in the union of both windows, per channel.
            let w1 = 0;
            let union = 0;
            for (let y = rowFrom; y < rowTo; y++) {
              const inRow1 = y >= y1 && y < y1 + s;
              const inRow2 = y >= y2 && y < y2 + s;
              if (!inRow1 && !inRow2) continue;
              for (let x = colFrom; x < colTo; x++) {
                const a = inRow1 && x >= x1 && x < x1 + s;
                if (!a && !(inRow2 && x >= x2 && x < x2 + s)) continue;
                const v = delta[at(y, x, ch)]! ** 2;
                if (a) w1 += v;
                union += v;
              }
            }
            const w1Norm = Math.sqrt(w1);
            const sign = choice(rng);
            const update = new Float64Array(s * s);
            for (let y = 0; y < s; y++)
              for (let x = 0; x < s; x++) update[y * s + x] = bump[y * s + x]! * sign + delta[at(y1 + y, x1 + x, ch)]! / (1e-10 + w1Norm);
            const uNorm = Math.sqrt(sumSquares(update)) || 1;
            // The window gets the mass of both windows plus whatever budget the image has left.
            const target = Math.sqrt(Math.max(eps * eps - imageNorm2, 0) / c + union);
            for (let y = y2; y < y2 + s; y++) for (let x = x2; x < x2 + s; x++) delta[at(y, x, ch)] = 0;
            for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) delta[at(y1 + y, x1 + x, ch)] = (update[y * s + x]! / uNorm) * target;
          }
          rescaleInto(x0, delta, out);
        },
      );
      return tf.tensor4d(best, batch.x.shape);
    },
  };
}
