// onnxruntime-node (an optional dependency: its CPU binaries ship in the npm package, nothing is
// downloaded) as a synchronous session: TF.js computes gradients synchronously (tf.grad calls a
// custom op's gradient inline), so compiled.ts cannot await. The package's public `run` only wraps
// the native binding's synchronous `run` in a setImmediate promise; this module calls the binding
// directly (dist/binding.js of the pinned version 1.30.0 — package.json pins it exactly for that).
//
// One intra-op thread per session: the matrix builder runs one worker process per core, so a
// worker that spread its passes over every core would only compete with the other workers.
// ADVISOR_ORT_THREADS overrides it (e.g. one evaluation alone on a machine); ADVISOR_ONNX=off
// turns the whole path off (compiled.ts then leaves every model to TF.js).
import { createRequire } from "node:module";

interface NativeTensor {
  type: string;
  dims: readonly number[];
  data: Float32Array;
}
interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}
interface OrtModule {
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => unknown;
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
  version: string;
}

let loaded: OrtModule | null | undefined;
let loadError = "";

/** onnxruntime-node, or null (with `ortUnavailableReason()`) when it is missing or turned off. */
export function loadOrt(): OrtModule | null {
  if (loaded !== undefined) return loaded;
  if ((process.env.ADVISOR_ONNX ?? "").toLowerCase() === "off") {
    loadError = "ADVISOR_ONNX=off";
    return (loaded = null);
  }
  try {
    const require = createRequire(import.meta.url);
    const common = require("onnxruntime-node") as { Tensor: OrtModule["Tensor"]; env: { versions: { node?: string } } };
    const native = require("onnxruntime-node/dist/binding.js") as Pick<OrtModule, "binding" | "initOrt">;
    loaded = { Tensor: common.Tensor, binding: native.binding, initOrt: native.initOrt, version: common.env.versions.node ?? "unknown" };
  } catch (e) {
    loadError = `onnxruntime-node is not installed or cannot load (${(e as Error).message.split("\n")[0]})`;
    loaded = null;
  }
  return loaded;
}

export function ortUnavailableReason(): string {
  return loadError;
}

export function ortThreads(): number {
  const v = Number(process.env.ADVISOR_ORT_THREADS ?? 1);
  return Number.isInteger(v) && v >= 1 ? v : 1;
}

/** One ONNX graph loaded in onnxruntime, run synchronously on float32 inputs. */
export class OrtGraph {
  private readonly session: NativeSession;
  private disposed = false;

  constructor(
    private readonly ort: OrtModule,
    bytes: Uint8Array,
    private readonly outputs: readonly string[],
  ) {
    ort.initOrt();
    this.session = new ort.binding.InferenceSession();
    this.session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: ortThreads(),
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Errors only: the forward graph carries the vjp graph's initializers, which onnxruntime drops with a warning.
      logSeverityLevel: 3,
    });
  }

  /** The graph's outputs, in the order given to the constructor. */
  run(inputs: Record<string, { data: Float32Array; dims: readonly number[] }>): Float32Array[] {
    if (this.disposed) throw new Error("onnxruntime session used after dispose");
    const feeds: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(inputs)) feeds[name] = new this.ort.Tensor("float32", v.data, v.dims);
    const out = this.session.run(feeds, Object.fromEntries(this.outputs.map((o) => [o, null])), {});
    return this.outputs.map((o) => out[o]!.data);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
  }
}
