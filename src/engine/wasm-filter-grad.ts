// The filter gradient of a stride-1 NHWC convolution as outer products, straight from x and dy:
//   dW[i, j, c, :] = Σ_{b, h, w} x[b, h + i − top, w + j − left, c] · dy[b, h, w, :]
// with the output channels in SIMD lanes. The forward-convolution route transposes x and dy and
// hands XNNPACK a convolution with the batch as channels (LeNet-5 conv2: 2.7 ms plus 0.4 ms of
// transposes at batch 128); the im2col route writes 25 columns of 100k floats for conv1. Here
// nothing is transposed or gathered: for a kernel row i, the (j, c) pairs are one contiguous run
// k = j·cin + c of the input pixel (x[.., w + j, c] sits k floats after x[.., w, 0]), so a block of
// S consecutive k's is S scalar loads at constant offsets, each multiplied into the V vectors of
// dy's channels at that pixel: S·V accumulators in registers, swept over every pixel of an image,
// then added to the output — so each weight's gradient is summed per image (oh·ow terms in
// float32), then over images. Sums differ from the other routes by rounding only.
//
// Output channels come in blocks of up to 16 (4 vectors); a block of cout % 4 ≠ 0 channels reads
// a few floats past each pixel's channels into lanes whose sums are dropped (the output is
// written with cout rounded up to a multiple of 4, then compacted). A forward pass with padding
// gets a zero-padded copy of x first, so every tap is inside the input.
//
// One small module per (S, V, output stride) is assembled on first use (a handful per network),
// on the backend's own memory, like wasm-simd.ts's loops.
import { tf } from "./tf.js";
import { func, isWasmMemory, leb, name, section, sleb, wasmApi } from "./wasm-simd.js";

export const CONV_FILTER_GRAD = "AdvisorConvFilterGrad";

/** The convolution's geometry (stride 1, dilation 1): input, output, kernel, forward padding. */
export interface FilterGradAttrs {
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
}

/**
 * fn(x, dy, out, n, rows, cols, xImg, dyImg, xRow, dyRow, xPix, dyPix), pointers and strides in
 * bytes: for each of n images, acc[s][v] = Σ over rows × cols pixels of x[p + 4s] · dy[p' + 16v]
 * (x a scalar, dy a vector), then out[s·outStride + 16v] += acc[s][v].
 */
type BlockFn = (
  x: number, dy: number, out: number, n: number, rows: number, cols: number, xImg: number, dyImg: number,
  xRow: number, dyRow: number, xPix: number, dyPix: number,
) => void;

const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number): number[] => [0x20, ...leb(i)];
const set = (i: number): number[] => [0x21, ...leb(i)];
const tee = (i: number): number[] => [0x22, ...leb(i)];
const i32 = (n: number): number[] => [0x41, ...sleb(n)];
const ADD = [0x6a];
const SUB = [0x6b];
const LT_U = [0x49];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const BR_IF = (d: number): number[] => [0x0d, d];
const load = (offset: number): number[] => [0xfd, 0x00, 0, ...leb(offset)];
const splat32 = (offset: number): number[] => [0xfd, 0x09, 0, ...leb(offset)]; // v128.load32_splat
const store = (offset: number): number[] => [0xfd, 0x0b, 0, ...leb(offset)];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
const V128_ZERO = [0xfd, 0x0c, ...Array<number>(16).fill(0)];

/**
 * The largest S for V dy vectors: S·V accumulators, V dy vectors and a splat must stay in x64's
 * 16 SIMD registers with room for V8's temporaries. Measured (CPU ms at batch 128, load ~10):
 * conv1 (V = 2) S = 5 2.0, 4 1.2, 3 1.1; conv2 (V = 4) S = 3 2.6, S = 2 1.6-1.7, and V = 2 with
 * S = 4 1.8.
 */
const MAX_V = 4;
const MAX_S = [0, 8, 3, 3, 2] as const;

