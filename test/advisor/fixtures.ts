// TEST FIXTURES: small hand-made matrices with known answers. Distances are written as
// [distance, count] runs so the robust accuracy at any ε can be read off by eye:
// acc(ε) = (samples with distance > ε) / n. 0 = misclassified clean, Infinity = never beaten.
import type { AttackRecord, Candidate, Evaluation, Knowledge, MatrixSnapshot, Norm, Strategy } from "../../src/advisor/types.js";

/** [[0, 20], [0.03, 40]] → 20 zeros then 40 × 0.03, in that sample order. */
export function runs(spec: readonly (readonly [number, number])[]): Float32Array {
  const out: number[] = [];
  for (const [d, count] of spec) for (let i = 0; i < count; i++) out.push(d);
  return Float32Array.from(out);
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

let nextId = 1;

export const PGD: AttackRecord = { name: "pgd-linf", params: { steps: 40, restarts: 2 } };

export function evaluation(o: {
  distances: Float32Array;
  norm?: Norm;
  knowledge?: Knowledge;
  budgets?: number[];
  sampleIndices?: number[];
  maskingSuspected?: boolean;
  id?: number | string;
}): Evaluation {
  return {
    id: o.id ?? nextId++,
    norm: o.norm ?? "linf",
    knowledge: o.knowledge ?? "white-box",
    budgets: o.budgets ?? [0.02, 0.05, 0.1, 0.2, 0.3],
    sampleIndices: o.sampleIndices ?? range(o.distances.length),
    distances: o.distances,
    attacks: [PGD],
    maskingSuspected: o.maskingSuspected ?? false,
  };
}

export function candidate(o: {
  strategy: Strategy;
  rate: number;
  nonZeroParams: number;
  sparseBytes?: number;
  achievedRate?: number;
  structured?: boolean;
  clean?: [number, number];
  evaluations: Evaluation[];
  modelId?: string;
  dataset?: string;
}): Candidate {
  return {
    modelId: o.modelId ?? "lenet5-fmnist",
    architecture: "lenet5",
    dataset: o.dataset ?? "fashion-mnist",
    strategy: o.strategy,
    rate: o.rate,
    achievedRate: o.achievedRate ?? o.rate,
    nonZeroParams: o.nonZeroParams,
    sparseBytes: o.sparseBytes ?? o.nonZeroParams * 6,
    structured: o.structured ?? (o.strategy === "dense" || o.strategy === "structured-l1"),
    clean: { correct: o.clean?.[0] ?? 900, n: o.clean?.[1] ?? 1000 },
    evaluations: o.evaluations,
  };
}

/**
 * The main fixture: 200 samples (indices 0..199), L∞ white-box, grid 0.02 0.05 0.1 0.2 0.3.
 * Robust counts (of 200) at each grid budget, and at ε = 0.5 (beyond the grid):
 *
 *   candidate                nz      bytes   | .02  .05  .1   .2   .3   | .5
 *   dense            1×      60,000  360,000 | 180  140  100   60   60  | 60
 *   global-magnitude 4×      15,000   90,000 | 180  160  120  100   80  | 40
 *   layer-magnitude  8×       7,500   45,000 | 180  150  110   90   70  | 70
 *   random           4×      15,000   90,000 | 180  120   80   40   40  | 40
 *   structured-l1    2×      30,000  180,000 | 180  130   90   50   50  | 50
 *
 * In sample order the distances ascend, so robust sets are nested (suffixes): paired tables are
 * one-sided (e.g. global-magnitude vs layer-magnitude at 0.1: 10 discordant, all one way).
 */
export function mainMatrix(): MatrixSnapshot {
  const gm = runs([[0, 20], [0.03, 20], [0.08, 40], [0.15, 20], [0.25, 20], [0.4, 40], [Infinity, 40]]);
  const lm = runs([[0, 20], [0.03, 30], [0.08, 40], [0.15, 20], [0.25, 20], [Infinity, 70]]);
  const dn = runs([[0, 20], [0.03, 40], [0.08, 40], [0.15, 40], [Infinity, 60]]);
  const rn = runs([[0, 20], [0.03, 60], [0.08, 40], [0.15, 40], [Infinity, 40]]);
  const sl = runs([[0, 20], [0.03, 50], [0.08, 40], [0.15, 40], [Infinity, 50]]);
  return {
    version: 7,
    candidates: [
      candidate({ strategy: "dense", rate: 1, nonZeroParams: 60000, clean: [910, 1000], evaluations: [evaluation({ id: "dense-wb", distances: dn })] }),
      candidate({ strategy: "global-magnitude", rate: 4, achievedRate: 3.9995, nonZeroParams: 15000, clean: [905, 1000], evaluations: [evaluation({ id: "gm4-wb", distances: gm })] }),
      candidate({ strategy: "layer-magnitude", rate: 8, nonZeroParams: 7500, clean: [880, 1000], evaluations: [evaluation({ id: "lm8-wb", distances: lm })] }),
      candidate({ strategy: "random", rate: 4, nonZeroParams: 15000, clean: [850, 1000], evaluations: [evaluation({ id: "rn4-wb", distances: rn })] }),
      candidate({ strategy: "structured-l1", rate: 2, achievedRate: 1.9, nonZeroParams: 30000, clean: [900, 1000], evaluations: [evaluation({ id: "sl2-wb", distances: sl })] }),
    ],
  };
}
