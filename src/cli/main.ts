#!/usr/bin/env node
// The `advisor` command line. Each subcommand lives in its own module; this file wires them
// together and turns known errors into one line on stderr and an exit code (2 = bad input).
import { Command, CommanderError } from "commander";
import { packageVersion } from "../paths.js";
import { registerServe } from "./serve.js";
import { registerDoctor } from "./doctor.js";
import { registerPrune, registerTrain } from "./engine-commands.js";
import { registerAttack } from "./attack.js";
import { registerMatrix } from "./matrix.js";
import { registerAdvise } from "./advise.js";
import { registerModels } from "./models.js";
import { registerRefresh } from "./refresh.js";
import { reportAndExit } from "./errors.js";

const program = new Command("advisor")
  .description("Pruning Advisor: prune a model without making it easier to attack")
  .version(packageVersion(), "-V, --version")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerServe(program);
registerDoctor(program);
registerTrain(program);
registerPrune(program);
registerAttack(program);
registerAdvise(program);
registerMatrix(program);
registerModels(program);
registerRefresh(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version end with code 0; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  reportAndExit(err);
}
