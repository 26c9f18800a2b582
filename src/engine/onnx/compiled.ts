// The attacks' forward and backward passes through onnxruntime (native, multi-ISA CPU kernels)
// instead of the TF.js wasm backend, for models export.ts can write as ONNX.
//
// Why: an evaluation cell is almost all forward and input-gradient passes of one fixed model
// (bench/cell-speed.md); onnxruntime runs them several times faster per core than wasm's 128-bit
// SIMD (bench/onnx-passes.ts prints both). The attacks keep their TF.js code: `applyModel` is a
// TF.js op whose value comes from the ONNX forward graph and whose gradient (tf.customGrad) comes
// from the ONNX vjp graph, so every loss, projection and step stays as it was — only the model's
// passes move. Results equal TF.js's within float rounding (test/engine/onnx.test.ts); success is
// still decided by verify(), on the TF.js forward pass of the target (run.ts).
//
// A model is compiled for the span of one evaluation or crafting run (`compileModel` …
// `release`), not cached on first use: a model's weights may change between uses (fine-tuning),
// and an ONNX graph holds a copy of the weights it was compiled from.
import { tf, type LayersModel } from "../tf.js";
import { exportOnnx, type FusedLoss } from "./export.js";
import { loadOrt, ortThreads, ortUnavailableReason, OrtGraph } from "./runtime.js";

interface Compiled {
  apply: (x: tf.Tensor4D) => tf.Tensor2D;
  /** The attack loss, its gradient and the logits in one onnxruntime pass (export.ts' loss graphs). */
  lossGradient: (x: tf.Tensor4D, y: tf.Tensor1D, kind: FusedLoss, target?: tf.Tensor1D) => { grad: tf.Tensor4D; logits: tf.Tensor2D; loss: tf.Tensor1D };
  dispose: () => void;
  users: number;
}

const compiled = new WeakMap<LayersModel, Compiled>();

/** Which path a model's attack passes take: what a result records next to its backend. */
export interface PassEngine {
  name: "onnxruntime" | "tfjs";
  /** onnxruntime: its version and threads; tfjs: why onnxruntime was not used. */
  detail: string;
}

/**
 * Compiles `model` for onnxruntime until the returned `release()` (nested compiles of the same
 * model share one compilation). When onnxruntime is unavailable or the model cannot be exported,
 * nothing changes: `applyModel` keeps using TF.js, and the engine says why.
 */
export function compileModel(model: LayersModel): { engine: PassEngine; release: () => void } {
  const have = compiled.get(model);
  if (have) {
    have.users++;
    return { engine: onnxEngine(), release: releaser(model, have) };
  }
  const ort = loadOrt();
  if (!ort) return { engine: { name: "tfjs", detail: ortUnavailableReason() }, release: () => undefined };
  const exported = exportOnnx(model);
  if (!exported.ok) return { engine: { name: "tfjs", detail: `model not exportable to ONNX: ${exported.reason}` }, release: () => undefined };
  const { graphs } = exported;
  const sessions: OrtGraph[] = [];
  const load = (bytes: Uint8Array, outputs: string[]): OrtGraph => {
    const g = new OrtGraph(ort, bytes, outputs);
    sessions.push(g);
    return g;
  };
  let forward: OrtGraph, vjp: OrtGraph, losses: Record<FusedLoss, OrtGraph>;
  try {
    forward = load(graphs.forward, ["logits"]);
    vjp = load(graphs.vjp, ["dx"]);
    const outputs = ["logits", "loss", "dx"];
    losses = { ce: load(graphs.loss.ce, outputs), margin: load(graphs.loss.margin, outputs), "dlr-t": load(graphs.loss["dlr-t"], outputs) };
  } catch (e) {
    // A graph onnxruntime refuses (an operator or shape it does not handle): TF.js does the work.
    sessions.forEach((g) => g.dispose());
    return { engine: { name: "tfjs", detail: `onnxruntime did not load the exported graphs: ${(e as Error).message.split("\n")[0]}` }, release: () => undefined };
  }
  const K = graphs.classes;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const dims = x.shape;
    const xd = x.dataSync() as Float32Array;
    const [logits] = inSlices(dims[0], [K], (rows, at) => forward.run({ x: imageRows(xd, dims, at, rows) }));
    save([x]);
    return {
      value: tf.tensor2d(logits!, [dims[0], K]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!.dataSync() as Float32Array;
        const g = dy.dataSync() as Float32Array;
        const [dx] = inSlices(dims[0], [dims[1] * dims[2] * dims[3]], (rows, at) => vjp.run({ x: imageRows(xs, dims, at, rows), g: classRows(g, K, at, rows) }));
        return tf.tensor4d(dx!, dims);
      },
    };
  });
  const lossGradient: Compiled["lossGradient"] = (x, y, kind, target) => {
    const dims = x.shape;
    const n = dims[0];
    const xd = x.dataSync() as Float32Array;
    const y1h = oneHot(y.dataSync(), K);
    const t1h = target ? oneHot(target.dataSync(), K) : new Float32Array(n * K);
    const [logits, loss, dx] = inSlices(n, [K, 1, dims[1] * dims[2] * dims[3]], (rows, at) =>
      losses[kind].run({ x: imageRows(xd, dims, at, rows), y1h: classRows(y1h, K, at, rows), t1h: classRows(t1h, K, at, rows) }),
    );
    return { grad: tf.tensor4d(dx!, dims), logits: tf.tensor2d(logits!, [n, K]), loss: tf.tensor1d(loss!) };
  };
  const entry: Compiled = {
    apply: (x) => op(x) as tf.Tensor2D,
    lossGradient,
    dispose: () => sessions.forEach((g) => g.dispose()),
    users: 1,
  };
  compiled.set(model, entry);
  return { engine: onnxEngine(), release: releaser(model, entry) };
}

