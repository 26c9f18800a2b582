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
