// Issue 16, items 3, 4 and 8 (last point), on refresh jobs:
//   3. a refresh without a grid (no body, `{}`, `advisor refresh` without --grid) runs nothing: a
//      400 / exit 2 naming the choices ("default", a grid object) with cells and estimated time;
//   4. a smaller later refresh does not replace better evidence: its rows with fewer samples (or
//      weaker attack settings) are published withheld, the current rows stay current, the job says
//      what was kept; `"replace": true` makes them current;
//   8. a refresh grid giving only `fmn.steps` takes every other attack setting from the default grid.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { weakerBecause } from "../../src/matrix/evidence.js";
import { asRefreshGrid, loadGrid, refreshGrid, validateRefreshGrid } from "../../src/matrix/grid.js";
import type { StoredAttack } from "../../src/matrix/row.js";
import { defaultRefreshGridPath } from "../../src/paths.js";
import { runCli } from "../helpers/cli.js";
import { AUTH, TINY_GRID, refresh, startJobsApi, uploadTiny, waitForJob, type JobBody } from "./helpers.js";

interface Kept {
  strategy: string;
  rate: number;
  norm: string;
  knowledge: string;
  kept: { evaluation: number; version: number; samples: number };
  withheld: { evaluation: number; samples: number };
  reasons: string[];
}
type Job = JobBody & { kept: Kept[]; replace: boolean; grid: { attacks: Record<string, Record<string, number>> } };

