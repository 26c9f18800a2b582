// Recent answers, serialised, per matrix version: a pipeline gate or a dashboard asks the same
// question again and again, and a published version never changes, so the same question on the
// same version has the same answer. Keyed by the version, the snapshot answered from and the
// normalised request; bounded by entries and bytes (least recently used out first). A new
// version simply misses (its key differs) and the old entries age out. An answer is kept as the
// UTF-8 bytes sent (with its ETag, made on first send), so sending it again encodes and hashes
// nothing.
//
// An answer is kept from the second time its question is asked, not the first: under a stream
// of different questions (a dashboard sweeping budgets, bench/distinct-questions.ts) keeping
// every answer at once filled the cache with ~8 KB answers never asked again, each one copied
// into the old generation before being evicted — garbage-collector work paid by every request.
// A question asked once costs only its key in `asked` (two generations, so it is bounded without
// a scan: when the current one is full it becomes the previous one and the older is dropped).
import type { MatrixSnapshot } from "../advisor/types.js";

export interface AnswerCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** One answer as sent: its UTF-8 JSON, what it counts as, and its ETag once made (routes/advisor.ts). */
export interface CachedAnswer {
  body: Buffer;
  status: string;
  etag?: string;
}

export class AnswerCache {
  private readonly entries = new Map<string, CachedAnswer>();
  private asked = new Set<string>();
  private askedBefore = new Set<string>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private readonly snapshotIds = new WeakMap<MatrixSnapshot, number>();
  private nextSnapshotId = 1;

  constructor(
    private readonly maxEntries = 1000,
    private readonly maxBytes = 32 * 1024 * 1024,
    /** How many questions asked once are remembered (per generation; default 4 × maxEntries). */
    private readonly maxAsked = 4 * maxEntries,
  ) {}

  /** The key of a question answered from `snapshot` (which snapshot matters: default set or all models). */
  key(version: number, snapshot: MatrixSnapshot, request: unknown): string {
    let id = this.snapshotIds.get(snapshot);
    if (id === undefined) this.snapshotIds.set(snapshot, (id = this.nextSnapshotId++));
    return `${version}\u0000${id}\u0000${JSON.stringify(request)}`;
  }

  /** The cached answer, or `make()`'s (serialised; kept when the question was asked before). `status` is what the answer counts as. */
  get(key: string, make: () => { body: unknown; status: string }): CachedAnswer {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    this.misses++;
    const made = make();
    const entry: CachedAnswer = { body: Buffer.from(JSON.stringify(made.body)), status: made.status };
    if (this.askedOnce(key) && entry.body.length <= this.maxBytes / 4) this.keep(key, entry);
    return entry;
  }

  /** Whether `key` was asked before (and, if not, remembers that it now has been). */
  private askedOnce(key: string): boolean {
    if (this.asked.has(key) || this.askedBefore.has(key)) return true;
    if (this.asked.size >= this.maxAsked) {
      this.askedBefore = this.asked;
      this.asked = new Set();
    }
    this.asked.add(key);
    return false;
  }

  private keep(key: string, entry: CachedAnswer): void {
    this.entries.set(key, entry);
    this.bytes += entry.body.length;
    for (const [k, v] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.body.length;
    }
  }

  stats(): AnswerCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }
}
