// The forward pass of a stride-1 NHWC convolution with bias and ReLU/linear activation, for
// inputs with few channels: XNNPACK runs LeNet-5's conv1 (one input channel, 6 outputs) at a
// third of its speed on conv2 (2.5 ms at batch 128). Here, as in wasm-filter-grad.ts, the
// output channels sit in SIMD lanes and the kernel row's (j, c) pairs are one contiguous run of
// the input: P consecutive output pixels × V channel vectors are accumulated in registers, each
// step one scalar of the input per pixel (a splat) times the V weight vectors of that (i, j, c),
// starting from the bias; then the activation and the store. A forward pass with padding reads
// a zero-padded copy of x. Sums are taken in another order than XNNPACK's: rounding differs.
import { tf } from "./tf.js";
import { func, isWasmMemory, leb, name, section, sleb, wasmApi } from "./wasm-simd.js";

export const CONV_FORWARD = "AdvisorConvForward";

const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number): number[] => [0x20, ...leb(i)];
const set = (i: number): number[] => [0x21, ...leb(i)];
const tee = (i: number): number[] => [0x22, ...leb(i)];
const i32 = (n: number): number[] => [0x41, ...sleb(n)];
const ADD = [0x6a];
const SUB = [0x6b];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const BR_IF = (d: number): number[] => [0x0d, d];
const load = (offset: number): number[] => [0xfd, 0x00, 0, ...leb(offset)];
const splat32 = (offset: number): number[] => [0xfd, 0x09, 0, ...leb(offset)];
const store = (offset: number): number[] => [0xfd, 0x0b, 0, ...leb(offset)];
const store32Lane = (offset: number, lane: number): number[] => [0xfd, 0x5a, 0, ...leb(offset), lane];
const store64Lane = (offset: number, lane: number): number[] => [0xfd, 0x5b, 0, ...leb(offset), lane];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
const F32X4_MAX = [0xfd, 0xe9, 0x01];
const V128_ZERO = [0xfd, 0x0c, ...Array<number>(16).fill(0)];

/** Pixels per block for V channel vectors (P·V + V + 1 vectors in registers; see MAX_S there). */
const MAX_P = [0, 8, 4, 2, 2] as const;

/** What one generated function is specialised on (immediates). */
interface BlockShape {
  P: number;
  V: number;
  /** Input pixel stride (ci·4) and output pixel stride (co·4), bytes. */
  xPix: number;
  yPix: number;
  /** Weight row stride (coPad·4), bytes. */
  wRow: number;
  /** Channels in the last vector actually stored (1..4): lanes past them are not written. */
  lastLanes: number;
  relu: boolean;
}

/**
 * fn(x, w, bias, y, n, oh, blocks, kh, run, xImg, xRow, yImg, yRow): for each image, output row
 * and block of P pixels, y[p][v] = act(bias[v] + Σ_{i < kh, k < run} x[p·xPix + i·xRow + 4k] ·
 * w[(i·run + k)·wRow + 16v]); blocks advance x by P·xPix and y by P·yPix.
 */
type ForwardFn = (
  x: number, w: number, bias: number, y: number, n: number, oh: number, blocks: number, kh: number, run: number,
  xImg: number, xRow: number, yImg: number, yRow: number,
) => void;

