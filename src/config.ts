// Service configuration from flags and environment, validated with zod. A bad value becomes one
// ConfigError line naming the setting and where it came from; the CLI turns that into exit code 2.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseKeyEntries, type KeyEntry } from "./auth/keys.js";
import { DEFAULT_DATA_DIR } from "./engine/data.js";
import { defaultDbPath, defaultRefreshGridPath, shippedMatrixPath } from "./paths.js";

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

/** An integer in [min, max], parsed from text (as the port is). */
const intSchema = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `expected an integer from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `expected an integer from ${min} to ${max}`);

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Key entries (src/auth/keys.ts); a bad entry is reported by number, never echoed. */
const keyEntries = (text: string, ctx: z.RefinementCtx<string>): KeyEntry[] => {
  try {
    return parseKeyEntries(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
};

const keysFileSchema = z
  .string()
  .min(1, "must not be empty")
  .transform((file, ctx) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      ctx.addIssue({ code: "custom", message: code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : "cannot read the file" });
      return z.NEVER;
    }
    return keyEntries(text, ctx);
  })
  .optional();

const booleanSchema = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const SIZE_MESSAGE = "expected a size in bytes, optionally with a K, M or G suffix (binary), from 1K to 4G";
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const sizeSchema = z
  .string()
  .regex(/^\d{1,12}[kmgKMG]?$/, SIZE_MESSAGE)
  .transform((v) => Number(v.replace(/[kmgKMG]$/, "")) * UNITS[v.slice(-1).toLowerCase()]! || Number(v))
  .refine((n) => n >= 1024 && n <= 4 * 1024 ** 3, SIZE_MESSAGE);

const MACS_MESSAGE = "expected a count of multiply-accumulates, optionally with a K, M or G suffix (decimal), from 100K to 1000G";
const MACS_UNITS: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };
const macsSchema = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,3})?[kmgKMG]?$/, MACS_MESSAGE)
  .transform((v) => Number(v.replace(/[kmgKMG]$/, "")) * (MACS_UNITS[/[kmgKMG]$/.test(v) ? v.slice(-1).toLowerCase() : ""] ?? 1))
  .refine((n) => n >= 1e5 && n <= 1e12, MACS_MESSAGE);

/** `name=dir[,name=dir…]`: the data sets uploaded models may name, by name → directory (its format is recognised by its files: dataset-formats.ts). */
const datasetsSchema = z.string().transform((text, ctx) => {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    const m = /^\s*([A-Za-z0-9._-]{1,64})=(.+?)\s*$/.exec(part);
    if (!m) {
      ctx.addIssue({ code: "custom", message: `expected name=directory pairs separated by commas, got ${JSON.stringify(part)}` });
      return z.NEVER;
    }
    if (out.has(m[1]!)) {
      ctx.addIssue({ code: "custom", message: `data set ${m[1]} is named twice` });
      return z.NEVER;
    }
    out.set(m[1]!, m[2]!);
  }
  return out;
});

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
  /** Hashed API keys from a file (`name:sha256hex` per line). */
  apiKeysFile: { env: "ADVISOR_API_KEYS_FILE", flag: "--api-keys-file", schema: keysFileSchema, fallback: undefined },
  /** Hashed API keys inline (`name:sha256hex`, comma-separated); never echoed in errors. */
  apiKeys: { env: "ADVISOR_API_KEYS", flag: undefined, schema: z.string().transform(keyEntries).optional(), fallback: undefined, secret: true },
  /** Require a key for the read endpoints under /v1 too. */
  protectReads: { env: "ADVISOR_PROTECT_READS", flag: "--protect-reads", schema: booleanSchema, fallback: "false" },
  /** Largest model upload (all files together). */
  uploadMaxBytes: { env: "ADVISOR_UPLOAD_MAX_BYTES", flag: "--upload-max-bytes", schema: sizeSchema, fallback: "50M" },
  /** Largest cost of one input of an uploaded model, in multiply-accumulates (checked before any forward pass). */
  uploadMaxMacs: { env: "ADVISOR_UPLOAD_MAX_MACS", flag: undefined, schema: macsSchema, fallback: "20M" },
  /** Wall time allowed for checking one uploaded model (its child process is killed after it). */
  uploadValidateSeconds: { env: "ADVISOR_UPLOAD_VALIDATE_SECONDS", flag: undefined, schema: intSchema(5, 3600), fallback: "120" },
  /** Resident memory allowed for checking one uploaded model. */
  uploadValidateMemory: { env: "ADVISOR_UPLOAD_VALIDATE_MEMORY", flag: undefined, schema: sizeSchema, fallback: "1536M" },
  datasets: { env: "ADVISOR_DATASETS", flag: "--datasets", schema: datasetsSchema, fallback: `fashion-mnist=${DEFAULT_DATA_DIR}` },
  /** The shipped matrix (JSONL) seeding a database without one, and updating one seeded from earlier files (src/matrix/seed.ts); "none" imports nothing. */
  seedMatrix: {
    env: "ADVISOR_SEED_MATRIX",
    flag: "--seed-matrix",
    schema: z
      .string()
      .min(1, "must not be empty (use none to import nothing)")
      .transform((v) => (v === "none" ? null : v)),
    fallback: shippedMatrixPath,
  },
  /** Build worker processes of a refresh job (one job runs at a time). */
  jobWorkers: { env: "ADVISOR_JOB_WORKERS", flag: "--job-workers", schema: intSchema(1, 64), fallback: "1" },
  /** Niceness (CPU priority) of refresh jobs' processes: 0 = as the service, 19 = lowest. */
  jobNice: { env: "ADVISOR_JOB_NICE", flag: "--job-nice", schema: intSchema(0, 19), fallback: "10" },
  /** The grid a refresh runs when the request names none. */
  refreshGrid: { env: "ADVISOR_REFRESH_GRID", flag: "--refresh-grid", schema: z.string().min(1, "must not be empty"), fallback: defaultRefreshGridPath },
} as const;

type Settings = typeof serveSettings;
interface Setting {
  env: string;
  flag: string | undefined;
  schema: z.ZodType;
  fallback: string | undefined;
  secret?: boolean;
}
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
  for (const [key, s] of Object.entries(serveSettings) as [keyof Settings, Setting][]) {
    const fromFlag = s.flag === undefined ? undefined : flags[key];
    const fromEnv = env[s.env];
    const raw = fromFlag ?? fromEnv ?? s.fallback;
    const source = fromFlag !== undefined ? s.flag : fromEnv !== undefined ? `environment variable ${s.env}` : "default";
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? "invalid value";
      // Secrets (and anything that may hold a plain key) are never echoed.
      throw new ConfigError(`invalid ${key} from ${source}: ${message}${s.secret ? "" : `, got ${JSON.stringify(raw)}`}`);
    }
    out[key] = parsed.data;
  }
  const config = out as ServeConfig;
  if (config.protectReads && (config.apiKeysFile ?? []).length + (config.apiKeys ?? []).length === 0) {
    throw new ConfigError("invalid protectReads: ADVISOR_PROTECT_READS / --protect-reads needs API keys (set ADVISOR_API_KEYS_FILE, --api-keys-file or ADVISOR_API_KEYS)");
  }
  return config;
}
