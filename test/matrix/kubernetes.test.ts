// Issue 21, item 2: the matrix build as a Kubernetes Indexed Job (deploy/kubernetes/), tested
// without a cluster.
//   - Every manifest validates against the Kubernetes API's JSON schemas (kubernetes-models: the
//     API's OpenAPI schemas compiled to ajv validators, offline), and the manifests agree with each
//     other: completions = parallelism = ADVISOR_SHARDS of both jobs, the same grid, the same
//     volume (the ReadWriteMany claim) mounted at the same path, the shard databases where
//     build-shard writes them and the merge job reads them.
//   - The manifests' own commands run here: the build container's command once per pod index
//     (JOB_COMPLETION_INDEX = 0 … N−1, as Kubernetes sets it) on a tiny grid, then the merge job's
//     script (merge, stats, verify --sample 3, export). The merged rows equal an unsharded build's
//     (ids, timestamps and durations aside). Container paths are mapped to temporary folders:
//     /data (the volume), the image's grid and its models folder.
//   - The entrypoint fails with one clear line when the index or the shard count is missing or wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { root, runCli } from "../helpers/cli.js";
import { comparableRows, exportedRows } from "../helpers/exported-rows.js";
import { syntheticSplits, writeIdxDirectory } from "../../src/engine/synthetic.js";
import { shardDatabasePath, shardFromEnv } from "../../src/cli/matrix-shard.js";
import { loadCalibration } from "../../src/matrix/calibration.js";

const dir = path.join(root, "deploy", "kubernetes");

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  restartPolicy?: string;
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
interface JobDoc {
  kind: "Job";
  metadata: { name: string };
  spec: { completionMode?: string; completions?: number; parallelism?: number; backoffLimitPerIndex?: number; template: { spec: PodSpec } };
}
interface PvcDoc {
  kind: "PersistentVolumeClaim";
  metadata: { name: string };
  spec: { accessModes: string[] };
}

async function manifest<T>(file: string): Promise<T> {
  const docs = YAML.parseAllDocuments(await readFile(path.join(dir, file), "utf8"));
  assert.equal(docs.length, 1, `${file}: one object`);
  return docs[0]!.toJS() as T;
}

const pvc = await manifest<PvcDoc>("pvc.yaml");
const build = await manifest<JobDoc>("build-job.yaml");
const merge = await manifest<JobDoc>("merge-job.yaml");
const buildPod = build.spec.template.spec;
const mergePod = merge.spec.template.spec;
const buildContainer = buildPod.containers[0]!;
const mergeContainer = mergePod.containers[0]!;
const envOf = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;
/** The value after a flag in a command line. */
const flag = (argv: readonly string[], name: string): string => {
  const i = argv.indexOf(name);
  assert.ok(i >= 0 && i + 1 < argv.length, `${name} in ${argv.join(" ")}`);
  return argv[i + 1]!;
};
const mountOf = (pod: PodSpec, c: Container): { claim: string; path: string } => {
  assert.equal(c.volumeMounts?.length, 1, `${c.name}: one volume`);
  const m = c.volumeMounts[0]!;
  const claim = pod.volumes?.find((v) => v.name === m.name)?.persistentVolumeClaim?.claimName;
  assert.ok(claim, `${c.name}: volume ${m.name} is a persistentVolumeClaim`);
  return { claim, path: m.mountPath };
};

test("the manifests validate against the Kubernetes JSON schemas (and an invalid one does not)", () => {
  new PersistentVolumeClaim(pvc as never).validate();
  new Job(build as never).validate();
  new Job(merge as never).validate();
  // The validators are real: a wrong type and an unknown completion mode are refused.
  assert.throws(() => new Job({ ...build, spec: { ...build.spec, completions: "three" } } as never).validate(), /completions must be integer/);
  assert.throws(() => new Job({ ...build, spec: { ...build.spec, completionMode: "Sharded" } } as never).validate(), /completionMode must be equal to one of the allowed values/);
});

const shards = Number(envOf(buildContainer, "ADVISOR_SHARDS"));
const command = [...(buildContainer.command ?? []), ...(buildContainer.args ?? [])];
const script = mergeContainer.args?.[0] ?? "";

