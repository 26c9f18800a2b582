// The process the service forks to run one refresh job (see manager.ts): it lowers its own CPU
// priority first — the build's worker processes it forks inherit it — so requests keep the CPU
// they need, then runs the job (runner.ts) and reports the outcome. When the service goes away
// (its IPC channel closes: a crash, a SIGKILL) it stops the build as SIGTERM does — workers
// killed, the build lock released — and exits: the job stays `running` in the database, and the
// next service to start requeues it and resumes its build where it stopped.
import os from "node:os";
import { runJob, type RunOutcome } from "./runner.js";

export interface RunnerArgs {
  dbFile: string;
  jobId: number;
  token: string;
  workers: number;
  /** Niceness for this process and its workers (0-19); null leaves it unchanged. */
  niceness: number | null;
}

export type FromRunner = { type: "outcome"; outcome: RunOutcome } | { type: "priority"; niceness: number | null; error?: string };

/** Exit codes: 0 succeeded, 1 failed, 3 lost (cancelled / taken over), 75 waiting for the build lock. */
export const EXIT_CODES: Record<RunOutcome["state"], number> = { succeeded: 0, failed: 1, lost: 3, waiting: 75 };

function send(msg: FromRunner): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<void> {
  const raw = process.env.ADVISOR_JOB_RUNNER;
  if (!process.send || !raw) {
    process.stderr.write("src/jobs/runner-process.ts is started by `advisor serve`, not by hand\n");
    process.exit(2);
  }
  const args = JSON.parse(raw) as RunnerArgs;
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
  let niceness: number | null = null;
  let error: string | undefined;
  if (args.niceness !== null) {
    try {
      os.setPriority(0, args.niceness);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    niceness = os.getPriority(0);
  }
  await send({ type: "priority", niceness, ...(error ? { error } : {}) });
  let outcome: RunOutcome;
  try {
    outcome = await runJob({ dbFile: args.dbFile, jobId: args.jobId, token: args.token, workers: args.workers });
  } catch (err) {
    outcome = { state: "failed", error: (err instanceof Error ? err.message : String(err)).split("\n")[0]! };
  }
  await send({ type: "outcome", outcome });
  process.exit(EXIT_CODES[outcome.state]);
}

await main();
