// Parsers for numeric CLI options: a bad value is a UsageError naming the option (exit 2).
import { UsageError } from "./errors.js";

export function intOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`${flag} must be an integer, got ${JSON.stringify(v)}`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function numberOption(flag: string, check: (n: number) => boolean, expectation: string): (v: string) => number {
  return (v: string) => {
    const n = v.trim() === "" ? NaN : Number(v);
    if (!Number.isFinite(n) || !check(n)) throw new UsageError(`${flag} must be ${expectation}, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Turns a parse failure of the engine (unknown name, bad rate) into a usage error (exit 2). */
export function asUsage<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  };
}
