// Known failures become one line on stderr, never a stack trace: configuration and usage
// errors exit 2, everything else 1. Set ADVISOR_DEBUG=1 to see the stack of unexpected errors.
import { ConfigError } from "../config.js";

export class UsageError extends Error {
  override name = "UsageError";
}

export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError || err instanceof UsageError ? 2 : 1;
}

export function reportAndExit(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`advisor: ${message.split("\n")[0]}\n`);
  if (process.env.ADVISOR_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  process.exit(exitCodeFor(err));
}
