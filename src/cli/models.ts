// `advisor models add <dir> --data <name>` (the checks and registration of POST /v1/models,
// without HTTP) and `advisor keys hash` (the line to put in an API keys file). Option parsing
// only; TensorFlow.js is loaded when `models add` runs.
import type { Command } from "commander";
import { KeyFormatError, keyLine } from "../auth/keys.js";
import { UsageError } from "./errors.js";
import { resolveDb } from "./matrix.js";

export interface ModelsAddFlags {
  data: string;
  db?: string;
  architecture?: string;
  datasets?: string;
  json?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerModels(program: Command): void {
  const models = program.command("models").description("register your own models for the matrix");
  models
    .command("add")
    .description("check a TF.js layers model (model.json + weight files) against a data set and register it; prints its id")
    .argument("<dir>", "directory holding model.json and the weight files it names")
    .requiredOption("--data <name>", "data set: a name of ADVISOR_DATASETS / --datasets (default fashion-mnist), or a data set directory")
    .option("--db <path>", "SQLite database file (env ADVISOR_DB, default data/advisor.sqlite); the model is kept in <db folder>/models/<id>")
    .option("--architecture <label>", "a label for the architecture (default: metadata.json's, else custom)")
    .option("--datasets <list>", "known data sets, name=dir[,name=dir] (env ADVISOR_DATASETS)")
    .option("--json", "print the registration as one JSON object on stdout")
    .action(async (dir: string, flags: ModelsAddFlags) => {
      const { modelsAddAction } = await import("./models-actions.js");
      await modelsAddAction(dir, { ...flags, db: resolveDb(flags) });
    });

  const keys = program.command("keys").description("API keys for the write endpoints");
  keys
    .command("hash")
    .description("read an API key on stdin and print the name:sha256hex line for ADVISOR_API_KEYS_FILE")
    .requiredOption("--name <name>", "a label for the key, shown in logs (letters, digits, '.', '_', '-')")
    .action(async (flags: { name: string }) => {
      // Only the first line counts, without its line break (`echo KEY | advisor keys hash`).
      const key = (await readStdin()).split(/\r?\n/)[0] ?? "";
      try {
        process.stdout.write(keyLine(flags.name, key) + "\n");
      } catch (err) {
        if (err instanceof KeyFormatError) throw new UsageError(err.message);
        throw err;
      }
    });
}
