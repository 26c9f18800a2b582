// Registers a TF.js layers model (model.json + weight files) in the matrix database, content-
// addressed by the sha256 of its weights as the engine serialises them (the same id the matrix
// uses for models it trained). Used by POST /v1/models and `advisor models add`.
//
// model.json and its manifest are checked here first (manifest.ts, no TensorFlow.js). The model
// itself is checked in a child process (validate-process.ts → inspect.ts: manifest again, build,
// shapes, compute cost, forward pass over the test split, clean accuracy above chance), never in
// this one: a 7 KB model can cost minutes of compute and a gigabyte of memory, which in the API
// process stalled every other request. This module holds no TensorFlow.js; it forks the child,
// enforces the caps of ValidationLimits (wall time, resident memory: the child is killed and the
// upload refused with 422 naming the limit; the cost per input is checked by the child before any
// forward pass), and does the database part. One registration runs at a time per process.
import { fork, type ChildProcess } from "node:child_process";
import { readFile, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { MatrixStore } from "../matrix/store.js";
import { packageVersion, siblingEntry } from "../paths.js";
import { ModelUploadError, type UploadStatus } from "./errors.js";
import type { Inspection, StoredModel } from "./inspect.js";
import { findModel, storedModelDir, UPLOAD_SOURCE, type RegisteredModel } from "./storage.js";
import { checkManifest, readJsonFile } from "./manifest.js";
import { ARCHITECTURE_LABEL, DEFAULT_VALIDATION_LIMITS, METADATA_JSON, MODEL_JSON, type DatasetRef, type ModelFile, type ValidationLimits } from "./upload-types.js";
import type { FromValidator, ToValidator } from "./validate-process.js";

export { ModelUploadError } from "./errors.js";
export { ARCHITECTURE_LABEL, FILE_NAME, METADATA_JSON, MODEL_JSON, type DatasetRef, type ModelFile } from "./upload-types.js";

export interface ModelSummary {
  id: string;
  architecture: string;
  dataset: string;
  inputShape: number[];
  numClasses: number;
  parameters: { total: number; trainable: number; prunable: number };
  /** On the data set's whole test split. */
  clean: { correct: number; n: number } | null;
  /** Relative to the database's folder. */
  modelDir: string | null;
  created: boolean;
  warnings: string[];
}

// ───────────────────────── the validation child ─────────────────────────

const MEMORY_POLL_MS = 100;
const VALIDATION_NICENESS = 10;
const mib = (n: number): string => `${Math.round(n / 1024 / 1024)} MiB`;

/** Resident memory of a process (Linux /proc); null where that cannot be read. */
async function residentBytes(pid: number): Promise<number | null> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** One child process for one model; every answer, exit or cap violation settles the pending call. */
class Validator {
  private readonly child: ChildProcess;
  private pending: { resolve: (m: FromValidator) => void; reject: (e: Error) => void } | null = null;
  private failure: ModelUploadError | null = null;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly limits: ValidationLimits) {
    const entry = siblingEntry(import.meta.url, "validate-process");
    // The V8 heap cap is a second line behind the RSS watch (wasm memory lies outside that heap).
    const heapMb = Math.max(256, Math.floor(limits.maxMemoryBytes / 1024 / 1024));
    this.child = fork(entry.file, [], { execArgv: [...entry.execArgv, `--max-old-space-size=${heapMb}`], serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"] });
    // Lower priority than the service: on a busy machine the API's requests go first.
    if (this.child.pid !== undefined) {
      try {
        os.setPriority(this.child.pid, VALIDATION_NICENESS);
      } catch {
        // Not permitted here (some containers): the check still runs, at the service's priority.
      }
    }
    const stderr: string[] = [];
    this.child.stderr?.on("data", (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.length > 20) stderr.shift();
    });
    this.child.on("message", (m: FromValidator) => this.settle((p) => p.resolve(m)));
    this.child.on("error", (err) => this.fail(new Error(`the model check process failed: ${err.message}`)));
    this.child.on("exit", (code, signal) => {
      this.stopWatching();
      const last = stderr.join("").trim().split("\n").at(-1) ?? "";
      this.fail(this.failure ?? new Error(`the model check process exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ""}`));
    });
    this.timers.push(
      setTimeout(() => this.kill(new ModelUploadError(422, `checking the model took longer than ${limits.maxSeconds} s (ADVISOR_UPLOAD_VALIDATE_SECONDS): it is too expensive for this server`, MODEL_JSON)), limits.maxSeconds * 1000),
      setInterval(() => void this.checkMemory(), MEMORY_POLL_MS),
    );
  }

  private async checkMemory(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.failure) return;
    const rss = await residentBytes(pid);
    if (rss !== null && rss > this.limits.maxMemoryBytes) {
      this.kill(new ModelUploadError(422, `checking the model needed more than ${mib(this.limits.maxMemoryBytes)} of memory (${mib(rss)} when stopped; ADVISOR_UPLOAD_VALIDATE_MEMORY): it is too large for this server`, MODEL_JSON));
    }
  }

  private kill(reason: ModelUploadError): void {
    this.failure ??= reason;
    this.child.kill("SIGKILL");
  }

  private settle(f: (p: NonNullable<Validator["pending"]>) => void): void {
    const p = this.pending;
    this.pending = null;
    if (p) f(p);
  }

  private fail(err: Error): void {
    this.settle((p) => p.reject(err));
  }

  private stopWatching(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  /** Sends one message and waits for the answer; a child-side error becomes a ModelUploadError or Error. */
  async ask(m: ToValidator): Promise<FromValidator> {
    const answer = await new Promise<FromValidator>((resolve, reject) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return reject(this.failure ?? new Error("the model check process is gone"));
      this.pending = { resolve, reject };
      this.child.send(m);
    });
    if (answer.type === "error") {
      if (answer.status !== null) throw new ModelUploadError(answer.status as UploadStatus, answer.message, answer.field);
      throw new Error(answer.message);
    }
    return answer;
  }

  close(): void {
    this.stopWatching();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

// ───────────────────────── registration ─────────────────────────

let queue: Promise<unknown> = Promise.resolve();

/** One registration at a time per process (memory and CPU of the check). */
function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

export interface AddModelOptions {
  files: ModelFile[];
  /** Refuse files the manifest does not name (uploads); a directory may hold other files (CLI). */
  strictFiles: boolean;
  dataset: DatasetRef;
  /** The server's other configured data sets: a model that does not fit `dataset` is told which of them it fits. */
  otherDatasets?: DatasetRef[];
  /** A label for the architecture; default: metadata.json's `architecture`, else "custom". */
  architecture?: string;
  store: MatrixStore;
  /** Where models are kept (<db dir>/models); model_dir is recorded relative to dbDir. */
  modelsDir: string;
  dbDir: string;
  /** Caps on the check (default DEFAULT_VALIDATION_LIMITS). */
  limits?: Partial<ValidationLimits>;
}

/** Lists a directory's regular files as ModelFiles (for `advisor models add`). */
export async function filesOfDirectory(dir: string): Promise<ModelFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ModelUploadError(400, `${dir} is not a readable directory`, "dir");
  }
  const out: ModelFile[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    const s = await stat(p);
    if (s.isFile()) out.push({ name, path: p, size: s.size });
  }
  return out;
}

