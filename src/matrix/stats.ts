// `advisor matrix stats`: what a matrix database holds — rows per axis (architecture, strategy,
// rate, norm, knowledge), samples per row, versions — and the GAPS: which rows the grid of the
// latest build expects that are missing (plus its train/prune cells not done yet).
//
// The rows counted are those of one version: by default the version of the latest build (published
// or not, so a partial build shows its progress), else the latest published version. With a grid
// given (`--grid`), the gaps are those of that grid — e.g. a merged or imported matrix, which
// records no build, against the default grid it is meant to cover. With a shard given (`--shard
// k/N`), the expected rows and cells are that shard's, so a shard's database reads as complete
// when its part is done.
import { failedChecksOf, type MatrixStore, type VersionInfo } from "./store.js";
import type { StoredIndicators } from "./row.js";
import { INDICATOR_FIELDS } from "../engine/evaluation/indicators.js";
import { BuildLedger } from "./build-state.js";
import { gridHash, planCells, shardCells, validateGrid, type Cell, type Grid, type ShardSpec } from "./grid.js";

export interface MatrixStats {
  version: number | null;
  published: boolean;
  rows: number;
  byArchitecture: Record<string, number>;
  byStrategy: Record<string, number>;
  byRate: Record<string, number>;
  byNorm: Record<string, number>;
  byKnowledge: Record<string, number>;
  /** Sample count → rows with that many samples. */
  samplesPerRow: Record<string, number>;
  /** Rows whose stored sanity report failed, and per failed check the rows failing it. */
  sanity: { failedRows: number; byCheck: Record<string, number> };
  /**
   * Indicators of attack failure: rows that carry them (the others were measured before they
   * existed: not measured), rows failing one and per indicator the rows failing it, and per
   * indicator the rows where it was seen without failing the row (the sanity line covers the
   * mirrored unbounded and masking checks).
   */
  indicators: { measuredRows: number; failedRows: number; byIndicator: Record<string, number>; seenNotFailing: Record<string, number> };
  versions: VersionInfo[];
  build: { gridHash: string; description: string | null; expectedRows: number; cells: number; cellsDone: number } | null;
  /** The shard of the grid the expected rows and cells are limited to, when given. */
  shard: ShardSpec | null;
  /** The grid the gaps were computed against, when given explicitly. */
  grid: { gridHash: string; description: string | null; expectedRows: number } | null;
  /** Expected rows missing, as `<arch>/<strategy>/<rate>x/s<seed>[/p<pruning seed>]/<norm>/<knowledge>`. */
  gaps: string[];
  /** Train/prune/evaluate cells of the build not done. */
  unfinishedCells: string[];
}

interface StatRow {
  architecture: string;
  dataset: string;
  strategy: string;
  rate: number;
  /** The training seed (the evaluation's seed). */
  seed: number;
  /** The variant's seed: its pruning seed (the training seed for dense and by default). */
  pruningSeed: number;
  norm: string;
  knowledge: string;
  samples: number;
  /** The sanity report when it failed, else null. */
  failed: string | null;
  /** The stored indicator report, null when not measured. */
  indicators: string | null;
}

function bump(map: Record<string, number>, key: string | number): void {
  map[String(key)] = (map[String(key)] ?? 0) + 1;
}

export function rowKey(r: { architecture: string; strategy: string; rate: number; seed: number; pruningSeed: number; norm: string; knowledge: string }): string {
  return `${r.architecture}/${r.strategy}/${r.rate}x/s${r.seed}${r.pruningSeed === r.seed ? "" : `/p${r.pruningSeed}`}/${r.norm}/${r.knowledge}`;
}

/** Every row a grid (or those of its cells given) expects (keys as in `gaps`). */
export function expectedRows(grid: Grid, cells: readonly Cell[] = planCells(grid)): string[] {
  const keys: string[] = [];
  for (const c of cells) {
    if (c.kind !== "evaluate") continue;
    for (const k of c.knowledge) keys.push(rowKey({ architecture: c.architecture, strategy: c.strategy, rate: c.rate, seed: c.seed, pruningSeed: c.pruningSeed, norm: c.norm, knowledge: k }));
  }
  return keys;
}

