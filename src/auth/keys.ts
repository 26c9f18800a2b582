// API keys, configured hashed: one entry per line, `name:sha256hex`, where the hex is the sha256
// of the key (`advisor keys hash` prints the line). The plain key is never stored, logged or
// echoed in an error message.
//
// Why sha256 and not scrypt/argon2: API keys are machine-generated random tokens (we require at
// least 32 characters, e.g. `openssl rand -base64 32`), not passwords people choose. With 128+
// bits of entropy a brute-force search of the hash is hopeless however fast the hash is, so the
// slow, salted hashes made for low-entropy passwords buy nothing here, while they would cost tens
// of milliseconds of CPU on every authenticated request (an easy way to load a 2-core server with
// bad keys). A fixed-length digest also lets every comparison run in constant time:
// timingSafeEqual over the 32-byte digests, against every configured entry, without early exit.
import { createHash, timingSafeEqual } from "node:crypto";

export interface KeyEntry {
  /** A label for logs ("ci", "alice"); never the key. */
  name: string;
  /** sha256 of the key, 32 bytes. */
  digest: Buffer;
}

export class KeyFormatError extends Error {
  override name = "KeyFormatError";
}

export const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_KEY_LENGTH = 32;
const ENTRY = /^([^:\s]+):([0-9a-fA-F]{64})$/;

export function sha256Digest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** The line to put in a keys file for `key` under `name`; refuses short keys and bad names. */
export function keyLine(name: string, key: string): string {
  if (!KEY_NAME.test(name)) throw new KeyFormatError(`key name must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  if (key.length < MIN_KEY_LENGTH) {
    throw new KeyFormatError(`the key is ${key.length} characters; use a random key of at least ${MIN_KEY_LENGTH} (e.g. openssl rand -base64 32)`);
  }
  if (/\s/.test(key)) throw new KeyFormatError("the key must not contain whitespace");
  return `${name}:${sha256Digest(key).toString("hex")}`;
}

/**
 * Parses key entries: one `name:sha256hex` per line (or separated by commas), blank lines and
 * `#` comments ignored. A bad line is reported by its number only — it may be a plain key.
 */
export function parseKeyEntries(text: string): KeyEntry[] {
  const entries: KeyEntry[] = [];
  const names = new Set<string>();
  const lines = text.split(/\r?\n|,/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = ENTRY.exec(line);
    if (!m) {
      throw new KeyFormatError(
        `entry ${i + 1} is not name:sha256hex (64 hex digits) — plain-text keys are refused; hash each key with \`advisor keys hash --name NAME\` (the entry is not shown)`,
      );
    }
    const name = m[1]!;
    if (!KEY_NAME.test(name)) throw new KeyFormatError(`entry ${i + 1}: key name must be 1-64 letters, digits, '.', '_' or '-'`);
    if (names.has(name)) throw new KeyFormatError(`entry ${i + 1}: key name "${name}" appears twice`);
    names.add(name);
    entries.push({ name, digest: Buffer.from(m[2]!.toLowerCase(), "hex") });
  });
  return entries;
}

/** The configured keys; `verify` compares in constant time against every entry. */
export class ApiKeys {
  constructor(readonly entries: readonly KeyEntry[]) {}

  get configured(): boolean {
    return this.entries.length > 0;
  }

  /** The name of the entry matching `presented`, or null. Time does not depend on which entry (or whether one) matched. */
  verify(presented: string): string | null {
    const digest = sha256Digest(presented);
    let match: string | null = null;
    for (const e of this.entries) {
      // No early exit: every entry is compared.
      if (timingSafeEqual(digest, e.digest) && match === null) match = e.name;
    }
    return match;
  }
}