/** Checks and registers a model; the cheap checks run at once, the model check one at a time. */
export async function addModel(o: AddModelOptions): Promise<ModelSummary> {
  await cheapChecks(o);
  return serialised(() => addModelNow(o));
}

/** Without TensorFlow.js and outside the queue: a malformed upload never waits for a check process. */
async function cheapChecks(o: AddModelOptions): Promise<void> {
  const modelFile = o.files.find((f) => f.name === MODEL_JSON);
  if (!modelFile) throw new ModelUploadError(400, "no model.json among the files (a TF.js layers model is model.json plus its weight files)", MODEL_JSON);
  if (o.architecture !== undefined && !ARCHITECTURE_LABEL.test(o.architecture)) {
    throw new ModelUploadError(400, "architecture must be 1-64 letters, digits, '.', '_' or '-'", "architecture");
  }
  checkManifest(await readJsonFile(modelFile), new Map(o.files.map((f) => [f.name, f])), o.strictFiles);
  const metadata = o.files.find((f) => f.name === METADATA_JSON);
  if (metadata) await readJsonFile(metadata);
}

async function addModelNow(o: AddModelOptions): Promise<ModelSummary> {
  const limits: ValidationLimits = { ...DEFAULT_VALIDATION_LIMITS, ...o.limits };
  const validator = new Validator(limits);
  try {
    const answer = await validator.ask({ type: "inspect", request: { files: o.files, strictFiles: o.strictFiles, dataset: o.dataset, otherDatasets: o.otherDatasets ?? [], maxMacs: limits.maxMacs } });
    if (answer.type !== "inspected") throw new Error(`the model check process answered ${answer.type}`);
    const found = answer.inspection;
    const storeFiles = async (architecture: string, seed: number): Promise<StoredModel> => {
      const stored = await validator.ask({ type: "store", modelsDir: o.modelsDir, dbDir: o.dbDir, architecture, seed });
      if (stored.type !== "stored") throw new Error(`the model check process answered ${stored.type}`);
      return stored.stored;
    };

    const existing = await findModel(o.store.db, found.id);
    if (existing) {
      if (existing.dataset !== o.dataset.name) {
        throw new ModelUploadError(409, `model ${found.id} is already registered for data set ${existing.dataset}, not ${o.dataset.name}`, "dataset");
      }
      let modelDir = existing.modelDir;
      if (modelDir === null) {
        // Known from an import without its files: keep the files now.
        modelDir = (await storeFiles(existing.architecture, existing.seed)).relative;
        await o.store.db.run("UPDATE models SET model_dir = ? WHERE id = ? AND model_dir IS NULL", [modelDir, found.id]);
      }
      return summary(existing, found, modelDir, false);
    }

    const architecture = o.architecture ?? found.uploadedArchitecture ?? "custom";
    const stored = await storeFiles(architecture, found.uploadedSeed);
    const row = {
      id: found.id,
      architecture,
      dataset: o.dataset.name,
      inputShape: found.inputShape,
      numClasses: found.numClasses,
      seed: found.uploadedSeed,
      clean: found.clean,
      backend: found.backend,
      codeVersion: packageVersion(),
      createdAt: new Date().toISOString(),
      modelDir: stored.relative,
      metadata: { source: UPLOAD_SOURCE, parameters: found.parameters, macsPerInput: found.macs, files: o.files.map((f) => ({ name: f.name, bytes: f.size })) },
    };
    try {
      await o.store.upsertModel(row);
    } catch (err) {
      // Nothing half-registered: the files go again if this call wrote them.
      if (stored.wrote) await rm(storedModelDir(o.modelsDir, found.id), { recursive: true, force: true });
      throw err;
    }
    const registered = await findModel(o.store.db, found.id);
    return summary(registered!, found, stored.relative, true);
  } finally {
    validator.close();
  }
}

function summary(r: RegisteredModel, found: Inspection, modelDir: string | null, created: boolean): ModelSummary {
  return {
    id: r.id,
    architecture: r.architecture,
    dataset: r.dataset,
    inputShape: r.inputShape,
    numClasses: r.numClasses,
    parameters: found.parameters,
    clean: r.clean,
    modelDir,
    created,
    warnings: found.warnings,
  };
}
