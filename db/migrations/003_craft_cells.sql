-- Craft cells (src/matrix/grid.ts): the transfer examples of one (dense model, norm) are crafted
-- once per build by their own cell. build_cells.kind gains 'craft'; SQLite cannot alter a CHECK
-- constraint, so the table is rebuilt with its rows (the migration runs in one transaction).
CREATE TABLE build_cells_new (
  grid_hash   TEXT    NOT NULL REFERENCES builds (grid_hash) ON DELETE CASCADE,
  cell_key    TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('train', 'prune', 'craft', 'evaluate')),
  status      TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  worker      TEXT,
  attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  started_at  TEXT,
  finished_at TEXT,
  error       TEXT,
  -- What the cell produced (model id and directory, variant id, evaluation ids, example file), JSON.
  output      TEXT    CHECK (output IS NULL OR json_valid(output)),
  PRIMARY KEY (grid_hash, cell_key)
) WITHOUT ROWID;
INSERT INTO build_cells_new SELECT grid_hash, cell_key, kind, status, worker, attempts, started_at, finished_at, error, output FROM build_cells;
DROP TABLE build_cells;
ALTER TABLE build_cells_new RENAME TO build_cells;
CREATE INDEX build_cells_status ON build_cells (grid_hash, status);
