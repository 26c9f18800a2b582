-- migrate: foreign keys off
-- The paper's pruning set and the cumulative schedule (issue 19, item 1).
-- - variants.strategy gains the `<granularity>/<rule>` strategies that are not today's names
--   (the four that coincide stay stored under today's names: src/vocabulary.ts, STRATEGY_ALIASES);
-- - variants.dropped_bytes: for kernel and filter strategies, the bytes of the DENSE model with the
--   removable filters physically dropped (src/engine/pruning/dropped.ts); NULL: unstructured, dense,
--   a model whose layers cannot be chained, or measured before this column existed;
-- - variants.schedule: how the variant's rate was reached — 'one-shot' (from the dense model, every
--   variant before this migration) or 'cumulative' (from the previous rate's fine-tuned variant);
--   part of the variant's identity, so the two schedules of one (model, strategy, rate, seed) coexist.
-- SQLite cannot alter a CHECK or a UNIQUE constraint: the table is rebuilt with its rows, ids kept.
-- evaluations refer to variants, so foreign keys are off while the table is swapped (the directive
-- above; src/matrix/migrations.ts checks every foreign key before committing).
CREATE TABLE variants_new (
  id               INTEGER PRIMARY KEY,
  model_id         TEXT    NOT NULL REFERENCES models (id),
  strategy         TEXT    NOT NULL CHECK (strategy IN ('dense', 'global-magnitude', 'layer-magnitude', 'global-gradient', 'layer-gradient', 'random', 'structured-l1',
                                                        'kernel/random-local', 'kernel/magnitude-local', 'kernel/magnitude-global', 'filter/random-local', 'filter/magnitude-global')),
  requested_rate   REAL    NOT NULL CHECK (requested_rate >= 1),
  achieved_rate    REAL    NOT NULL CHECK (achieved_rate >= 1 AND achieved_rate < 9e999),
  prunable_params  INTEGER NOT NULL CHECK (prunable_params >= 1),
  nonzero_prunable INTEGER NOT NULL CHECK (nonzero_prunable BETWEEN 1 AND prunable_params),
  total_params     INTEGER NOT NULL CHECK (total_params >= prunable_params),
  nonzero_params   INTEGER NOT NULL CHECK (nonzero_params BETWEEN nonzero_prunable AND total_params),
  sparse_bytes     INTEGER NOT NULL CHECK (sparse_bytes >= 1),
  dense_bytes      INTEGER NOT NULL CHECK (dense_bytes >= 1),
  dropped_bytes    INTEGER          CHECK (dropped_bytes IS NULL OR dropped_bytes BETWEEN 1 AND dense_bytes),
  structured       INTEGER NOT NULL CHECK (structured IN (0, 1)),
  weights_sha256   TEXT    NOT NULL CHECK (length(weights_sha256) = 64 AND weights_sha256 NOT GLOB '*[^0-9a-f]*'),
  -- Clean accuracy of this variant on the whole test split.
  clean_correct    INTEGER NOT NULL,
  clean_n          INTEGER NOT NULL CHECK (clean_n >= 1 AND clean_correct BETWEEN 0 AND clean_n),
  finetune_epochs  INTEGER NOT NULL DEFAULT 0 CHECK (finetune_epochs >= 0),
  -- Seed of pruning (random) and fine-tuning.
  seed             INTEGER NOT NULL,
  schedule         TEXT    NOT NULL DEFAULT 'one-shot' CHECK (schedule IN ('one-shot', 'cumulative')),
  backend          TEXT    NOT NULL,
  code_version     TEXT    NOT NULL,
  created_at       TEXT    NOT NULL,
  UNIQUE (model_id, strategy, requested_rate, seed, schedule),
  CHECK (strategy <> 'dense' OR (requested_rate = 1 AND finetune_epochs = 0 AND schedule = 'one-shot'))
);
INSERT INTO variants_new (id, model_id, strategy, requested_rate, achieved_rate, prunable_params, nonzero_prunable, total_params, nonzero_params,
                          sparse_bytes, dense_bytes, structured, weights_sha256, clean_correct, clean_n, finetune_epochs, seed, backend, code_version, created_at)
  SELECT id, model_id, strategy, requested_rate, achieved_rate, prunable_params, nonzero_prunable, total_params, nonzero_params,
         sparse_bytes, dense_bytes, structured, weights_sha256, clean_correct, clean_n, finetune_epochs, seed, backend, code_version, created_at
    FROM variants;
DROP TABLE variants;
ALTER TABLE variants_new RENAME TO variants;
CREATE INDEX variants_strategy_rate ON variants (strategy, requested_rate);
CREATE INDEX variants_rate ON variants (requested_rate);
