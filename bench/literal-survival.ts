// `node --import tsx bench/literal-survival.ts`: bytes that survive each scavenge when a loop makes
// short-lived objects of one literal shape and keeps none of them (bench/advisor-cpu.md). On
// Node 20 (V8 11.3) two shapes the advisor's answer path used to make — a spread followed by more
// properties, and an object literal with its own getters — leave megabytes alive per scavenge;
// the shapes that replaced them leave next to nothing. Each shape runs in its own `node
// --trace-gc-nvp` process; the figure is the median `new_space_survived` of its scavenges after
// the first five (warm-up).
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Each shape's loop body: `c` is a long-lived object, `q` the iteration; the last `o` is kept (one object), so that
 * escape analysis cannot drop the allocation. */
const SHAPES: Record<string, string> = {
  "written out": "const o = { id: c.id, s: c.s, r: q, a: c.a, x: 1 };",
  "spread, then more properties": "const ref = { id: c.id, s: c.s, r: q, a: c.a }; const o = { ...ref, x: 1 };",
  "conditional spread, then more properties": "const o = { ...(q % 2 ? {} : { n: 5 }), e: c.a > 3, v: q > 1 };",
  "more properties, then spread": "const ref = { id: c.id, s: c.s, r: q, a: c.a }; const o = { x: 1, ...ref };",
  "Object.assign onto a fresh object": "const ref = { id: c.id, s: c.s, r: q, a: c.a }; const o = Object.assign({}, ref, { x: 1 });",
  "own getters": "const v = { n: q }; const o = { a: c.a, get v() { return v; } };",
  "class with prototype getters": "const v = { n: q }; const o = new Lazy(c.a, () => v);",
};

const PRELUDE = `
class Lazy { constructor(a, make) { this.a = a; this.make = make; } get v() { return this.make(); } }
const cs = Array.from({ length: 300 }, (_, i) => ({ id: "m" + i, s: "s" + (i % 7), a: i }));
let sink = 0;
let last = null;
for (let q = 0; q < 3e6; q++) { const c = cs[q % 300]; BODY last = o; sink += o.a; }
console.log(sink, last.a);
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

for (const [shape, body] of Object.entries(SHAPES)) {
  const { stdout } = await run(process.execPath, ["--trace-gc-nvp", "-e", PRELUDE.replace("BODY", body)], { maxBuffer: 64 * 1024 * 1024 });
  const survived = stdout
    .split("\n")
    .filter((l) => l.includes("gc=s "))
    .map((l) => Number(/new_space_survived=(\d+)/.exec(l)?.[1] ?? NaN))
    .filter((x) => Number.isFinite(x));
  const measured = survived.length > 5 ? survived.slice(5) : survived;
  console.log(JSON.stringify({ shape, scavenges: survived.length, medianSurvivedBytes: median(measured), node: process.version }));
}
