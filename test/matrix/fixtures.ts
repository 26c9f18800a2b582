// TEST FIXTURES for the matrix store: hand-made models, variants and evaluations, built in the
// tests into temporary databases. They are not measurements and are never written into db/.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Knowledge, Norm, Strategy } from "../../src/advisor/types.js";
import { sha256Hex } from "../../src/matrix/blobs.js";
import type { StoredAttack } from "../../src/matrix/row.js";
import { MatrixStore, type EvaluationInput, type ModelInput, type VariantInput } from "../../src/matrix/store.js";

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

export async function tempDir(t: TestContext, prefix = "advisor-matrix-"): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A migrated store in a fresh temporary file, closed after the test. */
export async function tempStore(t: TestContext, name = "matrix.sqlite"): Promise<MatrixStore> {
  const dir = await tempDir(t);
  const store = await MatrixStore.open(path.join(dir, name));
  t.after(() => store.close());
  return store;
}

/** [[0, 20], [0.03, 40]] → 20 zeros then 40 × 0.03 (0 = clean error, Infinity = never beaten). */
export function runs(spec: readonly (readonly [number, number])[]): Float32Array {
  const out: number[] = [];
  for (const [d, count] of spec) for (let i = 0; i < count; i++) out.push(d);
  return Float32Array.from(out);
}

export const FIXTURE_TIME = "2024-05-01T12:00:00.000Z";

export function fixtureModelId(label = "fixture"): string {
  return sha256Hex(`TEST FIXTURE dense model ${label}`);
}

export function fixtureModel(o: { id?: string; architecture?: string; dataset?: string; seed?: number } = {}): ModelInput {
  return {
    id: o.id ?? fixtureModelId(),
    architecture: o.architecture ?? "lenet5",
    dataset: o.dataset ?? "fashion-mnist",
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: o.seed ?? 1,
    clean: { correct: 910, n: 1000 },
    backend: "wasm",
    codeVersion: "0.1.0-test",
    createdAt: FIXTURE_TIME,
    modelDir: "models/fixture",
    metadata: { fixture: true, training: { epochs: 3, batchSize: 128 } },
  };
}

const TOTAL = 61_706;
const PRUNABLE = 61_470;

export function fixtureVariant(o: { modelId?: string; strategy: Strategy; rate: number; seed?: number; clean?: [number, number]; weights?: string }): VariantInput {
  const nonZeroPrunable = Math.round(PRUNABLE / o.rate);
  const nonZeroParams = nonZeroPrunable + (TOTAL - PRUNABLE);
  return {
    modelId: o.modelId ?? fixtureModelId(),
    strategy: o.strategy,
    requestedRate: o.rate,
    achievedRate: PRUNABLE / nonZeroPrunable,
    prunableParams: PRUNABLE,
    nonZeroPrunable,
    totalParams: TOTAL,
    nonZeroParams,
    sparseBytes: 8 * nonZeroPrunable + 4 * (TOTAL - PRUNABLE),
    denseBytes: 4 * TOTAL,
    structured: o.strategy === "dense" || o.strategy === "structured-l1",
    weightsSha256: o.weights ?? sha256Hex(`TEST FIXTURE weights ${o.strategy} ${o.rate} ${o.seed ?? 1}`),
    clean: { correct: o.clean?.[0] ?? 900, n: o.clean?.[1] ?? 1000 },
    finetuneEpochs: o.strategy === "dense" ? 0 : 2,
    seed: o.seed ?? 1,
    backend: "wasm",
    codeVersion: "0.1.0-test",
    createdAt: FIXTURE_TIME,
  };
}

export const PGD_RECORD: StoredAttack = {
  name: "pgd-linf",
  kind: "fixed-budget",
  knowledge: "white-box",
  access: "gradient",
  params: { steps: 40, restarts: 2, relativeStepSize: 0.0625 },
  budgets: [0.02, 0.05, 0.1, 0.2, 0.3],
  attempted: 500,
  beaten: 120,
};

export function fixtureEvaluation(o: {
  variantId: number;
  version: number;
  distances: Float32Array;
  norm?: Norm;
  knowledge?: Knowledge;
  budgets?: number[];
  sampleIndices?: number[];
  maskingSuspected?: boolean;
  finishedAt?: string;
}): EvaluationInput {
  const n = o.distances.length;
  return {
    variantId: o.variantId,
    matrixVersion: o.version,
    norm: o.norm ?? "linf",
    knowledge: o.knowledge ?? "white-box",
    budgets: o.budgets ?? [0.02, 0.05, 0.1, 0.2, 0.3],
    datasetSplit: "test",
    sampleIndices: o.sampleIndices ?? Array.from({ length: n }, (_, i) => 1000 + 3 * i),
    distances: o.distances,
    cleanCorrect: o.distances.reduce((k, d) => (d > 0 ? k + 1 : k), 0),
    attacks: [PGD_RECORD],
    maskingSuspected: o.maskingSuspected ?? false,
    sanity: { pass: true, monotone: { pass: true, violations: [] } },
    seed: 7,
    batchSize: 100,
    queryBudget: 1000,
    queries: 0,
    surrogateSha256: null,
    backend: "wasm",
    codeVersion: "0.1.0-test",
    startedAt: "2024-05-01T12:00:00.000Z",
    finishedAt: o.finishedAt ?? "2024-05-01T12:01:30.000Z",
    seconds: 90,
  };
}
