-- The robustness matrix with full provenance (DESIGN.md, "The matrix (SQLite)"):
--   models       one dense (trained) model, identified by the sha256 of its weights;
--   variants     one (model, strategy, requested rate, seed): the pruned + fine-tuned model as measured;
--   evaluations  one (variant, norm, knowledge) result under one matrix version, with the exact
--                evaluated sample indices and the per-sample minimal adversarial distances as blobs.
-- Versions: a refresh writes its rows under an UNPUBLISHED version (published_at NULL) and
-- publishes it with one UPDATE; readers only ever see published versions. Published versions are
-- immutable (enforced by the triggers below), so an answer citing version v stays reproducible.
-- Builds: build_cells checkpoints every cell of a grid (resume after a crash), build_locks refuses
-- a second builder on the same database.

-- ─────────────────────────────── versions ───────────────────────────────
-- published_seq orders versions by PUBLICATION (1, 2, 3, …): the snapshot of version v is, per
-- (variant, norm, knowledge), the row of the most recently published version published no later
-- than v. Normally publication order is creation order; when it is not (a long build overtaken by
-- an import), ordering by publication keeps every published snapshot unchanged forever.
ALTER TABLE matrix_versions ADD COLUMN published_at TEXT;
ALTER TABLE matrix_versions ADD COLUMN published_seq INTEGER;
-- Versions created before publication existed were visible: they count as published, in id order.
UPDATE matrix_versions SET published_at = created_at, published_seq = id WHERE published_at IS NULL;
CREATE UNIQUE INDEX matrix_versions_published_seq ON matrix_versions (published_seq);

CREATE TRIGGER matrix_versions_published_immutable
BEFORE UPDATE OF published_at, published_seq ON matrix_versions
WHEN OLD.published_at IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'matrix version is already published: published versions are immutable');
END;

CREATE TRIGGER matrix_versions_published_undeletable
BEFORE DELETE ON matrix_versions
WHEN OLD.published_at IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'matrix version is published: published versions cannot be deleted');
END;

-- ─────────────────────────────── models ───────────────────────────────
CREATE TABLE models (
  id            TEXT    PRIMARY KEY CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
  architecture  TEXT    NOT NULL CHECK (architecture <> ''),
  dataset       TEXT    NOT NULL CHECK (dataset <> ''),
  input_shape   TEXT    NOT NULL CHECK (json_valid(input_shape) AND json_type(input_shape) = 'array'),
  num_classes   INTEGER NOT NULL CHECK (num_classes >= 2),
  seed          INTEGER NOT NULL,
  -- Clean accuracy on the whole test split when the model was written (NULL if not measured).
  clean_correct INTEGER,
  clean_n       INTEGER,
  backend       TEXT    NOT NULL,
  code_version  TEXT    NOT NULL,
  created_at    TEXT    NOT NULL,
  -- Where the TF.js model lives, relative to the database's folder (or the repository); NULL if not kept.
  model_dir     TEXT,
  -- The model's metadata.json (training settings, …) as written by the engine.
  metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  CHECK ((clean_correct IS NULL) = (clean_n IS NULL)),
  CHECK (clean_n IS NULL OR (clean_n >= 1 AND clean_correct BETWEEN 0 AND clean_n))
);
CREATE INDEX models_dataset_architecture ON models (dataset, architecture);
CREATE INDEX models_architecture ON models (architecture);

