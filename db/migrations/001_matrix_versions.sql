-- Matrices are versioned: a refresh creates a new version and answers cite the version they used.
CREATE TABLE matrix_versions (
  id          INTEGER PRIMARY KEY,
  created_at  TEXT    NOT NULL,
  description TEXT    NOT NULL DEFAULT '',
  code_version TEXT   NOT NULL
);
