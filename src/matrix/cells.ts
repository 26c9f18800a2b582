// What one cell of a matrix build computes (run inside a worker process, or in-process by
// `matrix verify`). A cell never touches the database: it returns its output and the builder
// commits it, together with the cell's checkpoint, in one transaction.
//
//   train    → the dense model under <modelsDir>/<arch>-<dataset>-s<seed> (an existing directory
//              whose metadata matches the grid is reused, never retrained or overwritten); for a
//              grid naming a given `model`, that model's directory, accepted as it is when its
//              weights' sha256 is the model id (nothing is trained, whatever `training` says);
//   prune    → the pruned + fine-tuned variant in the cache <variantsDir>/<arch>-<dataset>-s<seed>/
//              <dense sha[:12]>/<strategy>-<rate>x (recreated when missing; `-p<pruning seed>` appended
//              when the pruning seed is not the training seed, `-cumulative` for the cumulative
//              schedule, whose variant is pruned from the previous rate's — ensured first, so a
//              chain is rebuilt from an empty cache; a `/` in a strategy name is `_` in the folder);
//   craft    → the transfer examples of one norm crafted on the dense model for the grid's samples,
//              written to <variantsDir>/transfer/<arch>-<dataset>-s<seed>/<dense sha[:12]>/<norm>-<settings>.bin;
//              evaluation cells load that file (and craft whatever it lacks themselves);
//   evaluate → one RobustnessResult per knowledge level of the grid. evaluateRobustness lets weaker
//              levels attack only what stronger ones left, so each level is run as its own call,
//              weakest first: black-box, transfer (surrogate = the dense model), white-box.
//              The stronger calls take the weaker levels' attack records over (`reuse`) instead
//              of re-running those attacks, so no attack runs twice in a cell.
// Determinism: training, pruning and the attacks are seeded (pruning and fine-tuning with the
// cell's pruning seed, the attacks with the training seed); the evaluated samples are the first
// `samples` test images and batches are cut from them the same way in every worker.
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import type { Knowledge } from "../vocabulary.js";
import { backendInfo } from "../engine/backend.js";
import { head, type DataSplits } from "../engine/data.js";
import { loadDataset } from "../engine/dataset-formats.js";
import { GENERATED_MARKER, isGeneratedData, isRealDatasetName } from "../engine/data-provenance.js";
import { loadModel, saveModel, type ModelMetadata } from "../engine/model-io.js";
import { droppedBytesFor, trainDense, pruneAndFinetune, type TrainLoopSettings } from "../engine/pipeline.js";
import { measureSparsity, type SparsityReport } from "../engine/pruning/index.js";
import { evaluate } from "../engine/train.js";
import type { LayersModel } from "../engine/tf.js";
import { craftTransferExamples, evaluateRobustness, samplesFromDataset, type EvaluationProgress, type RobustnessResult } from "../engine/evaluation/robustness.js";
import { TransferCache } from "../engine/evaluation/transfer-cache.js";
import { defaultTransfer, defaultWhiteBox, doubledWhiteBox, type AttackPlan, type WhiteBoxSettings } from "../engine/evaluation/attack-plan.js";
import { probeConvergence } from "../engine/evaluation/convergence.js";
import { withConvergence } from "../engine/evaluation/indicators.js";
import { sparseRs } from "../engine/attacks/sparse-rs.js";
import { squareL2, squareLinf } from "../engine/attacks/square.js";
import type { Norm } from "../engine/attacks/types.js";
import type { Architecture } from "../engine/architectures.js";
import { GRID_ARCHITECTURES, planCells, type Cell, type CraftCell, type EvaluateCell, type Grid, type PruneCell, type TrainCell } from "./grid.js";

export class CellError extends Error {
  override name = "CellError";
}

export interface BuildPaths {
  modelsDir: string;
  variantsDir: string;
}

export interface CellJob {
  cell: Cell;
  grid: Grid;
  paths: BuildPaths;
  /** Weights hashes recorded by earlier cells: a recreated model must match them. */
  expect?: { denseSha256?: string; variantSha256?: string };
}

export interface ModelOutput {
  kind: "train" | "prune";
  dir: string;
  metadata: ModelMetadata;
  sparsity: SparsityReport;
  /** Clean accuracy on the whole test split. */
  clean: { correct: number; n: number };
  finetuneEpochs: number;
  reused: boolean;
  /** Kernel and filter strategies: the dense model's bytes with the removable filters dropped (engine/pruning/dropped.ts). */
  droppedBytes?: number;
}

