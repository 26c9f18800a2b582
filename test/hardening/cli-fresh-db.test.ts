// Issue 16, item 6: `advisor recommend|gate --db FILE` on a fresh checkout, where FILE does not
// exist until `serve` has run once, exited 2 ("no such database file"). A missing file is now
// made as `serve` makes it at start-up — created, migrated, seeded from the shipped matrix, with
// the seed recorded — so the command answers at once and a later `serve` finds nothing to add.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Database } from "../../src/matrix/sqlite.js";
import { seedMatrix } from "../../src/matrix/seed.js";
import { MatrixStore } from "../../src/matrix/store.js";
import { runCli } from "../helpers/cli.js";
import { SHIPPED_MATRIX } from "../helpers/readme-examples.js";
import { tempDir } from "../matrix/fixtures.js";

const skip = existsSync(SHIPPED_MATRIX) ? false : "no shipped matrix (db/matrix.jsonl)";
const scenario = ["--architecture", "lenet300", "--norm", "linf", "--budget", "0.01", "--knowledge", "white-box"];
// The CLI's own default: runCli turns seeding off for other tests, a fresh checkout has it on.
const asShipped = { ADVISOR_SEED_MATRIX: undefined };

test("recommend and gate --db on a database that does not exist yet answer from the shipped matrix", { skip }, async (t) => {
  const dir = await tempDir(t, "advisor-fresh-db-");
  const db = path.join(dir, "data", "advisor.sqlite");
  const rows = (await readFile(SHIPPED_MATRIX, "utf8")).split("\n").filter((l) => l.trim() !== "").length;

  const rec = await runCli(["recommend", "--db", db, ...scenario, "--min-compression", "4", "--json"], asShipped);
  assert.equal(rec.code, 0, rec.stderr);
  assert.equal(rec.stderr, `--db: created ${db} from the shipped matrix ${SHIPPED_MATRIX} (${rows} rows, matrix version 1)\n`);
  const answer = JSON.parse(rec.stdout) as { status: string; matrixVersion: number; recommendation: { architecture: string } | null };
  assert.equal(answer.status, "ok");
  assert.equal(answer.matrixVersion, 1);
  assert.equal(answer.recommendation?.architecture, "lenet300");

  // The second command reads the file the first one made.
  const gate = await runCli(["gate", "--db", db, ...scenario, "--strategy", "global-magnitude", "--rate", "4", "--min-robust-accuracy", "0.75", "--max-drop", "0.03"], asShipped);
  assert.equal(gate.code, 0, gate.stderr + gate.stdout);
  assert.equal(gate.stderr, "");
  assert.match(gate.stdout, /^PASS: global-magnitude 4× \(matrix version 1\)/);

  // Made as `serve` makes it: one seeded version, the file recorded, so serve's seed has nothing to do.
  const store = new MatrixStore(await Database.open(db));
  t.after(() => store.close());
  const versions = await store.listVersions();
  assert.deepEqual(
    versions.map((v) => [v.id, v.description]),
    [[1, "seeded from matrix.jsonl"]],
  );
  assert.deepEqual(await seedMatrix(store, SHIPPED_MATRIX, db), { seeded: false, reason: "up-to-date", file: SHIPPED_MATRIX });
});

test("with ADVISOR_SEED_MATRIX=none a missing --db file stays an error (exit 2) and is not created", async (t) => {
  const dir = await tempDir(t, "advisor-fresh-db-");
  const db = path.join(dir, "advisor.sqlite");
  const r = await runCli(["gate", "--db", db, ...scenario, "--strategy", "dense", "--rate", "1", "--min-robust-accuracy", "0.1"], { ADVISOR_SEED_MATRIX: "none" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^advisor: --db: no such database file: .*advisor\.sqlite \(and ADVISOR_SEED_MATRIX=none: no shipped matrix to create it from\)/);
  assert.equal(existsSync(db), false);
});
