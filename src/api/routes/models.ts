// POST /v1/models: upload a TF.js layers model (multipart/form-data: model.json, its weight files,
// optionally metadata.json, and the fields `dataset` and `architecture`). API key required.
//
// The parts stream (busboy) into a fresh staging directory under <models dir>/.staging; limits on
// the total size, the number of files and the field sizes answer 413 as soon as they are crossed.
// Then src/models/register.ts (loaded on the first upload: it brings TensorFlow.js into the
// process) checks the model against the data set and registers it. The staging directory is
// removed on every path, success or failure. The model id is the sha256 of the weights, so the
// same model uploaded twice is one model: 201 the first time, 200 with the same id afterwards.
import busboy from "busboy";
import { Router, type Request } from "express";
import { createWriteStream, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { estimate } from "../../advisor/curve.js";
import type { ApiKeys } from "../../auth/keys.js";
import type { MatrixStore } from "../../matrix/store.js";
// Types only: the module itself (and TensorFlow.js with it) is imported when an upload arrives.
import type { ModelSummary } from "../../models/register.js";
import { newStagingDir } from "../../models/storage.js";
import type { ValidationLimits } from "../../models/upload-types.js";
import { requireApiKey } from "../auth.js";
import { HttpProblem } from "../problem.js";
import type { components } from "../schema.gen.js";

type Schemas = components["schemas"];

export interface UploadSettings {
  /** <db dir>/models */
  modelsDir: string;
  /** The database's folder: model_dir is recorded relative to it. */
  dbDir: string;
  /** Data set name → directory of IDX files. */
  datasets: ReadonlyMap<string, string>;
  /** All files of one upload together. */
  maxBytes: number;
  maxFiles?: number;
  /** Caps on checking a model (compute per input, wall time, memory); defaults in upload-types.ts. */
  limits?: Partial<ValidationLimits>;
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const FIELDS = new Set(["dataset", "architecture"]);
const DEFAULT_MAX_FILES = 32;
const MAX_FIELD_BYTES = 256;
/** Room for multipart boundaries and part headers on top of the files' bytes. */
const MULTIPART_OVERHEAD = 64 * 1024;

interface Received {
  files: { name: string; path: string; size: number }[];
  fields: Map<string, string>;
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 3 : 1)} MiB`;

/** Streams the multipart body into `dir`; rejects with an HttpProblem at the first violated rule. */
function receive(req: Request, dir: string, s: UploadSettings): Promise<Received> {
  const maxFiles = s.maxFiles ?? DEFAULT_MAX_FILES;
  return new Promise<Received>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { files: maxFiles, fields: FIELDS.size, fieldSize: MAX_FIELD_BYTES, fieldNameSize: 64, fileSize: s.maxBytes, parts: maxFiles + FIELDS.size },
      });
    } catch (err) {
      reject(new HttpProblem(400, "Bad Request", `malformed multipart request: ${(err as Error).message}`, "body"));
      return;
    }
    const files: Received["files"] = [];
    const fields = new Map<string, string>();
    const writes: Promise<void>[] = [];
    const open = new Set<WriteStream>();
    let total = 0;
    let failed = false;

    const fail = (problem: HttpProblem): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      for (const w of open) w.destroy();
      // Read and discard the rest, so the client gets the answer instead of a broken pipe.
      req.resume();
      // Answer once every file written so far is closed, so removing the staging directory
      // cannot race a file still being opened.
      void Promise.allSettled(writes).then(() => reject(problem));
    };
    const tooLarge = (detail: string, field?: string): HttpProblem => new HttpProblem(413, "Content Too Large", detail, field);

    bb.on("file", (field, stream, info) => {
      const name = info.filename;
      if (failed) {
        stream.resume();
        return;
      }
      if (name === undefined || !FILE_NAME.test(name)) {
        stream.resume();
        fail(new HttpProblem(400, "Bad Request", `file name ${JSON.stringify(name ?? "")} (part ${JSON.stringify(field)}) is not a plain file name: use model.json and the weight file names of its weightsManifest`, field));
        return;
      }
      if (files.some((f) => f.name === name)) {
        stream.resume();
        fail(new HttpProblem(400, "Bad Request", `file ${name} is uploaded twice`, name));
        return;
      }
      const target = path.join(dir, name);
      const entry = { name, path: target, size: 0 };
      files.push(entry);
      const out = createWriteStream(target, { flags: "wx" });
      open.add(out);
      stream.on("data", (chunk: Buffer) => {
        entry.size += chunk.length;
        total += chunk.length;
        if (total > s.maxBytes) fail(tooLarge(`the upload exceeds ${mb(s.maxBytes)} (ADVISOR_UPLOAD_MAX_BYTES)`, name));
      });
      stream.on("limit", () => fail(tooLarge(`file ${name} exceeds ${mb(s.maxBytes)} (ADVISOR_UPLOAD_MAX_BYTES)`, name)));
      // pipeline, not pipe: an error on either side (a body cut before the part's closing
      // boundary makes busboy's file stream emit 'error') must reach us, never go unheard.
      writes.push(
        pipeline(stream, out).then(
          () => void open.delete(out),
          (err: unknown) => {
            open.delete(out);
            if (failed) return;
            // The part's own stream failed (truncated body) → the client's fault; the disk → ours.
            const fromClient = stream.errored !== null || stream.truncated;
            fail(
              fromClient
                ? new HttpProblem(400, "Bad Request", `malformed multipart request: ${(err as Error).message} (file ${name})`, "body")
                : new HttpProblem(500, "Internal Server Error", `cannot store the upload: ${(err as Error).message}`),
            );
          },
        ),
      );
    });
    bb.on("field", (name, value, info) => {
      if (!FIELDS.has(name)) return fail(new HttpProblem(400, "Bad Request", `unknown form field "${name}" (known: dataset, architecture, and the model's files)`, name));
      if (info.valueTruncated) return fail(tooLarge(`form field ${name} exceeds ${MAX_FIELD_BYTES} bytes`, name));
      if (fields.has(name)) return fail(new HttpProblem(400, "Bad Request", `form field ${name} is given twice`, name));
      fields.set(name, value);
    });
    bb.on("filesLimit", () => fail(tooLarge(`at most ${maxFiles} files per upload`, "files")));
    bb.on("fieldsLimit", () => fail(tooLarge(`at most ${FIELDS.size} form fields (dataset, architecture)`, "body")));
    bb.on("partsLimit", () => fail(tooLarge(`at most ${maxFiles + FIELDS.size} parts per upload`, "body")));
    bb.on("error", (err: Error) => fail(new HttpProblem(400, "Bad Request", `malformed multipart request: ${err.message}`, "body")));
    bb.on("close", () => {
      if (failed) return;
      void Promise.all(writes).then(() => {
        if (!failed) resolve({ files, fields });
      });
    });
    req.on("aborted", () => fail(new HttpProblem(400, "Bad Request", "the upload was aborted", "body")));
    req.pipe(bb);
  });
}