/** Adds one row's stored indicator report to the counts. */
function countIndicators(c: MatrixStats["indicators"], report: StoredIndicators): void {
  c.measuredRows++;
  if (report.failed.length > 0) c.failedRows++;
  for (const name of report.failed) bump(c.byIndicator, name);
  for (const [name, field] of Object.entries(INDICATOR_FIELDS)) {
    if (name === "unconstrained-failure" || name === "weaker-attack-wins") continue;
    const entry = report[field] as { fired?: unknown; failed?: unknown } | undefined;
    if (entry?.fired === true && entry.failed !== true) bump(c.seenNotFailing, name);
  }
}

export async function matrixStats(store: MatrixStore, options: { version?: number; grid?: Grid; shard?: ShardSpec } = {}): Promise<MatrixStats> {
  const db = store.db;
  const versions = await store.listVersions({ includeUnpublished: true });
  const buildRow = await db.get<{ grid_hash: string; matrix_version: number | null; grid: string }>(
    "SELECT grid_hash, matrix_version, grid FROM builds ORDER BY updated_at DESC, rowid DESC LIMIT 1",
  );
  let version = options.version ?? buildRow?.matrix_version ?? null;
  if (version === null) version = (await store.latestPublishedVersion())?.id ?? null;
  const rows =
    version === null
      ? []
      : await db.all<StatRow>(
          `SELECT m.architecture, m.dataset, v.strategy, v.requested_rate AS rate, e.seed, v.seed AS pruningSeed, e.norm, e.knowledge, e.sample_count AS samples,
                  CASE WHEN json_extract(e.sanity, '$.pass') = 0 THEN e.sanity END AS failed, e.indicators
           FROM evaluations e JOIN variants v ON v.id = e.variant_id JOIN models m ON m.id = v.model_id
           WHERE e.matrix_version = ? ORDER BY e.id`,
          [version],
        );
  const stats: MatrixStats = {
    version,
    published: version !== null && versions.find((v) => v.id === version)?.publishedAt != null,
    rows: rows.length,
    byArchitecture: {},
    byStrategy: {},
    byRate: {},
    byNorm: {},
    byKnowledge: {},
    samplesPerRow: {},
    sanity: { failedRows: 0, byCheck: {} },
    indicators: { measuredRows: 0, failedRows: 0, byIndicator: {}, seenNotFailing: {} },
    versions,
    build: null,
    shard: options.shard ?? null,
    grid: null,
    gaps: [],
    unfinishedCells: [],
  };
  for (const r of rows) {
    bump(stats.byArchitecture, r.architecture);
    bump(stats.byStrategy, r.strategy);
    bump(stats.byRate, r.rate);
    bump(stats.byNorm, r.norm);
    bump(stats.byKnowledge, r.knowledge);
    bump(stats.samplesPerRow, r.samples);
    if (r.failed !== null) {
      stats.sanity.failedRows++;
      for (const check of failedChecksOf(r.failed)) bump(stats.sanity.byCheck, check);
    }
    if (r.indicators !== null) countIndicators(stats.indicators, JSON.parse(r.indicators) as StoredIndicators);
  }
  const presentFor = (grid: Grid): Set<string> => new Set(rows.filter((r) => r.dataset === grid.dataset.name).map((r) => rowKey(r)));
  const cellsOf = (grid: Grid): Cell[] => {
    const plan = planCells(grid);
    return options.shard ? shardCells(plan, options.shard.index, options.shard.count).cells : plan;
  };
  if (options.grid) {
    const present = presentFor(options.grid);
    const expected = expectedRows(options.grid, cellsOf(options.grid));
    stats.gaps = expected.filter((k) => !present.has(k));
    stats.grid = { gridHash: gridHash(options.grid), description: options.grid.description ?? null, expectedRows: expected.length };
  } else if (buildRow) {
    const grid = validateGrid(JSON.parse(buildRow.grid) as unknown, "the build's grid");
    const present = presentFor(grid);
    const plan = cellsOf(grid);
    const expected = expectedRows(grid, plan);
    stats.gaps = expected.filter((k) => !present.has(k));
    const pending = await new BuildLedger(db).pending(buildRow.grid_hash, plan);
    stats.unfinishedCells = pending.map((c) => c.key);
    stats.build = { gridHash: buildRow.grid_hash, description: grid.description ?? null, expectedRows: expected.length, cells: plan.length, cellsDone: plan.length - pending.length };
  }
  return stats;
}

