#!/usr/bin/env bash
# Gates a pruned model in CI with `advisor gate`: exit 0 = pass, 1 = fail (the model is easier to
# attack than the thresholds allow), 2 = the gate could not decide (bad input, missing matrix,
# unreachable service). Writes a JUnit report either way, one testcase per check.
#
# Configuration (environment):
#   ADVISOR         how to run the CLI            (default: "node dist/cli/main.js", after npm run build)
#   ADVISOR_DB      matrix database file          (default: data/advisor.sqlite; a missing file is
#                   created from the shipped matrix db/matrix.jsonl, as `advisor serve` does); or
#   ADVISOR_URL     a running service instead of the file, e.g. http://advisor.internal:8080
#   STRATEGY, RATE  the candidate to gate         (required), e.g. global-magnitude and 4
#   NORM, BUDGET, KNOWLEDGE                       (default: linf, 0.1, white-box)
#   MODEL           model id (sha256 of the dense weights): needed when the matrix holds several
#                   models, as the shipped one does (lenet300, lenet5, convnet)
#   DATASET, ARCHITECTURE  alternatively select the model by data set and architecture, e.g. lenet300
#   MIN_ROBUST      min lower 95 % bound of robust accuracy, a fraction (default 0.40)
#   MAX_DROP        max drop vs the dense model, a fraction (default 0.02 = 2 points)
#   MAX_BYTES       optional size limit (bytes stored sparse)
#   JUNIT_REPORT    where to write the report     (default: reports/advisor-gate.xml)
set -uo pipefail

read -r -a advisor <<< "${ADVISOR:-node dist/cli/main.js}"
: "${STRATEGY:?set STRATEGY, e.g. global-magnitude}"
: "${RATE:?set RATE, e.g. 4}"

args=(gate
  --norm "${NORM:-linf}" --budget "${BUDGET:-0.1}" --knowledge "${KNOWLEDGE:-white-box}"
  --strategy "$STRATEGY" --rate "$RATE"
  --min-robust-accuracy "${MIN_ROBUST:-0.40}" --max-drop "${MAX_DROP:-0.02}"
  --junit "${JUNIT_REPORT:-reports/advisor-gate.xml}")
if [[ -n "${ADVISOR_URL:-}" ]]; then args+=(--url "$ADVISOR_URL"); else args+=(--db "${ADVISOR_DB:-data/advisor.sqlite}"); fi
[[ -n "${MODEL:-}" ]] && args+=(--model "$MODEL")
[[ -n "${DATASET:-}" ]] && args+=(--dataset "$DATASET")
[[ -n "${ARCHITECTURE:-}" ]] && args+=(--architecture "$ARCHITECTURE")
[[ -n "${MAX_BYTES:-}" ]] && args+=(--max-bytes "$MAX_BYTES")

"${advisor[@]}" "${args[@]}"
status=$?
case $status in
  0) echo "advisor gate: $STRATEGY ${RATE}x passes" ;;
  1) echo "advisor gate: $STRATEGY ${RATE}x FAILS the robustness gate (see the report above and ${JUNIT_REPORT:-reports/advisor-gate.xml})" >&2 ;;
  *) echo "advisor gate: could not decide (exit $status): fix the configuration or the matrix" >&2 ;;
esac
exit $status
