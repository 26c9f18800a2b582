// The grid of a matrix build: which models, strategies, rates, norms, knowledge levels and budgets
// to measure, and how (training, fine-tuning, attack settings). A YAML or JSON file, validated with
// zod; every problem names its field path, e.g. `strategies[2]: unknown strategy "magic" (known: …)`.
//
// Planning. planCells(grid) turns a grid into a deterministic, dependency-ordered list of cells:
//   train/<arch>/s<seed>                          train the dense model (also the `dense`, rate 1 variant);
//   craft/<arch>/s<seed>/<norm>                   craft the transfer examples of one norm on the dense
//                                                 model (the surrogate), once, saved beside the variants;
//   prune/<arch>/<strategy>/<rate>x/s<seed>       prune the dense model and fine-tune with the mask fixed;
//   eval/<arch>/<strategy>/<rate>x/s<seed>/<norm> evaluate one variant under one norm, for EVERY knowledge
//                                                 level of the grid (one evaluation per level).
// A variant pruned with a pruning seed p other than its training seed s (see "Pruning seeds" below)
// has `/p<p>` after `s<seed>` in its prune and eval keys; the default (p = s) keys are unchanged.
// Why this granularity: each cell's output is what the next needs and nothing is computed twice —
// a dense model is trained once per (architecture, seed) and is both the rate-1 variant and the
// transfer surrogate; a variant is pruned and fine-tuned once, whatever the norms; an evaluation
// cell keeps the levels of one norm together so that transfer examples crafted on the dense model
// and the clean predictions are shared within the cell, while cells stay small (minutes) so a crash
// loses little. Dependencies are explicit: an evaluation needs its variant's cell, and with the
// transfer level also its norm's craft cell — so the examples are crafted once for the whole build
// (every worker, every resumed run) instead of once per worker process.
//
// A GIVEN dense model (`model: {id, architecture, dir}`, e.g. an uploaded model refreshed by a
// job): the grid measures that model instead of training the zoo's architectures. It IS the dense
// model — its train cell loads the directory and checks the weights' sha256 against `model.id`,
// nothing is trained — and is pruned, fine-tuned on the grid's data set and attacked like any other.
// Its cells are keyed by the model's architecture label (train/<label>/s<seed>, …); the grid hash
// includes the model id, so two models never share a build.
//
// Pruning seeds. The random choices of pruning — random strategies' masks, the training batches
// gradient strategies score on, fine-tuning's validation split and shuffles — follow the variant's
// PRUNING seed. By default a variant is pruned with its dense model's training seed (`seeds`), as
// every matrix built before pruning seeds existed was, so existing grids, cell keys, variant
// directories and shipped rows keep their identity. `pruningSeeds: [1, 2]` prunes every variant with
// each of those seeds instead; `extraSeeds: [{architecture, strategy, rate, seeds}]` adds seeds for
// chosen variants only (architecture left out: every architecture), e.g. a second seed for the
// variants that win the documented scenarios without doubling the whole build. The dense model
// (rate 1) is not pruned: it has no pruning seed. The matrix stores the pruning seed as the
// variant's seed (`variantSeed`, part of the variant's identity); the attacks keep the training
// seed, so two variants that differ only by pruning seed are attacked alike.
//
// Schedules. `schedule: one-shot` (the default, left out of the normalised grid and its hash, so
// grids written before schedules keep their keys and builds) prunes every rate from the dense
// model. `schedule: cumulative` is the paper's: per (architecture, seed, strategy, pruning seed),
// the rates form a chain in ascending order — the first pruned from the dense model, each next
// one from the previous rate's FINE-TUNED variant, then fine-tuned with the grid's finetune
// settings. Its prune and eval keys end in `/cumulative` (after any `/p<seed>`), and each prune
// cell depends on the previous rate's prune cell (`from`), so the builder runs a chain in order
// and `matrix verify` can rebuild it from an empty variant cache. The matrix records the schedule
// with every variant (variants.schedule, the variant's metadata.json). An `extraSeeds` entry adds
// its seed at the rate it names only: that variant has no previous-rate cell of its seed in the
// plan, and its prune cell creates the lower rates' variants of that seed in the variant cache
// (cells.ts, ensureVariant) without measuring them.
//
// Strategies. Any accepted name (vocabulary.ts: today's names and `<granularity>/<rule>`) is
// stored under its canonical name, so `filter/magnitude-local` and `structured-l1` are the same
// strategy of the same grid hash. kernel/* does not apply to an MLP (MLP_ARCHITECTURES):
// planCells skips those combinations and notApplicable() says so in one line.
//
// Sharding (`--shard k/N`): the leaves of the plan (evaluation cells) are cut into N contiguous,
// count-balanced blocks in plan order; shard k OWNS block k plus every train/prune cell whose first
// dependent leaf lies in block k. So owned sets are disjoint and cover every cell. A shard also
// NEEDS the dependencies of its leaves it does not own: it rebuilds them locally (or reuses the
// model directories if a shared volume holds them). Contiguous blocks keep this small: a shard
// needs at most the dense models of the architectures its block touches and the one variant at
// each block edge. Rebuilt cells give the same model only if training is deterministic (same seed,
// backend and data): the store refuses to merge a variant whose weights differ from the one it holds.
import { readFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import type { Architecture } from "../engine/architectures.js";
import type { DatasetFormat } from "../engine/dataset-formats.js";
import { KNOWLEDGE_LEVELS, NORMS, PRUNING_STRATEGIES, PRUNING_STRATEGY_NAMES, canonicalStrategy, granularityOf, type Knowledge, type Norm, type Strategy } from "../vocabulary.js";
import { canonicalJson, sha256Hex } from "./blobs.js";
import { budgetListProblems, formatPath } from "./row.js";

/** The model zoo's architectures (src/engine/architectures.ts), repeated here so this module never loads the engine. */
export const GRID_ARCHITECTURES = ["lenet300", "lenet5", "convnet", "resnet8", "vgg11"] as const;
// Compile-time check that the two lists agree.
type _SameArchitectures = [Architecture] extends [(typeof GRID_ARCHITECTURES)[number]]
  ? [(typeof GRID_ARCHITECTURES)[number]] extends [Architecture]
    ? true
    : never
  : never;
const _architecturesAgree: _SameArchitectures = true;
void _architecturesAgree;

export type PruningStrategyName = (typeof PRUNING_STRATEGIES)[number];

export class GridError extends Error {
  override name = "GridError";
  constructor(
    message: string,
    /** One line per problem, each starting with its field path. */
    readonly issues: string[] = [],
  ) {
    super(message);
  }
}

export class ShardError extends Error {
  override name = "ShardError";
}

// ───────────────────────────── schema ─────────────────────────────

const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (iss) => `unknown ${what} ${JSON.stringify(iss.input)} (known: ${values.join(", ")})` });
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.number({ error: (iss) => (iss.input === undefined ? "missing" : "must be a number") }).int("must be an integer").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
/** An array whose entries must be unique; a duplicate is reported at its index. */
const uniqueArray = <T extends z.ZodType>(item: T) =>
  z.array(item).superRefine((list, ctx) => {
    list.forEach((v, i) => {
      if (list.indexOf(v) !== i) ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${JSON.stringify(v)}` });
    });
  });

const trainingSchema = z.strictObject({
  epochs: int(1, 10_000).default(20),
  batchSize: int(1, 65_536).default(128),
  learningRate: z.number().gt(0, "learning rate must be > 0").lt(1, "learning rate must be < 1").default(1e-3),
  /** Early stopping: epochs without a better validation accuracy. */
  patience: int(1, 10_000).default(3),
  /** Share of the training data held out for validation. */
  validation: z.number().gt(0, "validation share must be > 0").lt(0.5, "validation share must be < 0.5").default(0.1),
});

const attacksSchema = z.strictObject({
  /** Samples per attack batch. */
  batchSize: int(1, 65_536).default(100),
  pgd: z.strictObject({ steps: int(1, 100_000).default(40), restarts: int(1, 1000).default(1) }).prefault({}),
  /** targets: FMN's extra targeted runs (0 = the paper's untargeted FMN; each run costs as much as the untargeted one). */
  fmn: z.strictObject({ steps: int(1, 100_000).default(100), targets: int(0, 1000).default(1) }).prefault({}),
  /** Forward queries per sample of the black-box attacks. */
  square: z.strictObject({ queries: int(1, 10_000_000).default(1000) }).prefault({}),
  sparseRs: z.strictObject({ queries: int(1, 10_000_000).default(1000) }).prefault({}),
  /**
   * Opt-in: the convergence probe (engine/evaluation/convergence.ts) on every `every`-th evaluation
   * cell of the plan (the 1st, the (every+1)-th, …; cells.ts, probedCell). Absent: no probe, and the
   * grid's hash is what it was before the probe existed.
   */
  convergenceProbe: z.strictObject({ every: int(1, 1_000_000) }).optional(),
});

/**
 * The settings of a refresh grid: the same fields and bounds, but nothing filled in — a field left
 * out is taken from the server's default grid (refreshGrid's `base`), not from the schema defaults
 * above (which differ from db/grids/default.yaml: pgd.restarts 1 vs 2, fmn.targets 1 vs 0).
 */
const partialTrainingSchema = z.strictObject(Object.fromEntries(Object.entries(trainingSchema.shape).map(([k, v]) => [k, v.unwrap().optional()])) as {
  [K in keyof typeof trainingSchema.shape]: z.ZodOptional<ReturnType<(typeof trainingSchema.shape)[K]["unwrap"]>>;
});
const partialAttackSchema = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, (v as unknown as z.ZodDefault<z.ZodNumber>).unwrap().optional()])) as { [K in keyof T]: z.ZodOptional<z.ZodNumber> });
const partialAttacksSchema = z.strictObject({
  batchSize: attacksSchema.shape.batchSize.unwrap().optional(),
  pgd: partialAttackSchema(attacksSchema.shape.pgd.unwrap().shape).optional(),
  fmn: partialAttackSchema(attacksSchema.shape.fmn.unwrap().shape).optional(),
  square: partialAttackSchema(attacksSchema.shape.square.unwrap().shape).optional(),
  sparseRs: partialAttackSchema(attacksSchema.shape.sparseRs.unwrap().shape).optional(),
  convergenceProbe: attacksSchema.shape.convergenceProbe,
});

const budgetsSchema = z
  .strictObject({
    l0: z.array(z.number()).optional(),
    l2: z.array(z.number()).optional(),
    linf: z.array(z.number()).optional(),
  })
  .superRefine((budgets, ctx) => {
    for (const norm of NORMS) {
      for (const p of budgetListProblems(norm, budgets[norm] ?? [])) ctx.addIssue({ code: "custom", path: [norm, p.index], message: p.message });
    }
  });

/** A model's architecture label (uploads: letters, digits, '.', '_', '-'); also a cell-key component. */
export const MODEL_LABEL = /^[A-Za-z0-9._-]{1,64}$/;

/** The data set formats (src/engine/dataset-formats.ts), repeated here so this module never loads the engine. */
export const GRID_DATASET_FORMATS = ["idx", "cifar10-binary", "png-folder"] as const;
// Compile-time check that the two lists agree.
type _SameFormats = [DatasetFormat] extends [(typeof GRID_DATASET_FORMATS)[number]] ? ([(typeof GRID_DATASET_FORMATS)[number]] extends [DatasetFormat] ? true : never) : never;
const _formatsAgree: _SameFormats = true;
void _formatsAgree;

const datasetSchema = z.strictObject({
  name: z.string().min(1, "must not be empty"),
  /** The data set's directory; relative paths are resolved against the grid file's folder. */
  dir: z.string().min(1, "must not be empty"),
  /** How `dir` holds it: idx (four IDX files, the default: Fashion-MNIST and its kin), cifar10-binary, png-folder. */
  format: oneOf(GRID_DATASET_FORMATS, "data set format").default("idx"),
});

/** The given dense model of a grid (see the header). */
const modelSchema = z.strictObject({
  /** sha256 of its weights as the engine serialises them (the matrix's model id). */
  id: z.string().regex(/^[0-9a-f]{64}$/, "must be a model id: the sha256 of its weights, 64 lowercase hex digits"),
  architecture: z.string().regex(MODEL_LABEL, "must be 1-64 letters, digits, '.', '_' or '-'"),
  /** Its directory (model.json, weights.bin, metadata.json); relative paths resolve like dataset.dir. */
  dir: z.string().min(1, "must not be empty"),
});

/** A strategy by any accepted name, normalised to the name it is stored under (vocabulary.ts: an alias such as filter/magnitude-local is structured-l1). */
const strategySchema = z
  .enum(PRUNING_STRATEGY_NAMES, {
    error: (iss) =>
      iss.input === "dense"
        ? "dense is not a pruning strategy (rate 1 gives the dense model)"
        : `unknown strategy ${JSON.stringify(iss.input)} (known: ${PRUNING_STRATEGY_NAMES.join(", ")})`,
  })
  .transform((name) => canonicalStrategy(name)!);

/** How the rates of a strategy are reached (see "Schedules" in the header). */
export const SCHEDULES = ["one-shot", "cumulative"] as const;
export type Schedule = (typeof SCHEDULES)[number];

/**
 * The zoo's MLPs: dense layers only, so no convolution kernels — kernel/* does not apply to them
 * (src/engine/pruning/kernel.ts) and planCells skips those combinations (notApplicable says which).
 */
export const MLP_ARCHITECTURES: readonly string[] = ["lenet300"];

/** The fields every grid has, whatever it measures (a refresh body is these; see refreshGridSchema). */
const measurementShape = {
  description: z.string().optional(),
  strategies: uniqueArray(strategySchema),
  rates: uniqueArray(z.number({ error: "a rate must be a number" }).refine((r) => Number.isFinite(r) && r >= 1, { error: (iss) => `rate ${String(iss.input)} must be a finite number >= 1 (1 = dense, 2 = keep half)` })).min(
    1,
    "name at least one rate",
  ),
  norms: uniqueArray(oneOf(NORMS, "norm")).min(1, "name at least one norm"),
  knowledge: uniqueArray(oneOf(KNOWLEDGE_LEVELS, "attacker knowledge")).min(1, "name at least one knowledge level").default([...KNOWLEDGE_LEVELS]),
  budgets: budgetsSchema,
  /** Test images evaluated per cell. */
  samples: int(1, 1_000_000),
  seeds: uniqueArray(int(0, 2 ** 31 - 1)).min(1, "name at least one seed").default([1]),
  /** Pruning seeds of every pruned variant (see the header); absent: each variant's training seed. */
  pruningSeeds: uniqueArray(int(0, 2 ** 31 - 1)).min(1, "name at least one pruning seed (or leave pruningSeeds out: the training seed)").optional(),
  schedule: oneOf(SCHEDULES, "schedule").default("one-shot"),
  training: trainingSchema.prefault({}),
  finetune: z.strictObject({ epochs: int(0, 10_000).default(2) }).prefault({}),
  attacks: attacksSchema.prefault({}),
};

/** More pruning seeds for one variant (architecture left out: that variant of every architecture). */
const extraSeedsSchema = z.strictObject({
  architecture: z.string().regex(MODEL_LABEL, "must be 1-64 letters, digits, '.', '_' or '-'").optional(),
  strategy: strategySchema,
  rate: z.number({ error: "a rate must be a number" }),
  seeds: uniqueArray(int(0, 2 ** 31 - 1)).min(1, "name at least one pruning seed"),
});

const gridSchema = z.strictObject({
  ...measurementShape,
  dataset: datasetSchema,
  /** Required (at least one) unless the grid names a `model`, which replaces them: see crossCheck. */
  architectures: uniqueArray(oneOf(GRID_ARCHITECTURES, "architecture")).optional(),
  model: modelSchema.optional(),
  /** Grid files only (a refresh measures one uploaded model: `pruningSeeds` covers it). */
  extraSeeds: z.array(extraSeedsSchema).optional(),
});

type ParsedGrid = z.output<typeof gridSchema>;

export interface GridModel {
  /** sha256 of the weights: the matrix's model id. */
  id: string;
  /** Its architecture label (cell keys use it). */
  architecture: string;
  dir: string;
}

export interface GridDataset {
  name: string;
  dir: string;
  format: DatasetFormat;
}

/** Extra pruning seeds for one variant of the grid (normalised: seeds ascending). */
export interface ExtraSeeds {
  /** Absent: the variant of every architecture of the grid. */
  architecture?: string;
  strategy: PruningStrategyName;
  rate: number;
  seeds: number[];
}

export interface Grid {
  description?: string;
  dataset: GridDataset;
  /** The zoo architectures to train; empty when the grid names a `model`. */
  architectures: Architecture[];
  /** A given dense model measured instead of trained architectures (see the header). */
  model?: GridModel;
  strategies: PruningStrategyName[];
  /** Ascending; 1 = the dense model. */
  rates: number[];
  norms: Norm[];
  /** Strongest first. */
  knowledge: Knowledge[];
  /** Ascending, for every norm of `norms` (and only those). */
  budgets: Partial<Record<Norm, number[]>>;
  samples: number;
  /** Training seeds of the dense models, ascending. */
  seeds: number[];
  /** Pruning seeds of every pruned variant, ascending; absent: each variant's training seed (see the header). */
  pruningSeeds?: number[];
  /** Extra pruning seeds for chosen variants; absent when none (see the header). */
  extraSeeds?: ExtraSeeds[];
  /** `cumulative` (see "Schedules" in the header); absent: one-shot, so one-shot grids keep their hash. */
  schedule?: "cumulative";
  training: ParsedGrid["training"];
  finetune: ParsedGrid["finetune"];
  attacks: ParsedGrid["attacks"];
}

/** Checks across the measurement fields (run once every field is valid on its own): budgets for every norm, something to do. */
function crossCheckMeasurement(g: Pick<ParsedGrid, "norms" | "budgets" | "strategies" | "rates">, ctx: z.RefinementCtx): void {
  for (const norm of g.norms) {
    const list = g.budgets[norm];
    if (list === undefined || list.length === 0) {
      ctx.addIssue({ code: "custom", path: ["budgets", norm], message: `missing: norm ${norm} is in norms and needs at least one budget` });
    }
  }
  if (g.strategies.length === 0 && !g.rates.includes(1)) {
    ctx.addIssue({ code: "custom", path: ["rates"], message: "with no strategies only rate 1 (the dense model) can be evaluated; add 1 or a strategy" });
  }
}

/** …and what the grid measures: the zoo architectures to train, or one given model. */
function crossCheck(g: ParsedGrid, ctx: z.RefinementCtx): void {
  if (g.model === undefined) {
    if (g.architectures === undefined) ctx.addIssue({ code: "custom", path: ["architectures"], message: "missing" });
    else if (g.architectures.length === 0) ctx.addIssue({ code: "custom", path: ["architectures"], message: "name at least one architecture" });
  } else if (g.architectures !== undefined && g.architectures.length > 0) {
    ctx.addIssue({ code: "custom", path: ["architectures"], message: "a grid naming a model measures that model: leave architectures out (or empty)" });
  }
  crossCheckMeasurement(g, ctx);
  crossCheckExtraSeeds(g, ctx);
}

/** Each extraSeeds entry names a pruned variant the grid plans, once. */
function crossCheckExtraSeeds(g: ParsedGrid, ctx: z.RefinementCtx): void {
  const labels: readonly string[] = g.model ? [g.model.architecture] : (g.architectures ?? []);
  const seen = new Map<string, number>();
  (g.extraSeeds ?? []).forEach((e, i) => {
    const at = (field: string, message: string): void => ctx.addIssue({ code: "custom", path: ["extraSeeds", i, field], message });
    if (e.architecture !== undefined && !labels.includes(e.architecture)) {
      at("architecture", `${e.architecture} is not measured by this grid (${g.model ? "its model" : "architectures"}: ${labels.join(", ") || "none"})`);
    }
    if (!g.strategies.includes(e.strategy)) at("strategy", `${e.strategy} is not among the grid's strategies (${g.strategies.join(", ") || "none"})`);
    if (e.rate === 1) at("rate", "rate 1 is the dense model, which is not pruned and has no pruning seed");
    else if (!g.rates.includes(e.rate)) at("rate", `rate ${e.rate} is not among the grid's rates (${g.rates.join(", ")})`);
    const key = JSON.stringify([e.architecture ?? null, e.strategy, e.rate]);
    const first = seen.get(key);
    if (first !== undefined) ctx.addIssue({ code: "custom", path: ["extraSeeds", i], message: `names the same variant as extraSeeds[${first}]; list its seeds once` });
    else seen.set(key, i);
  });
}

const checkedGridSchema = gridSchema.superRefine(crossCheck);

/**
 * The grid of a refresh (POST /v1/models/{id}/refresh, `advisor refresh --grid`): a grid file's
 * fields, validated by the same rules, except that the model is named by the request and its data
 * set is the one it was registered for. So `model` is not accepted, `architectures` may be left
 * out and is ignored (the model is measured instead), and `dataset` may be left out; when given,
 * its name must be the model's data set (checked by the caller) and its dir is ignored (the
 * server's configured directory for that data set is used, never a path from the request).
 */
export const refreshGridSchema = z
  .strictObject({
    ...measurementShape,
    // Partial: what is left out comes from the server's default grid (see refreshGrid).
    training: partialTrainingSchema.optional(),
    finetune: z.strictObject({ epochs: int(0, 10_000).optional() }).optional(),
    attacks: partialAttacksSchema.optional(),
    dataset: z
      .strictObject({ name: z.string().min(1, "must not be empty"), dir: z.string().min(1, "must not be empty").optional(), format: oneOf(GRID_DATASET_FORMATS, "data set format").optional() })
      .optional(),
    architectures: uniqueArray(oneOf(GRID_ARCHITECTURES, "architecture")).optional(),
  })
  .superRefine(crossCheckMeasurement);

export type RefreshGridInput = z.input<typeof refreshGridSchema>;
export type RefreshGrid = z.output<typeof refreshGridSchema>;

function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((iss) => {
    const where = formatPath(iss.path);
    let message = iss.message;
    if (iss.code === "unrecognized_keys") message = `unknown field${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    else if (iss.code === "invalid_type" && /received undefined/.test(iss.message)) message = "missing";
    return where ? `${where}: ${message}` : message;
  });
}

const byOrder = <T extends string>(order: readonly T[], list: readonly T[]): T[] => order.filter((x) => list.includes(x));

/** The measurement fields in canonical order, defaults filled in. */
function normalizeMeasurement(g: Omit<RefreshGrid, keyof GridSettings> & GridSettings): Omit<Grid, "dataset" | "architectures" | "model" | "extraSeeds"> {
  const norms = byOrder(NORMS, g.norms);
  const budgets: Partial<Record<Norm, number[]>> = {};
  for (const n of norms) budgets[n] = [...g.budgets[n]!];
  const seeds = [...g.seeds].sort((a, b) => a - b);
  const pruningSeeds = g.pruningSeeds === undefined ? undefined : [...g.pruningSeeds].sort((a, b) => a - b);
  // `pruningSeeds: [s]` for a grid of the one training seed s is the default: left out, so the
  // grid keeps the hash (and the build) it has without the field.
  const sameAsDefault = pruningSeeds !== undefined && seeds.length === 1 && pruningSeeds.length === 1 && pruningSeeds[0] === seeds[0];
  return {
    ...(g.description === undefined ? {} : { description: g.description }),
    strategies: byOrder(PRUNING_STRATEGIES, g.strategies),
    rates: [...g.rates].sort((a, b) => a - b),
    norms,
    knowledge: byOrder(KNOWLEDGE_LEVELS, g.knowledge),
    budgets,
    samples: g.samples,
    seeds,
    ...(pruningSeeds === undefined || sameAsDefault ? {} : { pruningSeeds }),
    ...(g.schedule === "cumulative" ? { schedule: "cumulative" as const } : {}),
    training: { ...g.training },
    finetune: { ...g.finetune },
    attacks: { ...g.attacks },
  };
}

function normalize(g: ParsedGrid): Grid {
  const m = normalizeMeasurement(g);
  const architectures = g.model ? [] : byOrder(GRID_ARCHITECTURES, g.architectures ?? []);
  const extraSeeds = normalizeExtraSeeds(g.extraSeeds ?? [], g.model ? [g.model.architecture] : architectures);
  return {
    dataset: { ...g.dataset },
    architectures,
    ...(g.model ? { model: { ...g.model } } : {}),
    ...m,
    ...(extraSeeds.length > 0 ? { extraSeeds } : {}),
  };
}

/** Canonical order (architecture as the grid lists them, unnamed first; strategy; rate), seeds ascending. */
function normalizeExtraSeeds(list: readonly ExtraSeeds[], architectures: readonly string[]): ExtraSeeds[] {
  const order = (e: ExtraSeeds): number[] => [
    e.architecture === undefined ? -1 : architectures.indexOf(e.architecture),
    (PRUNING_STRATEGIES as readonly string[]).indexOf(e.strategy),
    e.rate,
  ];
  return list
    .map((e) => ({ ...(e.architecture === undefined ? {} : { architecture: e.architecture }), strategy: e.strategy, rate: e.rate, seeds: [...e.seeds].sort((a, b) => a - b) }))
    .sort((a, b) => {
      const x = order(a);
      const y = order(b);
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    });
}

/** The settings of a grid (how to fine-tune and attack), as opposed to what it measures. */
export type GridSettings = Pick<Grid, "training" | "finetune" | "attacks">;

/** The schema defaults of the settings (a grid file leaving them out gets these). */
export function defaultSettings(): GridSettings {
  return { training: trainingSchema.parse({}), finetune: { epochs: 2 }, attacks: attacksSchema.parse({}) };
}

/**
 * The settings of a refresh grid merged over `base` (the server's default grid's), field by
 * field: `{attacks: {fmn: {steps: 5}}}` changes FMN's steps and nothing else — every other
 * setting, FMN's `targets` included, is the base's.
 */
export function mergeSettings(base: GridSettings, r: Pick<RefreshGrid, keyof GridSettings>): GridSettings {
  const a = r.attacks ?? {};
  return {
    training: { ...base.training, ...r.training },
    finetune: { ...base.finetune, ...r.finetune },
    attacks: {
      batchSize: a.batchSize ?? base.attacks.batchSize,
      pgd: { ...base.attacks.pgd, ...a.pgd },
      fmn: { ...base.attacks.fmn, ...a.fmn },
      square: { ...base.attacks.square, ...a.square },
      sparseRs: { ...base.attacks.sparseRs, ...a.sparseRs },
      ...((a.convergenceProbe ?? base.attacks.convergenceProbe) ? { convergenceProbe: { ...(a.convergenceProbe ?? base.attacks.convergenceProbe)! } } : {}),
    },
  };
}

/**
 * The grid a refresh runs: the measurement fields of `r` (a parsed refresh grid) for the given
 * model on its data set, its settings merged over `base` (the server's default grid's; default:
 * the schema defaults). The result is a normal grid (validateGrid accepts it again).
 */
export function refreshGrid(r: RefreshGrid, model: GridModel, dataset: { name: string; dir: string; format?: DatasetFormat }, base: GridSettings = defaultSettings()): Grid {
  const m = normalizeMeasurement({ ...r, ...mergeSettings(base, r) });
  return {
    dataset: { name: dataset.name, dir: dataset.dir, format: dataset.format ?? "idx" },
    architectures: [],
    model: { ...model },
    ...m,
  };
}

/** A normalised grid's measurement fields as a refresh grid (e.g. db/grids/default.yaml for a model). */
export function asRefreshGrid(g: Grid): RefreshGrid & GridSettings {
  // extraSeeds name variants of the grid's own architectures, not of the model a refresh measures.
  const { dataset: _dataset, architectures: _architectures, model: _model, extraSeeds: _extraSeeds, ...rest } = g;
  return { ...rest, strategies: [...rest.strategies], schedule: rest.schedule ?? "one-shot" };
}

/**
 * Validates a grid (already parsed from YAML/JSON) and returns it normalised: lists in the
 * canonical order (architectures, strategies, norms and knowledge levels as the vocabulary lists
 * them, rates and seeds ascending), defaults filled in (pruningSeeds and extraSeeds stay absent
 * when they add nothing, so the grid hash of a grid without them does not change). Throws GridError listing every problem.
 */
export function validateGrid(input: unknown, source = "grid"): Grid {
  const parsed = checkedGridSchema.safeParse(input);
  if (!parsed.success) {
    const lines = issueLines(parsed.error.issues);
    const message = lines.length === 1 ? `${source}: ${lines[0]}` : `${source}: ${lines.length} problems:\n  ${lines.join("\n  ")}`;
    throw new GridError(message, lines);
  }
  return normalize(parsed.data);
}

/** The data of grid text: JSON or YAML as `format` says, else by content (JSON when it starts with "{"). */
function gridData(text: string, source: string, format?: "json" | "yaml"): unknown {
  const f = format ?? (text.trimStart().startsWith("{") ? "json" : "yaml");
  let data: unknown;
  try {
    data = f === "json" ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    const detail = (err as Error).message.replace(/\n\s*\n/g, "\n").trim();
    throw new GridError(`${source}: not valid ${f === "json" ? "JSON" : "YAML"}: ${detail}`);
  }
  if (data === null || data === undefined) throw new GridError(`${source}: the grid is empty`);
  return data;
}

/** Parses grid text: JSON or YAML as `format` says, else by content (JSON when it starts with "{"). */
export function parseGrid(text: string, options: { source?: string; format?: "json" | "yaml" } = {}): Grid {
  const source = options.source ?? "grid";
  return validateGrid(gridData(text, source, options.format), source);
}

/** Validates the grid of a refresh (refreshGridSchema); throws GridError listing every problem. */
export function validateRefreshGrid(input: unknown, source = "grid"): RefreshGrid {
  const parsed = refreshGridSchema.safeParse(input);
  if (!parsed.success) {
    const lines = issueLines(parsed.error.issues);
    throw new GridError(lines.length === 1 ? `${source}: ${lines[0]}` : `${source}: ${lines.length} problems:\n  ${lines.join("\n  ")}`, lines);
  }
  return parsed.data;
}

async function readGridFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GridError(`grid file ${file} ${code === "ENOENT" ? "not found" : `cannot be read (${code ?? (err as Error).message})`}`);
  }
}

function formatOf(file: string): { format?: "json" | "yaml" } {
  const ext = path.extname(file).toLowerCase();
  return ext === ".json" ? { format: "json" } : ext === ".yaml" || ext === ".yml" ? { format: "yaml" } : {};
}

/** Reads the grid file of a refresh (`advisor refresh --grid`): a grid file's fields, see refreshGridSchema. */
export async function loadRefreshGrid(file: string): Promise<RefreshGrid> {
  const text = await readGridFile(file);
  return validateRefreshGrid(gridData(text, file, formatOf(file).format), file);
}

/** Reads a grid file (.json → JSON, .yaml/.yml → YAML, otherwise by content); a relative dataset.dir (and model.dir) is resolved against the file's folder. */
export async function loadGrid(file: string): Promise<Grid> {
  const text = await readGridFile(file);
  const grid = parseGrid(text, { source: file, ...formatOf(file) });
  const folder = path.dirname(file);
  return {
    ...grid,
    dataset: { ...grid.dataset, dir: path.resolve(folder, grid.dataset.dir) },
    ...(grid.model ? { model: { ...grid.model, dir: path.resolve(folder, grid.model.dir) } } : {}),
  };
}

/**
 * sha256 of the canonical JSON of everything in the normalised grid that affects results. Not
 * included: `description`, and `dataset.dir` and `model.dir` (locations, which differ between
 * machines running shards of one build; the data set is identified by its name, a given model by
 * its id — so two models never share a build). `dataset.format` only when it is not the default
 * idx, so grids written before formats existed keep their hash (and their builds resume).
 */
export function gridHash(grid: Grid): string {
  const { description: _description, dataset, model, ...rest } = grid;
  const ds = dataset.format === "idx" ? { name: dataset.name } : { name: dataset.name, format: dataset.format };
  return sha256Hex(canonicalJson({ ...rest, dataset: ds, ...(model ? { model: { id: model.id, architecture: model.architecture } } : {}) }));
}

// ───────────────────────────── cells ─────────────────────────────

interface CellBase {
  key: string;
  /** A zoo architecture, or the label of the grid's given model. */
  architecture: string;
  seed: number;
  /** Keys of the cells this one needs, earlier in the plan. */
  deps: string[];
}

export interface TrainCell extends CellBase {
  kind: "train";
}

export interface PruneCell extends CellBase {
  kind: "prune";
  strategy: PruningStrategyName;
  rate: number;
  /** The seed of pruning's random choices and of fine-tuning (`seed` is the dense model's training seed). */
  pruningSeed: number;
  /**
   * Cumulative schedule only: the prune cell of the previous rate, whose fine-tuned variant this
   * one is pruned from (also in `deps`); absent for the first rate (pruned from the dense model)
   * and under one-shot.
   */
  from?: string;
}

/** Crafts the transfer examples of one norm on the dense model, once, for every evaluation of that norm. */
export interface CraftCell extends CellBase {
  kind: "craft";
  norm: Norm;
  budgets: number[];
}

export interface EvaluateCell extends CellBase {
  kind: "evaluate";
  /** `dense` for rate 1. */
  strategy: Strategy;
  rate: number;
  norm: Norm;
  /** Every knowledge level of the grid, strongest first: one evaluation (matrix row) each. */
  knowledge: Knowledge[];
  budgets: number[];
  /** The cell producing the evaluated variant (the train cell for dense). */
  variantCell: string;
  /** The variant's pruning seed; for dense, the training seed (nothing is pruned). */
  pruningSeed: number;
  /** The variant comes from a cumulative schedule (its variant cell's key ends in /cumulative). */
  cumulative?: boolean;
}

export type Cell = TrainCell | PruneCell | CraftCell | EvaluateCell;

export function trainKey(architecture: string, seed: number): string {
  return `train/${architecture}/s${seed}`;
}

/** `/p<pruning seed>` when the pruning seed is not the training seed (the default), else nothing. */
function pruningSuffix(seed: number, pruningSeed: number): string {
  return pruningSeed === seed ? "" : `/p${pruningSeed}`;
}

/** `/cumulative` for a variant of the cumulative schedule, else nothing (one-shot keys are those of before schedules). */
function scheduleSuffix(cumulative: boolean): string {
  return cumulative ? "/cumulative" : "";
}

export function pruneKey(architecture: string, strategy: string, rate: number, seed: number, pruningSeed = seed, cumulative = false): string {
  return `prune/${architecture}/${strategy}/${rate}x/s${seed}${pruningSuffix(seed, pruningSeed)}${scheduleSuffix(cumulative)}`;
}

export function craftKey(architecture: string, seed: number, norm: Norm): string {
  return `craft/${architecture}/s${seed}/${norm}`;
}

export function evaluateKey(architecture: string, strategy: string, rate: number, seed: number, norm: Norm, pruningSeed = seed, cumulative = false): string {
  return `eval/${architecture}/${strategy}/${rate}x/s${seed}${pruningSuffix(seed, pruningSeed)}${scheduleSuffix(cumulative)}/${norm}`;
}

/** Whether a strategy applies to an architecture of the grid: kernel/* not to the zoo's MLPs. */
export function applies(architecture: string, strategy: string): boolean {
  const canonical = canonicalStrategy(strategy);
  return !(canonical !== undefined && granularityOf(canonical) === "kernel" && MLP_ARCHITECTURES.includes(architecture));
}

/** One line naming the (architecture, strategy) combinations planCells skips, or null when none is. */
export function notApplicable(grid: Pick<Grid, "architectures" | "strategies">): string | null {
  const skipped = grid.architectures.flatMap((a) => grid.strategies.filter((s) => !applies(a, s)).map((s) => `${a} × ${s}`));
  if (skipped.length === 0) return null;
  return `skipped ${skipped.join(", ")}: kernel pruning does not apply to an MLP (dense layers only, no convolution kernels)`;
}

/**
 * The pruning seeds of one pruned variant of the grid, ascending: the grid's `pruningSeeds` (by
 * default the training seed `seed` itself) plus the `extraSeeds` naming this variant.
 */
export function variantPruningSeeds(grid: Pick<Grid, "pruningSeeds" | "extraSeeds">, architecture: string, strategy: string, rate: number, seed: number): number[] {
  const out = new Set(grid.pruningSeeds ?? [seed]);
  for (const e of grid.extraSeeds ?? []) {
    if ((e.architecture === undefined || e.architecture === architecture) && e.strategy === strategy && e.rate === rate) for (const p of e.seeds) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

/** The cells of a (normalised) grid in a deterministic, dependency-respecting order (see the header). */
export function planCells(grid: Grid): Cell[] {
  const cells: Cell[] = [];
  for (const architecture of grid.model ? [grid.model.architecture] : grid.architectures) {
    for (const seed of grid.seeds) {
      const train = trainKey(architecture, seed);
      cells.push({ kind: "train", key: train, architecture, seed, deps: [] });
      const transfer = grid.knowledge.includes("transfer");
      if (transfer) {
        for (const norm of grid.norms) cells.push({ kind: "craft", key: craftKey(architecture, seed, norm), architecture, seed, deps: [train], norm, budgets: [...grid.budgets[norm]!] });
      }
      const cumulative = grid.schedule === "cumulative";
      const evaluations = (strategy: Strategy, rate: number, variantCell: string, pruningSeed: number, fromSchedule = false): void => {
        for (const norm of grid.norms) {
          const deps = [variantCell];
          if (transfer) deps.push(craftKey(architecture, seed, norm));
          cells.push({
            kind: "evaluate",
            key: evaluateKey(architecture, strategy, rate, seed, norm, pruningSeed, fromSchedule),
            architecture,
            seed,
            deps,
            strategy,
            rate,
            norm,
            knowledge: [...grid.knowledge],
            budgets: [...grid.budgets[norm]!],
            variantCell,
            pruningSeed,
            ...(fromSchedule ? { cumulative: true } : {}),
          });
        }
      };
      if (grid.rates.includes(1)) evaluations("dense", 1, train, seed);
      for (const strategy of grid.strategies) {
        if (!applies(architecture, strategy)) continue;
        // Cumulative: per pruning seed, the chain of rates (ascending); each cell depends on the previous rate's.
        const previous = new Map<number, string>();
        for (const rate of grid.rates) {
          if (rate === 1) continue;
          for (const pruningSeed of variantPruningSeeds(grid, architecture, strategy, rate, seed)) {
            const prune = pruneKey(architecture, strategy, rate, seed, pruningSeed, cumulative);
            const from = cumulative ? previous.get(pruningSeed) : undefined;
            cells.push({ kind: "prune", key: prune, architecture, seed, deps: from ? [train, from] : [train], strategy, rate, pruningSeed, ...(from ? { from } : {}) });
            if (cumulative) previous.set(pruningSeed, prune);
            evaluations(strategy, rate, prune, pruningSeed, cumulative);
          }
        }
      }
    }
  }
  return cells;
}

// ───────────────────────────── shards ─────────────────────────────

export interface ShardSpec {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses "k/N" (1 <= k <= N). */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(String(text));
  if (!m) throw new ShardError(`invalid shard "${text}": expected k/N, e.g. 2/4 for the second of four shards`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new ShardError(`invalid shard "${text}": the number of shards N must be at least 1`);
  if (index < 1 || index > count) throw new ShardError(`invalid shard "${text}": k must be between 1 and ${count}`);
  return { index, count };
}

export interface Shard extends ShardSpec {
  /** Cells this shard is responsible for: disjoint across shards, together every cell. */
  owned: Cell[];
  /** Dependencies of owned cells that other shards own; this shard rebuilds them (or reuses their models). */
  needed: Cell[];
  /** owned ∪ needed, in plan order: what the shard runs. */
  cells: Cell[];
}

/** Shard k of N (1-based) of a plan (see the header for the rule). */
export function shardCells(cells: readonly Cell[], index: number, count: number): Shard {
  if (!Number.isInteger(count) || count < 1) throw new ShardError(`the number of shards must be an integer >= 1, got ${count}`);
  if (!Number.isInteger(index) || index < 1 || index > count) throw new ShardError(`shard index must be an integer from 1 to ${count}, got ${index}`);
  const byKey = new Map<string, Cell>();
  const position = new Map<string, number>();
  cells.forEach((c, i) => {
    if (byKey.has(c.key)) throw new ShardError(`cell ${c.key} appears twice in the plan`);
    byKey.set(c.key, c);
    position.set(c.key, i);
  });
  const hasDependents = new Set<string>();
  for (const c of cells) {
    for (const d of c.deps) {
      if (!byKey.has(d)) throw new ShardError(`cell ${c.key} depends on ${d}, which is not in the plan`);
      if (position.get(d)! >= position.get(c.key)!) throw new ShardError(`cell ${c.key} depends on ${d}, which comes later in the plan`);
      hasDependents.add(d);
    }
  }
  const leaves = cells.filter((c) => !hasDependents.has(c.key));
  // Leaves in plan order, cut into N contiguous blocks whose sizes differ by at most one.
  const shardOfLeaf = (i: number): number => Math.floor(((i + 0.5) * count) / leaves.length) + 1;
  const owner = new Map<string, number>();
  leaves.forEach((leaf, i) => {
    const shard = shardOfLeaf(i);
    const stack = [leaf.key];
    while (stack.length > 0) {
      const key = stack.pop()!;
      if (owner.has(key)) continue;
      owner.set(key, shard);
      stack.push(...byKey.get(key)!.deps);
    }
  });
  const owned = cells.filter((c) => owner.get(c.key) === index);
  const neededKeys = new Set<string>();
  const stack = owned.flatMap((c) => c.deps);
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (neededKeys.has(key) || owner.get(key) === index) continue;
    neededKeys.add(key);
    stack.push(...byKey.get(key)!.deps);
  }
  const needed = cells.filter((c) => neededKeys.has(c.key));
  return { index, count, owned, needed, cells: cells.filter((c) => owner.get(c.key) === index || neededKeys.has(c.key)) };
}
