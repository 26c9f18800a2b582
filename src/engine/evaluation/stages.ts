// The stages of a robustness evaluation (see robustness.ts for the order and why): one attack at
// one budget (or unbounded, for minimization attacks and the sanity run) for one knowledge level,
// each with its own seed, and the record each attack's results accumulate in.
import type { tf } from "../tf.js";
import type { Attack, AttackBatch, GradientAccess, Knowledge, Norm, QueryAccess } from "../attacks/types.js";
import { EvaluationError, unboundedBudget } from "./budgets.js";
import { defaultPgd, type AttackPlan } from "./attack-plan.js";
import type { AttackRecord } from "./robustness.js";

export interface Stage {
  level: Knowledge;
  attack: Attack;
  record: AttackRecord;
  budget?: number;
  sanity?: boolean;
}

/** A seed for one stage: the evaluation seed mixed with the stage's name (FNV-1a). */
export function mixSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The seed of one stage of an evaluation: what makes crafting outside an evaluation give the same examples. */
export function stageSeedOf(seed: number, level: Knowledge, attack: Attack, budget: number | undefined, sanity = false): number {
  return mixSeed(seed, `${level}/${attack.name}/${sanity ? "unbounded" : (budget ?? "min")}`);
}

export function checkPositiveInt(name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new EvaluationError(`${name} must be a positive integer, got ${v}`);
}

export interface StagePlan {
  stages: Stage[];
  /** Whether the unbounded white-box sanity run is among the stages. */
  runUnbounded: boolean;
  sanityAttack: Attack;
  hugeBudget: number;
}

/**
 * Every stage, in execution order: per level (weakest first), its minimization attacks, then its
 * fixed-budget attacks at the positive budgets from the largest down, then (white-box) the
 * unbounded sanity run. `initial` gives a record's starting distances.
 */
export function planStages(o: {
  levels: readonly Knowledge[];
  plan: AttackPlan;
  norm: Norm;
  budgets: readonly number[];
  features: number;
  queryBudget: number;
  unboundedCheck: boolean;
  initial: () => Float32Array;
}): StagePlan {
  const stages: Stage[] = [];
  const record = (level: Knowledge, attack: Attack, sanity = false): AttackRecord => ({
    name: attack.name,
    kind: attack.kind,
    knowledge: level,
    access: attack.access,
    params: attack.access === "query" ? { ...attack.params, queryBudget: o.queryBudget } : { ...attack.params },
    budgets: [],
    distances: o.initial(),
    attempted: 0,
    beaten: 0,
    ...(sanity ? { sanity } : {}),
  });
  const runUnbounded = o.levels.includes("white-box") && o.unboundedCheck;
  const sanityAttack = o.plan["white-box"].find((a) => a.kind === "fixed-budget") ?? defaultPgd(o.norm);
  const hugeBudget = unboundedBudget(o.norm, o.features);
  for (const level of o.levels) {
    const attacks = o.plan[level];
    for (const a of attacks) if (a.kind === "minimization") stages.push({ level, attack: a, record: record(level, a) });
    const fixed = attacks.filter((a) => a.kind === "fixed-budget").map((a) => ({ a, rec: record(level, a) }));
    // Budget 0 cannot be beaten by a correct sample: no fixed-budget attack runs there. Largest
    // budget first, so that a sample an attack fails on is given up at once (see robustness.ts).
    for (const b of o.budgets.filter((b) => b > 0).reverse()) for (const { a, rec } of fixed) stages.push({ level, attack: a, record: rec, budget: b });
    if (level === "white-box" && runUnbounded) {
      stages.push({ level, attack: sanityAttack, record: record(level, sanityAttack, true), budget: hugeBudget, sanity: true });
    }
  }
  return { stages, runUnbounded, sanityAttack, hugeBudget };
}

const canonicalParams = (p: Record<string, number | string | boolean>): string => JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]]));

/** The record of an earlier evaluation that ran this stage (same level, attack, params, sanity flag, budget), if any. */
export function priorRecord(reuse: readonly AttackRecord[] | undefined, st: Stage, n: number): AttackRecord | undefined {
  return reuse?.find(
    (r) =>
      r.knowledge === st.level &&
      r.name === st.attack.name &&
      r.kind === st.attack.kind &&
      (r.sanity ?? false) === (st.sanity ?? false) &&
      r.distances.length === n &&
      canonicalParams(r.params) === canonicalParams(st.record.params) &&
      (st.attack.kind === "fixed-budget" ? st.budget !== undefined && r.budgets.includes(st.budget) : r.budgets.length === 0),
  );
}

/** Runs either kind of attack; a minimization attack ignores the budget. */
export async function runAttack(
  attack: Attack,
  access: GradientAccess | QueryAccess,
  batch: AttackBatch,
  budget: number | undefined,
): Promise<tf.Tensor4D> {
  // The plan checked that each level's attacks have the access kind given here.
  const run = attack.run as (access: unknown, batch: AttackBatch, budget?: number) => Promise<tf.Tensor4D>;
  if (attack.kind === "fixed-budget") {
    if (budget === undefined) throw new Error(`fixed-budget attack ${attack.name} run without a budget`);
    return run.call(attack, access, batch, budget);
  }
  return run.call(attack, access, batch);
}