test("item 3: a refresh without a grid queues nothing and answers 400 naming the choices with cells and estimated time; so does advisor refresh", async (t) => {
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  for (const body of [undefined, {}, { replace: true }]) {
    const res = await refresh(api, id, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.contentType.split(";")[0], "application/problem+json");
    assert.equal(res.body.field, "grid");
    const choices = res.body.choices as { grid: unknown; cells: number; samples: number; estimatedSeconds: number; estimate: string }[];
    assert.equal(choices[0]!.grid, "default");
    assert.equal(choices[0]!.cells, 271, "the default grid for one CNN: 1 train, 3 craft, 3 dense + 11 strategies × 6 rates × (1 prune + 3 eval)");
    assert.equal(choices[0]!.samples, 500);
    assert.ok(choices[0]!.estimatedSeconds > 3600, `hours: ${choices[0]!.estimate}`);
    assert.equal(typeof choices[1]!.grid, "object");
    assert.ok(choices[1]!.cells < 10 && choices[1]!.estimatedSeconds < 600, JSON.stringify(choices[1]));
    assert.match(String(res.body.detail), /a refresh needs an explicit grid: \{"grid": "default"\} runs the server's default grid — 271 cells of 500 samples, ≈ \d+(\.\d)? h; \{"grid": \{…\}\} runs your own/);
  }
  const unknown = await refresh(api, id, { grid: "everything" });
  assert.equal(unknown.status, 400);
  assert.match(String(unknown.body.detail), /grid: unknown grid "everything": send "default"/);
  assert.equal((await api.store.db.get<{ n: number }>("SELECT count(*) AS n FROM jobs"))!.n, 0, "nothing queued");

  // The CLI: no --grid → exit 2 with the same choices, before anything is opened.
  const cli = await runCli(["refresh", id, "--db", path.join(path.dirname(api.dbFile), "none.sqlite")], {});
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /a refresh needs an explicit grid: --grid default runs the server's default grid — 271 cells of 500 samples, ≈ [\d.]+ h; --grid FILE runs your own/);
});

test("item 8: a refresh grid giving only fmn.steps keeps every other attack setting of the default grid", async (t) => {
  const base = asRefreshGrid(await loadGrid(defaultRefreshGridPath));
  const { attacks: _tinyAttacks, ...rest } = TINY_GRID;
  const r = validateRefreshGrid({ ...rest, attacks: { fmn: { steps: 5 } } });
  const g = refreshGrid(r, { id: "a".repeat(64), architecture: "m", dir: "/m" }, { name: "synthetic", dir: "/d" }, base);
  assert.deepEqual(g.attacks, { ...base.attacks, fmn: { steps: 5, targets: 0 } }, "targets 0 and pgd.restarts 2 as in db/grids/default.yaml, not the schema's 1 and 1");
  assert.deepEqual(g.training, { ...base.training, batchSize: 16 });

  // Through the API: the job's grid as run.
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  const res = await refresh(api, id, { grid: { ...rest, attacks: { fmn: { steps: 5 } } } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = res.body.job as Job;
  assert.equal(job.grid.attacks.fmn!.targets, 0);
  assert.equal(job.grid.attacks.pgd!.restarts, 2);
  assert.equal(job.grid.attacks.fmn!.steps, 5);
  await api.call("DELETE", `/v1/jobs/${job.id}`, { headers: AUTH });
});

const attack = (name: string, knowledge: StoredAttack["knowledge"], params: StoredAttack["params"], budgets: number[] = []): StoredAttack => ({
  name,
  kind: budgets.length > 0 ? "fixed-budget" : "minimization",
  knowledge,
  access: "gradient",
  params,
  budgets,
  attempted: 1,
  beaten: 0,
});

test("item 4: the rule — fewer samples, a missing attack, fewer steps/restarts/targets/queries, a missing budget make a row weaker; unordered settings do not", () => {
  const strong = {
    samples: 500,
    attacks: [attack("fmn-linf", "white-box", { steps: 100, targets: 0, loss: "margin" }), attack("pgd-linf", "white-box", { steps: 40, restarts: 2 }, [0.1, 0.05]), attack("square-linf", "black-box", { queryBudget: 1000 }, [0.1, 0.05])],
  };
  assert.deepEqual(weakerBecause(strong, strong), []);
  assert.deepEqual(weakerBecause(strong, { ...strong, samples: 1 }), ["1 samples < 500"]);
  assert.deepEqual(weakerBecause(strong, { samples: 1000, attacks: strong.attacks.slice(0, 2) }), ["attack square-linf (black-box) missing"], "more samples do not make up for it");
  assert.deepEqual(
    weakerBecause(strong, { samples: 500, attacks: [attack("fmn-linf", "white-box", { steps: 100, targets: 0 }), attack("pgd-linf", "white-box", { steps: 5, restarts: 1 }, [0.1]), attack("square-linf", "black-box", { queryBudget: 20 }, [0.1, 0.05])] }),
    ["pgd-linf (white-box) steps 5 < 40", "pgd-linf (white-box) restarts 1 < 2", "pgd-linf (white-box) not run at budget 0.05", "square-linf (black-box) queryBudget 20 < 1000"],
  );
  // Stronger or merely different: not weaker.
  assert.deepEqual(weakerBecause(strong, { samples: 600, attacks: [attack("fmn-linf", "white-box", { steps: 200, targets: 1, loss: "ce" }), ...strong.attacks.slice(1), attack("extra", "transfer", {})] }), []);
  assert.deepEqual(weakerBecause({ samples: 500, attacks: [attack("pgd-l0", "white-box", { steps: 40 }, [784])].map((a) => ({ ...a, sanity: true })) }, { samples: 500, attacks: [] }), [], "sanity runs are not evidence");
});

test("item 4: a 5-sample refresh after a 20-sample one keeps the 20-sample rows current and says so; replace: true makes them current", async (t) => {
  const api = await startJobsApi(t);
  const { id } = await uploadTiny(api, t);
  const samplesOf = async (): Promise<number[]> => {
    const res = await api.call("GET", `/v1/matrix?model=${id}&limit=100`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.rows as { n: number }[]).map((r) => r.n).sort((a, b) => a - b);
  };
  const run = async (body: unknown): Promise<{ res: Awaited<ReturnType<typeof refresh>>; job: Job }> => {
    const res = await refresh(api, id, body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const done = (await waitForJob((p) => api.call("GET", p), (res.body.job as JobBody).id)) as Job;
    assert.equal(done.state, "succeeded", JSON.stringify(done));
    return { res, job: done };
  };

  // 20 samples: 4 rows (dense and 4×, L∞, white-box and black-box), nothing to keep.
  const first = await run({ grid: TINY_GRID });
  assert.deepEqual(first.job.kept, []);
  assert.deepEqual(await samplesOf(), [20, 20, 20, 20]);

  // 5 samples: published, but every row withheld; the answer warns up front, the job lists the kept rows.
  const small = { ...TINY_GRID, samples: 5 };
  const second = await run({ grid: small });
  assert.match(String(second.res.body.detail), /4 current row\(s\) of this model have more samples than this grid's 5 and will stay current/);
  assert.equal(second.job.replace, false);
  assert.equal(second.job.kept.length, 4, JSON.stringify(second.job.kept));
  for (const k of second.job.kept) {
    assert.deepEqual(k.reasons, ["5 samples < 20"]);
    assert.equal(k.kept.version, first.job.matrixVersion);
    assert.equal(k.kept.samples, 20);
    assert.equal(k.withheld.samples, 5);
  }
  assert.ok(second.job.matrixVersion! > first.job.matrixVersion!, "its version is published all the same");
  assert.deepEqual(await samplesOf(), [20, 20, 20, 20], "the 20-sample rows stay current");
  const v2 = await api.call("GET", `/v1/matrix?model=${id}&version=${second.job.matrixVersion}`);
  assert.deepEqual((v2.body.rows as { n: number }[]).map((r) => r.n), [20, 20, 20, 20], "in its own version's snapshot too");

  // The same 5-sample grid with replace: already measured, so its withheld rows are published again as current.
  const replaced = await refresh(api, id, { grid: small, replace: true });
  assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
  assert.equal(replaced.body.outcome, "already-measured");
  assert.match(String(replaced.body.detail), /with "replace": true its 4 row\(s\) were published again as current in matrix version \d+/);
  assert.ok((replaced.body.matrixVersion as number) > second.job.matrixVersion!);
  assert.deepEqual(await samplesOf(), [5, 5, 5, 5]);

  // A fresh refresh with replace: true publishes its rows as current at once (nothing kept).
  const third = await run({ grid: { ...TINY_GRID, samples: 3 }, replace: true });
  assert.equal(third.job.replace, true);
  assert.deepEqual(third.job.kept, []);
  assert.deepEqual(await samplesOf(), [3, 3, 3, 3]);
});
