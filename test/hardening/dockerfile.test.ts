// Issue 16, item 7: Docker cannot run here, so the Dockerfile's promises are checked as text
// against the repository: the base image, the data set the service needs (Debian's
// dataset-fashion-mnist, at the path the service reads by default), a non-root user, the health
// check, the shipped matrix (db/) in the image, the start command, and the README's volumes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_DATA_DIR } from "../../src/engine/data.js";
import { root } from "../helpers/cli.js";

interface Instruction {
  op: string;
  args: string;
}

/** The instructions of each stage (comments dropped, continued lines joined). */
async function stages(): Promise<Instruction[][]> {
  const text = await readFile(path.join(root, "Dockerfile"), "utf8");
  const lines = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const out: Instruction[][] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line.trim());
    assert.ok(m, `Dockerfile line: ${line}`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, " ").trim() };
    if (ins.op === "FROM") out.push([]);
    assert.ok(out.length > 0, "the Dockerfile starts with FROM");
    out.at(-1)!.push(ins);
  }
  return out;
}

const all = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op).map((i) => i.args);
/** ENV in both forms (`K=V K2=V2` and `K V`). */
function env(stage: Instruction[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const args of all(stage, "ENV")) {
    if (/^\w+=/.test(args)) for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) vars.set(m[1]!, m[2]!.replace(/^"|"$/g, ""));
    else vars.set(args.split(" ")[0]!, args.split(" ").slice(1).join(" "));
  }
  return vars;
}

test("Dockerfile: Node 20 on Debian bookworm slim, as package.json's engines and the data set package need", async () => {
  const s = await stages();
  assert.equal(s.length, 2, "a build stage and a runtime stage");
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { engines: { node: string } };
  assert.match(pkg.engines.node, />=20\./);
  for (const stage of s) assert.match(stage[0]!.args, /^node:20-bookworm-slim\b/, "node 20 on bookworm (dataset-fashion-mnist is a bookworm package)");
  assert.match(s[0]![0]!.args, / AS build$/);
});

