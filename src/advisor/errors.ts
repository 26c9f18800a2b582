// Errors of the advisor. The HTTP layer maps them onto problem details:
// - AdvisorInputError → 400, `field` names the offending request field ("budget", "sizeLimit.maxBytes");
// - UnknownModelError / UnknownCandidateError → 404 (or 422), with what IS available;
// - UnsoundEvidenceError → 422: the gate's candidate rests on evidence that failed the engine's
//   sanity checks, so no verdict is given (unless the scenario allows unsound evidence);
// - AdvisorDataError → 500: the matrix itself is inconsistent (a store bug, not the caller's fault).
import type { Strategy } from "./types.js";

export class AdvisorError extends Error {
  override name = "AdvisorError";
  /** The offending request field, when one is to blame. */
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

/** The question is malformed: wrong type, out of range, contradictory or unknown field. */
export class AdvisorInputError extends AdvisorError {
  override name = "AdvisorInputError";
  constructor(message: string, field: string) {
    super(message, field);
  }
}

export interface ModelInfo {
  modelId: string;
  architecture: string;
  dataset: string;
}

/** No candidate of the matrix matches the model filters (or the matrix is empty). */
export class UnknownModelError extends AdvisorError {
  override name = "UnknownModelError";
  readonly available: ModelInfo[];
  constructor(message: string, field: string | undefined, available: ModelInfo[]) {
    super(message, field);
    this.available = available;
  }
}

/** The gate's (strategy, rate) is not in the matrix for the selected model. */
export class UnknownCandidateError extends AdvisorError {
  override name = "UnknownCandidateError";
  readonly available: { strategy: Strategy; rate: number }[];
  constructor(message: string, available: { strategy: Strategy; rate: number }[]) {
    super(message, "candidate");
    this.available = available;
  }
}

/** The matrix snapshot is internally inconsistent (e.g. distances and sample indices differ in length). */
export class AdvisorDataError extends AdvisorError {
  override name = "AdvisorDataError";
  constructor(message: string) {
    super(message);
  }
}

/** The gate's candidate has only evidence that failed the engine's sanity checks: no verdict. */
export class UnsoundEvidenceError extends AdvisorError {
  override name = "UnsoundEvidenceError";
  constructor(message: string) {
    super(message, "candidate");
  }
}