export interface EvaluateOutput {
  kind: "evaluate";
  results: { result: RobustnessResult; startedAt: string; finishedAt: string }[];
}

export interface CraftOutput {
  kind: "craft";
  file: string;
  /** Examples in the file. */
  examples: number;
  /** Crafted by this run (0 when the file already held them all). */
  crafted: number;
}

export type CellOutput = ModelOutput | CraftOutput | EvaluateOutput;

/** Weakest first: each level's row comes from its own call of evaluateRobustness. */
export const EVALUATION_ORDER: readonly Knowledge[] = ["black-box", "transfer", "white-box"];

export function denseDir(paths: BuildPaths, grid: Grid, architecture: string, seed: number): string {
  if (grid.model) return path.resolve(grid.model.dir);
  return path.join(paths.modelsDir, `${architecture}-${grid.dataset.name}-s${seed}`);
}

export function variantDir(
  paths: BuildPaths,
  grid: Grid,
  cell: { architecture: string; seed: number; strategy: string; rate: number; pruningSeed: number; cumulative?: boolean },
  denseSha256: string,
): string {
  const name = `${cell.strategy.replaceAll("/", "_")}-${cell.rate}x${cell.pruningSeed === cell.seed ? "" : `-p${cell.pruningSeed}`}${cell.cumulative ? "-cumulative" : ""}`;
  return path.join(paths.variantsDir, `${cell.architecture}-${grid.dataset.name}-s${cell.seed}`, denseSha256.slice(0, 12), name);
}

/**
 * What the matrix's white-box plan runs cheaper than the engine's defaults (the papers' settings),
 * for the cost of a matrix build: targeted APGD-DLR over the 3 most likely other classes instead
 * of 9, and Carlini-Wagner L2 with 5 binary-search steps x 100 Adam steps from c = 0.1 (instead of
 * 9 x 100 from 0.001) and FMN's number of targeted runs. Measured with bench/profile-cell.ts on
 * lenet5 layer-magnitude 32x (first 100 test images): with APGD-DLR-T over 9 targets the
 * white-box level took 48.4 s (L∞), with 3 targets 16.3 s, and its curve differed by one sample
 * at one budget (L∞ 0.1: 2 vs 3 robust). C&W (cw.ts of df1424d, untargeted) took 19.5 s with
 * 9 x 100 steps, 12.7 s with 5 x 100 and 5.8 s with 5 x 50, and found an adversarial point for 21,
 * 21 and 14 of the 57 samples FMN and FMN-CE had left above L2 0.25 (the curve was the same).
 */
/**
 * The white-box Sparse-RS (L0) gets l0QueryFactor x the grid's black-box Sparse-RS queries (5000
 * for the default grid). On the first 100 test images its white-box level took, old plan → this
 * plan: dense lenet5 5.6 → 53.5 s (robust at L0 4 / 8 / 16: 42 / 9 / 4 → 38 / 8 / 2), lenet5
 * layer-magnitude 32x 11.6 → 53.8 s (L0 8 / 16 / 32: 34 / 21 / 10 → 22 / 8 / 1; with 1000 white-box
 * queries 28.9 s and 27 / 12 / 2).
 */
export const GRID_WHITE_BOX = { apgdTargets: 3, cw: { binarySearchSteps: 5, steps: 100, initialConst: 0.1 }, l0QueryFactor: 5 } as const;

/**
 * The attacks of the grid's settings, per level (same choice of attacks as the engine's defaults,
 * cheaper where GRID_WHITE_BOX says). The white-box Sparse-RS (L0) gets 5x the black-box level's
 * query budget (see WhiteBoxSettings).
 */
export function gridAttackPlan(grid: Grid, norm: Norm): AttackPlan {
  const { pgd, fmn: fmnSettings } = grid.attacks;
  return {
    "white-box": defaultWhiteBox(norm, gridWhiteBoxSettings(grid)),
    transfer: defaultTransfer(norm, { pgd: { steps: pgd.steps, restarts: pgd.restarts }, fmn: { steps: fmnSettings.steps, targets: fmnSettings.targets } }),
    "black-box": [norm === "linf" ? squareLinf() : norm === "l2" ? squareL2() : sparseRs()],
  };
}