-- ─────────────────────────────── variants ───────────────────────────────
CREATE TABLE variants (
  id               INTEGER PRIMARY KEY,
  model_id         TEXT    NOT NULL REFERENCES models (id),
  strategy         TEXT    NOT NULL CHECK (strategy IN ('dense', 'global-magnitude', 'layer-magnitude', 'global-gradient', 'layer-gradient', 'random', 'structured-l1')),
  requested_rate   REAL    NOT NULL CHECK (requested_rate >= 1),
  achieved_rate    REAL    NOT NULL CHECK (achieved_rate >= 1 AND achieved_rate < 9e999),
  prunable_params  INTEGER NOT NULL CHECK (prunable_params >= 1),
  nonzero_prunable INTEGER NOT NULL CHECK (nonzero_prunable BETWEEN 1 AND prunable_params),
  total_params     INTEGER NOT NULL CHECK (total_params >= prunable_params),
  nonzero_params   INTEGER NOT NULL CHECK (nonzero_params BETWEEN nonzero_prunable AND total_params),
  sparse_bytes     INTEGER NOT NULL CHECK (sparse_bytes >= 1),
  dense_bytes      INTEGER NOT NULL CHECK (dense_bytes >= 1),
  structured       INTEGER NOT NULL CHECK (structured IN (0, 1)),
  weights_sha256   TEXT    NOT NULL CHECK (length(weights_sha256) = 64 AND weights_sha256 NOT GLOB '*[^0-9a-f]*'),
  -- Clean accuracy of this variant on the whole test split.
  clean_correct    INTEGER NOT NULL,
  clean_n          INTEGER NOT NULL CHECK (clean_n >= 1 AND clean_correct BETWEEN 0 AND clean_n),
  finetune_epochs  INTEGER NOT NULL DEFAULT 0 CHECK (finetune_epochs >= 0),
  -- Seed of pruning (random) and fine-tuning.
  seed             INTEGER NOT NULL,
  backend          TEXT    NOT NULL,
  code_version     TEXT    NOT NULL,
  created_at       TEXT    NOT NULL,
  UNIQUE (model_id, strategy, requested_rate, seed),
  CHECK (strategy <> 'dense' OR (requested_rate = 1 AND finetune_epochs = 0))
);
CREATE INDEX variants_strategy_rate ON variants (strategy, requested_rate);
CREATE INDEX variants_rate ON variants (requested_rate);

-- ─────────────────────────────── evaluations ───────────────────────────────
CREATE TABLE evaluations (
  id                INTEGER PRIMARY KEY,
  variant_id        INTEGER NOT NULL REFERENCES variants (id),
  matrix_version    INTEGER NOT NULL REFERENCES matrix_versions (id),
  norm              TEXT    NOT NULL CHECK (norm IN ('l0', 'l2', 'linf')),
  knowledge         TEXT    NOT NULL CHECK (knowledge IN ('white-box', 'transfer', 'black-box')),
  -- Grid budgets of the fixed-budget attacks, ascending, in the units of the norm (JSON array).
  budgets           TEXT    NOT NULL CHECK (json_valid(budgets) AND json_type(budgets) = 'array'),
  -- The evaluated images: indices into `dataset_split` of the model's data set, uint32 little-endian.
  dataset_split     TEXT    NOT NULL DEFAULT 'test',
  sample_indices    BLOB    NOT NULL,
  sample_count      INTEGER NOT NULL CHECK (sample_count >= 1),
  -- sha256 (hex) of the sample_indices blob: equal hashes = the same samples (paired comparisons).
  sample_hash       TEXT    NOT NULL CHECK (length(sample_hash) = 64),
  -- Evaluated samples classified correctly without attack.
  clean_correct     INTEGER NOT NULL CHECK (clean_correct BETWEEN 0 AND sample_count),
  -- Per attack: {name, kind, knowledge, access, params, budgets, attempted, beaten[, sanity]} (JSON array).
  attacks           TEXT    NOT NULL CHECK (json_valid(attacks) AND json_type(attacks) = 'array'),
  -- Per grid budget: {budget, robust, n, accuracy, low, high} (Wilson 95 %), computed from `distances`.
  robust            TEXT    NOT NULL CHECK (json_valid(robust) AND json_type(robust) = 'array'),
  -- Per sample, aligned with sample_indices: minimal adversarial distance, float32 little-endian
  -- (0 = clean error, Infinity = never beaten).
  distances         BLOB    NOT NULL,
  masking_suspected INTEGER NOT NULL CHECK (masking_suspected IN (0, 1)),
  -- The engine's sanity report (clean, monotone, unbounded attack, masking checks).
  sanity            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(sanity)),
  seed              INTEGER NOT NULL,
  batch_size        INTEGER,
  query_budget      INTEGER,
  -- Forward queries the black-box attacks made.
  queries           INTEGER,
  -- Transfer: sha256 of the surrogate (the dense model) the examples were crafted on.
  surrogate_sha256  TEXT,
  backend           TEXT    NOT NULL,
  code_version      TEXT    NOT NULL,
  started_at        TEXT    NOT NULL,
  finished_at       TEXT    NOT NULL,
  seconds           REAL    NOT NULL CHECK (seconds >= 0),
  -- sha256 over the measured content and its provenance: the same measurement imported twice is recognised.
  content_hash      TEXT    NOT NULL CHECK (length(content_hash) = 64),
  CHECK (length(sample_indices) = 4 * sample_count),
  CHECK (length(distances) = 4 * sample_count),
  UNIQUE (variant_id, norm, knowledge, matrix_version)
);
CREATE INDEX evaluations_version ON evaluations (matrix_version);
CREATE INDEX evaluations_norm_knowledge ON evaluations (norm, knowledge);
CREATE INDEX evaluations_content_hash ON evaluations (content_hash);

