// `advisor refresh <model-id>`: what POST /v1/models/{id}/refresh does, without HTTP, in the
// foreground with progress. Option parsing only; the action (and the engine) load when it runs.
import type { Command } from "commander";
import { resolveDb } from "./matrix.js";
import { intOption } from "./options.js";

export interface RefreshFlags {
  grid?: string;
  replace?: boolean;
  db?: string;
  workers?: number;
  datasets?: string;
  json?: boolean;
}

export function registerRefresh(program: Command): void {
  program
    .command("refresh")
    .description(
      "measure a registered model on a grid (prune, fine-tune, attack) and publish its rows as a new matrix version; resumable (run it again after an interruption); exit 0 done, 1 failed, 2 bad input",
    )
    .argument("<model-id>", "the model's id (sha256 of its weights), as `advisor models add` or POST /v1/models printed it")
    .option(
      "--grid <file|default>",
      "required: `default` (the default grid, env ADVISOR_REFRESH_GRID or db/grids/default.yaml: 271 cells for a CNN, 199 for an MLP; hours) or a grid file (YAML or JSON, the fields of a grid file; architectures and dataset are replaced by the model and its data set; settings left out are the default grid's); without it the choices are listed with their cells and estimated time",
    )
    .option("--replace", "publish every row as current, even where the current row has more samples or stronger attack settings (default: those are kept)")
    .option("--db <path>", "SQLite database file (env ADVISOR_DB, default data/advisor.sqlite)")
    .option("--workers <n>", "build worker processes (default 1)", intOption("--workers", 1, 1024))
    .option("--datasets <list>", "known data sets, name=dir[,name=dir] (env ADVISOR_DATASETS)")
    .option("--json", "print the outcome as one JSON object on stdout")
    .action(async (modelId: string, flags: RefreshFlags) => {
      const { refreshAction } = await import("./refresh-action.js");
      await refreshAction(modelId, { ...flags, db: resolveDb(flags) });
    });
}