function indicatorLine(s: MatrixStats): string {
  const c = s.indicators;
  const list = (m: Record<string, number>): string => Object.entries(m).map(([k, n]) => `${k} ${n}`).join(", ");
  if (c.measuredRows === 0) return `indicators of attack failure: not measured (${s.rows === 0 ? "no rows" : `rows measured before they existed`})`;
  const parts = [`measured on ${c.measuredRows} of ${s.rows} rows`];
  parts.push(c.failedRows === 0 ? "no row fails" : `${c.failedRows} of them fail (${list(c.byIndicator)}); the advisor does not score them`);
  if (Object.keys(c.seenNotFailing).length > 0) parts.push(`seen without failing the row: ${list(c.seenNotFailing)}`);
  return `indicators of attack failure: ${parts.join("; ")}`;
}

export function formatStats(s: MatrixStats, options: { all?: boolean } = {}): string[] {
  const axis = (name: string, m: Record<string, number>): string =>
    `${name}: ${Object.keys(m).length === 0 ? "—" : Object.entries(m).map(([k, n]) => `${k} ${n}`).join(", ")}`;
  const lines = [
    s.version === null ? "no matrix version yet" : `version ${s.version} (${s.published ? "published" : "unpublished"}): ${s.rows} rows`,
    axis("architecture", s.byArchitecture),
    axis("strategy", s.byStrategy),
    axis("rate", s.byRate),
    axis("norm", s.byNorm),
    axis("knowledge", s.byKnowledge),
    axis("samples per row", s.samplesPerRow),
    `sanity checks: ${s.sanity.failedRows === 0 ? "every row passes" : `${s.sanity.failedRows} of ${s.rows} rows fail (${Object.entries(s.sanity.byCheck).map(([k, n]) => `${k} ${n}`).join(", ")}); the advisor does not score them`}`,
    indicatorLine(s),
    `versions: ${s.versions.length === 0 ? "none" : s.versions.map((v) => `${v.id}${v.publishedAt ? "" : " (unpublished)"} ${v.evaluations} rows`).join("; ")}`,
  ];
  const gapLines = (): void => {
    if (s.gaps.length === 0) return void lines.push("gaps: none");
    // Per architecture first: a partial matrix is usually missing whole architectures.
    const byArch: Record<string, number> = {};
    for (const g of s.gaps) bump(byArch, g.split("/")[0]!);
    lines.push(`gaps: ${s.gaps.length} missing rows (${Object.entries(byArch).map(([a, n]) => `${a} ${n}`).join(", ")})`);
    const shown = options.all ? s.gaps : s.gaps.slice(0, 20);
    for (const g of shown) lines.push(`  missing ${g}`);
    if (shown.length < s.gaps.length) lines.push(`  … ${s.gaps.length - shown.length} more (--all lists them)`);
  };
  const of = s.shard ? ` shard ${s.shard.index}/${s.shard.count}` : "";
  if (s.grid) {
    lines.push(`grid ${s.grid.gridHash.slice(0, 12)}…${of} (${s.grid.description ?? "no description"}): ${s.grid.expectedRows - s.gaps.length}/${s.grid.expectedRows} expected rows present`);
    gapLines();
  } else if (s.build) {
    lines.push(`build ${s.build.gridHash.slice(0, 12)}…${of}: ${s.build.cellsDone}/${s.build.cells} cells done, ${s.build.expectedRows - s.gaps.length}/${s.build.expectedRows} expected rows present`);
    gapLines();
    const cells = options.all ? s.unfinishedCells : s.unfinishedCells.slice(0, 20);
    for (const c of cells) lines.push(`  unfinished cell ${c}`);
    if (cells.length < s.unfinishedCells.length) lines.push(`  … ${s.unfinishedCells.length - cells.length} more unfinished cells (--all lists them)`);
  } else {
    lines.push("gaps: unknown (no build recorded in this database; --grid <file> compares with a grid)");
  }
  return lines;
}
