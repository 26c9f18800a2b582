// `advisor matrix build | build-shard | merge | export | import | verify | stats | plan | calibrate`. Only option parsing lives
// here; the actions (and the engine) are imported when a command runs, so `advisor --version`
// stays fast.
import type { Command } from "commander";
import { defaultDbPath } from "../paths.js";
import { intOption, numberOption } from "./options.js";

const DB_HELP = "SQLite database file (env ADVISOR_DB, default data/advisor.sqlite)";
const defaultDb = (): string => process.env.ADVISOR_DB ?? defaultDbPath;

export interface MatrixBuildFlags {
  grid: string;
  workers?: number;
  /** k/N, parsed by the action (grid.ts is not loaded before a command runs). */
  shard?: string;
  db?: string;
  modelsDir?: string;
  variantsDir?: string;
  json?: boolean;
}
export interface MatrixBuildShardFlags {
  grid: string;
  dir: string;
  workers?: number;
  modelsDir?: string;
  json?: boolean;
}
export interface MatrixPlanFlags {
  grid: string;
  workers?: number;
  shards: number;
  calibration?: string;
  measuredWorkers?: number;
  modelsDir?: string;
  json?: boolean;
}
export interface MatrixCalibrateFlags {
  from: string;
  measuredWorkers?: number;
  out?: string;
}
export interface MatrixMergeFlags {
  db: string;
  json?: boolean;
}
export interface MatrixExportFlags {
  format: string;
  db?: string;
  out?: string;
  matrixVersion?: number;
  inProgress?: boolean;
  architecture?: string;
}
export interface MatrixImportFlags {
  db?: string;
  json?: boolean;
}
export interface MatrixVerifyFlags {
  sample: number;
  db?: string;
  tolerance: number;
  seed?: number;
  variantsDir?: string;
  data?: string;
  json?: boolean;
}
export interface MatrixStatsFlags {
  db?: string;
  matrixVersion?: number;
  grid?: string;
  shard?: string;
  all?: boolean;
  json?: boolean;
}

export function resolveDb(flags: { db?: string }): string {
  return flags.db ?? defaultDb();
}

