// What a matrix build costs before it runs (`advisor matrix plan`, refresh estimates): cells,
// core-hours and wall time, from measured per-cell durations. Pure: no I/O (the calibration is
// read by calibration.ts, the models directory is looked at by the caller).
//
// Per-cell cost. A calibration table (src/matrix/calibration.ts derives it from a database or a
// JSONL export; db/calibration.json ships one) holds the seconds one cell takes on one core with
// nothing else running — per kind, architecture, norm and knowledge level, each at the sample
// count it was measured at:
//   train    per architecture; `reused` when the dense model exists already (loaded, not trained:
//            seconds) — fresh training is scaled by the epochs the grid allows over the epochs the
//            measured model ran (early stopping ends most runs before the maximum);
//   prune    per architecture, scaled by the grid's fine-tuning epochs (fine-tuning is most of it);
//   craft    per architecture and norm, scaled by the samples;
//   evaluate per architecture, norm and knowledge level (one evaluation each), scaled by samples.
// Samples: a cell's time grows linearly with its samples plus a fixed part, the line through two
// builds measured on the 2-core development machine (README, "The default matrix"): 38.4 s per
// cell at 100 samples (bench/grids/timing-small.yaml, 1 worker, 93.7 cells/hour) and 154 s at 500
// (the lenet5 shard of the default grid of 2026-11-27, before the paper's pruning set joined it:
// 151 cells in 4.04 h on 2 workers = 1.6× one).
// An architecture the table does not know (an uploaded model's label) takes a fallback's costs
// (LeNet-5, the middle of the zoo); every such substitution is listed in the estimate's notes.
// Not modelled: attack settings other than the calibrated ones (steps, restarts, queries), other
// load on the machine.
//
// Wall time. The plan's cells run as the builder runs them (builder.ts, `next`): whenever a worker
// is free it takes the first cell in plan order whose dependencies are done. simulate() replays
// that on N workers with the per-cell costs; while two or more cells run at once each runs
// `slowdown` times slower (README, "Throughput, 1 vs 2 workers": a cell takes ≈ 20–30 % longer
// when both cores of the machine are busy), assuming one core per worker. Shards (`--shard k/N`)
// run on separate machines: each shard's cells (its own plus the dependencies it rebuilds, see
// grid.ts) are simulated on their own; the build's wall time is the slowest shard's.
import type { Knowledge, Norm } from "../vocabulary.js";
import { planCells, shardCells, type Cell, type Grid } from "./grid.js";

export const COST_KINDS = ["train", "craft", "prune", "evaluate"] as const;
export type CostKind = (typeof COST_KINDS)[number];

/** One measured (or inferred) cost: seconds of one cell — for `evaluate`, of one knowledge level — on one otherwise idle core. */
export interface CostEntry {
  kind: CostKind;
  architecture: string;
  /** craft, evaluate. */
  norm?: Norm;
  /** evaluate. */
  knowledge?: Knowledge;
  /** train: the dense model was there already (loaded and checked, not trained). */
  reused?: boolean;
  /** craft, evaluate: samples per cell it was measured at. */
  samples?: number;
  /** train: epochs the measured training ran; prune: fine-tuning epochs. */
  epochs?: number;
  seconds: number;
  /** Measurements behind it. */
  n: number;
  /** How it was obtained (measured, or inferred and how). */
  method: string;
}

export interface Calibration {
  /** Where the figures come from, one line (`calibrated from: …`). */
  source: string;
  /** A cell's duration while other cells run on the machine ÷ its duration alone. */
  slowdown: number;
  entries: CostEntry[];
}

/** The builds the sample scaling is drawn through (see the header). */
export const SAMPLE_SCALING_POINTS = [
  { samples: 100, secondsPerCell: 3600 / 93.7 },
  { samples: 500, secondsPerCell: (4.04 * 3600 * 1.6) / 151 },
] as const;

/** Seconds of an average cell at `samples` per cell on the line through SAMPLE_SCALING_POINTS (at least 5 s). */
export function secondsPerCellAt(samples: number): number {
  const [a, b] = SAMPLE_SCALING_POINTS;
  const slope = (b.secondsPerCell - a.secondsPerCell) / (b.samples - a.samples);
  return Math.max(5, a.secondsPerCell + slope * (samples - a.samples));
}

/** How much longer a cell of `to` samples takes than one of `from`. */
export function samplesFactor(from: number, to: number): number {
  return secondsPerCellAt(to) / secondsPerCellAt(from);
}

/** The slowdown applies to cells that ran beside others: a measurement made on `workers` workers, divided by this, is one core's. */
export function concurrencyFactor(workers: number, slowdown: number): number {
  return workers >= 2 ? slowdown : 1;
}

