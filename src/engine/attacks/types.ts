// The attack interface, in the spirit of Foolbox: fixed-budget attacks (is this sample beaten
// within budget ε?) and minimization attacks (the smallest adversarial distance found).
// Attacks only *propose* adversarial examples; the shared code (verify.ts) measures every
// proposal's distance and box membership and asks the target model for the label, once, before
// any success counts. An attack's own claims are never trusted.
import type { tf, LayersModel } from "../tf.js";

// Norms and knowledge levels are the shared vocabulary's (src/vocabulary.ts).
import type { Norm } from "../../vocabulary.js";
export { KNOWLEDGE_LEVELS, NORMS, type Knowledge, type Norm } from "../../vocabulary.js";


/** Inputs [n, H, W, C] in [0, 1] → logits [n, classes]. The only thing a black-box attack is given. */
export type PredictFn = (x: tf.Tensor4D) => tf.Tensor2D;

/** What an attack may use, by knowledge: white-box and transfer attacks get a model (the target's or the surrogate's) with gradients; black-box attacks get queries only. */
export interface GradientAccess {
  kind: "gradient";
  model: LayersModel;
  /**
   * Data-set images the attacker knows, [P, H, W, C] in [0, 1] (a white-box attacker knows the
   * data; the evaluation gives its test samples). Only the dataset-seeded attack uses them, as
   * starting points; without a pool it falls back to the batch's own images.
   */
  pool?: tf.Tensor4D;
}
export interface QueryAccess {
  kind: "query";
  predict: PredictFn;
  /** Maximum number of forward queries per sample. */
  queryBudget: number;
}

export interface AttackBatch {
  /** Clean inputs [n, H, W, 1] in [0, 1]. */
  x: tf.Tensor4D;
  /** True labels [n] (int32). */
  y: tf.Tensor1D;
  /** Per-run seed, so attacks with randomness repeat exactly. */
  seed: number;
  /**
   * When given, an attack that can reports here what it saw (indicators of attack failure,
   * evaluation/indicators.ts). Reporting never changes what the attack proposes.
   */
  trace?: AttackTrace;
}

/** A run's trace row: no run of the attack failed on the sample (it was beaten, or not measured). */
export const TRACE_NO_FAILED_RUN = 2;

/**
 * What an attack saw during one run on a batch, per batch row (Pintor et al. 2022, "Indicators of
 * Attack Failure"). A field left undefined was not measured by that attack. Only the attack's own
 * judgement is reported; verify() still decides success.
 */
export interface AttackTrace {
  /**
   * 1 where the attack saw a point it judged misclassified (within the budget and the box) at
   * any step of any run. If verify() does not accept the returned point for such a row, the
   * attack had an adversarial point and did not return it: a silent success.
   */
  seen?: Uint8Array;
  /**
   * Fixed-budget gradient attacks: 1 where every run that failed on the row ended with its loss
   * still rising (gradients.ts, stillRising: more than INCOMPLETE_RISE_SHARE of the run's rise in
   * its last INCOMPLETE_TAIL_SHARE of the steps), 0 where at least one such run had settled,
   * TRACE_NO_FAILED_RUN where no run failed on it.
   */
  incomplete?: Uint8Array;
}

/** Proposes, per sample, an input that is misclassified with a perturbation of norm <= budget. */
export interface FixedBudgetAttack<A extends GradientAccess | QueryAccess = GradientAccess | QueryAccess> {
  kind: "fixed-budget";
  name: string;
  norm: Norm;
  access: A["kind"];
  /** Parameters that define the attack (steps, restarts, step size, queries…), recorded as provenance. */
  params: Record<string, number | string | boolean>;
  /** Returns candidate adversarial inputs [n, H, W, 1]; the caller disposes them. */
  run(access: A, batch: AttackBatch, budget: number): Promise<tf.Tensor4D>;
}

/** Proposes, per sample, an adversarial input as close as it can find (any distance). */
export interface MinimizationAttack<A extends GradientAccess | QueryAccess = GradientAccess | QueryAccess> {
  kind: "minimization";
  name: string;
  norm: Norm;
  access: A["kind"];
  params: Record<string, number | string | boolean>;
  /** Returns candidate adversarial inputs [n, H, W, 1]; samples it failed on may be returned unchanged. */
  run(access: A, batch: AttackBatch): Promise<tf.Tensor4D>;
}

export type Attack = FixedBudgetAttack | MinimizationAttack;
