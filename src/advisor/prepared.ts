// A snapshot prepared once per matrix version: what does not depend on the question (which
// level's rows stand for each requested level, the per-sample merge across levels, the
// distances sorted for counting by binary search, the checks of every row) is worked out when
// the version loads, so a question is a filter, a count per candidate, a sort and a few paired
// tests. The answers are the same as from the plain snapshot (test/advisor/prepared.test.ts).
import { assessCandidate } from "./assess.js";
import { newEvidenceCache, type EvidenceCache } from "./lattice.js";
import { KNOWLEDGE_LEVELS, NORMS, type MatrixSnapshot, type Scenario } from "./types.js";

const caches = new WeakMap<MatrixSnapshot, EvidenceCache>();
/** Per prepared snapshot: answers' parts that depend only on the model selection (e.g. coverage). */
const bySelection = new WeakMap<MatrixSnapshot, Map<string, unknown>>();

/**
 * `make()` once per prepared snapshot and `key` (a selection of models); on a plain snapshot,
 * every time. The value is shared between answers: read-only.
 */
export function perSelection<T>(matrix: MatrixSnapshot, key: string, make: () => T): T {
  if (!caches.has(matrix)) return make();
  let memo = bySelection.get(matrix);
  if (!memo) bySelection.set(matrix, (memo = new Map()));
  if (!memo.has(key)) memo.set(key, make());
  return memo.get(key) as T;
}

/** The memo tables of a prepared snapshot, or null for a plain one. */
export function evidenceCacheOf(matrix: MatrixSnapshot): EvidenceCache | null {
  return caches.get(matrix) ?? null;
}

/**
 * Prepares `matrix` in place (it is not changed, only remembered) and returns it. Snapshots that
 * share candidate objects (the default model set is a filtered copy) can share one cache: pass
 * the first one's as `shareWith`. A candidate whose rows fail a check is left unprepared: a
 * question about it meets the same error as with the plain snapshot.
 */
export function prepareSnapshot(matrix: MatrixSnapshot, shareWith?: MatrixSnapshot): MatrixSnapshot {
  const shared = shareWith ? caches.get(shareWith) : undefined;
  const cache = shared ?? newEvidenceCache();
  caches.set(matrix, cache);
  if (shared) return matrix;
  for (const c of matrix.candidates) {
    for (const norm of NORMS) {
      for (const knowledge of KNOWLEDGE_LEVELS) {
        try {
          assessCandidate(c, { norm, knowledge, budget: 0 } as Scenario, false, cache);
        } catch {
          // Answered (and reported) when a question selects it.
        }
      }
    }
  }
  return matrix;
}
