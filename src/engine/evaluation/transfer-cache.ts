// Transfer examples are crafted on the surrogate (the dense model) once and judged on every
// target (each pruned model). The cache holds them per (surrogate weights, attack, parameters,
// budget, seed) and per sample index, as plain Float32Arrays, so one cache can serve many
// evaluations. Each entry also remembers a fingerprint of the clean sample it was crafted from;
// an entry whose sample differs (another data set under the same index) is a miss. Correctness
// never rests on the cache: every proposal is measured against the clean input and labelled by
// the target in verify().
import type { Norm } from "../attacks/types.js";

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
}
