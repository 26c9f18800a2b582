// Backend selection at start-up (DESIGN.md, "Compute engine"): native TensorFlow through
// `@tensorflow/tfjs-node` when it is installed (an optional dependency), else the bundled
// WebAssembly backend with our convolution gradients, else tfjs's pure-JS `cpu` backend.
// `ADVISOR_BACKEND=tensorflow|wasm|cpu` forces one; forcing one that cannot start is an error.
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
  tfjsVersion: string;
  /** The forced backend (ADVISOR_BACKEND or the argument), if any. */
  requested?: string;
  /** Why earlier choices were skipped, human-readable, in order. */
  fallbacks: string[];
}

/** A forced backend that is unknown or cannot start: a configuration error (CLI exit code 2). */
export class BackendError extends ConfigError {
  override name = "BackendError";
}

const TFJS_NODE = "@tensorflow/tfjs-node";
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

/** Tries to start one backend; returns undefined on success, else the reason it is unavailable. */
async function tryBackend(name: BackendName): Promise<string | undefined> {
  switch (name) {
    case "tensorflow": {
      try {
        // A variable specifier: the package is optional, and tsc must not require its types.
        const specifier: string = TFJS_NODE;
        await import(specifier);
      } catch (err) {
        return isMissingModule(err, TFJS_NODE)
          ? `${TFJS_NODE} is not installed`
          : `${TFJS_NODE} failed to load: ${firstLine(err)}`;
      }
      return (await activate("tensorflow")) ? undefined : `${TFJS_NODE} is installed but its backend did not start`;
    }
    case "wasm": {
      try {
        await import(TFJS_WASM);
      } catch (err) {
        return `${TFJS_WASM} failed to load: ${firstLine(err)}`;
      }
      if (!(await activate("wasm"))) return `the wasm backend did not start`;
      registerWasmGradients();
      return undefined;
    }
    case "cpu":
      return (await activate("cpu")) ? undefined : "the cpu backend did not start";
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
    const reason = await tryBackend(forced);
    if (reason !== undefined) throw new BackendError(`ADVISOR_BACKEND=${forced} but ${reason}`);
    silenceCpuBanner();
    return { name: forced, tfjsVersion: tfjsVersion(), requested: forced, fallbacks: [] };
  }
  const fallbacks: string[] = [];
  for (const name of BACKEND_NAMES) {
    const reason = await tryBackend(name);
    if (reason === undefined) {
      silenceCpuBanner();
      return { name, tfjsVersion: tfjsVersion(), fallbacks };
    }
    fallbacks.push(`${name}: ${reason}`);
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