function forwardBody(s: BlockShape): { locals: Array<[number, number]>; body: number[] } {
  const { P, V } = s;
  const [x, w, bias, y, n, oh, blocks, kh, run, xImg, xRow, yImg, yRow] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const [b, h, blk, i, k, xb, yb, xp, yp, xi, xk, wk] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
  const acc = (p: number, v: number): number => 25 + p * V + v;
  const wv = (v: number): number => 25 + P * V + v;
  const sp = 25 + P * V + V;
  const each = (f: (p: number, v: number) => number[]): number[] =>
    Array.from({ length: P }, (_, p) => Array.from({ length: V }, (_, v) => f(p, v)).flat()).flat();
  const storeOne = (p: number, v: number): number[] => {
    const off = p * s.yPix + 16 * v;
    const value = [...get(acc(p, v)), ...(s.relu ? [...V128_ZERO, ...F32X4_MAX] : [])];
    if (v < V - 1 || s.lastLanes === 4) return [...get(yp), ...value, ...store(off)];
    if (s.lastLanes === 2) return [...get(yp), ...value, ...store64Lane(off, 0)];
    if (s.lastLanes === 1) return [...get(yp), ...value, ...store32Lane(off, 0)];
    return [...get(yp), ...value, ...store64Lane(off, 0), ...get(yp), ...value, ...store32Lane(off + 8, 2)];
  };
  const body = [
    ...get(x), ...set(xb), ...get(y), ...set(yb),
    ...LOOP, // images
    ...i32(0), ...set(h),
    ...LOOP, // output rows
    ...get(xb), ...get(h), ...get(xRow), ...[0x6c], ...ADD, ...set(xp), // i32.mul
    ...get(yb), ...get(h), ...get(yRow), ...[0x6c], ...ADD, ...set(yp),
    ...get(blocks), ...set(blk),
    ...LOOP, // blocks of P pixels
    ...each((p, v) => [...get(bias), ...load(16 * v), ...set(acc(p, v))]),
    ...get(xp), ...set(xi), ...get(w), ...set(wk), ...get(kh), ...set(i),
    ...LOOP, // kernel rows
    ...get(xi), ...set(xk), ...get(run), ...set(k),
    ...LOOP, // the (j, c) run
    ...Array.from({ length: V }, (_, v) => [...get(wk), ...load(16 * v), ...set(wv(v))]).flat(),
    ...Array.from({ length: P }, (_, p) => [
      ...get(xk), ...splat32(p * s.xPix), ...set(sp),
      ...Array.from({ length: V }, (_, v) => [...get(acc(p, v)), ...get(sp), ...get(wv(v)), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(p, v))]).flat(),
    ]).flat(),
    ...get(xk), ...i32(4), ...ADD, ...set(xk),
    ...get(wk), ...i32(s.wRow), ...ADD, ...set(wk),
    ...get(k), ...i32(1), ...SUB, ...tee(k), ...BR_IF(0),
    ...END,
    ...get(xi), ...get(xRow), ...ADD, ...set(xi),
    ...get(i), ...i32(1), ...SUB, ...tee(i), ...BR_IF(0),
    ...END,
    ...each(storeOne),
    ...get(xp), ...i32(P * s.xPix), ...ADD, ...set(xp),
    ...get(yp), ...i32(P * s.yPix), ...ADD, ...set(yp),
    ...get(blk), ...i32(1), ...SUB, ...tee(blk), ...BR_IF(0),
    ...END,
    ...get(h), ...i32(1), ...ADD, ...tee(h), ...get(oh), ...[0x49], ...BR_IF(0), // i32.lt_u
    ...END,
    ...get(xb), ...get(xImg), ...ADD, ...set(xb),
    ...get(yb), ...get(yImg), ...ADD, ...set(yb),
    ...get(b), ...i32(1), ...ADD, ...tee(b), ...get(n), ...[0x49], ...BR_IF(0),
    ...END,
  ];
  return { locals: [[12, I32], [P * V + V + 1, V128]], body };
}

export function forwardModuleBytes(s: BlockShape): Uint8Array {
  const { locals, body } = forwardBody(s);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 13, ...Array<number>(13).fill(I32), 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("forward"), 0x00, 0]),
    ...section(10, [1, ...func(locals, body)]),
  ]);
}

const modules = new WeakMap<object, Map<string, ForwardFn | null>>();

function forwardFn(memory: object, s: BlockShape): ForwardFn | null {
  let byKey = modules.get(memory);
  if (byKey === undefined) modules.set(memory, (byKey = new Map()));
  const key = JSON.stringify(s);
  let f = byKey.get(key);
  if (f === undefined) {
    const bytes = forwardModuleBytes(s);
    f = wasmApi.validate(bytes)
      ? (new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } }).exports as { forward: ForwardFn }).forward
      : null;
    byKey.set(key, f);
  }
  return f;
}

interface HeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  wasm?: { asm?: { memory?: unknown } };
}

function heapMemory(backend: HeapBackend): object | null {
  const memory = backend.wasm?.asm?.memory;
  return isWasmMemory(memory) ? memory : null;
}

