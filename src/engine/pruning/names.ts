// Strategy names and compression-rate validation, without TensorFlow, so the CLI and the API can
// check input cheaply.
import { PRUNING_STRATEGIES as STRATEGIES, type PruningStrategy as StrategyName } from "../../vocabulary.js";
import { InvalidRateError, UnknownStrategyError } from "./errors.js";

// The names are the shared vocabulary's (src/vocabulary.ts).
export { PRUNING_STRATEGIES as STRATEGIES, type PruningStrategy as StrategyName } from "../../vocabulary.js";

/**
 * Over which weights a strategy ranks: all prunable weights at once ("global"), each layer on its
 * own with the keep count apportioned by size ("layer"), or whole filters / neurons ("structured").
 * The one statement of it: strategy.ts derives `structured` from it, feasibility.ts which rates a
 * model cannot take.
 */
export type Selection = "global" | "layer" | "structured";
export const SELECTION: Readonly<Record<StrategyName, Selection>> = {
  "global-magnitude": "global",
  "layer-magnitude": "layer",
  "global-gradient": "global",
  "layer-gradient": "layer",
  random: "layer",
  "structured-l1": "structured",
};

export function parseStrategy(name: string): StrategyName {
  if ((STRATEGIES as readonly string[]).includes(name)) return name as StrategyName;
  throw new UnknownStrategyError(`unknown pruning strategy "${String(name)}" (known: ${STRATEGIES.join(", ")})`);
}

/** The compression rate c = prunable params before ÷ non-zero prunable params after: a finite number >= 1. */
export function validateRate(rate: unknown): number {
  if (typeof rate !== "number" || Number.isNaN(rate)) {
    throw new InvalidRateError(`compression rate must be a number >= 1, got ${JSON.stringify(rate) ?? String(rate)}`);
  }
  if (!Number.isFinite(rate)) throw new InvalidRateError(`compression rate must be finite, got ${rate}`);
  if (rate < 1) throw new InvalidRateError(`compression rate must be >= 1 (1 = dense, 2 = keep half), got ${rate}`);
  return rate;
}

/** Parses a rate given as text (CLI, query string): "4", "2.5", "1e1". */
export function parseRate(text: string): number {
  const trimmed = text.trim();
  const n = trimmed === "" ? Number.NaN : Number(trimmed);
  if (Number.isNaN(n)) throw new InvalidRateError(`compression rate must be a number >= 1, got "${text}"`);
  return validateRate(n);
}
