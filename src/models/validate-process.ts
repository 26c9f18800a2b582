// The validation child process: one model, checked (inspect.ts) and, when the parent asks,
// stored. Forked per registration by register.ts so TensorFlow.js, the model's forward passes and
// their memory never touch the API process; the parent enforces the wall-time and memory caps by
// killing this process, which returns every byte it used.
//
// Protocol (IPC, structured clone):
//   parent → { type: "inspect", request }      child → { type: "inspected", inspection } | error
//   parent → { type: "store", ... }            child → { type: "stored", stored } | error, exits
// The parent kills the child when it needs nothing more (and on a cap); disconnect ends it too.
import type { Dataset } from "../engine/data.js";
import type { LayersModel } from "../engine/tf.js";
import { ModelUploadError } from "./errors.js";
import { inspectModel, storeModel, type Inspection, type InspectRequest, type StoredModel } from "./inspect.js";

export type ToValidator =
  | { type: "inspect"; request: InspectRequest }
  | { type: "store"; modelsDir: string; dbDir: string; architecture: string; seed: number };

export type FromValidator =
  | { type: "inspected"; inspection: Inspection }
  | { type: "stored"; stored: StoredModel }
  | { type: "error"; status: number | null; message: string; field?: string };

const send = (m: FromValidator): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));

function errorMessage(err: unknown): FromValidator {
  if (err instanceof ModelUploadError) return { type: "error", status: err.status, message: err.message, field: err.field };
  return { type: "error", status: null, message: err instanceof Error ? err.message : String(err) };
}

let loaded: { model: LayersModel; ds: Dataset; inspection: Inspection } | null = null;

async function handle(m: ToValidator): Promise<void> {
  try {
    if (m.type === "inspect") {
      loaded = await inspectModel(m.request);
      await send({ type: "inspected", inspection: loaded.inspection });
      return;
    }
    if (m.type === "store" && loaded) {
      const { model, ds, inspection } = loaded;
      const stored = await storeModel(model, { modelsDir: m.modelsDir, dbDir: m.dbDir }, inspection.id, {
        architecture: m.architecture,
        ds,
        clean: inspection.clean,
        backend: inspection.backend,
        seed: m.seed,
      });
      await send({ type: "stored", stored });
    }
    process.exit(0);
  } catch (err) {
    await send(errorMessage(err));
    process.exit(0);
  }
}

if (!process.send) {
  process.stderr.write("validate-process: run by register.ts through fork(), not directly\n");
  process.exit(2);
}
process.on("message", (m: ToValidator) => void handle(m));
process.on("disconnect", () => process.exit(0));