function blockBody(S: number, V: number, outStride: number): { locals: Array<[number, number]>; body: number[] } {
  const [x, dy, out, n, rows, cols, xImg, dyImg, xRow, dyRow, xPix, dyPix] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [b, r, c, xp, dp, xr, dr, o] = [12, 13, 14, 15, 16, 17, 18, 19];
  const acc = (s: number, v: number): number => 20 + s * V + v;
  const dyv = (v: number): number => 20 + S * V + v;
  const sp = 20 + S * V + V;
  const all = (f: (s: number, v: number) => number[]): number[] =>
    Array.from({ length: S }, (_, s) => Array.from({ length: V }, (_, v) => f(s, v)).flat()).flat();
  const body = [
    ...LOOP, // images
    ...all((s, v) => [...V128_ZERO, ...set(acc(s, v))]),
    ...get(x), ...set(xr), ...get(dy), ...set(dr), ...get(rows), ...set(r),
    ...LOOP, // rows
    ...get(xr), ...set(xp), ...get(dr), ...set(dp), ...get(cols), ...set(c),
    ...LOOP, // pixels of a row
    ...Array.from({ length: V }, (_, v) => [...get(dp), ...load(16 * v), ...set(dyv(v))]).flat(),
    ...Array.from({ length: S }, (_, s) => [
      ...get(xp), ...splat32(4 * s), ...set(sp),
      ...Array.from({ length: V }, (_, v) => [...get(acc(s, v)), ...get(sp), ...get(dyv(v)), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(s, v))]).flat(),
    ]).flat(),
    ...get(xp), ...get(xPix), ...ADD, ...set(xp),
    ...get(dp), ...get(dyPix), ...ADD, ...set(dp),
    ...get(c), ...i32(1), ...SUB, ...tee(c), ...BR_IF(0),
    ...END,
    ...get(xr), ...get(xRow), ...ADD, ...set(xr),
    ...get(dr), ...get(dyRow), ...ADD, ...set(dr),
    ...get(r), ...i32(1), ...SUB, ...tee(r), ...BR_IF(0),
    ...END,
    ...get(out), ...set(o),
    ...Array.from({ length: S }, (_, s) => [
      ...Array.from({ length: V }, (_, v) => [...get(o), ...get(o), ...load(16 * v), ...get(acc(s, v)), ...F32X4_ADD, ...store(16 * v)]).flat(),
      ...get(o), ...i32(outStride), ...ADD, ...set(o),
    ]).flat(),
    ...get(x), ...get(xImg), ...ADD, ...set(x),
    ...get(dy), ...get(dyImg), ...ADD, ...set(dy),
    ...get(b), ...i32(1), ...ADD, ...tee(b), ...get(n), ...LT_U, ...BR_IF(0),
    ...END,
  ];
  return { locals: [[8, I32], [S * V + V + 1, V128]], body };
}

/** The module of one (S, V, outStride) block function, importing env.memory. */
export function blockModuleBytes(S: number, V: number, outStride: number): Uint8Array {
  const { locals, body } = blockBody(S, V, outStride);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 12, ...Array<number>(12).fill(I32), 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("block"), 0x00, 0]),
    ...section(10, [1, ...func(locals, body)]),
  ]);
}

const modules = new WeakMap<object, Map<string, BlockFn | null>>();

/** The block function bound to `memory`, or null without WebAssembly SIMD. */
function blockFn(memory: object, S: number, V: number, outStride: number): BlockFn | null {
  let byKey = modules.get(memory);
  if (byKey === undefined) modules.set(memory, (byKey = new Map()));
  const key = `${S},${V},${outStride}`;
  let f = byKey.get(key);
  if (f === undefined) {
    const bytes = blockModuleBytes(S, V, outStride);
    f = wasmApi.validate(bytes)
      ? ((new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } }).exports as { block: BlockFn }).block)
      : null;
    byKey.set(key, f);
  }
  return f;
}

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface HeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  wasm?: { asm?: { memory?: unknown } };
}

function heapMemory(backend: HeapBackend): object | null {
  const memory = backend.wasm?.asm?.memory;
  return isWasmMemory(memory) ? memory : null;
}

/** Whether CONV_FILTER_GRAD can run on the active backend (wasm with SIMD). */
export function filterGradAvailable(): boolean {
  if (tf.getBackend() !== "wasm" || tf.getKernel(CONV_FILTER_GRAD, "wasm") === undefined) return false;
  const memory = heapMemory(tf.backend() as HeapBackend);
  return memory !== null && blockFn(memory, 1, 1, 16) !== null;
}