test("the manifests agree: shard count, grid, volume, shard database paths", () => {
  assert.equal(build.spec.completionMode, "Indexed");
  assert.ok(Number.isInteger(shards) && shards >= 1, "ADVISOR_SHARDS is a shard count");
  assert.equal(build.spec.completions, shards, "completions = ADVISOR_SHARDS");
  assert.equal(build.spec.parallelism, shards, "parallelism = ADVISOR_SHARDS (every shard at once)");
  assert.equal(envOf(mergeContainer, "ADVISOR_SHARDS"), String(shards), "the merge job merges as many shards");
  // backoffLimitPerIndex needs restartPolicy Never (a retried index resumes its database).
  assert.equal(buildPod.restartPolicy, "Never");
  assert.deepEqual(command.slice(0, 3), ["advisor", "matrix", "build-shard"]);

  assert.ok(pvc.spec.accessModes.includes("ReadWriteMany"), "pods on several nodes share the volume");
  const bm = mountOf(buildPod, buildContainer);
  const mm = mountOf(mergePod, mergeContainer);
  assert.equal(bm.claim, pvc.metadata.name);
  assert.equal(mm.claim, pvc.metadata.name);
  assert.equal(bm.path, mm.path, "both jobs mount the volume at the same path");
  const shardDir = flag(command, "--dir");
  assert.ok(shardDir.startsWith(bm.path + "/"), `the shard databases (${shardDir}) are on the volume (${bm.path})`);

  // The merge script reads the shard databases where build-shard writes them, for k = 1 … N.
  const pattern = shardDatabasePath(shardDir, { index: "$k" as unknown as number, count: "$ADVISOR_SHARDS" as unknown as number });
  assert.ok(script.includes(`shards="$shards ${pattern}"`), `the merge script lists ${pattern}`);
  assert.match(script, /while \[ "\$k" -le "\$ADVISOR_SHARDS" \]/);
  const lines = script.split("\n").map((l) => l.trim());
  const mergeLine = lines.find((l) => l.startsWith("advisor matrix merge "))!.split(/\s+/);
  const mergedDb = flag(mergeLine, "--db");
  assert.ok(mergedDb.startsWith(mm.path + "/"), "the merged database is on the volume");
  const statsLine = lines.find((l) => l.startsWith("advisor matrix stats "))!.split(/\s+/);
  assert.equal(flag(statsLine, "--grid"), flag(command, "--grid"), "stats checks against the grid the shards built");
  assert.equal(flag(statsLine, "--db"), mergedDb);
  const verifyLine = lines.find((l) => l.startsWith("advisor matrix verify "))!.split(/\s+/);
  assert.equal(flag(verifyLine, "--sample"), "3");
  assert.equal(flag(verifyLine, "--db"), mergedDb);
  const exportLine = lines.find((l) => l.startsWith("advisor matrix export "))!.split(/\s+/);
  assert.equal(flag(exportLine, "--db"), mergedDb);
  assert.ok(flag(exportLine, "--out").startsWith(mm.path + "/"), "the JSONL lands on the volume");
  assert.ok(lines.indexOf(lines.find((l) => l.startsWith("advisor matrix verify"))!) < lines.indexOf(lines.find((l) => l.startsWith("advisor matrix export"))!), "verified before exported");
  assert.equal(lines[0], "set -eu", "a failing step fails the job");
});