CREATE TRIGGER evaluations_insert_unpublished
BEFORE INSERT ON evaluations
WHEN (SELECT published_at FROM matrix_versions WHERE id = NEW.matrix_version) IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'cannot add evaluations to a published matrix version: published versions are immutable');
END;

CREATE TRIGGER evaluations_update_published
BEFORE UPDATE ON evaluations
WHEN (SELECT published_at FROM matrix_versions WHERE id = OLD.matrix_version) IS NOT NULL
  OR (SELECT published_at FROM matrix_versions WHERE id = NEW.matrix_version) IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'evaluations of a published matrix version are immutable');
END;

CREATE TRIGGER evaluations_delete_published
BEFORE DELETE ON evaluations
WHEN (SELECT published_at FROM matrix_versions WHERE id = OLD.matrix_version) IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'evaluations of a published matrix version cannot be deleted');
END;

-- ─────────────────────────────── builds ───────────────────────────────
-- One build per grid hash: the unpublished version it writes to (NULL once that version is discarded).
CREATE TABLE builds (
  grid_hash      TEXT    PRIMARY KEY,
  matrix_version INTEGER REFERENCES matrix_versions (id) ON DELETE SET NULL,
  grid           TEXT    NOT NULL CHECK (json_valid(grid)),
  created_at     TEXT    NOT NULL,
  updated_at     TEXT    NOT NULL
);

-- One checkpoint per cell of a build. A cell found 'running' when a builder starts belongs to a
-- crashed run (the build lock guarantees one builder) and runs again.
CREATE TABLE build_cells (
  grid_hash   TEXT    NOT NULL REFERENCES builds (grid_hash) ON DELETE CASCADE,
  cell_key    TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('train', 'prune', 'evaluate')),
  status      TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  worker      TEXT,
  attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  started_at  TEXT,
  finished_at TEXT,
  error       TEXT,
  -- What the cell produced (model id and directory, variant id, evaluation ids), JSON.
  output      TEXT    CHECK (output IS NULL OR json_valid(output)),
  PRIMARY KEY (grid_hash, cell_key)
) WITHOUT ROWID;
CREATE INDEX build_cells_status ON build_cells (grid_hash, status);

-- At most one builder per database: one row per lock name, taken in a write transaction.
CREATE TABLE build_locks (
  name         TEXT    PRIMARY KEY,
  token        TEXT    NOT NULL,
  grid_hash    TEXT,
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  acquired_at  TEXT    NOT NULL,
  heartbeat_at TEXT    NOT NULL
);
