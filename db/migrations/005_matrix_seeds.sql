-- The shipped matrix files (db/matrix.jsonl) a database was seeded from, by content hash
-- (src/matrix/seed.ts). A database whose published versions all came from shipped files takes a
-- newer shipped file in at start-up as a new version (only the rows it does not hold yet); one
-- with any version of its own (a build, an import, a refresh) is never touched. matrix_version is
-- null when the file added nothing new.
CREATE TABLE matrix_seeds (
  file_sha256    TEXT PRIMARY KEY,
  applied_at     TEXT NOT NULL,
  matrix_version INTEGER REFERENCES matrix_versions (id)
);

-- Databases seeded before this table existed: their seed versions, under a placeholder hash (the
-- file's is not known), so the next shipped file still updates them.
INSERT INTO matrix_seeds (file_sha256, applied_at, matrix_version)
  SELECT 'before-005:' || id, created_at, id FROM matrix_versions
   WHERE description LIKE 'seeded from %' AND published_at IS NOT NULL;