test("Dockerfile: the runtime image installs dataset-fashion-mnist and points the service at it", async () => {
  const runtime = (await stages())[1]!;
  const install = all(runtime, "RUN").find((r) => /apt-get install\b.*\bdataset-fashion-mnist\b/.test(r));
  assert.ok(install, "apt-get install dataset-fashion-mnist in the runtime stage");
  assert.match(install, /^apt-get update && apt-get install -y --no-install-recommends /);
  assert.match(install, /rm -rf \/var\/lib\/apt\/lists\/\*$/, "no apt lists left in the image");
  assert.equal(env(runtime).get("ADVISOR_DATASETS"), `fashion-mnist=${DEFAULT_DATA_DIR}`, "the directory the package fills, which is also the service's default");
  // Where apt puts the package here (the machine runs bookworm too), the path is the one it fills.
  let listed: string;
  try {
    listed = execFileSync("dpkg", ["-L", "dataset-fashion-mnist"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return; // not installed on this machine: the text checks above stand alone
  }
  for (const f of ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) {
    assert.ok(listed.split("\n").includes(`${DEFAULT_DATA_DIR}/${f}.gz`), `dataset-fashion-mnist installs ${DEFAULT_DATA_DIR}/${f}.gz`);
  }
});

test("Dockerfile: runs as the non-root node user, database on the /data volume it owns", async () => {
  const runtime = (await stages())[1]!;
  const users = all(runtime, "USER");
  assert.deepEqual(users, ["node"]);
  const ops = runtime.map((i) => i.op);
  assert.ok(ops.lastIndexOf("RUN") < ops.indexOf("USER"), "nothing runs as root after USER");
  const vars = env(runtime);
  assert.deepEqual(all(runtime, "VOLUME"), ['["/data"]']);
  assert.equal(vars.get("ADVISOR_DB"), "/data/advisor.sqlite");
  assert.ok(all(runtime, "RUN").some((r) => /mkdir -p \/data && chown node:node \/data/.test(r)), "the node user can write /data");
  assert.equal(vars.get("HOST"), "0.0.0.0", "reachable from outside the container");
  assert.deepEqual(all(runtime, "EXPOSE"), [vars.get("PORT")]);
});

test("Dockerfile: the health check asks /healthz on the service's port", async () => {
  const runtime = (await stages())[1]!;
  const [hc] = all(runtime, "HEALTHCHECK");
  assert.ok(hc);
  assert.match(hc, /^--interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD node -e /);
  assert.match(hc, /fetch\('http:\/\/127\.0\.0\.1:'\+\(process\.env\.PORT\|\|8080\)\+'\/healthz'\)/);
  assert.match(hc, /process\.exit\(r\.ok\?0:1\),\(\)=>process\.exit\(1\)/, "unhealthy on an error status and on no answer");
  assert.match(await readFile(path.join(root, "src", "api", "app.ts"), "utf8"), /app\.get\("\/healthz"/);
});

test("Dockerfile: db/ (migrations, shipped matrix, default grid) is copied into the image, and every COPY source exists", async () => {
  const [build, runtime] = await stages();
  assert.deepEqual(all(build!, "WORKDIR"), ["/app"]);
  assert.deepEqual(all(runtime!, "WORKDIR"), ["/app"]);
  assert.ok(all(build!, "COPY").includes("db ./db"));
  assert.ok(all(runtime!, "COPY").includes("--from=build /app/db ./db"));
  for (const f of ["db/matrix.jsonl", "db/migrations", "db/grids/default.yaml"]) assert.ok(existsSync(path.join(root, f)), `${f} is in the repository`);
  const ignored = (await readFile(path.join(root, ".dockerignore"), "utf8")).split("\n").map((l) => l.trim()).filter(Boolean);
  for (const args of all(build!, "COPY")) {
    for (const src of args.split(" ").slice(0, -1)) {
      assert.ok(existsSync(path.join(root, src)), `COPY ${src}: exists`);
      assert.ok(!ignored.includes(src.replace(/\/$/, "")), `COPY ${src}: not in .dockerignore`);
    }
  }
});

test("Dockerfile: starts `advisor serve` from the build output, as npm start does", async () => {
  const [build, runtime] = await stages();
  assert.deepEqual(all(runtime!, "CMD"), ['["node", "dist/cli/main.js", "serve"]']);
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { scripts: { start: string; build: string }; bin: { advisor: string } };
  assert.equal(pkg.scripts.start, "node dist/cli/main.js serve");
  assert.equal(pkg.bin.advisor, "dist/cli/main.js");
  const tsconfig = JSON.parse(await readFile(path.join(root, "tsconfig.build.json"), "utf8")) as { compilerOptions: { rootDir: string; outDir: string } };
  assert.deepEqual([tsconfig.compilerOptions.rootDir, tsconfig.compilerOptions.outDir], ["src", "dist"], "src/cli/main.ts compiles to dist/cli/main.js");
  assert.ok(existsSync(path.join(root, "src", "cli", "main.ts")));
  assert.ok(all(build!, "RUN").some((r) => /npm run build && chmod \+x dist\/cli\/main\.js/.test(r)), "the `advisor` link in the image is executable");
  assert.ok(all(runtime!, "COPY").includes("--from=build /app/dist ./dist"));
});

test("Dockerfile: the web page's sources go into the build stage, so npm run build bundles them into dist/web, which the image keeps", async () => {
  const [build, runtime] = await stages();
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { scripts: { build: string } };
  assert.match(pkg.scripts.build, /web\/build\.ts/, "npm run build builds the page");
  const copies = all(build!, "COPY");
  assert.ok(copies.includes("web ./web"));
  const order = build!.map((i) => `${i.op} ${i.args}`);
  assert.ok(order.indexOf("COPY web ./web") < order.findIndex((l) => /^RUN npm run build/.test(l)), "copied before the build runs");
  assert.ok(all(runtime!, "COPY").includes("--from=build /app/dist ./dist"), "dist/web goes into the image with dist");
});

test("README: the Container section documents the /data volume and the data set directory", async () => {
  const readme = await readFile(path.join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Container"));
  assert.match(section, /-v [\w-]+:\/data\b/, "the database volume");
  assert.match(section, new RegExp(`-v [^\\s]+:${DEFAULT_DATA_DIR.replaceAll("/", "\\/")}(:ro)?\\b`), "how to mount another data set");
  assert.match(section, /dataset-fashion-mnist/);
  assert.match(section, /503/, "what happens without the data set");
});
