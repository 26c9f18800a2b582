// Backend selection at start-up (DESIGN.md, "Compute engine"): native TensorFlow through
// `@tensorflow/tfjs-node` when it is installed (an optional dependency), else the bundled
// WebAssembly backend with our convolution gradients, else tfjs's pure-JS `cpu` backend.
// `ADVISOR_BACKEND=tensorflow|wasm|cpu` forces one; forcing one that cannot start is an error.
// "tensorflow" is `@tensorflow/tfjs-node-gpu` (CUDA) when that is installed, else
// `@tensorflow/tfjs-node`; results record which (`label`: "tensorflow-gpu" or "tensorflow"), since
// GPU kernels need not give the same bits as the CPU ones.
//
// The wasm backend finds its .wasm binaries by itself in Node: its CommonJS build (the one Node
// resolves) looks next to its own file in node_modules, so running from src/ (tsx) and from
// dist/ behave the same and no `setWasmPaths` is needed. Only a bundler that inlines the package
// would need one.
import { ConfigError } from "../config.js";
import { tf } from "./tf.js";
import { registerWasmGradients } from "./wasm-gradients.js";

export const BACKEND_NAMES = ["tensorflow", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  name: BackendName;
  /** What results record as their backend: the name, or "tensorflow-gpu" for tfjs-node-gpu. */
  label: string;
  tfjsVersion: string;
  /** The forced backend (ADVISOR_BACKEND or the argument), if any. */
  requested?: string;
  /** Why earlier choices were skipped, human-readable, in order. */
  fallbacks: string[];
  /** An evaluation's attack passes, when they did not run on this backend (onnx/compiled.ts). */
  passes?: string;
}

/** A forced backend that is unknown or cannot start: a configuration error (CLI exit code 2). */
export class BackendError extends ConfigError {
  override name = "BackendError";
}

const TFJS_NODE = "@tensorflow/tfjs-node";
const TFJS_NODE_GPU = "@tensorflow/tfjs-node-gpu";
/** Packages that register the "tensorflow" backend, fastest first, with the label results get. */
const TENSORFLOW_PACKAGES = [
  { pkg: TFJS_NODE_GPU, label: "tensorflow-gpu" },
  { pkg: TFJS_NODE, label: "tensorflow" },
] as const;
const TFJS_WASM = "@tensorflow/tfjs-backend-wasm";

let current: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;
let pendingKey: string | undefined;

function tfjsVersion(): string {
  const v = tf.version as Record<string, string | undefined>;
  return v["tfjs"] ?? v["tfjs-core"] ?? "unknown";
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

function isMissingModule(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // The package itself, not a file inside it (e.g. a missing native binding of tfjs-node).
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && firstLine(err).includes(`'${name}'`);
}

type Attempt = { label: string } | { reason: string };

/** The first tfjs-node package that loads and starts; else why none did. */
async function tryTensorflow(): Promise<Attempt> {
  const missing: string[] = [];
  const failures: string[] = [];
  for (const { pkg, label } of TENSORFLOW_PACKAGES) {
    try {
      // A variable specifier: the packages are optional, and tsc must not require their types.
      const specifier: string = pkg;
      await import(specifier);
    } catch (err) {
      if (isMissingModule(err, pkg)) missing.push(pkg);
      else failures.push(`${pkg} failed to load: ${firstLine(err)}`);
      continue;
    }
    if (await activate("tensorflow")) return { label };
    failures.push(`${pkg} is installed but its backend did not start`);
  }
  if (failures.length > 0) return { reason: failures.join("; ") };
  return { reason: `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not installed` };
}

/** Tries to start one backend: its label on success, else the reason it is unavailable. */
async function tryBackend(name: BackendName): Promise<Attempt> {
  switch (name) {
    case "tensorflow":
      return tryTensorflow();
    case "wasm": {
      try {
        await import(TFJS_WASM);
      } catch (err) {
        return { reason: `${TFJS_WASM} failed to load: ${firstLine(err)}` };
      }
      if (!(await activate("wasm"))) return { reason: `the wasm backend did not start` };
      registerWasmGradients();
      return { label: name };
    }
    case "cpu":
      return (await activate("cpu")) ? { label: name } : { reason: "the cpu backend did not start" };
  }
}

/** Activates a registered backend; false when its initialisation fails (tfjs logs why). */
async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * The cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js" banner,
 * through tfjs's warn(), the first time it stores a tensor. We trigger that first store with
 * tfjs's PROD flag set (it only gates warnings in tfjs 4.x) and restore the flag, so the
 * banner is consumed without output and without changing IS_NODE or anything else.
 */
export function silenceCpuBanner(): void {
  const backend = tf.findBackend("cpu");
  if (backend === null) return;
  const env = tf.env();
  const prod = env.getBool("PROD");
  env.set("PROD", true);
  try {
    const id = backend.write(new Float32Array(1), [1], "float32");
    backend.disposeData(id);
  } finally {
    env.set("PROD", prod);
  }
}

export function parseBackendName(value: string): BackendName {
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new BackendError(`ADVISOR_BACKEND="${value}" is not a backend (use one of: ${BACKEND_NAMES.join(", ")})`);
}

async function select(requested: string | undefined): Promise<BackendInfo> {
  const forced = requested === undefined || requested.trim() === "" ? undefined : parseBackendName(requested);
  if (forced !== undefined) {
    const attempt = await tryBackend(forced);
    if ("reason" in attempt) throw new BackendError(`ADVISOR_BACKEND=${forced} but ${attempt.reason}`);
    silenceCpuBanner();
    return { name: forced, label: attempt.label, tfjsVersion: tfjsVersion(), requested: forced, fallbacks: [] };
  }
  const fallbacks: string[] = [];
  for (const name of BACKEND_NAMES) {
    const attempt = await tryBackend(name);
    if ("label" in attempt) {
      silenceCpuBanner();
      return { name, label: attempt.label, tfjsVersion: tfjsVersion(), fallbacks };
    }
    fallbacks.push(`${name}: ${attempt.reason}`);
  }
  throw new BackendError(`no TensorFlow.js backend could start (${fallbacks.join("; ")})`);
}

/**
 * Selects and starts the backend once per process. Calling it again returns the same info,
 * unless a different backend is requested, in which case that one is started instead.
 */
export async function initBackend(requested: string | undefined = process.env.ADVISOR_BACKEND): Promise<BackendInfo> {
  const key = requested === undefined || requested.trim() === "" ? "" : requested.trim().toLowerCase();
  if (current !== undefined && (key === "" || key === current.requested || (current.requested === undefined && key === current.name))) {
    if (tf.getBackend() !== current.name) await activate(current.name);
    return current;
  }
  if (pending !== undefined && pendingKey === key) return pending;
  pendingKey = key;
  pending = select(requested).then(
    (info) => {
      current = info;
      pending = undefined;
      return info;
    },
    (err: unknown) => {
      pending = undefined;
      throw err;
    },
  );
  return pending;
}

/** The backend chosen by `initBackend`; throws before it has run. */
export function backendInfo(): BackendInfo {
  if (current === undefined) throw new Error("the TensorFlow.js backend is not initialised (call initBackend() first)");
  return current;
}
