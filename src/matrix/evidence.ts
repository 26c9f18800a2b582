// A refresh never replaces better evidence (issue 16, item 4). When a refresh job publishes its
// version, every row it wrote is compared with the CURRENT row of the same (model, variant, norm,
// knowledge) — a variant is (model, strategy, rate, seed) — in the latest published snapshot. The
// new row is WEAKER, and the current row stays current, when any one of these holds:
//
//   1. samples:  it evaluated fewer samples (sample_count);
//   2. attack missing: an attack the current row ran — same attack name (e.g. pgd-linf, fmn-l2,
//      square-linf) at the same knowledge level — is not among the new row's attacks;
//   3. effort:   for an attack both ran, a setting that only makes the attack stronger is lower
//      in the new row: `steps` (PGD, FMN), `restarts` (PGD), `targets` (FMN's targeted runs),
//      `queryBudget` (Square, Sparse-RS); a setting the current row has and the new one lacks
//      counts as lower;
//   4. budgets:  a fixed-budget attack both ran was not run by the new row at a budget where the
//      current row ran it (a coarser budget grid is weaker evidence between its points).
//
// Each condition on its own is enough (no trade-off: 1,000 samples at 5 PGD steps do not replace
// 500 at 40). The unbounded sanity runs (`sanity: true`) are left out of 2–4: they are checks, not
// evidence. Settings that are not ordered by strength (loss, initialisation, step sizes, early
// stopping, seeding) and the code version and backend never make a row weaker; a different set of
// samples of the same size does not either. A new row with no current row, or one at least as
// strong on every count, becomes current as before.
//
// The weaker row is published all the same (nothing measured is thrown away) but WITHHELD: its
// `withheld_for` names the current row, and snapshots skip it (queries.ts, FROM_SNAPSHOT). A request
// with `"replace": true` skips the comparison: every row becomes current. Only refresh jobs apply
// the rule (src/jobs/runner.ts); `advisor matrix build`, import, merge and seeding publish as before.
import type { StoredAttack } from "./row.js";
import { FROM_SNAPSHOT } from "./queries.js";
import type { MatrixStore } from "./store.js";

/** The attack settings that only make an attack stronger when larger (see the header, rule 3). */
export const EFFORT_PARAMS = ["steps", "restarts", "targets", "queryBudget"] as const;

export interface EvidenceRow {
  samples: number;
  attacks: readonly StoredAttack[];
}

/** What a refresh's publication kept: a current row its new row did not replace, and why. */
export interface KeptRow {
  strategy: string;
  rate: number;
  seed: number;
  norm: string;
  knowledge: string;
  /** The row that stays current. */
  kept: { evaluation: number; version: number; samples: number };
  /** The refresh's row, published but withheld. */
  withheld: { evaluation: number; samples: number };
  /** Each way the new row is weaker (rules 1–4), e.g. "1 samples < 500". */
  reasons: string[];
}

interface AttackGroup {
  params: Map<string, number>;
  budgets: Set<number>;
}

function groups(attacks: readonly StoredAttack[]): Map<string, AttackGroup> {
  const out = new Map<string, AttackGroup>();
  for (const a of attacks) {
    if (a.sanity) continue;
    const key = `${a.name} (${a.knowledge})`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { params: new Map(), budgets: new Set() }));
    for (const p of EFFORT_PARAMS) {
      const v = a.params[p];
      if (typeof v === "number" && Number.isFinite(v)) g.params.set(p, Math.max(g.params.get(p) ?? -Infinity, v));
    }
    for (const b of a.budgets) g.budgets.add(b);
  }
  return out;
}