test("build-shard: JOB_COMPLETION_INDEX and ADVISOR_SHARDS give shard index+1 of N, or one clear line", async () => {
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: "0", ADVISOR_SHARDS: "3" }), { index: 1, count: 3 });
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: "2", ADVISOR_SHARDS: "3" }), { index: 3, count: 3 });
  assert.throws(() => shardFromEnv({ ADVISOR_SHARDS: "3" }), /^UsageError: JOB_COMPLETION_INDEX is not set: it is set by a Kubernetes Indexed Job/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "one", ADVISOR_SHARDS: "3" }), /JOB_COMPLETION_INDEX must be an integer from 0 to 2, got "one"/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "-1", ADVISOR_SHARDS: "3" }), /JOB_COMPLETION_INDEX must be an integer from 0 to 2, got "-1"/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "3", ADVISOR_SHARDS: "3" }), /JOB_COMPLETION_INDEX=3 is out of range for ADVISOR_SHARDS=3 \(indexes 0 to 2\)/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0" }), /ADVISOR_SHARDS is not set: give the number of shards N/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0", ADVISOR_SHARDS: "0" }), /ADVISOR_SHARDS must be an integer >= 1 \(the number of shards\), got "0"/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0", ADVISOR_SHARDS: "3.5" }), /ADVISOR_SHARDS must be an integer >= 1/);
  // From the command line: exit 2, one line, nothing written.
  const work = await mkdtemp(path.join(os.tmpdir(), "advisor-k8s-env-"));
  try {
    const r = await runCli(["matrix", "build-shard", "--grid", "db/grids/default.yaml", "--dir", work], { ADVISOR_SHARDS: "3" });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^advisor: JOB_COMPLETION_INDEX is not set/);
    assert.deepEqual(await import("node:fs/promises").then((fs) => fs.readdir(work)), [], "nothing written");
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("the Job's commands, run here once per pod index and then the merge job's script, give the unsharded build's rows", async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), "advisor-k8s-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dataDir = path.join(work, "idx");
  await writeIdxDirectory(dataDir, syntheticSplits({ trainCount: 30, testCount: 20, seed: 3 }));
  const fixture = await readFile(path.join(root, "test", "fixtures", "grid-tiny.yaml"), "utf8");
  const gridFile = path.join(work, "grid.yaml");
  await writeFile(gridFile, fixture.replace("dir: ./synthetic", `dir: ${dataDir}`).replace(/epochs: 2/, "epochs: 1"));

  // Container paths → local ones: the volume, and the image's grid and models folder.
  const mapping: [string, string][] = [
    [flag(command, "--grid"), gridFile],
    [flag(command, "--models-dir"), path.join(work, "image-models")],
    [mountOf(buildPod, buildContainer).path + "/", path.join(work, "volume") + "/"],
  ];
  const local = (text: string): string => mapping.reduce((s, [from, to]) => s.split(from).join(to), text);

  // The unsharded build of the same grid, for comparison (beside the shards: its own folders).
  const reference = path.join(work, "reference", "m.sqlite");
  const referenceBuild = runCli(["matrix", "build", "--grid", gridFile, "--db", reference, "--models-dir", path.join(work, "reference", "models"), "--workers", "1"], {}, 180_000);

  // One run of the container's command per pod index, as the Indexed Job starts them.
  assert.equal(command[0], "advisor");
  const argv = command.slice(1).map(local);
  for (const a of argv) assert.ok(!a.startsWith("/app/") && !a.startsWith("/data"), `unmapped container path ${a}`);
  for (let index = 0; index < shards; index++) {
    const r = await runCli(argv, { JOB_COMPLETION_INDEX: String(index), ADVISOR_SHARDS: String(shards) }, 180_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`building shard ${index + 1}/${shards} into `));
    assert.match(r.stdout, new RegExp(`in the shard ${index + 1}/${shards}, .* 0 failed`));
  }
  const ref = await referenceBuild;
  assert.equal(ref.code, 0, ref.stderr);

  // The merge job's script, with `advisor` on the PATH as in the image.
  const bin = path.join(work, "bin");
  await mkdir(bin);
  await writeFile(path.join(bin, "advisor"), `#!/bin/sh\nexec "${process.execPath}" --import tsx "${path.join(root, "src", "cli", "main.ts")}" "$@"\n`);
  await chmod(path.join(bin, "advisor"), 0o755);
  const localScript = local(script);
  assert.ok(!/\s\/(app|data)\//.test(localScript), `unmapped container path in:\n${localScript}`);
  const child = spawn("sh", ["-c", localScript], {
    cwd: root,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, ADVISOR_SHARDS: envOf(mergeContainer, "ADVISOR_SHARDS")!, ADVISOR_SEED_MATRIX: "none" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, out);
  assert.match(out, /merged into .*: version 1 published with 9 rows/);
  assert.match(out, /9\/9 expected rows present/);
  assert.match(out, /3\/3 cells agree/);

  const mergedDb = local(flag(script.split("\n").find((l) => l.includes("advisor matrix merge"))!.trim().split(/\s+/), "--db"));
  const expected = await exportedRows(reference);
  assert.equal(expected.length, 9);
  assert.deepEqual(await exportedRows(mergedDb), expected, "merged shards = the unsharded build");
  const jsonl = local(flag(script.split("\n").find((l) => l.includes("advisor matrix export"))!.trim().split(/\s+/), "--out"));
  assert.deepEqual(comparableRows((await readFile(jsonl, "utf8")).split("\n")), expected, "the exported JSONL holds those rows");

  // Every cell's worker-timed seconds survive the merge: `matrix calibrate` on the merged database
  // measures each cell kind instead of inferring it from the rows.
  const calibration = await loadCalibration(mergedDb);
  for (const kind of ["train", "craft", "prune", "evaluate"] as const) {
    const measured = calibration.entries.filter((e) => e.kind === kind && e.method.startsWith("measured"));
    assert.ok(measured.length > 0 && measured.every((e) => e.n >= 1 && e.seconds >= 0), `${kind}: ${JSON.stringify(calibration.entries.filter((e) => e.kind === kind))}`);
  }
  assert.ok(!calibration.entries.some((e) => e.method.startsWith("inferred")), "nothing inferred when the cells were timed");
  assert.match(calibration.source, /timed build cells; /);
});
