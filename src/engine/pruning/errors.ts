// Errors of the pruning module (own file so strategy families can use them without import cycles).
export class UnknownStrategyError extends Error {
  override name = "UnknownStrategyError";
}
export class InvalidRateError extends Error {
  override name = "InvalidRateError";
}
/** Raised when a strategy cannot do what it was asked (rate too high for the model, no data, unsupported model). */
export class PruningError extends Error {
  override name = "PruningError";
}
