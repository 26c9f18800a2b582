// Sums a V8 CPU profile (`node --cpu-prof`, or a matrix build's workers with
// ADVISOR_WORKER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR") per function: inclusive seconds (the
// function and everything it called; a recursive function counted once per sample) and self
// seconds, largest inclusive first. Where does a build's CPU go?
// With --buckets label=REGEX,…: seconds per part of the work (the outermost frame matching a
// bucket) and where its leaf ran (onnxruntime, wasm, GC, JavaScript).
// Usage: node --import tsx bench/cpuprofile-top.ts <file.cpuprofile> [--match REGEX] [--top N] [--buckets label=REGEX,…]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  inclusiveS: number;
  selfS: number;
}

/** A function's label: its name, the last two parts of its script's path and its line. */
function labelOf(n: ProfileNode): string {
  const f = n.callFrame;
  return `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
}

/** The profile's nodes by id and each node's parent id. */
function treeOf(p: CpuProfile): { byId: Map<number, ProfileNode>; parent: Map<number, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return { byId, parent };
}

/** Inclusive and self seconds per function label, and the profile's total. */
export function functionTimes(p: CpuProfile): { totalS: number; functions: FunctionTime[] } {
  const { byId, parent } = treeOf(p);
  // Microseconds per sampled node: sample i lasted timeDeltas[i + 1] (the delta before the next sample).
  const micros = new Map<number, number>();
  p.samples.forEach((id, i) => micros.set(id, (micros.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0)));
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  for (const [id, us] of micros) {
    total += us;
    const leaf = labelOf(byId.get(id)!);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const label = labelOf(byId.get(cur)!);
      if (seen.has(label)) continue;
      seen.add(label);
      inclusive.set(label, (inclusive.get(label) ?? 0) + us);
    }
  }
  const functions = [...inclusive].map(([name, us]) => ({ name, inclusiveS: us / 1e6, selfS: (self.get(name) ?? 0) / 1e6 }));
  functions.sort((a, b) => b.inclusiveS - a.inclusiveS);
  return { totalS: total / 1e6, functions };
}

/** Where a sampled microsecond was spent: in onnxruntime, in wasm (TF.js's kernels and ours), the garbage collector, or JavaScript. */
function leafKind(n: ProfileNode): "onnxruntime" | "wasm" | "gc" | "js" {
  const f = n.callFrame;
  if (f.functionName === "run" && f.url.endsWith("onnx/runtime.js")) return "onnxruntime";
  if (/^wasm-function|^js-to-wasm|^ccall$/.test(f.functionName)) return "wasm";
  if (f.functionName === "(garbage collector)") return "gc";
  return "js";
}

/**
 * Seconds per (bucket, kind): a sample belongs to the bucket of the outermost frame on its stack
 * whose label matches the bucket's pattern ("other" when none does), and to the kind of its leaf.
 */
export function bucketTimes(p: CpuProfile, buckets: readonly (readonly [string, RegExp])[]): Map<string, number> {
  const { byId, parent } = treeOf(p);
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    let bucket = "other";
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const label = labelOf(byId.get(cur)!);
      const b = buckets.find(([, re]) => re.test(label));
      if (b) bucket = b[0];
    }
    const key = `${bucket} ${leafKind(byId.get(id)!)}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1e6);
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { match: { type: "string" }, top: { type: "string", default: "40" }, buckets: { type: "string" } } });
  const file = positionals[0];
  if (file === undefined) {
    console.error("usage: node --import tsx bench/cpuprofile-top.ts <file.cpuprofile> [--match REGEX] [--top N] [--buckets label=REGEX,label=REGEX,...]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  if (values.buckets !== undefined) {
    // e.g. --buckets 'fine-tuning=^train ,cw=^cwCore ' : seconds per bucket and where its leaf ran.
    const buckets = values.buckets.split(",").map((b) => {
      const at = b.indexOf("=");
      return [b.slice(0, at), new RegExp(b.slice(at + 1))] as const;
    });
    const times = [...bucketTimes(profile, buckets)].sort((a, b) => b[1] - a[1]);
    for (const [key, s] of times) console.log(`${s.toFixed(1).padStart(8)} s  ${key}`);
    process.exit(0);
  }
  const { totalS, functions } = functionTimes(profile);
  const match = values.match === undefined ? undefined : new RegExp(values.match);
  console.log(`${file}: ${totalS.toFixed(1)} s sampled`);
  console.log(`${"inclusive s".padStart(12)} ${"%".padStart(5)} ${"self s".padStart(8)}  function`);
  for (const f of functions.filter((f) => match === undefined || match.test(f.name)).slice(0, Number(values.top))) {
    console.log(`${f.inclusiveS.toFixed(2).padStart(12)} ${((100 * f.inclusiveS) / totalS).toFixed(1).padStart(5)} ${f.selfS.toFixed(2).padStart(8)}  ${f.name}`);
  }
}