export interface CostContext {
  /** Whether the dense model of (architecture, seed) exists already (its train cell only loads it). */
  denseExists: (architecture: string, seed: number) => boolean;
  /** Costs used for an architecture the calibration does not know. */
  fallbackArchitecture?: string;
}

export const DEFAULT_FALLBACK_ARCHITECTURE = "lenet5";

type Lookup = (kind: CostKind, architecture: string, match: (e: CostEntry) => boolean) => CostEntry[];

function indexEntries(c: Calibration): Lookup {
  const byKey = new Map<string, CostEntry[]>();
  for (const e of c.entries) {
    const key = `${e.kind}|${e.architecture}`;
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(e);
  }
  return (kind, architecture, match) => (byKey.get(`${kind}|${architecture}`) ?? []).filter(match);
}

/** The entry measured nearest to `samples` (entries without a sample count first). */
function nearest(list: CostEntry[], samples: number): CostEntry | undefined {
  return [...list].sort((a, b) => Math.abs((a.samples ?? samples) - samples) - Math.abs((b.samples ?? samples) - samples))[0];
}

export interface CellCost {
  seconds: number;
  /** Substitutions and gaps behind this figure (empty when it is straight from the table). */
  notes: string[];
}

/** Prices cells of one grid against one calibration. */
export class CostModel {
  private readonly lookup: Lookup;
  private readonly architectures: Set<string>;

  constructor(
    readonly calibration: Calibration,
    private readonly context: CostContext,
  ) {
    this.lookup = indexEntries(calibration);
    this.architectures = new Set(calibration.entries.map((e) => e.architecture));
  }

  private architectureFor(cell: Cell, notes: string[]): string {
    if (this.architectures.has(cell.architecture)) return cell.architecture;
    const fallback = this.context.fallbackArchitecture ?? DEFAULT_FALLBACK_ARCHITECTURE;
    notes.push(`no calibration for architecture ${cell.architecture}: ${fallback}'s costs used`);
    return fallback;
  }

  cost(cell: Cell, grid: Grid): CellCost {
    const notes: string[] = [];
    const arch = this.architectureFor(cell, notes);
    const missing = (what: string): CellCost => {
      notes.push(`no measurement of ${what} for ${arch}: counted as 0 s`);
      return { seconds: 0, notes };
    };
    switch (cell.kind) {
      case "train": {
        const reused = grid.model !== undefined || this.context.denseExists(cell.architecture, cell.seed);
        const e = this.lookup("train", arch, (x) => (x.reused ?? false) === reused)[0];
        if (!e) return missing(reused ? "train (dense model reused)" : "train");
        if (reused || !e.epochs) return { seconds: e.seconds, notes };
        return { seconds: (e.seconds * Math.min(grid.training.epochs, e.epochs)) / e.epochs, notes };
      }
      case "prune": {
        const e = this.lookup("prune", arch, () => true)[0];
        if (!e) return missing("prune");
        return { seconds: e.epochs ? (e.seconds * grid.finetune.epochs) / e.epochs : e.seconds, notes };
      }
      case "craft": {
        const e = nearest(this.lookup("craft", arch, (x) => x.norm === cell.norm), grid.samples);
        if (!e) return missing(`craft ${cell.norm}`);
        return { seconds: e.seconds * samplesFactor(e.samples ?? grid.samples, grid.samples), notes };
      }
      case "evaluate": {
        let seconds = 0;
        for (const level of cell.knowledge) {
          const e = nearest(this.lookup("evaluate", arch, (x) => x.norm === cell.norm && x.knowledge === level), grid.samples);
          if (!e) {
            notes.push(`no measurement of evaluate ${cell.norm} ${level} for ${arch}: counted as 0 s`);
            continue;
          }
          seconds += e.seconds * samplesFactor(e.samples ?? grid.samples, grid.samples);
        }
        return { seconds, notes };
      }
    }
  }
}

// ───────────────────────────── simulation ─────────────────────────────

export interface SimCell {
  key: string;
  /** Keys of cells that must finish first; keys not in the list count as done. */
  deps: readonly string[];
  /** Seconds on one otherwise idle core. */
  seconds: number;
}

export interface Simulation {
  /** From the first cell's start to the last one's end. */
  wallSeconds: number;
  /** Worker-seconds spent running cells (slowdown included): what the machine is busy for. */
  busySeconds: number;
}

/**
 * Runs `cells` (in plan order) on `workers` workers the way the builder does: a free worker takes
 * the first cell in plan order whose dependencies are done. While two or more cells run, each
 * progresses at 1/slowdown of its alone speed. Exact for these rules (event by event).
 */