/** The white-box settings of the grid's plan (gridAttackPlan; doubled by the convergence probe). */
export function gridWhiteBoxSettings(grid: Grid): WhiteBoxSettings {
  const { pgd, fmn: fmnSettings } = grid.attacks;
  return {
    pgd: { steps: pgd.steps, restarts: pgd.restarts },
    fmn: { steps: fmnSettings.steps, targets: fmnSettings.targets },
    l0Queries: GRID_WHITE_BOX.l0QueryFactor * grid.attacks.sparseRs.queries,
    apgd: { steps: 100, targets: GRID_WHITE_BOX.apgdTargets },
    cw: { ...GRID_WHITE_BOX.cw, targets: fmnSettings.targets },
  };
}

const evaluateOrder = new WeakMap<Grid, Map<string, number>>();

/**
 * Whether the grid's convergence probe runs on this evaluation cell: every `every`-th evaluation
 * cell of the whole plan, from the first (positions in planCells, so the choice is the same in
 * every shard and every run).
 */
export function probedCell(grid: Grid, key: string): boolean {
  const every = grid.attacks.convergenceProbe?.every;
  if (every === undefined) return false;
  let order = evaluateOrder.get(grid);
  if (!order) {
    order = new Map(planCells(grid).filter((c) => c.kind === "evaluate").map((c, i) => [c.key, i]));
    evaluateOrder.set(grid, order);
  }
  const i = order.get(key);
  return i !== undefined && i % every === 0;
}

/**
 * Where a build keeps the transfer examples of one (dense model, norm): named by the settings that
 * shape them, so grids that differ there never share a file (the cache's own keys and per-sample
 * fingerprints would turn a stale file into misses anyway).
 */
export function transferFile(paths: BuildPaths, grid: Grid, cell: { architecture: string; seed: number; norm: Norm; budgets: number[] }, denseSha256: string): string {
  const settings = createHash("sha256")
    // The convergence probe does not shape the transfer examples (and was not there before).
    .update(JSON.stringify({ samples: grid.samples, budgets: cell.budgets, attacks: { ...grid.attacks, convergenceProbe: undefined }, seed: cell.seed, dataset: grid.dataset.name }))
    .digest("hex")
    .slice(0, 12);
  return path.join(paths.variantsDir, "transfer", `${cell.architecture}-${grid.dataset.name}-s${cell.seed}`, denseSha256.slice(0, 12), `${cell.norm}-${settings}.bin`);
}

export function queryBudgetFor(grid: Grid, norm: Norm): number {
  return norm === "l0" ? grid.attacks.sparseRs.queries : grid.attacks.square.queries;
}

function trainSettings(grid: Grid, seed: number, epochs: number): TrainLoopSettings {
  return { epochs, batchSize: grid.training.batchSize, learningRate: grid.training.learningRate, patience: grid.training.patience, validation: grid.training.validation, seed };
}

/** Which variant to ensure: a prune cell's fields, and whether it belongs to a cumulative chain. */
export type VariantSpec = Pick<PruneCell, "architecture" | "seed" | "strategy" | "rate" | "key" | "pruningSeed"> & { cumulative?: boolean };

/** The rate before `rate` in a cumulative chain (the largest grid rate > 1 below it); undefined for the first (pruned from the dense model). */
export function previousRate(rates: readonly number[], rate: number): number | undefined {
  const below = rates.filter((r) => r > 1 && r < rate);
  return below.length === 0 ? undefined : Math.max(...below);
}

/** Per-process caches: data sets, loaded models, transfer examples (one cache per surrogate). */
export class CellRunner {
  private readonly data = new Map<string, Promise<DataSplits>>();
  private readonly models = new Map<string, { model: LayersModel; metadata: ModelMetadata }>();
  readonly transferCaches = new Map<string, TransferCache>();
  /** Model outputs already measured in this process, by directory. */
  private readonly outputs = new Map<string, ModelOutput>();

  /** Transfer files already merged into the caches. */
  private readonly loadedTransferFiles = new Set<string>();

  /**
   * @param options.transferFiles read and write the build's transfer-example files (default true;
   *   `matrix verify` re-crafts from scratch instead).
   */
  constructor(
    private readonly onProgress: (text: string) => void = () => undefined,
    private readonly options: { transferFiles?: boolean } = {},
  ) {}

  private transferCache(denseSha256: string): TransferCache {
    let cache = this.transferCaches.get(denseSha256);
    if (!cache) this.transferCaches.set(denseSha256, (cache = new TransferCache()));
    return cache;
  }