function floats(backend: HeapBackend, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`${CONV_FILTER_GRAD}: float32 tensors only, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function convFilterGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as FilterGradAttrs;
  const memory = heapMemory(backend);
  if (memory === null) throw new Error(`${CONV_FILTER_GRAD} needs the wasm backend's memory`);
  if (x.shape.join() !== [a.n, a.inH, a.inW, a.ci].join() || dy.shape.join() !== [a.n, a.oh, a.ow, a.co].join()) {
    throw new Error(`${CONV_FILTER_GRAD}: x ${x.shape.join("x")}, dy ${dy.shape.join("x")}`);
  }
  const vecs = Math.ceil(a.co / 4);
  const coPad = vecs * 4;
  // The input rows/columns the taps read: with padding, a zero-padded copy of x.
  const ph = a.oh + a.kh - 1;
  const pw = a.ow + a.kw - 1;
  const padded = a.top > 0 || a.left > 0 || ph > a.inH || pw > a.inW;
  const temps: tf.TensorInfo[] = [];
  const xPad = padded ? backend.makeOutput([a.n, ph, pw, a.ci], "float32") : x;
  if (padded) temps.push(xPad);
  // Garbage lanes read up to 12 bytes past dy's last pixel: copy dy when that is past the heap.
  const dyByteEnd = (): number => {
    const v = floats(backend, dy);
    return v.byteOffset + v.byteLength;
  };
  const dyCopy = coPad !== a.co && dyByteEnd() + 16 > (memory as { buffer: ArrayBuffer }).buffer.byteLength
    ? backend.makeOutput([a.n * a.oh * a.ow * a.co + 4], "float32") : undefined;
  if (dyCopy !== undefined) temps.push(dyCopy);
  const scratch = coPad !== a.co ? backend.makeOutput([a.kh * a.kw * a.ci * coPad], "float32") : undefined;
  if (scratch !== undefined) temps.push(scratch);
  const out = backend.makeOutput([a.kh, a.kw, a.ci, a.co], "float32");
  // Views after every allocation: an allocation may grow (and so detach) the heap.
  const xv = floats(backend, x);
  const dyv = floats(backend, dy);
  const outv = floats(backend, out);
  const acc = scratch !== undefined ? floats(backend, scratch) : outv;
  acc.fill(0);
  let xs = xv;
  let xW = a.inW;
  let xH = a.inH;
  if (padded) {
    xs = floats(backend, xPad);
    xs.fill(0);
    const rowFloats = a.inW * a.ci;
    for (let b = 0; b < a.n; b++) {
      for (let r = 0; r < a.inH; r++) {
        const pr = r + a.top;
        if (pr >= ph) break;
        const src = (b * a.inH + r) * rowFloats;
        const cols = Math.min(a.inW, pw - a.left);
        xs.set(xv.subarray(src, src + cols * a.ci), ((b * ph + pr) * pw + a.left) * a.ci);
      }
    }
    xW = pw;
    xH = ph;
  }
  let dys = dyv;
  if (dyCopy !== undefined) {
    dys = floats(backend, dyCopy);
    dys.set(dyv);
  }
  const xRow = xW * a.ci * 4;
  const xImg = xH * xRow;
  const dyRow = a.ow * a.co * 4;
  const dyImg = a.oh * dyRow;
  const run = a.kw * a.ci; // the contiguous (j, c) run of a kernel row
  // The block loops run at least once: nothing to add up without images or output pixels.
  if (a.n === 0 || a.oh === 0 || a.ow === 0) {
    for (const t of temps) backend.disposeData(t.dataId);
    outv.fill(0);
    return out;
  }
  for (let cb = 0; cb * MAX_V < vecs; cb++) {
    const V = Math.min(MAX_V, vecs - cb * MAX_V);
    const maxS = MAX_S[V]!;
    for (let k0 = 0; k0 < run; k0 += maxS) {
      const S = Math.min(maxS, run - k0);
      const f = blockFn(memory, S, V, coPad * 4);
      if (f === null) throw new Error(`${CONV_FILTER_GRAD} needs WebAssembly SIMD`);
      for (let i = 0; i < a.kh; i++) {
        f(
          xs.byteOffset + i * xRow + k0 * 4, dys.byteOffset + cb * MAX_V * 16, acc.byteOffset + ((i * run + k0) * coPad + cb * MAX_V * 4) * 4,
          a.n, a.oh, a.ow, xImg, dyImg, xRow, dyRow, a.ci * 4, a.co * 4,
        );
      }
    }
  }
  if (scratch !== undefined) {
    for (let k = 0; k < a.kh * run; k++) outv.set(acc.subarray(k * coPad, k * coPad + a.co), k * a.co);
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
}

/** Registers CONV_FILTER_GRAD for the wasm backend. Idempotent. */
export function registerFilterGrad(): void {
  if (tf.getKernel(CONV_FILTER_GRAD, "wasm") !== undefined) return;
  tf.registerKernel({ kernelName: CONV_FILTER_GRAD, backendName: "wasm", kernelFunc: convFilterGrad as unknown as tf.KernelFunc });
}
