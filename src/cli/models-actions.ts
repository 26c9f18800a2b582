// The action of `advisor models add` (options in models.ts).
import { stat } from "node:fs/promises";
import path from "node:path";
import { resolveServeConfig } from "../config.js";
import { MatrixStore } from "../matrix/store.js";
import { modelsDirFor } from "../models/storage.js";
import { UsageError } from "./errors.js";
import type { ModelsAddFlags } from "./models.js";

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** A configured data set name, else a data set directory (any format; named after its folder). */
async function resolveDataset(value: string, datasets: ReadonlyMap<string, string>): Promise<{ name: string; dir: string }> {
  const dir = datasets.get(value);
  if (dir !== undefined) return { name: value, dir };
  if ((value.includes("/") || value.startsWith(".")) && (await isDirectory(value))) return { name: path.basename(path.resolve(value)), dir: value };
  throw new UsageError(`--data: unknown data set ${JSON.stringify(value)} (known: ${[...datasets.keys()].join(", ")}; or give a data set directory)`);
}

export async function modelsAddAction(dir: string, flags: ModelsAddFlags & { db: string }): Promise<void> {
  // The data sets setting is validated exactly as `advisor serve` validates it.
  // Only the settings a registration reads: a stray PORT= must not break `models add`.
  const env = process.env;
  const config = resolveServeConfig(
    { datasets: flags.datasets },
    {
      ADVISOR_DATASETS: env.ADVISOR_DATASETS,
      ADVISOR_UPLOAD_MAX_MACS: env.ADVISOR_UPLOAD_MAX_MACS,
      ADVISOR_UPLOAD_VALIDATE_SECONDS: env.ADVISOR_UPLOAD_VALIDATE_SECONDS,
      ADVISOR_UPLOAD_VALIDATE_MEMORY: env.ADVISOR_UPLOAD_VALIDATE_MEMORY,
    },
  );
  const datasets = config.datasets;
  if (!(await isDirectory(dir))) throw new UsageError(`<dir>: ${dir} is not a directory (give the folder holding model.json and its weight files)`);
  const dataset = await resolveDataset(flags.data, datasets);
  // TensorFlow.js comes with register.js: only once the arguments are known to be good.
  const { addModel, filesOfDirectory, ModelUploadError } = await import("../models/register.js");
  const store = await MatrixStore.open(flags.db);
  try {
    const added = await addModel({
      files: await filesOfDirectory(dir),
      strictFiles: false,
      dataset,
      otherDatasets: [...datasets].filter(([name]) => name !== dataset.name).map(([name, d]) => ({ name, dir: d })),
      architecture: flags.architecture,
      store,
      modelsDir: modelsDirFor(flags.db),
      dbDir: path.dirname(path.resolve(flags.db)),
      limits: { maxMacs: config.uploadMaxMacs, maxSeconds: config.uploadValidateSeconds, maxMemoryBytes: config.uploadValidateMemory },
    }).catch((err: unknown) => {
      if (err instanceof ModelUploadError) throw new UsageError(`${dir}: ${err.message}`);
      throw err;
    });
    if (flags.json) {
      process.stdout.write(JSON.stringify(added) + "\n");
    } else {
      process.stdout.write(added.id + "\n");
      const acc = added.clean ? `, clean accuracy ${((100 * added.clean.correct) / added.clean.n).toFixed(2)} % on ${added.clean.n} test images` : "";
      process.stderr.write(
        `${added.created ? "registered" : "already registered"}: ${added.architecture} for ${added.dataset}, input ${JSON.stringify(added.inputShape)}, ${added.numClasses} classes, ` +
          `${added.parameters.total.toLocaleString("en")} parameters (${added.parameters.prunable.toLocaleString("en")} prunable)${acc}; files in ${added.modelDir ?? "(not kept)"}\n`,
      );
      for (const w of added.warnings) process.stderr.write(`warning: ${w}\n`);
    }
  } finally {
    await store.close();
  }
}
