// The direct stride-1 convolution kernels (src/engine/wasm-conv-forward.ts, wasm-filter-grad.ts)
// against the routes they replaced, on LeNet-5's layers at batch 128, in process CPU time (the
// machine is shared): the forward against XNNPACK's fused conv2d (bias + ReLU), the filter
// gradient against transposes + an XNNPACK conv with the batch as channels (conv2's former route,
// and the route of every strided convolution; conv1's former route, im2col columns + a chunked
// dot-product kernel, was removed once unreachable). Calls alternate; prints min / p25 / median CPU ms.
//   node --import tsx bench/direct-conv.ts [calls, default 50]
import { initBackend } from "../src/engine/backend.js";
import { tf } from "../src/engine/tf.js";
import { CONV_FORWARD } from "../src/engine/wasm-conv-forward.js";
import { CONV_FILTER_GRAD } from "../src/engine/wasm-filter-grad.js";
import { registerFusedLayers } from "../src/engine/fused-layers.js";

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
await initBackend("wasm");
registerFusedLayers();
const layers = [
  { name: "conv1", x: [128, 28, 28, 1], k: 5, co: 6, pad: 2 },
  { name: "conv2", x: [128, 14, 14, 6], k: 5, co: 16, pad: 0 },
] as const;
const routes: Record<string, () => tf.Tensor> = {};
for (const l of layers) {
  const [n, h, w, ci] = l.x;
  const oh = h - l.k + 1 + 2 * l.pad;
  const x = tf.randomNormal([...l.x]) as tf.Tensor4D;
  const filter = tf.randomNormal([l.k, l.k, ci, l.co]) as tf.Tensor4D;
  const bias = tf.randomNormal([l.co]) as tf.Tensor1D;
  const dy = tf.randomNormal([n, oh, oh, l.co]) as tf.Tensor4D;
  const geometry = { n, inH: h, inW: w, ci, oh, ow: oh, kh: l.k, kw: l.k, co: l.co, top: l.pad, left: l.pad };
  const pad = l.pad > 0 ? "same" : "valid";
  routes[`${l.name} forward direct`] = () => tf.engine().runKernel(CONV_FORWARD, { x, filter, bias }, { ...geometry, relu: true }) as tf.Tensor;
  routes[`${l.name} forward xnnpack`] = () => tf.fused.conv2d({ x, filter, bias, strides: 1, pad, activation: "relu" });
  routes[`${l.name} filter-grad direct`] = () => tf.engine().runKernel(CONV_FILTER_GRAD, { x, dy }, { ...geometry }) as tf.Tensor;
  // The input padded as the forward pass read it, batch and channel axes swapped, convolved with dy as a kernel.
  routes[`${l.name} filter-grad transposes+conv`] = () =>
    tf.tidy(() => {
      const xp = l.pad > 0 ? tf.pad(x, [[0, 0], [l.pad, l.pad], [l.pad, l.pad], [0, 0]]) : x;
      return tf.transpose(tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, 1, "valid"), [1, 2, 0, 3]);
    });
}
const times = new Map<string, number[]>();
const calls = Number(process.argv[2] ?? 50);
for (let rep = 0; rep <= calls; rep++) {
  for (const [name, f] of Object.entries(routes)) {
    const t = cpuMs();
    const out = f();
    out.dataSync();
    const ms = cpuMs() - t;
    out.dispose();
    if (rep > 0) times.set(name, [...(times.get(name) ?? []), ms]); // the first call compiles
  }
}
const at = (v: number[], q: number): number => Math.round(v[Math.floor(v.length * q)]! * 100) / 100;
for (const [name, v] of times) {
  v.sort((a, b) => a - b);
  console.log(JSON.stringify({ route: name, min_cpu_ms: at(v, 0), p25_cpu_ms: at(v, 0.25), median_cpu_ms: at(v, 0.5) }));
}
