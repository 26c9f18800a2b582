// `advisor serve` on a database as its own process, for the HTTP benchmarks (bench/advisor.ts,
// bench/route-cpu.ts): info logging to /dev/null, as an operator runs it, on a random loopback
// port. It runs the way a user meets it — `npm start`, i.e. the compiled dist/cli/main.js — when
// dist is at least as new as every file of src/; otherwise from src/ through tsx (which wraps
// every function in a naming helper and costs a little CPU per call), and says which it used.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { packageRoot } from "../src/paths.js";

export interface Service {
  child: ChildProcess;
  base: string;
  /** What runs the service: the compiled build (as `npm start`) or the sources through tsx. */
  runtime: "dist" | "tsx (dist missing or older than src)";
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, (await stat(path.join(e.parentPath, e.name))).mtimeMs);
  }
  return newest;
}

/** Whether dist/cli/main.js exists and no source file is newer than the build's oldest output that matters (its entry). */
async function distIsCurrent(): Promise<boolean> {
  try {
    const built = (await stat(path.join(packageRoot, "dist/cli/main.js"))).mtimeMs;
    return (await newestMtime(path.join(packageRoot, "src"))) <= built;
  } catch {
    return false;
  }
}

/**
 * Starts the service on `db` and waits (up to 120 s) until it answers; `nodeFlags` go before the
 * script (e.g. --cpu-prof), then those of BENCH_SERVER_NODE_FLAGS (space-separated), to measure
 * the service under other V8 settings without editing the benchmarks.
 */
export async function startService(db: string, nodeFlags: string[] = []): Promise<Service> {
  nodeFlags = [...nodeFlags, ...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "")];
  const port = 18800 + Math.floor(Math.random() * 2000);
  const dist = await distIsCurrent();
  const entry = dist ? [path.join(packageRoot, "dist/cli/main.js")] : ["--import", "tsx", path.join(packageRoot, "src/cli/main.ts")];
  const child = spawn(process.execPath, [...nodeFlags, ...entry, "serve", "--db", db, "--port", String(port), "--log-level", "info"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ADVISOR_SEED_MATRIX: "none" },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 1200; i++) {
    try {
      if ((await fetch(`${base}/v1/matrix/versions`)).ok) return { child, base, runtime: dist ? "dist" : "tsx (dist missing or older than src)" };
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error("the service did not start within 120 s");
}