  private async loadTransferFile(file: string, cache: TransferCache): Promise<void> {
    if (this.options.transferFiles === false || this.loadedTransferFiles.has(file) || !existsSync(file)) return;
    try {
      await cache.readFile(file);
      this.loadedTransferFiles.add(file);
    } catch (err) {
      // A damaged file only costs time: whatever it lacks is crafted again.
      this.onProgress(`ignoring transfer cache ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private dataset(grid: Grid): Promise<DataSplits> {
    const { dir, name, format } = grid.dataset;
    const key = `${dir}|${name}|${format}`;
    let p = this.data.get(key);
    if (!p) {
      p = (async () => {
        // Rows measured on generated data must never pass for real ones (they could be shipped).
        if (isRealDatasetName(name) && (await isGeneratedData(dir))) {
          throw new CellError(`dataset: ${dir} holds generated data (${GENERATED_MARKER}), which may not be measured under the name of the real data set ${name}; name it otherwise, e.g. generated-${name}`);
        }
        return loadDataset(dir, format, name);
      })();
      this.data.set(key, p);
      p.catch(() => this.data.delete(key));
    }
    return p;
  }

  private async load(dir: string, sha?: string): Promise<{ model: LayersModel; metadata: ModelMetadata }> {
    const cached = this.models.get(dir);
    if (cached && (sha === undefined || cached.metadata.weightsSha256 === sha)) return cached;
    if (cached) {
      cached.model.dispose();
      this.models.delete(dir);
    }
    const loaded = await loadModel(dir);
    this.models.set(dir, loaded);
    return loaded;
  }

  dispose(): void {
    for (const m of this.models.values()) m.model.dispose();
    this.models.clear();
    this.transferCaches.clear();
  }

  async run(job: CellJob): Promise<CellOutput> {
    const c = job.cell;
    if (c.kind === "train") return this.ensureDense(job.grid, job.paths, c, job.expect?.denseSha256);
    if (c.kind === "prune") return this.ensureVariant(job.grid, job.paths, { ...c, cumulative: job.grid.schedule === "cumulative" }, job.expect);
    if (c.kind === "craft") return this.craftCell(job.grid, job.paths, c, job.expect?.denseSha256);
    return this.evaluateCell(job.grid, job.paths, c, job.expect);
  }

  /** The dense model: reused when its directory holds a model trained as the grid says, else trained and saved. */
  async ensureDense(grid: Grid, paths: BuildPaths, c: Pick<TrainCell, "architecture" | "seed" | "key">, expectSha?: string): Promise<ModelOutput> {
    const dir = denseDir(paths, grid, c.architecture, c.seed);
    const known = this.outputs.get(dir);
    if (known && existsSync(dir) && (expectSha === undefined || known.metadata.weightsSha256 === expectSha)) return { ...known, reused: true };
    const out = await this.ensureDenseUncached(grid, dir, c, expectSha);
    this.outputs.set(dir, out);
    return out;
  }

  private async ensureDenseUncached(grid: Grid, dir: string, c: Pick<TrainCell, "architecture" | "seed" | "key">, expectSha?: string): Promise<ModelOutput> {
    const data = await this.dataset(grid);
    if (grid.model) return this.givenDense(grid, grid.model, dir, c, data, expectSha);
    if (existsSync(dir)) {
      const { model, metadata } = await this.load(dir);
      const t = metadata.training;
      const problems: string[] = [];
      if (metadata.architecture !== c.architecture) problems.push(`architecture ${metadata.architecture}`);
      if (metadata.dataset !== grid.dataset.name) problems.push(`data set ${metadata.dataset}`);
      if (metadata.seed !== c.seed) problems.push(`seed ${metadata.seed}`);
      if (metadata.pruning) problems.push("it is a pruned model");
      if (!t || t.batchSize !== grid.training.batchSize || t.learningRate !== grid.training.learningRate || t.epochs > grid.training.epochs) problems.push("other training settings");
      if (expectSha !== undefined && metadata.weightsSha256 !== expectSha) problems.push(`weights ${metadata.weightsSha256.slice(0, 12)}… instead of ${expectSha.slice(0, 12)}…`);
      if (problems.length > 0) {
        throw new CellError(`${c.key}: the model directory ${dir} exists but does not match the grid (${problems.join(", ")}); remove it or choose another --models-dir`);
      }
      const test = evaluate(model, data.test);
      return { kind: "train", dir, metadata, sparsity: measureSparsity(model), clean: { correct: test.correct, n: test.count }, finetuneEpochs: 0, reused: true };
    }
    if (!(GRID_ARCHITECTURES as readonly string[]).includes(c.architecture)) throw new CellError(`${c.key}: ${c.architecture} is not an architecture of the zoo; nothing to train`);
    this.onProgress(`training ${c.architecture} (seed ${c.seed})`);
    const dense = await trainDense({
      architecture: c.architecture as Architecture,
      train: data.train,
      test: data.test,
      datasetName: grid.dataset.name,
      backend: backendInfo().label,
      settings: {
        ...trainSettings(grid, c.seed, grid.training.epochs),
        onEpoch: (e) => this.onProgress(`training ${c.architecture}: epoch ${e.epoch}, validation accuracy ${(100 * e.validationAccuracy).toFixed(1)}%`),
      },
    });
    const metadata = await saveModel(dense.model, dir, dense.metadata);
    if (expectSha !== undefined && metadata.weightsSha256 !== expectSha) {
      throw new CellError(`${c.key}: retrained ${dir} but its weights differ from the recorded ones (training is not reproducible on this machine/backend)`);
    }
    this.models.set(dir, { model: dense.model, metadata });
    return { kind: "train", dir, metadata, sparsity: measureSparsity(dense.model), clean: { correct: dense.test.correct, n: dense.test.count }, finetuneEpochs: 0, reused: false };
  }

  /**
   * The grid's given dense model (e.g. an uploaded one): it IS the dense model, so it is taken as
   * it is — no training, whatever the grid's training settings — once its weights are checked:
   * loadModel refuses weights whose sha256 differs from its metadata.json, and that hash must be
   * the model id the grid names (and the one an earlier run recorded).
   */
  private async givenDense(grid: Grid, given: NonNullable<Grid["model"]>, dir: string, c: Pick<TrainCell, "key">, data: DataSplits, expectSha?: string): Promise<ModelOutput> {
    if (!existsSync(dir)) throw new CellError(`${c.key}: the directory ${dir} of model ${given.id.slice(0, 12)}… is missing`);
    const { model, metadata } = await this.load(dir);
    const problems: string[] = [];
    if (metadata.weightsSha256 !== given.id) problems.push(`its weights hash to ${metadata.weightsSha256.slice(0, 12)}…, not the model id ${given.id.slice(0, 12)}…`);
    if (expectSha !== undefined && metadata.weightsSha256 !== expectSha) problems.push(`weights ${metadata.weightsSha256.slice(0, 12)}… instead of the recorded ${expectSha.slice(0, 12)}…`);
    if (metadata.dataset !== grid.dataset.name) problems.push(`it is registered for data set ${metadata.dataset}, not ${grid.dataset.name}`);
    if (problems.length > 0) throw new CellError(`${c.key}: the model in ${dir} is not the grid's model (${problems.join("; ")})`);
    const test = evaluate(model, data.test);
    return { kind: "train", dir, metadata, sparsity: measureSparsity(model), clean: { correct: test.correct, n: test.count }, finetuneEpochs: 0, reused: true };
  }

  /**
   * The pruned variant: from the cache directory, else pruned, fine-tuned and saved — from the dense
   * model, or (cumulative) from the previous rate's variant, ensured first (recursively down the chain).
   */
  async ensureVariant(grid: Grid, paths: BuildPaths, c: VariantSpec, expect: CellJob["expect"] = {}): Promise<ModelOutput> {
    const denseOut = await this.ensureDense(grid, paths, { architecture: c.architecture, seed: c.seed, key: c.key }, expect.denseSha256);
    const dense = denseOut.metadata;
    const dir = variantDir(paths, grid, c, dense.weightsSha256);
    const known = this.outputs.get(dir);
    if (known && existsSync(dir) && (expect.variantSha256 === undefined || known.metadata.weightsSha256 === expect.variantSha256)) return { ...known, reused: true };
    let parentOut = denseOut;
    if (c.cumulative) {
      const previous = previousRate(grid.rates, c.rate);
      if (previous !== undefined) parentOut = await this.ensureVariant(grid, paths, { ...c, rate: previous }, { ...(expect.denseSha256 === undefined ? {} : { denseSha256: expect.denseSha256 }) });
    }
    const out = await this.ensureVariantUncached(grid, dir, denseOut, parentOut, c, expect);
    this.outputs.set(dir, out);
    return out;
  }

  private async ensureVariantUncached(
    grid: Grid,
    dir: string,
    denseOut: ModelOutput,
    parentOut: ModelOutput,
    c: VariantSpec,
    expect: NonNullable<CellJob["expect"]>,
  ): Promise<ModelOutput> {
    const dense = denseOut.metadata;
    const parent = parentOut.metadata;
    const data = await this.dataset(grid);
    if (existsSync(dir)) {
      const { model, metadata } = await this.load(dir);
      const p = metadata.pruning;
      const t = metadata.training;
      const ok =
        p !== undefined &&
        p.parentWeightsSha256 === parent.weightsSha256 &&
        (p.schedule === "cumulative") === (c.cumulative === true) &&
        p.strategy === c.strategy &&
        p.requestedRate === c.rate &&
        metadata.seed === c.pruningSeed &&
        t !== undefined &&
        t.batchSize === grid.training.batchSize &&
        t.learningRate === grid.training.learningRate &&
        p.finetuneEpochs <= grid.finetune.epochs &&
        (expect.variantSha256 === undefined || metadata.weightsSha256 === expect.variantSha256);
      if (ok) {
        const test = evaluate(model, data.test);
        const droppedBytes = droppedBytesFor(model, c.strategy);
        return {
          kind: "prune",
          dir,
          metadata,
          sparsity: measureSparsity(model),
          clean: { correct: test.correct, n: test.count },
          finetuneEpochs: p.finetuneEpochs,
          reused: true,
          ...(droppedBytes === undefined ? {} : { droppedBytes }),
        };
      }
      throw new CellError(`${c.key}: the variant cache ${dir} holds another model; remove it`);
    }
    this.onProgress(
      `pruning ${c.architecture} ${c.strategy} ${c.rate}x${c.pruningSeed === c.seed ? "" : ` (pruning seed ${c.pruningSeed})`}${parentOut === denseOut ? "" : ` from its ${parent.pruning?.requestedRate}x variant (cumulative)`}`,
    );
    const { model } = await loadModel(parentOut.dir);
    try {
      const pr = await pruneAndFinetune({
        model,
        parent,
        ...(c.cumulative ? { cumulative: { denseWeightsSha256: dense.weightsSha256 } } : {}),
        strategy: c.strategy,
        rate: c.rate,
        train: data.train,
        test: data.test,
        backend: backendInfo().label,
        // Pruning and fine-tuning follow the pruning seed. The default seed (the training seed)
        // scores gradient strategies on the first training batches, as every variant did before
        // pruning seeds existed; another seed draws its batches at random with that seed.
        settings: trainSettings(grid, c.pruningSeed, grid.finetune.epochs),
        ...(c.pruningSeed === c.seed ? {} : { gradientBatchSeed: c.pruningSeed }),
      });
      const metadata = await saveModel(model, dir, pr.metadata);
      if (expect.variantSha256 !== undefined && metadata.weightsSha256 !== expect.variantSha256) {
        throw new CellError(`${c.key}: recreated ${dir} but its weights differ from the recorded variant (pruning/fine-tuning is not reproducible here)`);
      }
      const droppedBytes = pr.metadata.pruning?.droppedBytes;
      return {
        kind: "prune",
        dir,
        metadata,
        sparsity: pr.sparsity,
        clean: { correct: pr.test.correct, n: pr.test.count },
        finetuneEpochs: pr.result.history.length,
        reused: false,
        ...(droppedBytes === undefined ? {} : { droppedBytes }),
      };
    } finally {
      model.dispose();
    }
  }

  async evaluateCell(grid: Grid, paths: BuildPaths, c: EvaluateCell, expect: CellJob["expect"] = {}): Promise<EvaluateOutput> {
    const denseOut = await this.ensureDense(grid, paths, { architecture: c.architecture, seed: c.seed, key: c.key }, expect.denseSha256);
    const targetOut = c.strategy === "dense" ? denseOut : await this.ensureVariant(grid, paths, { ...c, strategy: c.strategy, cumulative: c.cumulative === true }, expect);
    const target = await this.load(targetOut.dir, targetOut.metadata.weightsSha256);
    const surrogate = await this.load(denseOut.dir, denseOut.metadata.weightsSha256);
    const data = await this.dataset(grid);
    if (data.test.count < grid.samples) throw new CellError(`${c.key}: the grid asks for ${grid.samples} samples but the test split holds ${data.test.count}`);
    const samples = samplesFromDataset(head(data.test, grid.samples));
    const sha = denseOut.metadata.weightsSha256;
    const cache = this.transferCache(sha);
    if (c.knowledge.includes("transfer")) await this.loadTransferFile(transferFile(paths, grid, c, sha), cache);
    const plan = gridAttackPlan(grid, c.norm);
    const results: EvaluateOutput["results"] = [];
    for (const knowledge of EVALUATION_ORDER.filter((k) => c.knowledge.includes(k))) {
      const startedAt = new Date().toISOString();
      const result = await evaluateRobustness({
        target: target.model,
        ...(knowledge !== "black-box" && c.knowledge.includes("transfer") ? { surrogate: { model: surrogate.model, weightsSha256: sha } } : {}),
        samples,
        norm: c.norm,
        knowledge,
        budgets: c.budgets,
        attacks: plan,
        queryBudget: queryBudgetFor(grid, c.norm),
        batchSize: grid.attacks.batchSize,
        seed: c.seed,
        transferCache: cache,
        // Attacks the weaker levels' calls already ran on this target and these samples are taken over, not re-run.
        reuse: results.flatMap((r) => r.result.perAttack),
        onProgress: (p: EvaluationProgress) => {
          if (p.phase === "start") this.onProgress(`${knowledge}: ${p.knowledge} ${p.attack}${p.budget === undefined ? "" : ` @${p.budget}`} (${p.stageIndex + 1}/${p.stages})`);
        },
      });
      results.push({ result, startedAt, finishedAt: new Date().toISOString() });
    }
    const whiteBox = results.find((r) => r.result.knowledge === "white-box");
    if (whiteBox && probedCell(grid, c.key)) {
      // The probe's verdict goes with the white-box row (its attacks are the ones probed).
      this.onProgress(`convergence probe: white-box attacks with twice the steps and restarts`);
      const probe = await probeConvergence({
        target: target.model,
        samples,
        norm: c.norm,
        budgets: c.budgets,
        attacks: defaultWhiteBox(c.norm, doubledWhiteBox(c.norm, gridWhiteBoxSettings(grid))),
        distances: whiteBox.result.distances,
        queryBudget: queryBudgetFor(grid, c.norm),
        batchSize: grid.attacks.batchSize,
        seed: c.seed,
      });
      whiteBox.result = { ...whiteBox.result, indicators: withConvergence(whiteBox.result.indicators, probe) };
    }
    return { kind: "evaluate", results };
  }

  /** Crafts the norm's transfer examples on the dense model for the grid's samples and writes them to the build's file. */
  async craftCell(grid: Grid, paths: BuildPaths, c: CraftCell, expectSha?: string): Promise<CraftOutput> {
    const denseOut = await this.ensureDense(grid, paths, { architecture: c.architecture, seed: c.seed, key: c.key }, expectSha);
    const sha = denseOut.metadata.weightsSha256;
    const dense = await this.load(denseOut.dir, sha);
    const data = await this.dataset(grid);
    if (data.test.count < grid.samples) throw new CellError(`${c.key}: the grid asks for ${grid.samples} samples but the test split holds ${data.test.count}`);
    const file = transferFile(paths, grid, c, sha);
    const cache = this.transferCache(sha);
    await this.loadTransferFile(file, cache);
    const plan = gridAttackPlan(grid, c.norm);
    const r = await craftTransferExamples({
      surrogate: { model: dense.model, weightsSha256: sha },
      samples: samplesFromDataset(head(data.test, grid.samples)),
      norm: c.norm,
      budgets: c.budgets,
      attacks: plan.transfer,
      batchSize: grid.attacks.batchSize,
      seed: c.seed,
      cache,
      onProgress: (p) => {
        if (p.done === Math.min(p.total, grid.attacks.batchSize)) this.onProgress(`crafting ${p.attack}${p.budget === undefined ? "" : ` @${p.budget}`} on the dense model`);
      },
    });
    const examples = r.crafted > 0 || !existsSync(file) ? await cache.writeFile(file, (key) => key.startsWith(`${sha}|`) && key.split("|")[2] === c.norm) : 0;
    if (examples > 0) this.loadedTransferFiles.add(file);
    return { kind: "craft", file, examples, crafted: r.crafted };
  }
}
