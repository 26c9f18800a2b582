// Errors of the matrix store, and the input checks that raise them.

export class MatrixError extends Error {
  override name = "MatrixError";
}
/** A version that does not exist, is not published (for reads) or is published (for writes). */
export class MatrixVersionError extends MatrixError {
  override name = "MatrixVersionError";
}
/** Data that contradicts what the matrix already holds (same key, different identity). */
export class MatrixConflictError extends MatrixError {
  override name = "MatrixConflictError";
}
/** Invalid input to a store method (bad filter, cursor, evaluation data…). */
export class MatrixInputError extends MatrixError {
  override name = "MatrixInputError";
}

/** Throws MatrixInputError unless `cond` holds. */
export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new MatrixInputError(message);
}

export function isInt(v: unknown, min = 0): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min;
}
