// Strategy names and compression-rate validation, without TensorFlow, so the CLI and the API can
// check input cheaply.
import { PRUNING_STRATEGY_NAMES, canonicalStrategy, type PruningStrategy as StrategyName } from "../../vocabulary.js";
import { InvalidRateError, UnknownStrategyError } from "./errors.js";

// The names are the shared vocabulary's (src/vocabulary.ts).
export { PRUNING_STRATEGIES as STRATEGIES, granularityOf, type PruningStrategy as StrategyName } from "../../vocabulary.js";

/**
 * Over which weights a strategy ranks: all prunable weights at once ("global"), each layer on its
 * own with the keep count apportioned by size ("layer"), or units larger than one weight — whole
 * k×k kernels or filters / neurons ("structured"). The one statement of it: feasibility.ts derives
 * which rates a model cannot take from it. (Whether a strategy "really shrinks compute", the
 * candidate's `structured` flag, is a different question: only filter granularity does; see
 * strategy.ts.)
 */
export type Selection = "global" | "layer" | "structured";
export const SELECTION: Readonly<Record<StrategyName, Selection>> = {
  "global-magnitude": "global",
  "layer-magnitude": "layer",
  "global-gradient": "global",
  "layer-gradient": "layer",
  random: "layer",
  "structured-l1": "structured",
  "kernel/random-local": "structured",
  "kernel/magnitude-local": "structured",
  "kernel/magnitude-global": "structured",
  "filter/random-local": "structured",
  "filter/magnitude-global": "structured",
};

/** A strategy's stored name from any accepted name: a stored name or a `<granularity>/<rule>` alias (vocabulary.ts). */
export function parseStrategy(name: string): StrategyName {
  const canonical = canonicalStrategy(name);
  if (canonical !== undefined) return canonical;
  throw new UnknownStrategyError(`unknown pruning strategy "${String(name)}" (known: ${PRUNING_STRATEGY_NAMES.join(", ")})`);
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