function floats(backend: HeapBackend, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`${CONV_FORWARD}: float32 tensors only, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** CONV_FORWARD's attributes: the geometry (stride 1) and the activation. */
export interface ConvForwardAttrs {
  n: number;
  inH: number;
  inW: number;
  ci: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  co: number;
  top: number;
  left: number;
  relu: boolean;
}

/** Whether CONV_FORWARD can run on the active backend (wasm with SIMD). */
export function convForwardAvailable(): boolean {
  if (tf.getBackend() !== "wasm" || tf.getKernel(CONV_FORWARD, "wasm") === undefined) return false;
  const memory = heapMemory(tf.backend() as HeapBackend);
  return memory !== null && forwardFn(memory, { P: 1, V: 1, xPix: 4, yPix: 4, wRow: 16, lastLanes: 1, relu: false }) !== null;
}

/**
 * x padded (zeros) so that a valid convolution of it has oh × ow outputs: the tensor itself when
 * no padding is needed, else a new one the caller disposes.
 */
export function paddedInput(
  backend: HeapBackend, x: tf.TensorInfo, a: { n: number; inH: number; inW: number; ci: number; oh: number; ow: number; kh: number; kw: number; top: number; left: number },
): { t: tf.TensorInfo; h: number; w: number; temp: boolean } {
  const ph = a.oh + a.kh - 1;
  const pw = a.ow + a.kw - 1;
  if (!(a.top > 0 || a.left > 0 || ph > a.inH || pw > a.inW)) return { t: x, h: a.inH, w: a.inW, temp: false };
  const t = backend.makeOutput([a.n, ph, pw, a.ci], "float32");
  const xs = floats(backend, t);
  const xv = floats(backend, x);
  xs.fill(0);
  const rowFloats = a.inW * a.ci;
  const cols = Math.min(a.inW, pw - a.left);
  for (let b = 0; b < a.n; b++) {
    for (let r = 0; r < a.inH && r + a.top < ph; r++) {
      const src = (b * a.inH + r) * rowFloats;
      xs.set(xv.subarray(src, src + cols * a.ci), ((b * ph + r + a.top) * pw + a.left) * a.ci);
    }
  }
  return { t, h: ph, w: pw, temp: true };
}

function convForward(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const { x, filter, bias } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias: tf.TensorInfo };
  const a = args.attrs as unknown as ConvForwardAttrs;
  const memory = heapMemory(backend);
  if (memory === null) throw new Error(`${CONV_FORWARD} needs the wasm backend's memory`);
  if (x.shape.join() !== [a.n, a.inH, a.inW, a.ci].join() || filter.shape.join() !== [a.kh, a.kw, a.ci, a.co].join() || bias.shape.join() !== String(a.co)) {
    throw new Error(`${CONV_FORWARD}: x ${x.shape.join("x")}, filter ${filter.shape.join("x")}, bias ${bias.shape.join("x")}`);
  }
  const vecs = Math.ceil(a.co / 4);
  const coPad = vecs * 4;
  const out = backend.makeOutput([a.n, a.oh, a.ow, a.co], "float32");
  if (a.n === 0 || a.oh === 0 || a.ow === 0) return out;
  const xp = paddedInput(backend, x, a);
  // Weights and bias with the output channels padded to coPad (zeros): [kh·kw·ci, coPad], [coPad].
  const wPad = backend.makeOutput([a.kh * a.kw * a.ci * coPad + coPad], "float32");
  const wv = floats(backend, wPad);
  const fv = floats(backend, filter);
  const bv = floats(backend, bias);
  wv.fill(0);
  const rows = a.kh * a.kw * a.ci;
  for (let r = 0; r < rows; r++) wv.set(fv.subarray(r * a.co, (r + 1) * a.co), r * coPad);
  wv.set(bv, rows * coPad);
  const xs = floats(backend, xp.t);
  const ys = floats(backend, out);
  const xPix = a.ci * 4;
  const xRow = xp.w * xPix;
  const xImg = xp.h * xRow;
  const yPix = a.co * 4;
  const yRow = a.ow * yPix;
  const yImg = a.oh * yRow;
  const run = a.kw * a.ci;
  for (let cb = 0; cb * 4 < vecs; cb++) {
    const V = Math.min(4, vecs - cb * 4);
    const lastLanes = cb * 4 + V === vecs ? a.co - (vecs - 1) * 4 : 4;
    const P = MAX_P[V]!;
    const full = Math.floor(a.ow / P);
    const rest = a.ow - full * P;
    const call = (p: number, col: number, blocks: number): void => {
      const f = forwardFn(memory, { P: p, V, xPix, yPix, wRow: coPad * 4, lastLanes, relu: a.relu });
      if (f === null) throw new Error(`${CONV_FORWARD} needs WebAssembly SIMD`);
      f(
        xs.byteOffset + col * xPix, wv.byteOffset + cb * 64, wv.byteOffset + (rows * coPad + cb * 16) * 4, ys.byteOffset + col * yPix + cb * 64,
        a.n, a.oh, blocks, a.kh, run, xImg, xRow, yImg, yRow,
      );
    };
    if (full > 0) call(P, 0, full);
    if (rest > 0) call(rest, full * P, 1);
  }
  backend.disposeData(wPad.dataId);
  if (xp.temp) backend.disposeData(xp.t.dataId);
  return out;
}

/** Registers CONV_FORWARD for the wasm backend. Idempotent. */
export function registerConvForward(): void {
  if (tf.getKernel(CONV_FORWARD, "wasm") !== undefined) return;
  tf.registerKernel({ kernelName: CONV_FORWARD, backendName: "wasm", kernelFunc: convForward as unknown as tf.KernelFunc });
}
