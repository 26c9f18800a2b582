// The convergence probe (indicators.ts, `convergence`): are the white-box attacks of an evaluation
// run long enough? The probe runs them again on the same target and samples with twice the
// effort (attack-plan.ts, doubledWhiteBox: twice the steps and restarts) and a seed of its own, adds
// what they find to the row's per-sample distances (per-sample minimum: the worst case over both
// runs, as the evaluation itself combines attacks), and measures how far the robust accuracy moves
// at each grid budget. More than CONVERGENCE_TOLERANCE (1 point) at some budget: the row's attacks
// had not converged and the row is inadmissible. It costs about four times the white-box level of
// the cell, so a build runs it on a sample of cells only (the grid's attacks.convergenceProbe).
import type { LayersModel } from "../tf.js";
import type { Attack, Norm } from "../attacks/types.js";
import { robustCount } from "./curve.js";
import type { ConvergenceIndicator } from "./indicators.js";
import { evaluateRobustness, type SampleSet } from "./robustness.js";
import { mixSeed } from "./stages.js";

/** The most the probe may move the robust accuracy at any grid budget (0.01 = 1 point). */
export const CONVERGENCE_TOLERANCE = 0.01;

export const PROBE_DESCRIPTION = "white-box attacks again with twice the steps and restarts (FMN, C&W: twice the steps; white-box Sparse-RS: twice the queries), another seed";

/** The probe's verdict from the row's distances and the probe run's (both per sample, same order). */
export function convergenceOf(budgets: readonly number[], before: ArrayLike<number>, probe: ArrayLike<number>, seconds: number): ConvergenceIndicator {
  const n = before.length;
  const after = Float32Array.from(before, (d, p) => Math.min(d, probe[p]!));
  let worst = 0;
  const perBudget = budgets.map((budget) => {
    const b = robustCount(before, budget);
    const a = robustCount(after, budget);
    worst = Math.max(worst, b - a);
    return { budget, before: n ? b / n : 0, after: n ? a / n : 0, move: n ? (b - a) / n : 0 };
  });
  const maxMove = n ? worst / n : 0;
  return {
    checked: true,
    fired: worst > 0,
    // In samples, so that exactly 1 point (5 of 500) passes whatever the float round-off.
    failed: worst > CONVERGENCE_TOLERANCE * n + 1e-9,
    probe: PROBE_DESCRIPTION,
    maxMove,
    tolerance: CONVERGENCE_TOLERANCE,
    perBudget,
    seconds,
  };
}

export interface ProbeOptions {
  target: LayersModel;
  samples: SampleSet;
  norm: Norm;
  budgets: readonly number[];
  /** The white-box attacks with twice the effort (doubledWhiteBox). */
  attacks: Attack[];
  /** The row's per-sample distances. */
  distances: ArrayLike<number>;
  queryBudget?: number;
  batchSize?: number;
  /** The evaluation's seed; the probe mixes its own from it. */
  seed: number;
}

/** Runs the probe's white-box evaluation and returns the convergence indicator. */
export async function probeConvergence(o: ProbeOptions): Promise<ConvergenceIndicator> {
  const t0 = performance.now();
  const r = await evaluateRobustness({
    target: o.target,
    samples: o.samples,
    norm: o.norm,
    knowledge: "white-box",
    budgets: o.budgets,
    // The white-box attacks only (no black-box level: its attacks are not what is probed).
    attacks: { "white-box": o.attacks, "black-box": [] },
    ...(o.queryBudget === undefined ? {} : { queryBudget: o.queryBudget }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    seed: mixSeed(o.seed, "convergence-probe"),
    unboundedCheck: false,
  });
  return convergenceOf(o.budgets, o.distances, r.distances, (performance.now() - t0) / 1000);
}
