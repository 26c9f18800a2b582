-- A refresh never replaces better evidence (issue 16, item 4; the rule: src/matrix/evidence.ts).
-- When a refresh publishes a row for a (variant, norm, knowledge) whose current row has more
-- samples or stronger attack settings, the new row is still published (nothing measured is
-- thrown away) but WITHHELD: `withheld_for` names the earlier row that stays current. Snapshots
-- (src/matrix/queries.ts, FROM_SNAPSHOT) skip withheld rows. Set before publication only (the
-- triggers of 002 make a published version's rows immutable).
ALTER TABLE evaluations ADD COLUMN withheld_for INTEGER REFERENCES evaluations (id);

-- The request's `"replace": true` (publish every row as current, weaker or not), and what the
-- job's publication kept: [{variant, strategy, rate, norm, knowledge, kept: {evaluation, version,
-- samples}, withheld: {evaluation, samples}, reasons: [..]}] (JSON array).
ALTER TABLE jobs ADD COLUMN replace_evidence INTEGER NOT NULL DEFAULT 0 CHECK (replace_evidence IN (0, 1));
ALTER TABLE jobs ADD COLUMN kept TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(kept) AND json_type(kept) = 'array');
