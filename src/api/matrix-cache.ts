// The matrix the service answers from, held in memory: the snapshot of the latest published
// version and its models. A cheap check (`latestPublishedVersion()`, one indexed query) runs at
// most every `checkIntervalMs`; when a newer version is published the new snapshot is loaded
// completely and then swapped in with one assignment. A request holds the `LoadedMatrix` it got
// for its whole life, so it never sees half a reload; requests arriving while a check or a load
// runs wait for that same promise (single flight) rather than being dropped or starting another.
// If a reload fails, the previous matrix keeps serving and the next check tries again.
//
// The default model set: questions that name no modelId are answered from the models of the
// snapshot that were not uploaded (POST /v1/models, `advisor models add`) — the matrix's own
// models. An uploaded model is only ever answered for when asked for by id. Which models are
// uploaded is read with the snapshot (an uploaded model only gets rows through a refresh, which
// publishes a new version and so triggers a reload).
import type { MatrixSnapshot } from "../advisor/types.js";
import type { Logger } from "../logger.js";
import { prepareSnapshot } from "../advisor/prepared.js";
import type { MatrixStore, ModelSummary, VersionInfo } from "../matrix/store.js";

export interface LoadedMatrix {
  version: number;
  info: VersionInfo;
  snapshot: MatrixSnapshot;
  models: ModelSummary[];
  /** The snapshot restricted to the default model set (no uploaded models). */
  defaultSnapshot: MatrixSnapshot;
  defaultModels: ModelSummary[];
  loadedAt: Date;
}

export interface MatrixCacheOptions {
  /** Minimum time between two checks for a newer published version (default 1000 ms; 0 = every request). */
  checkIntervalMs?: number;
  logger?: Logger;
  now?: () => number;
  /** Ids of uploaded models, outside the default model set (default: none). */
  uploadedModels?: () => Promise<Set<string>>;
}

/** The snapshot and models without the uploaded models: what a question naming no modelId is answered from. */
export function defaultModelSet(snapshot: MatrixSnapshot, models: ModelSummary[], uploaded: ReadonlySet<string>): { snapshot: MatrixSnapshot; models: ModelSummary[] } {
  if (uploaded.size === 0) return { snapshot, models };
  return { snapshot: { ...snapshot, candidates: snapshot.candidates.filter((c) => !uploaded.has(c.modelId)) }, models: models.filter((m) => !uploaded.has(m.modelId)) };
}

export class MatrixCache {
  private loaded: LoadedMatrix | null = null;
  private lastCheck = Number.NEGATIVE_INFINITY;
  private inflight: Promise<LoadedMatrix | null> | null = null;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(
    private readonly store: MatrixStore,
    private readonly options: MatrixCacheOptions = {},
  ) {
    this.interval = options.checkIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** The matrix to answer from, or null while no version is published. */
  async current(): Promise<LoadedMatrix | null> {
    if (this.inflight) return this.inflight;
    if (this.now() - this.lastCheck < this.interval) return this.loaded;
    return this.refresh();
  }

  /** Checks for a newer published version now (joining a check already running). */
  refresh(): Promise<LoadedMatrix | null> {
    this.inflight ??= this.check().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** What is held now, without checking. */
  peek(): LoadedMatrix | null {
    return this.loaded;
  }

  private async check(): Promise<LoadedMatrix | null> {
    const started = this.now();
    try {
      const latest = await this.store.latestPublishedVersion();
      if (latest === null) {
        this.loaded = null;
      } else if (this.loaded === null || this.loaded.version !== latest.id) {
        const [snapshot, models, uploaded] = await Promise.all([
          this.store.snapshot(latest.id),
          this.store.listModels(latest.id),
          this.options.uploadedModels?.() ?? Promise.resolve(new Set<string>()),
        ]);
        // Worked out once per version, not per question (src/advisor/prepared.ts).
        prepareSnapshot(snapshot);
        const defaults = defaultModelSet(snapshot, models, uploaded);
        prepareSnapshot(defaults.snapshot, snapshot);
        const next: LoadedMatrix = { version: latest.id, info: latest, snapshot, models, defaultSnapshot: defaults.snapshot, defaultModels: defaults.models, loadedAt: new Date() };
        const previous = this.loaded?.version ?? null;
        this.loaded = next; // the swap: one assignment
        this.options.logger?.info({ matrixVersion: next.version, previous, candidates: snapshot.candidates.length }, "matrix loaded");
      }
      this.lastCheck = started;
      return this.loaded;
    } catch (err) {
      // Keep serving what we have; without anything loaded the caller sees the error.
      if (this.loaded === null) throw err;
      this.options.logger?.warn({ err, matrixVersion: this.loaded.version }, "matrix reload failed; still answering from the loaded version");
      this.lastCheck = started;
      return this.loaded;
    }
  }
}
