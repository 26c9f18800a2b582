// `npm run bench:upload-validation [-- --probe-ms 20 --max-macs 20M --validate-seconds 120]`: what a heavy model upload
// does to the rest of the service. Starts `advisor serve` as its own process (as an operator runs
// it) on a temporary database seeded from the shipped matrix, makes a tiny but compute-heavy
// model (5 KB: UpSampling2D 8x → Conv2D 64 → GlobalAveragePooling → Dense, the issue-16 case),
// uploads it, and meanwhile calls GET /healthz every --probe-ms. Prints one JSON line: the
// upload's status, answer and time, /healthz p50/p99/max during it, and the server's RSS before,
// right after and 5 s after the upload (from /proc). Loopback only; bounded by the upload's time.
// --max-macs and --validate-seconds set the service's caps (ADVISOR_UPLOAD_MAX_MACS, …): by
// default the model is refused up front; with --max-macs 100M it is checked in full, in the
// validation child process, which is what the /healthz figures are about.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { keyLine } from "../src/auth/keys.js";
import { DEFAULT_DATA_DIR } from "../src/engine/data.js";
import { initBackend } from "../src/engine/backend.js";
import { tf } from "../src/engine/tf.js";
import { packageRoot } from "../src/paths.js";

const { values } = parseArgs({ options: {
    "probe-ms": { type: "string", default: "20" },
    port: { type: "string", default: "18731" },
    "max-macs": { type: "string" },
    "validate-seconds": { type: "string" },
  }, });
const probeMs = Number(values["probe-ms"]);
const port = Number(values.port);
const base = `http://127.0.0.1:${port}`;
const KEY = `bench-upload-${randomBytes(24).toString("hex")}`;

const work = await mkdtemp(path.join(os.tmpdir(), "advisor-bench-upload-"));
const keysFile = path.join(work, "keys");
await writeFile(keysFile, keyLine("bench", KEY) + "\n");

// The model: 5 KB of weights, ≈ 32 M multiply-accumulates per 28×28 input (src/models/macs.ts).
await initBackend();
const model = tf.sequential();
model.add(tf.layers.upSampling2d({ inputShape: [28, 28, 1], size: [8, 8] }));
model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: "same", activation: "relu" }));
model.add(tf.layers.globalAveragePooling2d({}));
model.add(tf.layers.dense({ units: 10 }));
const modelDir = path.join(work, "heavy");
await model.save(`file://${modelDir}`).catch(async () => {
  // tfjs without tfjs-node has no file:// handler: write the two files ourselves.
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const { mkdir } = await import("node:fs/promises");
      await mkdir(modelDir, { recursive: true });
      await writeFile(path.join(modelDir, "weights.bin"), Buffer.from(artifacts.weightData as ArrayBuffer));
      await writeFile(
        path.join(modelDir, "model.json"),
        JSON.stringify({ format: "layers-model", modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
});

const server = spawn(process.execPath, ["--import", "tsx", path.join(packageRoot, "src/cli/main.ts"), "serve", "--port", String(port), "--db", path.join(work, "advisor.sqlite"), "--api-keys-file", keysFile, "--log-level", "warn"], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    ADVISOR_DATASETS: `fashion-mnist=${DEFAULT_DATA_DIR}`,
    ...(values["max-macs"] ? { ADVISOR_UPLOAD_MAX_MACS: values["max-macs"] } : {}),
    ...(values["validate-seconds"] ? { ADVISOR_UPLOAD_VALIDATE_SECONDS: values["validate-seconds"] } : {}),
  },
});
const rssMb = (): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 600) throw new Error("the service did not start within 60 s");
    await sleep(100);
  }
  const rssBefore = rssMb();
  const form = new FormData();
  form.set("dataset", "fashion-mnist");
  for (const f of await readdir(modelDir)) form.append("files", new Blob([await readFile(path.join(modelDir, f))]), f);
  const weightsBytes = (await readFile(path.join(modelDir, "weights.bin"))).length;

  let uploading = true;
  const latencies: number[] = [];
  const probeErrors: string[] = [];
  const probes = (async () => {
    while (uploading) {
      const t0 = performance.now();
      try {
        await (await fetch(`${base}/healthz`)).text();
      } catch (err) {
        // Counted, not fatal: a blocked event loop lets keep-alive sockets expire under the client.
        probeErrors.push(String((err as Error & { cause?: Error }).cause?.message ?? err));
      }
      latencies.push(performance.now() - t0);
      await sleep(probeMs);
    }
  })();
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/models`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
  const answer = (await res.json()) as { detail?: string; id?: string; cleanAccuracy?: { value: number } };
  const uploadSeconds = (performance.now() - t0) / 1000;
  uploading = false;
  await probes;
  const rssAfter = rssMb();
  await sleep(5000);
  const rssLater = rssMb();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 10) / 10;
  console.log(
    JSON.stringify({
      weightsBytes,
      upload: { status: res.status, seconds: Math.round(uploadSeconds * 10) / 10, detail: answer.detail ?? null, cleanAccuracy: answer.cleanAccuracy?.value ?? null },
      healthz: { probes: latencies.length, errors: probeErrors.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1) },
      serverRssMb: { before: rssBefore, afterUpload: rssAfter, fiveSecondsLater: rssLater },
    }),
  );
} finally {
  server.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
