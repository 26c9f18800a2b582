// Which attacks an evaluation runs, per knowledge level, and the defaults:
//   white-box: per norm, every gradient attack with both losses — the margin (points straight at
//              the nearest class) and cross-entropy (whose gradient is not zero where the margin's
//              is: a pruned classifier column can leave the true and the best other class without
//              any input gradient while a third class still moves; a sample counts as robust only
//              if neither beats it):
//                minimization: dataset-seed (the nearest pool image the model labels otherwise,
//                  binary-searched towards x: every sample the model can misclassify at all gets a
//                  finite distance, so the unbounded check cannot fail for want of a gradient),
//                  FMN (margin) and FMN-CE, and for L0 the greedy CE pixel attack;
//                  and for L2 Carlini-Wagner L2;
//                fixed-budget, at every budget: PGD (margin), PGD-CE (one restart: it only attacks
//                  what margin PGD left), for L∞ and L2 APGD-CE and targeted APGD-DLR (AutoAttack's
//                  white-box pair, Croce & Hein 2020), and for L0 Sparse-RS on the target's own
//                  predictions with a larger query budget than the black-box level's (only what
//                  the gradient attacks left);
//   transfer:  PGD for the norm without early stop (it uses the whole budget, so its examples sit
//              well past the surrogate's boundary and transfer better than boundary points), with
//              the margin and (one restart) the cross-entropy loss, and FMN, run on the surrogate,
//              judged on the target;
//   black-box: Square (L∞, L2) or Sparse-RS (L0) at every budget, with a fixed query budget.
// The lattice: white-box runs all three levels (transfer only when a surrogate is given),
// transfer runs transfer + black-box, black-box runs black-box only.
import type { Attack, Knowledge, Norm } from "../attacks/types.js";
import { KNOWLEDGE_LEVELS } from "../attacks/types.js";
import { fmn } from "../attacks/fmn.js";
import { pgdL2, pgdLinf } from "../attacks/pgd.js";
import { pgdL0 } from "../attacks/sparse-l0.js";
import { sparseRs, sparseRsWhiteBox } from "../attacks/sparse-rs.js";
import { squareL2, squareLinf } from "../attacks/square.js";
import { datasetSeed } from "../attacks/dataset-seed.js";
import { apgd } from "../attacks/apgd.js";
import { cwL2, type CwOptions } from "../attacks/cw.js";
import { greedyL0 } from "../attacks/greedy-l0.js";
import { EvaluationError } from "./budgets.js";

export type AttackPlan = Record<Knowledge, Attack[]>;

/** The norm's fixed-budget white-box attack (also the one the unbounded sanity check runs). */
export function defaultPgd(norm: Norm): Attack {
  return norm === "linf" ? pgdLinf() : norm === "l2" ? pgdL2() : pgdL0();
}

/** Settings of the white-box plan (a matrix grid's attack settings; the engine defaults otherwise). */
export interface WhiteBoxSettings {
  /** Margin PGD (default: the PGD defaults, 1 restart). */
  pgd?: { steps?: number; restarts?: number };
  /** Restarts of the cross-entropy PGD (default 1: it runs after margin PGD, on what that left). */
  ceRestarts?: number;
  /** Both FMN runs (margin and CE). */
  fmn?: { steps?: number; targets?: number };
  /**
   * L0: queries per sample of the white-box Sparse-RS (default 5000, 5x the black-box level's
   * default 1000). It only runs on what the gradient attacks left, so it costs little on healthy
   * models; on a degenerate one (lenet5 layer-magnitude 32x, first 100 test images) the white-box
   * robust accuracy at L0 = 8 / 16 / 32 was 0.34 / 0.21 / 0.10 with the old plan, 0.27 / 0.12 /
   * 0.02 with this plan at 1000 queries and 0.22 / 0.08 / 0.01 at 5000 (white-box level 11.6 s →
   * 28.9 s → 53.8 s on a loaded 2-core machine).
   */
  l0Queries?: number;
  /** APGD-CE and APGD-DLR-T (L∞, L2; default: the paper's 100 steps, 1 restart, 9 targets). */
  apgd?: { steps?: number; restarts?: number; targets?: number };
  /** Carlini-Wagner L2 (L2 minimization; default: cw.ts's defaults, 9 binary-search steps x 100 Adam steps, 1 targeted run). */
  cw?: CwOptions;
}

/** Default queries of the white-box Sparse-RS (see WhiteBoxSettings.l0Queries). */
export const WHITE_BOX_L0_QUERIES = 5000;

