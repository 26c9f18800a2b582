// Transfer examples are crafted on the surrogate (the dense model) once and judged on every
// target (each pruned model). The cache holds them per (surrogate weights, attack, parameters,
// budget, seed) and per sample index, as plain Float32Arrays, so one cache can serve many
// evaluations. Each entry also remembers a fingerprint of the clean sample it was crafted from;
// an entry whose sample differs (another data set under the same index) is a miss. Correctness
// never rests on the cache: every proposal is measured against the clean input and labelled by
// the target in verify().
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Norm } from "../attacks/types.js";

const FILE_MAGIC = "advisor-transfer-cache v1\n";

export interface TransferKey {
  surrogateSha256: string;
  attack: string;
  norm: Norm;
  params: Record<string, number | string | boolean>;
  /** The fixed budget the examples were crafted at; null for minimization attacks. */
  budget: number | null;
  seed: number;
}

export interface TransferCacheStats {
  /** attack.run calls on the surrogate. */
  runs: number;
  /** Samples crafted (stored). */
  crafted: number;
  /** Samples judged with an example crafted before the current stage (by an earlier evaluation, typically of another target). */
  reused: number;
}

interface Entry {
  fingerprint: number;
  adv: Float32Array;
}

/** FNV-1a over the float bits of one sample. */
export function fingerprint(row: Float32Array): number {
  const bits = new Uint32Array(row.buffer, row.byteOffset, row.length);
  let h = 0x811c9dc5;
  for (let j = 0; j < bits.length; j++) h = Math.imul(h ^ bits[j]!, 0x01000193);
  return h >>> 0;
}

function canonical(params: Record<string, number | string | boolean>): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}

export class TransferCache {
  private readonly entries = new Map<string, Map<number, Entry>>();
  readonly stats: TransferCacheStats = { runs: 0, crafted: 0, reused: 0 };

  static key(k: TransferKey): string {
    return [k.surrogateSha256, k.attack, k.norm, canonical(k.params), k.budget === null ? "min" : String(k.budget), String(k.seed)].join("|");
  }

  get(key: string, sampleIndex: number, clean: Float32Array): Float32Array | undefined {
    const e = this.entries.get(key)?.get(sampleIndex);
    return e !== undefined && e.fingerprint === fingerprint(clean) ? e.adv : undefined;
  }

  has(key: string, sampleIndex: number, clean: Float32Array): boolean {
    return this.get(key, sampleIndex, clean) !== undefined;
  }

  set(key: string, sampleIndex: number, clean: Float32Array, adv: Float32Array): void {
    let m = this.entries.get(key);
    if (m === undefined) this.entries.set(key, (m = new Map()));
    m.set(sampleIndex, { fingerprint: fingerprint(clean), adv });
  }

  /** Number of stored examples. */
  get size(): number {
    let n = 0;
    for (const m of this.entries.values()) n += m.size;
    return n;
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Writes the entries whose key passes `filter` to `file` (atomically: temp file + rename), so
   * other processes — the other workers of a build, a resumed build — judge targets on the same
   * examples without crafting them again. Layout: magic line, uint32 LE header length, JSON
   * header [{key, features, items: [[sampleIndex, fingerprint], …]}], then the examples as
   * float32 LE in header order.
   */
  async writeFile(file: string, filter: (key: string) => boolean = () => true): Promise<number> {
    const header: { key: string; features: number; items: [number, number][] }[] = [];
    const parts: Float32Array[] = [];
    for (const [key, m] of this.entries) {
      if (!filter(key) || m.size === 0) continue;
      const items: [number, number][] = [];
      let features = -1;
      for (const [index, e] of m) {
        if (features === -1) features = e.adv.length;
        if (e.adv.length !== features) throw new Error(`transfer cache: examples of different sizes under one key`);
        items.push([index, e.fingerprint]);
        parts.push(e.adv);
      }
      header.push({ key, features, items });
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    const data = parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.concat([Buffer.from(FILE_MAGIC), len, json, ...data]));
    await rename(tmp, file);
    return parts.length;
  }

  /** Adds the entries of a file written by writeFile; returns how many. A file of another format is an error. */
  async readFile(file: string): Promise<number> {
    const buf = await readFile(file);
    const magic = Buffer.from(FILE_MAGIC);
    if (buf.length < magic.length + 4 || !buf.subarray(0, magic.length).equals(magic)) throw new Error(`${file} is not a transfer-example cache`);
    const len = buf.readUInt32LE(magic.length);
    const start = magic.length + 4;
    const header = JSON.parse(buf.subarray(start, start + len).toString("utf8")) as { key: string; features: number; items: [number, number][] }[];
    let offset = start + len;
    let n = 0;
    for (const { key, features, items } of header) {
      let m = this.entries.get(key);
      if (m === undefined) this.entries.set(key, (m = new Map()));
      for (const [index, fp] of items) {
        const bytes = features * 4;
        if (offset + bytes > buf.length) throw new Error(`${file} is truncated`);
        // Copied out: the entries must not keep the whole file buffer alive or alias each other.
        const adv = new Float32Array(features);
        new Uint8Array(adv.buffer).set(buf.subarray(offset, offset + bytes));
        offset += bytes;
        m.set(index, { fingerprint: fp, adv });
        n++;
      }
    }
    if (offset !== buf.length) throw new Error(`${file} has trailing bytes`);
    return n;
  }
}
