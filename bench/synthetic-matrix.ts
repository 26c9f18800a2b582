// A synthetic matrix for the advisor benchmark (bench/advisor.ts): `models` models × 37 variants
// (dense + 6 strategies × 6 rates) × 3 norms × 3 knowledge levels × 500 samples — 33,300 rows
// for 100 models. Generated from a seeded PRNG, marked BENCH SYNTHETIC in every model and
// version description, written only to a temporary database, never shipped or exported.
// Distances are shaped like real ones (15 % clean errors, per-norm scales, weaker knowledge
// levels never beating stronger ones, some never-beaten samples) so the advisor does its real work.
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { mulberry32 } from "../src/engine/random.js";
import { sha256Hex } from "../src/matrix/blobs.js";
import { MatrixStore } from "../src/matrix/store.js";

const STRATEGIES = ["global-magnitude", "layer-magnitude", "global-gradient", "layer-gradient", "random", "structured-l1"] as const;
const RATES = [2, 4, 8, 16, 32, 64];
const BUDGETS = { linf: [0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3], l2: [0, 0.25, 0.5, 1, 1.5, 2, 3, 4], l0: [0, 1, 2, 4, 8, 16, 32, 64] } as const;
const SCALE = { linf: 0.05, l2: 1.2, l0: 12 } as const;
const SAMPLES = 500;
const GENERATOR = "v1";


/** The database file for `models` models, generated once into `dir` and reused. */
export async function syntheticMatrix(dir: string, models: number, log: (s: string) => void = () => undefined): Promise<string> {
  const file = `${dir}/advisor-bench-synthetic-${GENERATOR}-${models}.sqlite`;
  if (existsSync(file)) return file;
  const partial = `${file}.partial`;
  await rm(partial, { force: true });
  const store = await MatrixStore.open(partial);
  const started = Date.now();
  const rnd = mulberry32(20261201);
  const sampleIndices = Array.from({ length: SAMPLES }, (_, i) => i);
  const version = await store.createVersion(`BENCH SYNTHETIC ${models} models × 37 variants × 9 (norm, knowledge) × ${SAMPLES} samples`);
  for (let m = 0; m < models; m++) {
    const modelId = sha256Hex(`BENCH SYNTHETIC model ${m}`);
    await store.upsertModel({
      id: modelId,
      architecture: `synthetic-${m % 10}`,
      dataset: "fashion-mnist",
      inputShape: [28, 28, 1],
      numClasses: 10,
      seed: m,
      clean: { correct: 8800 + Math.round(rnd() * 400), n: 10000 },
      backend: "synthetic",
      codeVersion: "bench",
      createdAt: "2026-12-01T00:00:00.000Z",
      metadata: { benchSynthetic: true },
    });
    const P = 60_000 + Math.round(rnd() * 200_000);
    for (const [strategy, rate] of [["dense", 1] as const, ...STRATEGIES.flatMap((s) => RATES.map((r) => [s, r] as const))]) {
      const nz = Math.round(P / rate);
      const variantId = await store.upsertVariant({
        modelId,
        strategy,
        requestedRate: rate,
        achievedRate: P / nz,
        prunableParams: P,
        nonZeroPrunable: nz,
        totalParams: P + 300,
        nonZeroParams: nz + 300,
        sparseBytes: 8 * nz + 1200,
        denseBytes: 4 * (P + 300),
        structured: strategy === "dense" || strategy === "structured-l1",
        weightsSha256: sha256Hex(`BENCH SYNTHETIC ${m} ${strategy} ${rate}`),
        clean: { correct: 8900 - Math.round(rate * 20 * rnd()), n: 10000 },
        finetuneEpochs: strategy === "dense" ? 0 : 2,
        seed: 1,
        backend: "synthetic",
        codeVersion: "bench",
        createdAt: "2026-12-01T00:00:00.000Z",
      });
      for (const norm of ["linf", "l2", "l0"] as const) {
        const scale = SCALE[norm] * (0.6 + rnd() * 0.8);
        // White-box first: the weaker levels never beat a sample the stronger one left robust.
        const white = Float32Array.from({ length: SAMPLES }, () => {
          const u = rnd();
          if (u < 0.15) return 0;
          if (u > 0.97) return Infinity;
          const d = -Math.log(1 - rnd()) * scale;
          return norm === "l0" ? Math.max(1, Math.round(d)) : d;
        });
        for (const [knowledge, factor] of [["white-box", 1], ["transfer", 1.6], ["black-box", 1.3]] as const) {
          const distances = knowledge === "white-box" ? white : Float32Array.from(white, (d) => (d === 0 || d === Infinity ? d : norm === "l0" ? Math.round(d * factor) : d * factor));
          await store.insertEvaluation({
            variantId,
            matrixVersion: version,
            norm,
            knowledge,
            budgets: [...BUDGETS[norm]],
            sampleIndices,
            distances,
            cleanCorrect: distances.reduce((k, d) => (d > 0 ? k + 1 : k), 0),
            attacks: [{ name: `synthetic-${norm}`, kind: "fixed-budget", knowledge, access: knowledge === "black-box" ? "query" : "gradient", params: { steps: 100 }, budgets: BUDGETS[norm].slice(1), attempted: SAMPLES, beaten: SAMPLES }],
            maskingSuspected: false,
            seed: 1,
            backend: "synthetic",
            codeVersion: "bench",
            startedAt: "2026-12-01T00:00:00.000Z",
            finishedAt: "2026-12-01T00:01:00.000Z",
            seconds: 60,
          });
        }
      }
    }
    if ((m + 1) % 10 === 0) log(`synthetic matrix: ${m + 1}/${models} models (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await store.publishVersion(version);
  await store.close();
  await rename(partial, file);
  return file;
}
