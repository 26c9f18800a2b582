// Transfer examples: crafted on the surrogate once per stage for the whole sample set (independent
// of the target) and kept in a TransferCache, by evaluations as they go or ahead of time for a
// whole matrix build (craftTransferExamples), with the same seeds and chunks either way.
import { compileModel } from "../onnx/compiled.js";
import { tf, type LayersModel } from "../tf.js";
import { weightsSha256 } from "../model-io.js";
import type { Attack, Norm } from "../attacks/types.js";
import { normalizeBudgets } from "./budgets.js";
import { resolvePlan } from "./attack-plan.js";
import { TransferCache } from "./transfer-cache.js";
import { checkPositiveInt, mixSeed, runAttack, stageSeedOf } from "./stages.js";
import type { SampleSet, Surrogate } from "./robustness.js";

export function transferKey(surrogateSha256: string, attack: Attack, norm: Norm, budget: number | undefined, stageSeed: number): string {
  return TransferCache.key({ surrogateSha256, attack: attack.name, norm, params: attack.params, budget: budget ?? null, seed: stageSeed });
}

/**
 * Crafts, on the surrogate, the examples of one transfer stage for every sample of the set that the
 * cache lacks (in chunks of `batchSize`, seeded per chunk); returns the positions crafted now.
 */
export async function craftStage(
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
  // The surrogate's passes through onnxruntime when it can (onnx/compiled.ts), as in an evaluation.
  const { release } = compileModel(o.surrogate.model);
  try {
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
  } finally {
    release();
  }
  return { crafted, stages, seconds: (performance.now() - t0) / 1000 };
}
