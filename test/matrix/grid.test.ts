import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { packageRoot } from "../../src/paths.js";
import {
  GridError,
  gridHash,
  loadGrid,
  parseGrid,
  parseShard,
  planCells,
  shardCells,
  validateGrid,
  type Cell,
  type Grid,
} from "../../src/matrix/grid.js";
import { tempDir } from "./fixtures.js";

const DEFAULT_GRID = path.join(packageRoot, "db", "grids", "default.yaml");
const TINY_GRID = path.join(packageRoot, "test", "fixtures", "grid-tiny.yaml");

function base(): Record<string, unknown> {
  return {
    dataset: { name: "fashion-mnist", dir: "/data" },
    architectures: ["lenet5"],
    strategies: ["global-magnitude", "random"],
    rates: [1, 4],
    norms: ["linf"],
    budgets: { linf: [0, 0.1] },
    samples: 10,
  };
}

function gridError(input: unknown): GridError {
  try {
    validateGrid(input, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof GridError, `expected a GridError, got ${String(err)}`);
    return err;
  }
  assert.fail("the grid was accepted");
}

test("the shipped default grid loads and plans the whole study", async () => {
  const grid = await loadGrid(DEFAULT_GRID);
  assert.equal(grid.dataset.dir, "/usr/share/datasets/fashion-mnist");
  assert.deepEqual(grid.architectures, ["lenet300", "lenet5", "convnet"]);
  // The six ShrinkBench-style strategies and the rest of the paper's pruning set (kernel/*, filter/*).
  assert.equal(grid.strategies.length, 11);
  assert.deepEqual(grid.rates, [1, 2, 4, 8, 16, 32, 64]);
  assert.deepEqual(grid.norms, ["l0", "l2", "linf"]);
  assert.deepEqual(grid.knowledge, ["white-box", "transfer", "black-box"]);
  assert.deepEqual(grid.budgets.linf, [0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3]);
  assert.deepEqual(grid.budgets.l2, [0, 0.25, 0.5, 1, 1.5, 2, 3, 4]);
  assert.deepEqual(grid.budgets.l0, [0, 1, 2, 4, 8, 16, 32, 64]);
  assert.equal(grid.samples, 500);
  assert.deepEqual(grid.seeds, [1]);
  const cells = planCells(grid);
  // Per architecture: 1 train, strategies × 6 rates prune cells (kernel/* not on the MLP: 8 there,
  // 11 on the CNNs), (1 + prunes) variants × 3 norms evaluation cells; plus 7 second pruning seeds.
  const count = (kind: Cell["kind"]): number => cells.filter((c) => c.kind === kind).length;
  const variants = 8 * 6 + 2 * 11 * 6 + 7;
  assert.equal(count("train"), 3);
  assert.equal(count("prune"), variants);
  assert.equal(count("evaluate"), (3 + variants) * 3);
});

test("the README's timing grid loads and plans the 17 cells it quotes", async () => {
  const grid = await loadGrid(path.join(packageRoot, "bench", "grids", "timing-small.yaml"));
  const cells = planCells(grid);
  const count = (kind: Cell["kind"]): number => cells.filter((c) => c.kind === kind).length;
  assert.deepEqual([cells.length, count("train"), count("craft"), count("prune"), count("evaluate")], [17, 1, 2, 4, 10]);
});

test("the tiny fixture grid is small and fully specified", async () => {
  const grid = await loadGrid(TINY_GRID);
  assert.equal(grid.dataset.dir, path.join(packageRoot, "test", "fixtures", "synthetic"), "a relative dir resolves against the file");
  assert.equal(grid.samples, 20);
  assert.deepEqual(
    planCells(grid).map((c) => `${c.key} <- ${c.deps.join(" ")}`),
    [
      "train/lenet300/s1 <- ",
      "craft/lenet300/s1/linf <- train/lenet300/s1",
      "eval/lenet300/dense/1x/s1/linf <- train/lenet300/s1 craft/lenet300/s1/linf",
      "prune/lenet300/global-magnitude/4x/s1 <- train/lenet300/s1",
      "eval/lenet300/global-magnitude/4x/s1/linf <- prune/lenet300/global-magnitude/4x/s1 craft/lenet300/s1/linf",
      "prune/lenet300/random/4x/s1 <- train/lenet300/s1",
      "eval/lenet300/random/4x/s1/linf <- prune/lenet300/random/4x/s1 craft/lenet300/s1/linf",
    ],
  );
  const evaluation = planCells(grid).find((c) => c.kind === "evaluate" && c.strategy === "random");
  assert.deepEqual(evaluation?.kind === "evaluate" && evaluation.knowledge, ["white-box", "transfer", "black-box"]);
  assert.deepEqual(evaluation?.kind === "evaluate" && evaluation.budgets, [0, 0.05, 0.1]);
});

