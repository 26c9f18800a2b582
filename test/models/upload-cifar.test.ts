// Uploads of CIFAR-sized models (issue 19, item 3): a ResNet-8 (32×32×3 inputs, 10 classes) is
// accepted for a configured CIFAR-10 data set (here the binary version, generated), checked
// against its test split; named against a data set of another shape it is refused with one line
// that says which configured data set would fit — or that none does, and how to install one
// (also when the configured CIFAR-10 directory is not there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ApiKeys, keyLine, parseKeyEntries } from "../../src/auth/keys.js";
import { initBackend } from "../../src/engine/backend.js";
import { trainDense } from "../../src/engine/pipeline.js";
import { saveModel } from "../../src/engine/model-io.js";
import { startApi, type Api } from "../api/helpers.js";
import { generatedSplits, writeCifar10Binary } from "../helpers/generated-data.js";
import { modelParts, multipart, syntheticData, type Part } from "./helpers.js";

const KEY = "test-key-0123456789abcdefghijklmnopqrstuvwxyz";
const keys = new ApiKeys(parseKeyEntries(keyLine("ci", KEY)));

interface TestContext {
  after: (fn: () => Promise<void> | void) => void;
}

function upload(api: Api, dataset: string, parts: Part[]): ReturnType<Api["call"]> {
  const { body, contentType } = multipart([{ name: "dataset", content: dataset }, ...parts]);
  return api.call("POST", "/v1/models", { body, headers: { "content-type": contentType, authorization: `Bearer ${KEY}` } });
}

const api = (t: TestContext, datasets: [string, string][]): Promise<Api> =>
  startApi(t, undefined, { keys, uploads: { datasets: new Map(datasets), maxBytes: 4 * 1024 * 1024, maxFiles: 6 } });

/** A generated CIFAR-10 (binary version) and the zoo's ResNet-8 trained on it, saved as the engine saves models. */
async function cifarAndResnet(): Promise<{ cifar: string; model: string }> {
  const backend = await initBackend();
  const work = await mkdtemp(path.join(os.tmpdir(), "advisor-upload-cifar-"));
  test.after(() => rm(work, { recursive: true, force: true }));
  const splits = generatedSplits({ trainCount: 200, testCount: 40, seed: 2 });
  const cifar = path.join(work, "cifar");
  await writeCifar10Binary(cifar, splits);
  const dense = await trainDense({
    architecture: "resnet8",
    train: splits.train,
    test: splits.test,
    datasetName: "generated-cifar10",
    backend: backend.label,
    settings: { epochs: 3, batchSize: 16, learningRate: 3e-3, patience: 3, validation: 0.1, seed: 1 },
  });
  const model = path.join(work, "resnet8");
  await saveModel(dense.model, model, dense.metadata);
  dense.model.dispose();
  return { cifar, model };
}

const { cifar, model } = await cifarAndResnet();

test("a 32×32×3 ResNet-8 is accepted for a CIFAR-10 data set and refused clearly for data sets of another shape", async (t) => {
  const grey = await syntheticData(t);
  const parts = await modelParts(model);

  const both = await api(t, [
    ["synthetic", grey.dir],
    ["generated-cifar10", cifar],
  ]);
  const ok = await upload(both, "generated-cifar10", parts);
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.inputShape, [32, 32, 3]);
  assert.equal(ok.body.numClasses, 10);
  assert.equal(ok.body.dataset, "generated-cifar10");
  assert.equal(ok.body.architecture, "resnet8");
  assert.deepEqual(ok.body.parameters, { total: 78_714, trainable: 78_714 - 672, prunable: 77_360 }, "BN's moving statistics are not trainable");
  const clean = ok.body.cleanAccuracy as { correct: number; n: number };
  assert.equal(clean.n, 40, "checked on the data set's whole test split");
  assert.ok(clean.correct / clean.n > 0.15, `above chance: ${clean.correct}/${clean.n}`);

  // Named against the 8×8×1 data set: refused, and told which configured data set fits.
  const wrong = await upload(both, "synthetic", parts);
  assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
  assert.equal(wrong.body.field, "inputShape");
  const detail = String(wrong.body.detail);
  assert.doesNotMatch(detail, /\n/);
  assert.match(detail, /^the model's input shape \[batch, 32, 32, 3\] does not match data set synthetic: its images need \[batch, 8, 8, 1\] \(height, width, channels; 8x8x1, values in \[0, 1\]\); data set generated-cifar10 has 32x32x3 images: name it in the field dataset$/);
});

test("with no CIFAR-sized data set configured (or its directory missing) the refusal says so and how to install one", async (t) => {
  const grey = await syntheticData(t);
  const parts = await modelParts(model);

  const only = await api(t, [["synthetic", grey.dir]]);
  const none = await upload(only, "synthetic", parts);
  assert.equal(none.status, 422, JSON.stringify(none.body));
  assert.match(
    String(none.body.detail),
    /; no configured data set has 32x32x3 images: install one — for CIFAR-10 the binary version \(data_batch_1\.bin … data_batch_5\.bin, test_batch\.bin\) — and add it to ADVISOR_DATASETS as name=directory$/,
  );

  const missing = path.join(grey.dir, "no-cifar-here");
  const notInstalled = await api(t, [
    ["synthetic", grey.dir],
    ["cifar10", missing],
  ]);
  const refused = await upload(notInstalled, "synthetic", parts);
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.match(String(refused.body.detail), /no configured data set has 32x32x3 images \(the others: cifar10: not usable here, data directory .*no-cifar-here not found\): install one/);
  const named = await upload(notInstalled, "cifar10", parts);
  assert.equal(named.status, 503, JSON.stringify(named.body));
  assert.equal(named.body.field, "dataset");
  assert.match(String(named.body.detail), /^data set cifar10 is not usable here \(configured directory .*no-cifar-here\): data directory .*no-cifar-here not found$/);
});
