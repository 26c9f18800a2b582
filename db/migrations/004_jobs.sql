-- Refresh jobs (src/jobs/): POST /v1/models/{id}/refresh and `advisor refresh` measure a registered
-- model on a grid. A job is the request and its progress; the work itself is a matrix build of the
-- job's grid (tables builds / build_cells: cells checkpointed, resumable), so a job interrupted by
-- a crash or a restart resumes where its build stopped.
--
--   queued → running → succeeded | failed      cancelled from queued or running (DELETE /v1/jobs/{id})
--   running → queued                            its runner died with the server (requeued at start-up)
--
-- A job succeeds in the same transaction that publishes its build's version (published_version),
-- so a reader sees either no row of the refresh or all of them. At most one job per grid hash is
-- queued or running (the partial unique index): an equivalent request gets that job back.
CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY,
  kind              TEXT    NOT NULL DEFAULT 'refresh' CHECK (kind IN ('refresh')),
  model_id          TEXT    NOT NULL REFERENCES models (id),
  -- The build's grid hash (it includes the model id) and the normalised grid, model and data set included.
  grid_hash         TEXT    NOT NULL CHECK (length(grid_hash) = 64),
  grid              TEXT    NOT NULL CHECK (json_valid(grid)),
  state             TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  -- Worker processes of the build.
  workers           INTEGER NOT NULL CHECK (workers >= 1),
  cells_total       INTEGER CHECK (cells_total IS NULL OR cells_total >= 0),
  cells_done        INTEGER NOT NULL DEFAULT 0 CHECK (cells_done >= 0),
  -- The cell being computed (the latest started, when several workers run) and its last progress line.
  current_cell      TEXT,
  current_detail    TEXT,
  -- [{cell, error, at}] of failed cells and of the job itself (JSON array).
  errors            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(errors) AND json_type(errors) = 'array'),
  -- Estimated end (ISO time), from the pace of the cells this run finished.
  eta_at            TEXT,
  -- The unpublished version the build writes to (NULL once discarded or before the build starts).
  build_version     INTEGER REFERENCES matrix_versions (id) ON DELETE SET NULL,
  -- The version this job published (or found published for its grid).
  published_version INTEGER REFERENCES matrix_versions (id),
  -- Runs started (1 + restarts).
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- Who runs it now: a random token per run (only that run may update the job), host, pid, heartbeat.
  runner_token      TEXT,
  runner_host       TEXT,
  runner_pid        INTEGER,
  heartbeat_at      TEXT,
  -- The API key name (or "cli") that asked for it.
  requested_by      TEXT,
  -- Why it waits, failed or was cancelled, in a sentence.
  note              TEXT,
  created_at        TEXT    NOT NULL,
  started_at        TEXT,
  updated_at        TEXT    NOT NULL,
  finished_at       TEXT,
  CHECK (state <> 'succeeded' OR published_version IS NOT NULL),
  CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
CREATE UNIQUE INDEX jobs_one_active_per_grid ON jobs (grid_hash) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_model ON jobs (model_id, id);
