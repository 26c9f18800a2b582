// Runs the real `advisor` CLI from sources in a child process, as a user would.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawnCli(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const cleanEnv = { ...process.env };
  for (const k of ["PORT", "HOST", "ADVISOR_DB", "LOG_LEVEL"]) delete cleanEnv[k];
  // Tests bring their own matrices: the shipped one is not imported unless a test asks for it.
  cleanEnv.ADVISOR_SEED_MATRIX = "none";
  return spawn(process.execPath, ["--import", "tsx", main, ...args], {
    cwd: root,
    env: { ...cleanEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Starts `advisor serve` on a free port and resolves once it logs that it listens. */
export async function startService(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; baseUrl: string; logs: () => string }> {
  const child = spawnCli(["serve", "--port", "0", ...args], env);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`service did not start: ${err}`));
    }, 30_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === "listening" && typeof rec.port === "number") {
          clearTimeout(timer);
          resolve(rec.port);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}: ${err}`));
    });
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, logs: () => out };
}
