-- Indicators of attack failure (Pintor et al. 2022; issue 17, item 2), computed by the engine per
-- evaluation (src/engine/evaluation/indicators.ts) and stored with the row as JSON:
-- {rules, zeroGradients, silentSuccess, incompleteOptimisation, unconstrainedFailure,
--  weakerAttackWins, degenerateModel, convergence, failed: [names]}. `failed` names the indicators
-- that make the row inadmissible (the advisor does not score it). NULL: measured before the
-- indicators existed — "not measured", neither passing nor failing.
ALTER TABLE evaluations ADD COLUMN indicators TEXT CHECK (
  indicators IS NULL OR (json_valid(indicators) AND json_type(indicators) = 'object' AND json_type(indicators, '$.failed') = 'array')
);
