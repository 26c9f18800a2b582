// A matrix build worker: a child process (child_process.fork with `serialization: "advanced"`)
// that runs one cell at a time for the builder and sends the output back. It never touches the
// database. It exits when the builder goes away (IPC channel closed), so killing the builder
// leaves no orphan computing for nobody.
import { initBackend } from "../engine/backend.js";
import { CellRunner, type CellJob, type CellOutput } from "./cells.js";

export type ToWorker = { type: "run"; job: CellJob } | { type: "stop" };
export type FromWorker =
  | { type: "ready"; backend: string }
  | { type: "progress"; key: string; text: string }
  | { type: "done"; key: string; output: CellOutput; seconds: number }
  | { type: "failed"; key: string; error: string };

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write("src/matrix/worker.ts is started by `advisor matrix build`, not by hand\n");
    process.exit(2);
  }
  process.on("disconnect", () => process.exit(1));
  const backend = await initBackend();
  let current = "";
  const runner = new CellRunner((text) => void send({ type: "progress", key: current, text }));
  let queue = Promise.resolve();
  process.on("message", (msg: ToWorker) => {
    if (msg.type === "stop") {
      runner.dispose();
      process.exit(0);
    }
    queue = queue.then(async () => {
      const { job } = msg;
      current = job.cell.key;
      const t0 = performance.now();
      try {
        const output = await runner.run(job);
        await send({ type: "done", key: job.cell.key, output, seconds: (performance.now() - t0) / 1000 });
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        await send({ type: "failed", key: job.cell.key, error: text.split("\n")[0]! });
      }
    });
  });
  await send({ type: "ready", backend: backend.label });
}

await main();
