// `advisor train` and `advisor prune`: the engine's two model-producing steps as commands.
// Only option parsing lives here; the actions (and TensorFlow.js, ~1 s to load) are imported
// when a command runs, so `advisor serve` and `advisor --version` start fast.
import type { Command } from "commander";
import { parseArchitecture, type Architecture } from "../engine/architectures.js";
import { DEFAULT_DATA_DIR } from "../engine/data.js";
import { parseRate, parseStrategy, type StrategyName } from "../engine/pruning/names.js";
import { asUsage, intOption, numberOption } from "./options.js";

export interface DataFlags {
  data: string;
  trainLimit?: number;
  testLimit?: number;
}
export interface TrainLoopFlags {
  epochs: number;
  batchSize: number;
  lr: number;
  patience: number;
  validation: number;
  seed: number;
  json?: boolean;
}

export type TrainFlags = DataFlags & TrainLoopFlags & { arch: Architecture; out: string };

function addDataOptions(cmd: Command): Command {
  return cmd
    .option("--data <dir>", "data set directory: the four MNIST-format IDX files, the CIFAR-10 binary batches or train/ and test/ PNG folders", DEFAULT_DATA_DIR)
    .option("--train-limit <n>", "use only the first n training images (quick runs)", intOption("--train-limit", 1))
    .option("--test-limit <n>", "use only the first n test images", intOption("--test-limit", 1));
}

function addTrainLoopOptions(cmd: Command, epochsFlag: string, defaultEpochs: number): Command {
  return cmd
    .option(`${epochsFlag} <n>`, "maximum epochs", intOption(epochsFlag, 0, 10_000), defaultEpochs)
    .option("--batch-size <n>", "mini-batch size", intOption("--batch-size", 1, 65_536), 128)
    .option("--lr <x>", "Adam learning rate", numberOption("--lr", (n) => n > 0 && n < 1, "in (0, 1)"), 1e-3)
    .option("--patience <n>", "early stopping: epochs without better validation accuracy", intOption("--patience", 1), 3)
    .option("--validation <fraction>", "share of training data held out", numberOption("--validation", (n) => n > 0 && n < 0.5, "in (0, 0.5)"), 0.1)
    .option("--seed <n>", "seed for initialisation, shuffling and pruning", intOption("--seed", 0, 2 ** 31 - 1), 1)
    .option("--json", "print the result as one JSON object on stdout");
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a dense model from the zoo on a data set and save it (TF.js layers format + metadata)")
    .requiredOption("--arch <name>", "lenet300 | lenet5 | convnet (28x28x1) | resnet8 | vgg11 (32x32x3)", asUsage(parseArchitecture))
    .requiredOption("--out <dir>", "directory to create for the model");
  addDataOptions(cmd);
  addTrainLoopOptions(cmd, "--epochs", 20);
  cmd.action(async (flags: TrainFlags) => {
    const { trainAction } = await import("./engine-actions.js");
    await trainAction(flags);
  });
}

export interface PruneFlags extends DataFlags, TrainLoopFlags {
  model: string;
  strategy: StrategyName;
  rate: number;
  finetuneEpochs: number;
  gradientBatches: number;
  out: string;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command("prune")
    .description("prune a saved model with one strategy to a compression rate, fine-tune with the mask held fixed, and save it")
    .requiredOption("--model <dir>", "the dense (or already pruned) model directory")
    .requiredOption("--strategy <name>", "global-magnitude | layer-magnitude | global-gradient | layer-gradient | random | structured-l1 | <unstructured|kernel|filter>/<random-local|magnitude-local|magnitude-global>", asUsage(parseStrategy))
    .requiredOption("--rate <c>", "compression rate: prunable params before / non-zero after (>= 1)", asUsage(parseRate))
    .requiredOption("--out <dir>", "directory to create for the pruned model")
    .option("--gradient-batches <n>", "training batches used to score gradient strategies", intOption("--gradient-batches", 1, 1000), 4);
  addDataOptions(cmd);
  addTrainLoopOptions(cmd, "--finetune-epochs", 2);
  cmd.action(async (flags: PruneFlags) => {
    const { pruneAction } = await import("./engine-actions.js");
    await pruneAction(flags);
  });
}