test("grid errors name the field path", () => {
  const cases: [string, (g: Record<string, unknown>) => void, RegExp][] = [
    ["unknown strategy", (g) => (g.strategies = ["random", "layer-magnitude", "magic"]), /^strategies\[2\]: unknown strategy "magic" \(known: global-magnitude, .*structured-l1, kernel\/random-local, .*filter\/magnitude-local\)$/],
    ["dense as a strategy", (g) => (g.strategies = ["dense"]), /^strategies\[0\]: dense is not a pruning strategy/],
    ["fractional L0 budget", (g) => ((g.norms = ["l0"]), (g.budgets = { l0: [0, 1, 2.5] })), /^budgets\.l0\[2\]: L0 budget 2\.5 must be an integer/],
    ["descending budgets", (g) => (g.budgets = { linf: [0, 0.2, 0.1] }), /^budgets\.linf\[2\]: L∞ budgets must be ascending and unique: 0\.1 comes after 0\.2$/],
    ["repeated budget", (g) => (g.budgets = { linf: [0.1, 0.1] }), /^budgets\.linf\[1\]: .* 0\.1 repeats 0\.1$/],
    ["L∞ budget above 1", (g) => (g.budgets = { linf: [0, 1.5] }), /^budgets\.linf\[1\]: L∞ budget 1\.5 exceeds 1/],
    ["negative L2 budget", (g) => ((g.norms = ["l2"]), (g.budgets = { l2: [-1, 1] })), /^budgets\.l2\[0\]: budget -1 is negative$/],
    ["missing budgets for a norm", (g) => (g.norms = ["linf", "l2"]), /^budgets\.l2: missing/],
    ["rate below 1", (g) => (g.rates = [1, 0.5]), /^rates\[1\]: rate 0\.5 must be a finite number >= 1/],
    ["duplicate rate", (g) => (g.rates = [4, 4]), /^rates\[1\]: duplicate 4$/],
    ["zero samples", (g) => (g.samples = 0), /^samples: must be at least 1$/],
    ["fractional samples", (g) => (g.samples = 2.5), /^samples: must be an integer$/],
    ["missing samples", (g) => delete g.samples, /^samples: missing$/],
    ["unknown architecture", (g) => (g.architectures = ["resnet"]), /^architectures\[0\]: unknown architecture "resnet" \(known: lenet300, lenet5, convnet, resnet8, vgg11\)$/],
    ["unknown knowledge", (g) => (g.knowledge = ["grey-box"]), /^knowledge\[0\]: unknown attacker knowledge "grey-box"/],
    ["typo in a nested field", (g) => (g.training = { lr: 0.01 }), /^training: unknown field "lr"$/],
    ["bad attack setting", (g) => (g.attacks = { pgd: { steps: 0 } }), /^attacks\.pgd\.steps: must be at least 1$/],
    ["validation share", (g) => (g.training = { validation: 0.7 }), /^training\.validation: validation share must be < 0\.5$/],
  ];
  for (const [name, edit, expected] of cases) {
    const g = base();
    edit(g);
    const err = gridError(g);
    assert.equal(err.issues.length, 1, `${name}: ${err.message}`);
    assert.match(err.issues[0]!, expected, name);
    assert.ok(err.message.startsWith("test.yaml: "), name);
  }
  // Several problems are reported together.
  const g = base();
  g.strategies = ["magic"];
  g.budgets = { linf: [2] };
  const err = gridError(g);
  assert.equal(err.issues.length, 2);
  assert.match(err.message, /^test\.yaml: 2 problems:\n {2}strategies\[0\]: .*\n {2}budgets\.linf\[0\]: /);
});

test("grid files: YAML or JSON by extension or content; unreadable and malformed files are clear errors", async (t) => {
  const dir = await tempDir(t);
  const asJson = path.join(dir, "grid.json");
  const asYaml = path.join(dir, "grid.yml");
  const noExt = path.join(dir, "grid");
  await writeFile(asJson, JSON.stringify(base()));
  await writeFile(asYaml, YAML.stringify(base()));
  await writeFile(noExt, JSON.stringify(base()));
  const a = await loadGrid(asJson);
  assert.deepEqual(await loadGrid(asYaml), a);
  assert.deepEqual(await loadGrid(noExt), a);
  assert.deepEqual(parseGrid(YAML.stringify(base())), a);
  await assert.rejects(loadGrid(path.join(dir, "missing.yaml")), /grid file .*missing\.yaml not found/);
  await writeFile(asYaml, "rates: [1, 2\n");
  await assert.rejects(loadGrid(asYaml), /grid\.yml: not valid YAML/);
  await writeFile(asJson, "{ rates: }");
  await assert.rejects(loadGrid(asJson), /grid\.json: not valid JSON/);
  assert.throws(() => parseGrid(""), /the grid is empty/);
});

