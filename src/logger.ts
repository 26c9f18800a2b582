// Structured JSON logs (pino) on stdout; the level comes from configuration.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: "pruning-advisor" }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
