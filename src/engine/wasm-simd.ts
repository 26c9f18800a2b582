// Small WebAssembly SIMD loops that run on tfjs-backend-wasm's own memory, for the heap kernels
// in wasm-heap-kernels.ts: the gradient of a 2x2, stride-2 max pool, the ReLU mask + bias sum of
// a layer's backward pass, an Adam step (fused-adam.ts), and the col2im scatter-add of convolution
// input gradients computed as matrix products (wasm-gradients.ts). In plain JavaScript these memory-bound passes cost several
// milliseconds per LeNet-5 step (a data-dependent branch per element); as 128-bit SIMD with
// masks instead of branches they are a few times faster.
//
// The module is assembled here, byte by byte, instead of shipping a compiled .wasm: it is
// under 1 kB, needs no toolchain, and imports the backend's WebAssembly.Memory so the loops
// read and write tensors in place (pointers are the tensors' byte offsets on that heap).
// Only opcodes of the finished SIMD proposal are used (Node >= 16.4 validates them).

/** Function exports of the module; all pointers are byte offsets on the backend's heap. */
export interface SimdKernels {
  /**
   * One output row of a 2x2 stride-2 max-pool gradient, NHWC, `cBytes` = channels · 4 ≥ 16:
   * input rows x0, x1 (the window's two rows), output-gradient row dy, gradient rows dx0, dx1
   * (written for every element the windows cover), `ow` windows.
   */
  poolRow2x2(x0: number, x1: number, dy: number, dx0: number, dx1: number, ow: number, cBytes: number): void;
  /**
   * g = dy where y > 0 else 0, over `nBytes` bytes; lane sums of g added to the `pBytes`-long
   * accumulator acc, period by period (nBytes a multiple of pBytes, pBytes of 16).
   */
  reluBiasGrad(dy: number, y: number, g: number, nBytes: number, pBytes: number, acc: number): void;
  /** As reluBiasGrad without the mask (a linear activation): g = dy. */
  linearBiasGrad(dy: number, y: number, g: number, nBytes: number, pBytes: number, acc: number): void;
  /**
   * Scatter-adds one output row of im2col columns back onto an NHWC input gradient (stride 1):
   * for each of the `ow` output positions w and kernel rows i in [ilo, ihi), the `kw`·ci values
   * at src + (w·kh·kw·ci + i·kw·ci)·4 are added at dst row (i − ilo), column w + j − left,
   * with the kernel columns j that fall outside [0, inW) left out. Sizes in bytes where named so.
   */
  col2imRow(
    src: number, dst: number, ow: number, ilo: number, ihi: number, kw: number, ciBytes: number, rowBytes: number,
    left: number, inW: number, kBytes: number,
  ): void;
  /**
   * One Adam step over `nBytes` bytes (a multiple of 16), in tfjs's AdamOptimizer's operation
   * order, each operation rounded to float32 as its kernels do:
   *   m' = m·b1 + g·(1−b1), v' = v·b2 + (g·g)·(1−b2),
   *   w' = ((m'/c1) / (sqrt(v'/c2) + eps))·(−lr) + w, with c1 = 1 − b1^t, c2 = 1 − b2^t.
   */
  adam(
    w: number, m: number, v: number, g: number, outW: number, outM: number, outV: number, nBytes: number,
    b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number, negLr: number,
  ): void;
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

export function leb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// Instructions (https://webassembly.github.io/spec/core/binary/instructions.html).
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i32 = (n: number): number[] => [0x41, ...sleb(n)];
const ADD = [0x6a];
const SUB = [0x6b];
const SHL = [0x74];
const LT_U = [0x49];
const LT_S = [0x48];
const GT_S = [0x4a];
const LE_S = [0x4c];
const GT_U = [0x4b];
const GE_U = [0x4f];
const MUL = [0x6c];
const BR = (depth: number): number[] => [0x0c, depth];
const F32_LOAD = [0x2a, 2, 0];
const F32_STORE = [0x38, 2, 0];
const F32_ADD = [0x92];
const EQ = [0x46];
const SELECT = [0x1b];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const BR_IF = (depth: number): number[] => [0x0d, depth];
const END = [0x0b];
const simd = (op: number): number[] => [0xfd, ...leb(op)];
const LOAD = [...simd(0x00), 0, 0]; // v128.load, alignment hint 1, offset 0
const STORE = [...simd(0x0b), 0, 0];
const F32X4_SPLAT = simd(0x13);
const F32X4_GT = simd(0x44);
const AND = simd(0x4e);
const ANDNOT = simd(0x4f); // a & ~b
const OR = simd(0x50);
const BITSELECT = simd(0x52); // (a & c) | (b & ~c)
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const F32X4_DIV = simd(0xe7);
const F32X4_SQRT = simd(0xe3);
const F32_NEG_INF = [0x43, 0x00, 0x00, 0x80, 0xff];

/** v128.load of (local a + local b). */
const loadAt = (a: number, b: number): number[] => [...get(a), ...get(b), ...ADD, ...LOAD];

function poolRow2x2Body(): number[] {
  // params: x0 0, x1 1, dy 2, dx0 3, dx1 4, ow 5, cb 6
  const [x0, x1, dy, dx0, dx1, ow, cb] = [0, 1, 2, 3, 4, 5, 6];
  // i32 locals: yc 7, off 8, dd 9, last 10, step 11, tmp 12; v128 locals: A 13, B 14, C 15, D 16,
  // G 17, best 18, sA 19, sB 20, sC 21, sD 22, ninf 23.
  const [yc, off, dd, last, step, tmp] = [7, 8, 9, 10, 11, 12];
  const [A, B, C, D, G, best, sA, sB, sC, sD, ninf] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  // The right-hand tap of a row: pointer + cb + off.
  const right = (p: number): number[] => [...get(p), ...get(cb), ...ADD, ...set(tmp)];
  const storeMasked = (addr: number[], mask: number): number[] => [...addr, ...get(G), ...get(mask), ...AND, ...STORE];
  return [
    ...F32_NEG_INF, ...F32X4_SPLAT, ...set(ninf),
    ...get(cb), ...i32(16), ...SUB, ...set(last),
    ...get(cb), ...i32(1), ...SHL, ...set(step),
    ...LOOP, // over windows
    ...i32(0), ...set(dd),
    ...LOOP, // over 4-channel groups; the last group is moved back to end at the last channel
    ...get(dd), ...get(last), ...get(dd), ...get(last), ...LT_U, ...SELECT, ...set(off),
    ...loadAt(x0, off), ...set(A),
    ...right(x0), ...loadAt(tmp, off), ...set(B),
    ...loadAt(x1, off), ...set(C),
    ...right(x1), ...loadAt(tmp, off), ...set(D),
    ...loadAt(dy, off), ...set(G),
    // A strictly greater value takes over, in row-major order, from −∞ (the cpu kernel's rule).
    ...get(A), ...get(ninf), ...F32X4_GT, ...set(sA),
    ...get(A), ...get(ninf), ...get(sA), ...BITSELECT, ...set(best),
    ...get(B), ...get(best), ...F32X4_GT, ...set(sB),
    ...get(B), ...get(best), ...get(sB), ...BITSELECT, ...set(best),
    ...get(C), ...get(best), ...F32X4_GT, ...set(sC),
    ...get(C), ...get(best), ...get(sC), ...BITSELECT, ...set(best),
    ...get(D), ...get(best), ...F32X4_GT, ...set(sD),
    // The winner is the last tap that took over: D if sD, else C if sC, else B if sB, else A.
    ...storeMasked([...right(dx1), ...get(tmp), ...get(off), ...ADD], sD),
    ...get(sC), ...get(sD), ...ANDNOT, ...set(sC),
    ...storeMasked([...get(dx1), ...get(off), ...ADD], sC),
    ...get(sD), ...get(sC), ...OR, ...set(sD),
    ...get(sB), ...get(sD), ...ANDNOT, ...set(sB),
    ...storeMasked([...right(dx0), ...get(tmp), ...get(off), ...ADD], sB),
    ...get(sD), ...get(sB), ...OR, ...set(sD),
    ...get(sA), ...get(sD), ...ANDNOT, ...set(sA),
    ...storeMasked([...get(dx0), ...get(off), ...ADD], sA),
    ...get(dd), ...i32(16), ...ADD, ...set(dd),
    ...get(dd), ...get(cb), ...LT_U, ...BR_IF(0),
    ...END,
    ...get(x0), ...get(step), ...ADD, ...set(x0),
    ...get(x1), ...get(step), ...ADD, ...set(x1),
    ...get(dx0), ...get(step), ...ADD, ...set(dx0),
    ...get(dx1), ...get(step), ...ADD, ...set(dx1),
    ...get(dy), ...get(cb), ...ADD, ...set(dy),
    ...get(yc), ...i32(1), ...ADD, ...set(yc),
    ...get(yc), ...get(ow), ...LT_U, ...BR_IF(0),
    ...END,
  ];
}

function biasGradBody(relu: boolean): number[] {
  // params: dy 0, y 1, g 2, n 3, p 4, acc 5; i32 locals: i 6, k 7; v128 locals: v 8, zero 9.
  const [dy, y, g, n, p, acc] = [0, 1, 2, 3, 4, 5];
  const [i, k, v, zero] = [6, 7, 8, 9];
  const value = relu
    ? [...loadAt(dy, i), ...loadAt(y, i), ...get(zero), ...F32X4_GT, ...AND]
    : loadAt(dy, i);
  return [
    ...BLOCK,
    ...get(n), ...i32(0), ...EQ, ...BR_IF(0),
    ...LOOP,
    ...value, ...set(v),
    ...get(g), ...get(i), ...ADD, ...get(v), ...STORE,
    ...get(acc), ...get(k), ...ADD, ...loadAt(acc, k), ...get(v), ...F32X4_ADD, ...STORE,
    ...get(i), ...i32(16), ...ADD, ...set(i),
    ...get(k), ...i32(16), ...ADD, ...set(k),
    ...i32(0), ...get(k), ...get(k), ...get(p), ...EQ, ...SELECT, ...set(k),
    ...get(i), ...get(n), ...LT_U, ...BR_IF(0),
    ...END,
    ...END,
  ];
}

function col2imRowBody(): number[] {
  // params: src 0, dst 1, ow 2, ilo 3, ihi 4, kw 5, cib 6, rowb 7, left 8, inW 9, kb 10.
  const [src, dst, ow, ilo, ihi, kw, cib, rowb, left, inW, kb] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  // i32 locals: w 11, i 12, jlo 13, jhi 14, sp 15, dp 16, len 17, t 18, x 19.
  const [w, i, jlo, jhi, sp, dp, len, t, x] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
  const at = (base: number): number[] => [...get(base), ...get(t), ...ADD];
  return [
    ...LOOP, // over output positions w
    // jlo = max(0, left − w); jhi = min(kw, inW + left − w)
    ...get(left), ...get(w), ...SUB, ...set(x),
    ...i32(0), ...get(x), ...get(x), ...i32(0), ...LT_S, ...SELECT, ...set(jlo),
    ...get(inW), ...get(left), ...ADD, ...get(w), ...SUB, ...set(x),
    ...get(kw), ...get(x), ...get(x), ...get(kw), ...GT_S, ...SELECT, ...set(jhi),
    ...BLOCK,
    ...get(jhi), ...get(jlo), ...LE_S, ...BR_IF(0),
    ...get(jhi), ...get(jlo), ...SUB, ...get(cib), ...MUL, ...set(len),
    ...get(ilo), ...set(i),
    ...LOOP, // over kernel rows i
    // sp = src + w·kb + (i·kw + jlo)·cib; dp = dst + (i − ilo)·rowb + (w + jlo − left)·cib
    ...get(src), ...get(w), ...get(kb), ...MUL, ...ADD, ...get(i), ...get(kw), ...MUL, ...get(jlo), ...ADD, ...get(cib), ...MUL, ...ADD, ...set(sp),
    ...get(dst), ...get(i), ...get(ilo), ...SUB, ...get(rowb), ...MUL, ...ADD,
    ...get(w), ...get(jlo), ...ADD, ...get(left), ...SUB, ...get(cib), ...MUL, ...ADD, ...set(dp),
    ...i32(0), ...set(t),
    ...BLOCK, ...LOOP, // 4 floats at a time
    ...get(t), ...i32(16), ...ADD, ...get(len), ...GT_U, ...BR_IF(1),
    ...at(dp), ...at(dp), ...LOAD, ...at(sp), ...LOAD, ...F32X4_ADD, ...STORE,
    ...get(t), ...i32(16), ...ADD, ...set(t),
    ...BR(0),
    ...END, ...END,
    ...BLOCK, ...LOOP, // the rest one float at a time
    ...get(t), ...get(len), ...GE_U, ...BR_IF(1),
    ...at(dp), ...at(dp), ...F32_LOAD, ...at(sp), ...F32_LOAD, ...F32_ADD, ...F32_STORE,
    ...get(t), ...i32(4), ...ADD, ...set(t),
    ...BR(0),
    ...END, ...END,
    ...get(i), ...i32(1), ...ADD, ...set(i),
    ...get(i), ...get(ihi), ...LT_S, ...BR_IF(0),
    ...END,
    ...END,
    ...get(w), ...i32(1), ...ADD, ...set(w),
    ...get(w), ...get(ow), ...LT_S, ...BR_IF(0),
    ...END,
  ];
}

function adamBody(): number[] {
  // params: w 0, m 1, v 2, g 3, outW 4, outM 5, outV 6, n 7 (i32); b1 8, omb1 9, b2 10, omb2 11,
  // c1 12, c2 13, eps 14, negLr 15 (f32). Locals: i 16 (i32); the eight constants splatted 17-24,
  // G 25, M 26, V 27 (v128).
  const [w, m, v, g, outW, outM, outV, n] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = 16;
  const [G, M, V] = [25, 26, 27];
  const k = (param: number): number => param + 9; // the splatted copy of f32 param 8..15
  const splats = [8, 9, 10, 11, 12, 13, 14, 15].flatMap((p) => [...get(p), ...F32X4_SPLAT, ...set(k(p))]);
  const at = (base: number): number[] => [...get(base), ...get(i), ...ADD];
  return [
    ...splats,
    ...BLOCK,
    ...get(n), ...i32(0), ...EQ, ...BR_IF(0),
    ...LOOP,
    ...loadAt(g, i), ...set(G),
    ...at(outM), ...loadAt(m, i), ...get(k(8)), ...F32X4_MUL, ...get(G), ...get(k(9)), ...F32X4_MUL, ...F32X4_ADD, ...set(M), ...get(M), ...STORE,
    ...at(outV), ...loadAt(v, i), ...get(k(10)), ...F32X4_MUL, ...get(G), ...get(G), ...F32X4_MUL, ...get(k(11)), ...F32X4_MUL, ...F32X4_ADD, ...set(V), ...get(V), ...STORE,
    ...at(outW),
    ...get(M), ...get(k(12)), ...F32X4_DIV,
    ...get(V), ...get(k(13)), ...F32X4_DIV, ...F32X4_SQRT, ...get(k(14)), ...F32X4_ADD,
    ...F32X4_DIV, ...get(k(15)), ...F32X4_MUL, ...loadAt(w, i), ...F32X4_ADD, ...STORE,
    ...get(i), ...i32(16), ...ADD, ...set(i),
    ...get(i), ...get(n), ...LT_U, ...BR_IF(0),
    ...END,
    ...END,
  ];
}

export function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

export function name(s: string): number[] {
  return [...leb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
}

export function func(locals: Array<[number, number]>, body: number[]): number[] {
  const code = [...leb(locals.length), ...locals.flatMap(([count, type]) => [...leb(count), type]), ...body, ...END];
  return [...leb(code.length), ...code];
}

/** The module's bytes: memory imported as env.memory, five exported functions. */
export function simdModuleBytes(): Uint8Array {
  const types = [
    [0x60, 7, ...Array<number>(7).fill(I32), 0], // poolRow2x2
    [0x60, 6, ...Array<number>(6).fill(I32), 0], // bias grads
    [0x60, 16, ...Array<number>(8).fill(I32), ...Array<number>(8).fill(F32), 0], // adam
    [0x60, 11, ...Array<number>(11).fill(I32), 0], // col2imRow
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [types.length, ...types.flat()]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
    ...section(3, [5, 0, 1, 1, 2, 3]),
    ...section(7, [
      5, ...name("poolRow2x2"), 0x00, 0, ...name("reluBiasGrad"), 0x00, 1, ...name("linearBiasGrad"), 0x00, 2, ...name("adam"), 0x00, 3,
      ...name("col2imRow"), 0x00, 4,
    ]),
    ...section(10, [
      5,
      ...func([[6, I32], [11, V128]], poolRow2x2Body()),
      ...func([[2, I32], [2, V128]], biasGradBody(true)),
      ...func([[2, I32], [2, V128]], biasGradBody(false)),
      ...func([[1, I32], [11, V128]], adamBody()),
      ...func([[9, I32]], col2imRowBody()),
    ]),
  ];
  return new Uint8Array(bytes);
}

/** The parts of the WebAssembly JS API used here (the project's TypeScript libs omit its types). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Whether `v` is a WebAssembly.Memory. */
export function isWasmMemory(v: unknown): v is object {
  return typeof v === "object" && v !== null && v instanceof wasmApi.Memory;
}

const instances = new WeakMap<object, SimdKernels | null>();

/**
 * The kernels bound to `memory` (a WebAssembly.Memory), or null when this WebAssembly engine has
 * no SIMD (the callers then keep their JavaScript loops).
 */
export function simdKernels(memory: object): SimdKernels | null {
  let k = instances.get(memory);
  if (k !== undefined) return k;
  const bytes = simdModuleBytes();
  k = wasmApi.validate(bytes) ? (new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } }).exports as SimdKernels) : null;
  instances.set(memory, k);
  return k;
}
