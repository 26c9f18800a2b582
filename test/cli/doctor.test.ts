// `advisor doctor`: the backend it would record with results, why the faster ones were skipped,
// and a short speed probe; a forced backend that cannot start is exit code 2 with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../helpers/cli.js";

const installed = (specifier: string): boolean => {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
};
const noTensorflow = !installed("@tensorflow/tfjs-node") && !installed("@tensorflow/tfjs-node-gpu");

test("doctor on wasm names the backend, the skipped packages and the probe's figures", async () => {
  const r = await runCli(["doctor", "--seconds", "0.2", "--batch", "16"], { ADVISOR_BACKEND: "" });
  assert.equal(r.code, 0, r.stderr);
  if (noTensorflow) {
    assert.match(r.stdout, /^backend {10}wasm \(SIMD (on|off), threads (on|off)\)$/m);
    assert.match(r.stdout, /^skipped {10}tensorflow: @tensorflow\/tfjs-node-gpu and @tensorflow\/tfjs-node are not installed$/m);
  }
  assert.match(r.stdout, /^ {2}train step {5}\d+ samples\/s \(\d+ steps? in [\d.]+ s\)$/m);
  // onnxruntime-node is installed by npm ci here: the attacks' passes take it, and the probe times one attack step on it.
  assert.match(r.stdout, /^attack passes {4}onnxruntime-node 1\.30\.0, cpu, 1 thread\(s\)$/m);
  assert.match(r.stdout, /^ {2}attack step {4}\d+ samples\/s \(\d+ steps? in [\d.]+ s, onnxruntime\)$/m);
  const off = await runCli(["doctor", "--seconds", "0.2", "--batch", "16"], { ADVISOR_BACKEND: "", ADVISOR_ONNX: "off" });
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /^attack passes {4}TF\.js \(ADVISOR_ONNX=off\)$/m);
  assert.match(off.stdout, /^ {2}attack step {4}\d+ samples\/s \(\d+ steps? in [\d.]+ s, TF\.js\)$/m);
  const json = await runCli(["doctor", "--json", "--seconds", "0.2", "--batch", "16"], { ADVISOR_BACKEND: "wasm" });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { backend: { name: string; label: string; requested?: string }; probe: { batch: number } };
  assert.deepEqual([report.backend.name, report.backend.label, report.backend.requested, report.probe.batch], ["wasm", "wasm", "wasm", 16]);
});

test("a forced backend that cannot start: exit 2, one line naming it", { skip: !noTensorflow && "tfjs-node is installed here" }, async () => {
  const r = await runCli(["doctor", "--seconds", "0.2"], { ADVISOR_BACKEND: "tensorflow" });
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr.trim(), /^advisor: ADVISOR_BACKEND=tensorflow but @tensorflow\/tfjs-node-gpu and @tensorflow\/tfjs-node are not installed$/);
});
