// Exported matrix rows of a database, comparable across builds: local ids and timestamps removed.
import { MatrixStore } from "../../src/matrix/store.js";
import { exportJsonl } from "../../src/matrix/jsonl.js";

/** Exported rows without local ids and timestamps, sorted. */
export async function exportedRows(db: string): Promise<string[]> {
  const store = await MatrixStore.open(db);
  const lines: string[] = [];
  try {
    await exportJsonl(store, undefined, (l) => void lines.push(l.trim()));
  } finally {
    await store.close();
  }
  return comparableRows(lines);
}

/** JSONL rows without local ids, timestamps, durations and locations, sorted: equal for the same measurements. */
export function comparableRows(lines: readonly string[]): string[] {
  return lines
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const row = JSON.parse(l) as Record<string, unknown> & { modelMetadata: Record<string, unknown> };
      // modelDir is a location (relative to the database's folder), not part of the measurement.
      for (const k of ["id", "variantId", "matrixVersion", "startedAt", "finishedAt", "seconds", "createdAt", "modelCreatedAt", "modelDir"]) delete row[k];
      delete row.modelMetadata.createdAt;
      return JSON.stringify(row);
    })
    .sort();
}