test("planCells is deterministic, ordered by dependencies, and independent of list order; gridHash too", () => {
  const g1 = validateGrid({ ...base(), architectures: ["lenet5", "lenet300"], norms: ["linf", "l0"], budgets: { linf: [0, 0.1], l0: [0, 4] }, rates: [4, 1, 2], seeds: [2, 1] });
  const g2 = validateGrid({
    ...base(),
    architectures: ["lenet300", "lenet5"],
    strategies: ["random", "global-magnitude"],
    norms: ["l0", "linf"],
    knowledge: ["black-box", "white-box", "transfer"],
    budgets: { l0: [0, 4], linf: [0, 0.1] },
    rates: [1, 2, 4],
    seeds: [1, 2],
    dataset: { name: "fashion-mnist", dir: "/elsewhere/on/another/machine" },
    description: "same grid, other words",
  });
  const plan = planCells(g1);
  assert.deepEqual(planCells(g1), plan);
  assert.deepEqual(planCells(g2), plan);
  assert.equal(gridHash(g1), gridHash(g2));
  assert.match(gridHash(g1), /^[0-9a-f]{64}$/);
  assert.notEqual(gridHash(g1), gridHash({ ...g1, samples: 11 }));
  assert.notEqual(gridHash(g1), gridHash({ ...g1, budgets: { ...g1.budgets, linf: [0, 0.2] } }));

  const position = new Map(plan.map((c, i) => [c.key, i]));
  assert.equal(position.size, plan.length, "keys are unique");
  for (const c of plan) for (const d of c.deps) assert.ok(position.get(d)! < position.get(c.key)!, `${d} before ${c.key}`);
  // 2 architectures × 2 seeds × (train + 2 norms craft + 2 strategies × 2 rates prune + 5 variants × 2 norms evaluate).
  assert.equal(plan.length, 2 * 2 * (1 + 2 + 4 + 10));
  const transferEval = plan.find((c) => c.key === "eval/lenet5/random/4x/s2/l0");
  assert.deepEqual(transferEval?.deps, ["prune/lenet5/random/4x/s2", "craft/lenet5/s2/l0"]);
  assert.deepEqual(plan.find((c) => c.key === "eval/lenet5/dense/1x/s2/l0")?.deps, ["train/lenet5/s2", "craft/lenet5/s2/l0"]);
  assert.deepEqual(plan.find((c) => c.key === "craft/lenet5/s2/l0")?.deps, ["train/lenet5/s2"]);
  // Without the transfer level an evaluation needs only its variant, and nothing is crafted.
  const noTransfer: Grid = { ...g1, knowledge: ["white-box", "black-box"] };
  assert.deepEqual(planCells(noTransfer).find((c) => c.key === "eval/lenet5/random/4x/s2/l0")?.deps, ["prune/lenet5/random/4x/s2"]);
  assert.equal(planCells(noTransfer).filter((c) => c.kind === "craft").length, 0);
});

test("shards are disjoint, cover every cell, and carry the dependencies they need", async () => {
  const plan = planCells(await loadGrid(DEFAULT_GRID));
  for (const n of [1, 2, 3, 4, 7, 500]) {
    const owners = new Map<string, number>();
    let leafCounts: number[] = [];
    for (let k = 1; k <= n; k++) {
      const shard = shardCells(plan, k, n);
      assert.deepEqual(shardCells(plan, k, n), shard, "deterministic");
      for (const c of shard.owned) {
        assert.ok(!owners.has(c.key), `${c.key} owned by shards ${owners.get(c.key)} and ${k} of ${n}`);
        owners.set(c.key, k);
      }
      // Everything a shard runs has its dependencies in the shard.
      const runs = new Set(shard.cells.map((c) => c.key));
      for (const c of shard.cells) for (const d of c.deps) assert.ok(runs.has(d), `shard ${k}/${n}: ${c.key} needs ${d}`);
      assert.ok(shard.needed.every((c) => !shard.owned.includes(c)));
      assert.deepEqual(
        shard.cells.map((c) => c.key),
        plan.filter((c) => runs.has(c.key)).map((c) => c.key),
        "plan order",
      );
      leafCounts.push(shard.owned.filter((c) => c.kind === "evaluate").length);
    }
    assert.equal(owners.size, plan.length, `N=${n}: every cell is owned by some shard`);
    leafCounts = leafCounts.filter((x) => x > 0);
    assert.ok(Math.max(...leafCounts) - Math.min(...leafCounts) <= 1, `N=${n}: balanced evaluation cells ${leafCounts.join(",")}`);
  }
  // Contiguous blocks keep rebuilt dependencies few: with 4 shards each needs at most one dense
  // model with its three craft cells (one per norm) and one variant from others.
  for (let k = 1; k <= 4; k++) assert.ok(shardCells(plan, k, 4).needed.length <= 5, shardCells(plan, k, 4).needed.map((c) => c.key).join(" "));
});

test("parseShard reads k/N and refuses anything else clearly", () => {
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.deepEqual(parseShard(" 1 / 1 "), { index: 1, count: 1 });
  assert.throws(() => parseShard("2-4"), /invalid shard "2-4": expected k\/N, e\.g\. 2\/4/);
  assert.throws(() => parseShard("5/4"), /k must be between 1 and 4/);
  assert.throws(() => parseShard("0/4"), /k must be between 1 and 4/);
  assert.throws(() => parseShard("1/0"), /N must be at least 1/);
  assert.throws(() => parseShard("1.5/4"), /expected k\/N/);
  assert.throws(() => shardCells([], 3, 2), /shard index/);
  const plan = planCells(validateGrid(base()));
  assert.throws(() => shardCells(plan.slice(1), 1, 2), /depends on train\/lenet5\/s1, which is not in the plan/);
});
