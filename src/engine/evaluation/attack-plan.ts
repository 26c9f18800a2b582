// Which attacks an evaluation runs, per knowledge level, and the defaults:
//   white-box: PGD for the norm (pgd-linf / pgd-l2 / pgd-l0) at every budget + FMN for the norm;
//   transfer:  PGD for the norm without early stop (it uses the whole budget, so its examples sit
//              well past the surrogate's boundary and transfer better than boundary points) and
//              FMN, run on the surrogate, judged on the target;
//   black-box: Square (L∞, L2) or Sparse-RS (L0) at every budget, with a fixed query budget.
// The lattice: white-box runs all three levels (transfer only when a surrogate is given),
// transfer runs transfer + black-box, black-box runs black-box only.
import type { Attack, Knowledge, Norm } from "../attacks/types.js";
import { KNOWLEDGE_LEVELS } from "../attacks/types.js";
import { fmn } from "../attacks/fmn.js";
import { pgdL2, pgdLinf } from "../attacks/pgd.js";
import { pgdL0 } from "../attacks/sparse-l0.js";
import { sparseRs } from "../attacks/sparse-rs.js";
import { squareL2, squareLinf } from "../attacks/square.js";
import { EvaluationError } from "./budgets.js";

export type AttackPlan = Record<Knowledge, Attack[]>;

/** The norm's fixed-budget white-box attack (also the one the unbounded sanity check runs). */
export function defaultPgd(norm: Norm): Attack {
  return norm === "linf" ? pgdLinf() : norm === "l2" ? pgdL2() : pgdL0();
}

export function defaultWhiteBox(norm: Norm): Attack[] {
  return [defaultPgd(norm), fmn(norm)];
}

export function defaultTransfer(norm: Norm): Attack[] {
  const full = { earlyStop: false };
  return [norm === "linf" ? pgdLinf(full) : norm === "l2" ? pgdL2(full) : pgdL0(full), fmn(norm)];
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
