// `advisor recommend` and `advisor gate`: ask the advisor from the command line, either a running
// service (--url) or a matrix database file directly (--db). The gate is made for CI pipelines:
// exit 0 = pass, 1 = fail, 2 = bad input, unreachable server or no verdict; --junit writes a
// JUnit XML report with one testcase per check. The logic lives in advise-actions.ts.
import { Command } from "commander";
import { intOption, numberOption } from "./options.js";

export interface ScenarioFlags {
  url?: string;
  db?: string;
  norm?: string;
  budget?: number;
  knowledge?: string;
  maxParameters?: number;
  minCompression?: number;
  maxBytes?: number;
  structuredOnly?: boolean;
  minCleanAccuracy?: number;
  model?: string;
  architecture?: string;
  dataset?: string;
  json?: boolean;
  timeout: number;
  include?: string;
  allowUnsoundEvidence?: boolean;
  adversarialShare?: number;
}

export interface GateFlags extends ScenarioFlags {
  strategy?: string;
  rate?: number;
  schedule?: string;
  minRobustAccuracy?: number;
  minAggregatedAccuracy?: number;
  maxDrop?: number;
  junit?: string;
}

const anyNumber = (flag: string) => numberOption(flag, () => true, "a number");

function scenarioOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "ask a running service, e.g. http://localhost:8080")
    .option("--db <file>", "answer directly from a matrix database file (read-only; a missing file is first created from the shipped matrix, as `serve` does)")
    .requiredOption("--norm <norm>", "l0 | l2 | linf")
    .requiredOption("--budget <eps>", "ε in the units of the norm: L∞ in [0, 1], L2 Euclidean, L0 whole features", anyNumber("--budget"))
    .option("--knowledge <level>", "white-box | transfer | black-box", "white-box")
    .option("--max-parameters <n>", "at most this many non-zero parameters", anyNumber("--max-parameters"))
    .option("--min-compression <rate>", "at least this compression rate (e.g. 4)", anyNumber("--min-compression"))
    .option("--max-bytes <n>", "at most this size stored sparse, in bytes", anyNumber("--max-bytes"))
    .option("--structured-only", "only structured candidates (structured-l1, dense)")
    .option("--min-clean-accuracy <fraction>", "minimum clean accuracy, a fraction (0.88 = 88 %)", anyNumber("--min-clean-accuracy"))
    .option("--model <id>", "model id (sha256 of the dense weights)")
    .option("--architecture <name>", "model architecture, e.g. lenet5")
    .option("--dataset <name>", "data set, e.g. fashion-mnist")
    .option("--allow-unsound-evidence", "also score evidence that failed the engine's sanity checks (with a warning)")
    .option(
      "--adversarial-share <fraction>",
      "share r of inputs that are adversarial (0–1, default 1): rank by the lower bound of (1 − r)·clean + r·robust accuracy",
      anyNumber("--adversarial-share"),
    )
    .option("--timeout <ms>", "HTTP timeout with --url", intOption("--timeout", 1, 3_600_000), 30_000)
    .option("--json", "print the response as JSON");
}

export function registerAdvise(program: Command): void {
  scenarioOptions(
    program
      .command("recommend")
      .description("which pruning strategy and rate resist the attacker best within the size limit (exit 0 answered, 2 bad input or unreachable)"),
  )
    .option("--include <parts>", "add to the lean answer, comma-separated: evidence, curve, details, all-alternatives, unscored (as the API's ?include=)")
    .action(async (flags: ScenarioFlags) => {
    const { recommendAction } = await import("./advise-actions.js");
    await recommendAction(flags);
  });

  scenarioOptions(
    program
      .command("gate")
      .description("pass/fail for one candidate against a scenario and thresholds, for CI (exit 0 pass, 1 fail, 2 bad input or unreachable)"),
  )
    .requiredOption("--strategy <name>", "dense or a pruning strategy: global-magnitude | layer-magnitude | global-gradient | layer-gradient | random | structured-l1 | <unstructured|kernel|filter>/<random-local|magnitude-local|magnitude-global>")
    .requiredOption("--rate <rate>", "compression rate of the grid (1 for dense)", anyNumber("--rate"))
    .option("--schedule <one-shot|cumulative>", "which variant when the matrix holds both schedules of the strategy and rate (default one-shot)")
    .option("--min-robust-accuracy <fraction>", "pass only if the lower 95 % bound of robust accuracy is at least this (0.4 = 40 %), whatever the adversarial share", anyNumber("--min-robust-accuracy"))
    .option(
      "--min-aggregated-accuracy <fraction>",
      "pass only if the lower 95 % bound of (1 − r)·clean + r·robust accuracy at --adversarial-share r is at least this (at share 1 the same as --min-robust-accuracy)",
      anyNumber("--min-aggregated-accuracy"),
    )
    .option("--max-drop <fraction>", "pass only if dense − candidate robust accuracy is at most this (0.02 = 2 points)", anyNumber("--max-drop"))
    .option("--junit <file>", "write a JUnit XML report (one testcase per check)")
    .action(async (flags: GateFlags) => {
      const { gateAction } = await import("./advise-actions.js");
      await gateAction(flags);
    });
}