export function modelRoutes(store: MatrixStore, keys: ApiKeys, settings: UploadSettings): Router {
  const r = Router();

  r.post("/v1/models", requireApiKey(keys, "POST /v1/models"), async (req, res) => {
    if (req.is("multipart/form-data") !== "multipart/form-data") {
      req.resume();
      throw new HttpProblem(415, "Unsupported Media Type", "send the model as multipart/form-data: model.json, its weight files and the field dataset");
    }
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > settings.maxBytes + MULTIPART_OVERHEAD) {
      req.resume();
      throw new HttpProblem(413, "Content Too Large", `the upload (${mb(declared)}) exceeds ${mb(settings.maxBytes)} (ADVISOR_UPLOAD_MAX_BYTES)`, "body");
    }
    const staging = await newStagingDir(settings.modelsDir);
    let added: ModelSummary;
    try {
      const { files, fields } = await receive(req, staging, settings);
      const datasetName = fields.get("dataset");
      const known = [...settings.datasets.keys()].join(", ");
      if (datasetName === undefined || datasetName === "") throw new HttpProblem(400, "Bad Request", `the form field dataset is required (known data sets: ${known})`, "dataset");
      const dir = settings.datasets.get(datasetName);
      if (dir === undefined) throw new HttpProblem(400, "Bad Request", `unknown data set ${JSON.stringify(datasetName)} (known: ${known}; configure more with ADVISOR_DATASETS)`, "dataset");
      if (files.length === 0) throw new HttpProblem(400, "Bad Request", "no files: upload model.json and its weight files", "model.json");

      const { addModel, ModelUploadError } = await import("../../models/register.js");
      try {
        added = await addModel({
          files,
          strictFiles: true,
          dataset: { name: datasetName, dir },
          otherDatasets: [...settings.datasets].filter(([name]) => name !== datasetName).map(([name, d]) => ({ name, dir: d })),
          architecture: fields.get("architecture"),
          store,
          modelsDir: settings.modelsDir,
          dbDir: settings.dbDir,
          limits: settings.limits,
        });
      } catch (err) {
        if (err instanceof ModelUploadError) throw new HttpProblem(err.status, titleOf(err.status), err.message, err.field);
        throw err;
      }
    } finally {
      // Before answering: once the client has its answer, nothing of the upload is left.
      await rm(staging, { recursive: true, force: true });
    }
    req.log?.info({ modelId: added.id, created: added.created, dataset: added.dataset }, added.created ? "model registered" : "model already registered");
    const body: Schemas["ModelRegistration"] = {
      id: added.id,
      created: added.created,
      architecture: added.architecture,
      dataset: added.dataset,
      inputShape: added.inputShape,
      numClasses: added.numClasses,
      parameters: added.parameters,
      cleanAccuracy: added.clean === null ? null : { value: added.clean.correct / added.clean.n, interval: estimate(added.clean.correct, added.clean.n).interval, correct: added.clean.correct, n: added.clean.n },
      modelDir: added.modelDir,
      warnings: added.warnings,
    };
    res.status(added.created ? 201 : 200).json(body);
  });

  return r;
}

function titleOf(status: number): string {
  const titles: Record<number, string> = { 400: "Bad Request", 409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 503: "Service Unavailable" };
  return titles[status] ?? "Error";
}