/**
 * Rows per onnxruntime call. Larger batches run slower per row (LeNet-5's forward: 24 µs/row at
 * 100 rows, 75 at 500 — the blocked layout's activations leave the cache), and the query attacks
 * pass up to 1,000 rows at once; so a batch runs in slices of this many rows.
 */
export const ORT_SLICE_ROWS = 128;

function imageRows(data: Float32Array, dims: readonly number[], at: number, rows: number): { data: Float32Array; dims: number[] } {
  const F = dims[1]! * dims[2]! * dims[3]!;
  return { data: data.subarray(at * F, (at + rows) * F), dims: [rows, dims[1]!, dims[2]!, dims[3]!] };
}

function classRows(data: Float32Array, K: number, at: number, rows: number): { data: Float32Array; dims: number[] } {
  return { data: data.subarray(at * K, (at + rows) * K), dims: [rows, K] };
}

/** One-hot rows of `labels` over K classes; a label < 0 (no target) gives a zero row. */
function oneHot(labels: ArrayLike<number>, K: number): Float32Array {
  const out = new Float32Array(labels.length * K);
  for (let i = 0; i < labels.length; i++) if (labels[i]! >= 0) out[i * K + labels[i]!] = 1;
  return out;
}

/** Runs `run` on consecutive slices of at most ORT_SLICE_ROWS rows and concatenates each output (`widths[k]` values per row). */
function inSlices(n: number, widths: readonly number[], run: (rows: number, at: number) => Float32Array[]): Float32Array[] {
  if (n <= ORT_SLICE_ROWS) return run(n, 0);
  const outs = widths.map((w) => new Float32Array(n * w));
  for (let at = 0; at < n; at += ORT_SLICE_ROWS) {
    const rows = Math.min(ORT_SLICE_ROWS, n - at);
    run(rows, at).forEach((part, k) => outs[k]!.set(part, at * widths[k]!));
  }
  return outs;
}

function onnxEngine(): PassEngine {
  return { name: "onnxruntime", detail: `onnxruntime-node ${loadOrt()?.version ?? "?"}, cpu, ${ortThreads()} thread(s)` };
}

function releaser(model: LayersModel, entry: Compiled): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--entry.users > 0) return;
    entry.dispose();
    if (compiled.get(model) === entry) compiled.delete(model);
  };
}

/** The compilation of `model` when it can take the batch `x` (rows, float32), else undefined. */
function compiledFor(model: LayersModel, x: tf.Tensor4D): Compiled | undefined {
  const c = compiled.get(model);
  return c && x.shape[0] > 0 && x.dtype === "float32" ? c : undefined;
}

/**
 * The logits of `model` at `x` in inference mode: through onnxruntime while the model is compiled
 * (differentiable like any TF.js op), else `model.apply`.
 */
export function applyModel(model: LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  const c = compiledFor(model, x);
  return c ? c.apply(x) : (model.apply(x, { training: false }) as tf.Tensor2D);
}

/**
 * gradients.ts' lossGradient through one onnxruntime pass while `model` is compiled (the loss and
 * its gradient at the logits inside the graph: no separate forward pass, no TF.js tape), else
 * undefined. The same per-sample loss, logits and input gradient within float rounding.
 */
export function compiledLossGradient(
  model: LayersModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  kind: FusedLoss,
  target?: tf.Tensor1D,
): { grad: tf.Tensor4D; logits: tf.Tensor2D; loss: tf.Tensor1D } | undefined {
  return compiledFor(model, x)?.lossGradient(x, y, kind, target);
}