/** Why `candidate` is weaker evidence than `current` (rules 1–4 of the header); empty when it is not. */
export function weakerBecause(current: EvidenceRow, candidate: EvidenceRow): string[] {
  const reasons: string[] = [];
  if (candidate.samples < current.samples) reasons.push(`${candidate.samples} samples < ${current.samples}`);
  const mine = groups(candidate.attacks);
  for (const [key, g] of groups(current.attacks)) {
    const c = mine.get(key);
    if (!c) {
      reasons.push(`attack ${key} missing`);
      continue;
    }
    for (const [p, v] of g.params) {
      const w = c.params.get(p);
      if (w === undefined) reasons.push(`${key} ${p} missing (was ${v})`);
      else if (w < v) reasons.push(`${key} ${p} ${w} < ${v}`);
    }
    const missing = [...g.budgets].filter((b) => !c.budgets.has(b)).sort((a, b) => a - b);
    if (missing.length > 0) reasons.push(`${key} not run at budget${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  }
  return reasons;
}

interface Candidate {
  id: number;
  variant_id: number;
  norm: string;
  knowledge: string;
  sample_count: number;
  attacks: string;
  strategy: string;
  rate: number;
  seed: number;
}

interface Current {
  id: number;
  variant_id: number;
  norm: string;
  knowledge: string;
  sample_count: number;
  attacks: string;
  version: number;
}

/**
 * Marks the rows of the unpublished `version` that are weaker than the current row of their
 * (variant, norm, knowledge) as withheld (see the header) and returns what was kept. Run inside
 * the transaction that publishes `version`.
 */
export async function withholdWeaker(tx: MatrixStore, version: number): Promise<KeptRow[]> {
  const latest = await tx.db.get<{ seq: number | null }>("SELECT max(published_seq) AS seq FROM matrix_versions");
  if (latest?.seq === null || latest?.seq === undefined) return [];
  const current = await tx.db.all<Current>(
    `SELECT e.id, e.variant_id, e.norm, e.knowledge, e.sample_count, e.attacks, mv.id AS version ${FROM_SNAPSHOT}
        AND e.variant_id IN (SELECT variant_id FROM evaluations WHERE matrix_version = ?2)`,
    [latest.seq, version],
  );
  if (current.length === 0) return [];
  const byKey = new Map(current.map((c) => [`${c.variant_id}/${c.norm}/${c.knowledge}`, c]));
  const rows = await tx.db.all<Candidate>(
    `SELECT e.id, e.variant_id, e.norm, e.knowledge, e.sample_count, e.attacks, va.strategy, va.requested_rate AS rate, va.seed
       FROM evaluations e JOIN variants va ON va.id = e.variant_id WHERE e.matrix_version = ? ORDER BY e.id`,
    [version],
  );
  const kept: KeptRow[] = [];
  for (const r of rows) {
    const c = byKey.get(`${r.variant_id}/${r.norm}/${r.knowledge}`);
    if (!c) continue;
    const reasons = weakerBecause(
      { samples: c.sample_count, attacks: JSON.parse(c.attacks) as StoredAttack[] },
      { samples: r.sample_count, attacks: JSON.parse(r.attacks) as StoredAttack[] },
    );
    if (reasons.length === 0) continue;
    await tx.db.run("UPDATE evaluations SET withheld_for = ? WHERE id = ?", [c.id, r.id]);
    kept.push({
      strategy: r.strategy,
      rate: r.rate,
      seed: r.seed,
      norm: r.norm,
      knowledge: r.knowledge,
      kept: { evaluation: c.id, version: c.version, samples: c.sample_count },
      withheld: { evaluation: r.id, samples: r.sample_count },
      reasons,
    });
  }
  return kept;
}

/** Rows of published `version` that were withheld (weaker than the row then current). */
export async function withheldCount(store: MatrixStore, version: number): Promise<number> {
  const r = await store.db.get<{ n: number }>("SELECT count(*) AS n FROM evaluations WHERE matrix_version = ? AND withheld_for IS NOT NULL", [version]);
  return r?.n ?? 0;
}

const EVALUATION_COLUMNS = [
  "variant_id",
  "norm",
  "knowledge",
  "budgets",
  "dataset_split",
  "sample_indices",
  "sample_count",
  "sample_hash",
  "clean_correct",
  "attacks",
  "robust",
  "distances",
  "masking_suspected",
  "sanity",
  "seed",
  "batch_size",
  "query_budget",
  "queries",
  "surrogate_sha256",
  "backend",
  "code_version",
  "started_at",
  "finished_at",
  "seconds",
  "content_hash",
].join(", ");

/**
 * `"replace": true` for a grid already measured with rows withheld: those rows, as measured,
 * published again in a new version without the hold, so they become current. Returns the new
 * version and how many rows it holds (null when `version` withheld nothing).
 */
export async function publishWithheld(store: MatrixStore, version: number, description: string): Promise<{ version: number; rows: number } | null> {
  return store.transaction(async (tx) => {
    if ((await withheldCount(tx, version)) === 0) return null;
    const v = await tx.createVersion(description);
    const r = await tx.db.run(
      `INSERT INTO evaluations (matrix_version, ${EVALUATION_COLUMNS})
       SELECT ?, ${EVALUATION_COLUMNS} FROM evaluations WHERE matrix_version = ? AND withheld_for IS NOT NULL ORDER BY id`,
      [v, version],
    );
    await tx.publishVersion(v);
    return { version: v, rows: r.changes };
  });
}
