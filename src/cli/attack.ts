// `advisor attack`: robust accuracy of one saved model over a budget grid, for one norm and one
// attacker-knowledge level — the curve with 95 % intervals, what each attack achieved, and the
// sanity report (clean accuracy at ε = 0, monotone curve, unbounded white-box success, gradient
// masking). Samples are the first N test images of the data set.
import type { Command } from "commander";
import { DEFAULT_DATA_DIR } from "../engine/data.js";
import type { Knowledge, Norm } from "../engine/attacks/types.js";
import { parseKnowledge, parseNorm } from "../engine/evaluation/budgets.js";
import { asUsage, intOption } from "./options.js";

export interface AttackFlags {
  model: string;
  surrogate?: string;
  data: string;
  norm: Norm;
  knowledge: Knowledge;
  budgets: string;
  samples: number;
  batchSize: number;
  seed: number;
  queries: number;
  json?: boolean;
}

export function registerAttack(program: Command): void {
  program
    .command("attack")
    .description("measure a model's robust accuracy over a budget grid (white-box, transfer, black-box attacks) with sanity checks")
    .requiredOption("--model <dir>", "the model under attack (e.g. a pruned model directory)")
    .option("--surrogate <dir>", "the dense original for transfer attacks (required for --knowledge transfer)")
    .option("--data <dir>", "data set directory: the four MNIST-format IDX files, the CIFAR-10 binary batches or train/ and test/ PNG folders", DEFAULT_DATA_DIR)
    .requiredOption("--norm <norm>", "l0 | l2 | linf", asUsage(parseNorm))
    .option("--knowledge <level>", "white-box | transfer | black-box (each level also runs the weaker ones)", asUsage(parseKnowledge), "white-box")
    .requiredOption("--budgets <list>", "comma-separated budgets ε: L∞ in [0, 1], L2 >= 0, L0 whole numbers of features")
    .option("--samples <n>", "evaluate the first n test images", intOption("--samples", 1), 1000)
    .option("--batch-size <n>", "samples per attack batch", intOption("--batch-size", 1, 65_536), 100)
    .option("--seed <n>", "seed for the attacks' randomness", intOption("--seed", 0, 2 ** 31 - 1), 0)
    .option("--queries <n>", "query budget per sample of each black-box attack run", intOption("--queries", 1, 10_000_000), 1000)
    .option("--json", "print the result as one JSON object on stdout")
    .action(async (flags: AttackFlags) => {
      // The engine (TensorFlow.js) loads only when the command runs.
      const { attackAction } = await import("./attack-action.js");
      await attackAction(flags);
    });
}