export function defaultWhiteBox(norm: Norm, s: WhiteBoxSettings = {}): Attack[] {
  const pgd = s.pgd ?? {};
  const ce = { steps: pgd.steps, restarts: s.ceRestarts ?? 1, loss: "ce" as const };
  const pgdFor = (o: { steps?: number; restarts?: number; loss?: "ce" }) => (norm === "linf" ? pgdLinf(o) : norm === "l2" ? pgdL2(o) : pgdL0(o));
  const minimization: Attack[] = [datasetSeed(norm), fmn(norm, s.fmn ?? {}), fmn(norm, { ...s.fmn, loss: "ce" })];
  if (norm === "l0") minimization.push(greedyL0());
  if (norm === "l2") minimization.push(cwL2(s.cw ?? {}));
  // The first fixed-budget attack is also the unbounded sanity run's (stages.ts): margin PGD, as before.
  const fixed: Attack[] = [pgdFor({ steps: pgd.steps, restarts: pgd.restarts }), pgdFor(ce)];
  if (norm === "l0") fixed.push(sparseRsWhiteBox({ queries: s.l0Queries ?? WHITE_BOX_L0_QUERIES }));
  else {
    const a = { steps: s.apgd?.steps, restarts: s.apgd?.restarts };
    fixed.push(apgd(norm, "ce", a), apgd(norm, "dlr-t", { ...a, targets: s.apgd?.targets }));
  }
  return [...minimization, ...fixed];
}

/**
 * The white-box settings of the convergence probe (convergence.ts): twice the effort of `s` —
 * twice the steps and restarts of PGD (margin and CE) and APGD, twice the steps of FMN and of
 * C&W's optimisations, twice the white-box Sparse-RS's queries (its steps). Read from the attacks
 * `s` gives, so the engine's defaults are doubled too. Targets, losses, step-size rules and the
 * gradient-free attacks (dataset-seed; greedy-L0, which stops once it succeeds) stay as they are.
 */
export function doubledWhiteBox(norm: Norm, s: WhiteBoxSettings = {}): WhiteBoxSettings {
  const base = defaultWhiteBox(norm, s);
  const twice = (name: string, key: string): number | undefined => {
    const v = base.find((a) => a.name === name)?.params[key];
    return typeof v === "number" ? 2 * v : undefined;
  };
  const pgd = `pgd-${norm}`;
  return {
    pgd: { steps: twice(pgd, "steps"), restarts: twice(pgd, "restarts") },
    ceRestarts: twice(`${pgd}-ce`, "restarts"),
    fmn: { steps: twice(`fmn-${norm}`, "steps"), ...(s.fmn?.targets === undefined ? {} : { targets: s.fmn.targets }) },
    ...(norm === "l0" ? { l0Queries: twice("sparse-rs-wb", "queryBudget") } : {}),
    ...(norm === "l0" ? {} : { apgd: { steps: twice(`apgd-ce-${norm}`, "steps"), restarts: twice(`apgd-ce-${norm}`, "restarts"), ...(s.apgd?.targets === undefined ? {} : { targets: s.apgd.targets }) } }),
    ...(norm === "l2" ? { cw: { ...s.cw, steps: twice("cw-l2", "steps") } } : {}),
  };
}

/** Transfer: margin PGD and FMN as before, plus PGD-CE (one restart) crafted on the surrogate. */
export function defaultTransfer(norm: Norm, s: Pick<WhiteBoxSettings, "pgd" | "fmn"> = {}): Attack[] {
  const pgdFor = (o: { steps?: number; restarts?: number; loss?: "ce" }) => {
    const full = { ...o, earlyStop: false };
    return norm === "linf" ? pgdLinf(full) : norm === "l2" ? pgdL2(full) : pgdL0(full);
  };
  return [pgdFor({ steps: s.pgd?.steps, restarts: s.pgd?.restarts }), fmn(norm, s.fmn ?? {}), pgdFor({ steps: s.pgd?.steps, restarts: 1, loss: "ce" })];
}

export function defaultBlackBox(norm: Norm): Attack[] {
  return [norm === "linf" ? squareLinf() : norm === "l2" ? squareL2() : sparseRs()];
}

/** Levels in scope for an attacker of `knowledge`, strongest first. Transfer needs a surrogate. */
export function levelsInScope(knowledge: Knowledge, hasSurrogate: boolean): Knowledge[] {
  if (knowledge === "transfer" && !hasSurrogate) {
    throw new EvaluationError("knowledge level transfer needs a surrogate model (the dense original) to craft the examples on");
  }
  const from = KNOWLEDGE_LEVELS.indexOf(knowledge);
  return KNOWLEDGE_LEVELS.slice(from).filter((k) => k !== "transfer" || hasSurrogate);
}

/** Resolves the attacks per level (given lists replace the defaults) and checks norm and access of each. */
export function resolvePlan(norm: Norm, given: Partial<AttackPlan> = {}): AttackPlan {
  const plan: AttackPlan = {
    "white-box": given["white-box"] ?? defaultWhiteBox(norm),
    transfer: given.transfer ?? defaultTransfer(norm),
    "black-box": given["black-box"] ?? defaultBlackBox(norm),
  };
  for (const level of KNOWLEDGE_LEVELS) {
    const access = level === "black-box" ? "query" : "gradient";
    for (const a of plan[level]) {
      if (a.norm !== norm) throw new EvaluationError(`attack ${a.name} is an ${a.norm} attack, the evaluation is ${norm}`);
      if (a.access !== access) throw new EvaluationError(`attack ${a.name} needs ${a.access} access; ${level} attacks get ${access} access`);
    }
  }
  return plan;
}
