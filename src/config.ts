// Service configuration from flags and environment, validated with zod. A bad value becomes one
// ConfigError line naming the setting and where it came from; the CLI turns that into exit code 2.
import { z } from "zod";
import { defaultDbPath } from "./paths.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const PORT_MESSAGE = "expected an integer from 0 to 65535";
// Parsed from text so that "", "8080abc" and "1e3" are errors rather than coerced numbers.
const portSchema = z
  .string()
  .regex(/^\d{1,5}$/, PORT_MESSAGE)
  .transform(Number)
  .refine((n) => n <= 65535, PORT_MESSAGE);

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const serveSettings = {
  port: { env: "PORT", flag: "--port", schema: portSchema, fallback: "8080" },
  host: { env: "HOST", flag: "--host", schema: z.string().min(1, "must not be empty"), fallback: "127.0.0.1" },
  db: { env: "ADVISOR_DB", flag: "--db", schema: z.string().min(1, "must not be empty"), fallback: defaultDbPath },
  logLevel: {
    env: "LOG_LEVEL",
    flag: "--log-level",
    schema: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }),
    fallback: "info",
  },
} as const;

type Settings = typeof serveSettings;
export type ServeConfig = { [K in keyof Settings]: z.output<Settings[K]["schema"]> };

/**
 * Resolves every setting: flag first, then environment, then the default.
 * Empty strings count as given (and are usually invalid), so `PORT= advisor serve` is an error.
 */
export function resolveServeConfig(
  flags: Partial<Record<keyof Settings, string | undefined>>,
  env: NodeJS.ProcessEnv,
): ServeConfig {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(serveSettings) as [keyof Settings, Settings[keyof Settings]][]) {
    const fromFlag = flags[key];
    const fromEnv = env[s.env];
    const raw = fromFlag ?? fromEnv ?? s.fallback;
    const source = fromFlag !== undefined ? s.flag : fromEnv !== undefined ? `environment variable ${s.env}` : "default";
    const parsed = (s.schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? "invalid value";
      throw new ConfigError(`invalid ${key} from ${source}: ${message}, got ${JSON.stringify(raw)}`);
    }
    out[key] = parsed.data;
  }
  return out as ServeConfig;
}