export function registerMatrix(program: Command): void {
  const matrix = program.command("matrix").description("build, merge, export, import, verify and inspect the robustness matrix");

  matrix
    .command("build")
    .description("run the grid's train/prune/evaluate cells in worker processes, resumably, and publish the matrix version")
    .requiredOption("--grid <file>", "grid file (YAML or JSON), e.g. db/grids/default.yaml")
    .option("--workers <n>", "worker processes (default: number of cores)", intOption("--workers", 1, 1024))
    .option("--shard <k/N>", "run only shard k of N (its database gets that part; merge them afterwards)")
    .option("--db <path>", DB_HELP)
    .option("--models-dir <dir>", "where dense models are kept (default db/models)")
    .option("--variants-dir <dir>", "cache of pruned variants (default <db folder>/variants)")
    .option("--json", "print the summary as one JSON object on stdout")
    .action(async (flags: MatrixBuildFlags) => {
      const { buildAction } = await import("./matrix-actions.js");
      await buildAction(flags);
    });

  matrix
    .command("build-shard")
    .description(
      "build shard JOB_COMPLETION_INDEX+1 of ADVISOR_SHARDS (both from the environment, as a pod of a Kubernetes Indexed Job runs it) into <dir>/shard-<k>-of-<N>/matrix.sqlite; deploy/kubernetes/",
    )
    .requiredOption("--grid <file>", "grid file (YAML or JSON), the same for every shard")
    .requiredOption("--dir <dir>", "folder of the shard databases (a volume every pod and the merge job mount)")
    .option("--workers <n>", "worker processes (default: number of cores)", intOption("--workers", 1, 1024))
    .option("--models-dir <dir>", "where dense models are kept (default db/models)")
    .option("--json", "print the summary as one JSON object on stdout")
    .action(async (flags: MatrixBuildShardFlags) => {
      const { buildShardAction } = await import("./matrix-shard.js");
      await buildShardAction(flags, process.env);
    });

  matrix
    .command("merge")
    .description("merge shard databases into one matrix (one new published version)")
    .argument("<shards...>", "shard database files")
    .requiredOption("--db <path>", "output database (created if missing)")
    .option("--json", "print the summary as one JSON object on stdout")
    .action(async (shards: string[], flags: MatrixMergeFlags) => {
      const { mergeAction } = await import("./matrix-actions.js");
      await mergeAction(shards, flags);
    });

  matrix
    .command("export")
    .description("write the rows of a published version, one JSON object per line")
    .option("--format <format>", "jsonl (the only format)", "jsonl")
    .option("--db <path>", DB_HELP)
    .option("--out <file>", "output file (default stdout)")
    .option("--matrix-version <n>", "published version (default the latest)", intOption("--matrix-version", 1))
    .option("--in-progress", "the rows the latest build has finished so far, although its version is not published yet (the database is not changed)")
    .option("--architecture <name>", "only the rows of this architecture (e.g. to ship one architecture's rebuilt rows)")
    .action(async (flags: MatrixExportFlags) => {
      const { exportAction } = await import("./matrix-actions.js");
      await exportAction(flags);
    });

  matrix
    .command("import")
    .description("import a JSON Lines file (validated entirely first) as a new published version")
    .argument("<file>", "JSON Lines file")
    .option("--db <path>", DB_HELP)
    .option("--json", "print the summary as one JSON object on stdout")
    .action(async (file: string, flags: MatrixImportFlags) => {
      const { importAction } = await import("./matrix-actions.js");
      await importAction(file, flags);
    });

  matrix
    .command("verify")
    .description("re-run K random evaluation cells from their recorded provenance and check the results agree (exit 1 if not)")
    .requiredOption("--sample <k>", "cells to re-run", intOption("--sample", 1))
    .option("--db <path>", DB_HELP)
    .option("--tolerance <share>", "robust accuracy may differ by this share of the samples (at least 1 sample)", numberOption("--tolerance", (n) => n >= 0 && n < 1, "in [0, 1)"), 0.01)
    .option("--seed <n>", "seed for choosing the cells", intOption("--seed", 0))
    .option("--variants-dir <dir>", "cache of pruned variants (default <db folder>/variants)")
    .option("--data <dir>", "data set directory (default: the build grid's)")
    .option("--json", "print the report as one JSON object on stdout")
    .action(async (flags: MatrixVerifyFlags) => {
      const { verifyAction } = await import("./matrix-actions.js");
      await verifyAction(flags);
    });

  matrix
    .command("plan")
    .description("estimate a grid's build before running it: cells, core-hours and wall time on N workers (and N shards), from measured per-cell times")
    .requiredOption("--grid <file>", "grid file (YAML or JSON), e.g. db/grids/default.yaml")
    .option("--workers <n>", "worker processes per machine (default: number of cores, as matrix build)", intOption("--workers", 1, 1024))
    .option("--shards <n>", "machines, one shard each (matrix build --shard k/N)", intOption("--shards", 1, 10_000), 1)
    .option("--calibration <file>", "per-cell costs: a calibration table (matrix calibrate), a matrix database or a JSONL export (default db/calibration.json)")
    .option("--measured-workers <n>", "with a database or JSONL as --calibration: workers of the builds whose cells do not record it (default 1)", intOption("--measured-workers", 1, 1024))
    .option("--models-dir <dir>", "where dense models are kept: those found there are loaded, not trained (default db/models)")
    .option("--json", "print the estimate as one JSON object on stdout")
    .action(async (flags: MatrixPlanFlags) => {
      const { planAction } = await import("./matrix-plan.js");
      await planAction(flags);
    });

  matrix
    .command("calibrate")
    .description("derive the per-cell cost table of matrix plan from measured builds (a matrix database or a JSONL export)")
    .requiredOption("--from <file>", "matrix database or JSONL export, e.g. db/matrix.jsonl")
    .option("--measured-workers <n>", "workers of the builds whose cells do not record it (the shipped matrix: 2 per shard) (default 1)", intOption("--measured-workers", 1, 1024))
    .option("--out <file>", "write the table here (default stdout), e.g. db/calibration.json")
    .action(async (flags: MatrixCalibrateFlags) => {
      const { calibrateAction } = await import("./matrix-plan.js");
      await calibrateAction(flags);
    });

  matrix
    .command("stats")
    .description("rows per axis, samples per row, versions, and the gaps of the latest build's grid")
    .option("--db <path>", DB_HELP)
    .option("--matrix-version <n>", "version to count (default the latest build's, else the latest published)", intOption("--matrix-version", 1))
    .option("--grid <file>", "find the gaps against this grid (e.g. db/grids/default.yaml) instead of the latest build's")
    .option("--shard <k/N>", "expect only the rows and cells of shard k of N (a shard's database)")
    .option("--all", "list every missing row (default: a summary and the first 20)")
    .option("--json", "print the statistics as one JSON object on stdout")
    .action(async (flags: MatrixStatsFlags) => {
      const { statsAction } = await import("./matrix-actions.js");
      await statsAction(flags);
    });
}