export function simulate(cells: readonly SimCell[], workers: number, slowdown: number): Simulation {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
  if (!(slowdown >= 1)) throw new RangeError(`slowdown must be >= 1, got ${slowdown}`);
  const inPlan = new Set(cells.map((c) => c.key));
  const done = new Set<string>();
  const started = new Set<string>();
  const running: { key: string; remaining: number }[] = [];
  let t = 0;
  let busy = 0;
  const ready = (c: SimCell): boolean => c.deps.every((d) => done.has(d) || !inPlan.has(d));
  for (;;) {
    for (const c of cells) {
      if (running.length >= workers) break;
      if (!started.has(c.key) && ready(c)) {
        started.add(c.key);
        running.push({ key: c.key, remaining: Math.max(0, c.seconds) });
      }
    }
    if (running.length === 0) break;
    // Every running cell progresses at the same rate, so the one with the least work left ends first.
    const factor = running.length >= 2 ? slowdown : 1;
    const step = Math.min(...running.map((r) => r.remaining));
    t += step * factor;
    busy += step * factor * running.length;
    for (const r of running) r.remaining -= step;
    for (let i = running.length - 1; i >= 0; i--) {
      if (running[i]!.remaining <= 1e-9) {
        done.add(running[i]!.key);
        running.splice(i, 1);
      }
    }
  }
  if (started.size < cells.length) throw new RangeError(`cells ${cells.filter((c) => !started.has(c.key)).map((c) => c.key).join(", ")} never became ready (a dependency cycle?)`);
  return { wallSeconds: t, busySeconds: busy };
}

// ───────────────────────────── the plan's estimate ─────────────────────────────

export interface KindTotal {
  cells: number;
  /** One-core seconds of those cells (no slowdown). */
  seconds: number;
}

export interface ShardEstimate {
  index: number;
  count: number;
  /** Cells the shard runs: its own plus the dependencies it rebuilds. */
  cells: number;
  /** Of `cells`: dependencies another shard owns, rebuilt here. */
  rebuilt: number;
  busySeconds: number;
  wallSeconds: number;
}

export interface PlanEstimate {
  cells: number;
  samples: number;
  byKind: Record<CostKind, KindTotal>;
  workers: number;
  slowdown: number;
  shards: ShardEstimate[];
  /** The slowest shard: the build's wall time with every shard on its own machine at once. */
  wallSeconds: number;
  /** The shards one after another on one machine. */
  sequentialSeconds: number;
  /** Worker-seconds of every shard together (rebuilt dependencies and slowdown included). */
  busySeconds: number;
  /** Each substitution or gap once, with the cells it concerns. */
  notes: string[];
  source: string;
}

/** The estimate of a grid's build on `shards` machines with `workers` workers each. */
export function estimatePlan(grid: Grid, calibration: Calibration, o: { workers: number; shards: number } & CostContext): PlanEstimate {
  if (!Number.isInteger(o.shards) || o.shards < 1) throw new RangeError(`shards must be an integer >= 1, got ${o.shards}`);
  const model = new CostModel(calibration, o);
  const plan = planCells(grid);
  const seconds = new Map<string, number>();
  const noteCounts = new Map<string, number>();
  const byKind = Object.fromEntries(COST_KINDS.map((k) => [k, { cells: 0, seconds: 0 }])) as Record<CostKind, KindTotal>;
  for (const c of plan) {
    const cost = model.cost(c, grid);
    seconds.set(c.key, cost.seconds);
    byKind[c.kind].cells++;
    byKind[c.kind].seconds += cost.seconds;
    for (const n of cost.notes) noteCounts.set(n, (noteCounts.get(n) ?? 0) + 1);
  }
  const shards: ShardEstimate[] = [];
  for (let k = 1; k <= o.shards; k++) {
    const shard = o.shards === 1 ? { cells: plan, needed: [] as Cell[] } : shardCells(plan, k, o.shards);
    const sim = simulate(
      shard.cells.map((c) => ({ key: c.key, deps: c.deps, seconds: seconds.get(c.key)! })),
      o.workers,
      calibration.slowdown,
    );
    shards.push({ index: k, count: o.shards, cells: shard.cells.length, rebuilt: shard.needed.length, busySeconds: sim.busySeconds, wallSeconds: sim.wallSeconds });
  }
  return {
    cells: plan.length,
    samples: grid.samples,
    byKind,
    workers: o.workers,
    slowdown: calibration.slowdown,
    shards,
    wallSeconds: Math.max(...shards.map((s) => s.wallSeconds)),
    sequentialSeconds: shards.reduce((a, s) => a + s.wallSeconds, 0),
    busySeconds: shards.reduce((a, s) => a + s.busySeconds, 0),
    notes: [...noteCounts.entries()].map(([n, count]) => `${n} (${count} cell${count === 1 ? "" : "s"})`),
    source: calibration.source,
  };
}
