// The gate for CI pipelines: does one candidate (strategy, rate) pass a scenario and thresholds?
// - every size limit and the minimum clean accuracy of the scenario (a candidate excluded by a
//   limit fails with that reason);
// - admissible evidence for (norm, knowledge) must exist (same lattice rules as recommend);
// - minRobustAccuracy is compared with the LOWER Wilson 95 % bound of robust accuracy at ε,
//   whatever the adversarial share;
// - minAggregatedAccuracy with the LOWER 95 % bound of the aggregated accuracy (1 − r)·clean +
//   r·robust at the scenario's adversarial share r (share.ts; at the default r = 1 the same number
//   as minRobustAccuracy's);
// - a candidate measured with several pruning seeds is judged by its worst seed (seeds.ts);
// - maxDropVsDense is compared with dense − candidate robust accuracy (point estimates, fraction)
//   of the same model; a paired McNemar test (Fisher exact when the samples differ) says whether
//   the drop is statistically significant — reported, but the threshold decides on its own.
// Pure: plain data in, plain data out.
import { comparable, evidenceRows, SCORE_TIE, type Assessment } from "./assess.js";
import { AdvisorDataError, UnknownCandidateError, UnsoundEvidenceError } from "./errors.js";
import { budgetNote, comparisonNote } from "./explain.js";
import { budgetText, fmtInt, fmtPct, fmtPoints, fmtRate, fmtShare } from "./format.js";
import { activeLimits, passesLimit, shortfall, type ActiveLimit } from "./limits.js";
import { compare } from "./paired.js";
import { evidenceCacheOf } from "./prepared.js";
import { selectCandidates } from "./select.js";
import { shareOf } from "./share.js";
import { assessVariant, foldSeeds, singleSeedWarning } from "./seeds.js";
import { validateGateRequest } from "./validate.js";
import { STRATEGIES, type Candidate, type GateCheck, type GateRequest, type GateResult, type MatrixSnapshot, type Warning } from "./types.js";

/** Relative tolerance when matching the requested rate against the matrix's grid rates. */
export const RATE_TOLERANCE = 1e-9;

function sameRate(a: number, b: number): boolean {
  return Math.abs(a - b) <= RATE_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

function passText(c: Candidate, l: ActiveLimit): string {
  const v = l.value as number;
  switch (l.name) {
    case "maxParameters":
      return `has ${fmtInt(c.nonZeroParams)} non-zero parameters, within maxParameters ${fmtInt(v)}`;
    case "minCompression":
      return `reaches ${fmtRate(c.achievedRate)} compression, meeting minCompression ${fmtRate(v)}`;
    case "maxBytes":
      return `takes ${fmtInt(c.sparseBytes)} bytes stored sparse, within maxBytes ${fmtInt(v)}`;
    case "structuredOnly":
      return `is structured (${c.strategy}), as structuredOnly requires`;
    case "minCleanAccuracy":
      return `has clean accuracy ${fmtPct(c.clean.n ? c.clean.correct / c.clean.n : 0)}, meeting minCleanAccuracy ${fmtPct(v)}`;
  }
}

function robustText(a: Assessment): string {
  const ra = a.summary.robustAccuracy!;
  return `measured ${fmtPct(ra.value)}, ${fmtInt(ra.robust)} of ${fmtInt(ra.n)} samples${budgetNote(a)}`;
}

export function gate(matrix: MatrixSnapshot, requestInput: GateRequest): GateResult {
  const req = validateGateRequest(requestInput);
  const s = req.scenario;
  const t = req.thresholds;
  // A variant measured with several pruning seeds is one candidate, judged by its worst seed (seeds.ts).
  const pool = foldSeeds(selectCandidates(matrix, s, true, "scenario"));
  // The schedule picks between a one-shot and a cumulative variant of the same strategy and rate (default one-shot).
  const schedule = req.candidate.schedule ?? "one-shot";
  const matches = pool.filter((c) => c.strategy === req.candidate.strategy && sameRate(c.rate, req.candidate.rate) && (c.schedule ?? "one-shot") === schedule);
  if (matches.length === 0) {
    const order = STRATEGIES as readonly string[];
    const available = pool
      .map((c) => ({ strategy: c.strategy, rate: c.rate }))
      .sort((a, b) => order.indexOf(a.strategy) - order.indexOf(b.strategy) || a.rate - b.rate);
    throw new UnknownCandidateError(
      `no candidate ${req.candidate.strategy} at rate ${req.candidate.rate}${schedule === "cumulative" ? " (cumulative)" : ""} for model ${pool[0]!.modelId} in matrix version ${matrix.version}; ` +
        `available: ${available.map((a) => `${a.strategy}@${a.rate}`).join(", ")}`,
      available,
    );
  }
  if (matches.length > 1) {
    throw new AdvisorDataError(`matrix version ${matrix.version} holds ${matches.length} rows for ${req.candidate.strategy} at rate ${req.candidate.rate} of ${pool[0]!.modelId}`);
  }
  const cache = evidenceCacheOf(matrix);
  const cand = assessVariant(matches[0]!, s, false, cache);
  const label = cand.label;
  // Evidence that failed the engine's own sanity checks cannot pass or fail a candidate.
  if (cand.unsound) {
    throw new UnsoundEvidenceError(
      `no verdict for ${label} against a ${s.knowledge} attacker with ${budgetText(s.norm, s.budget)}: ${cand.noEvidenceReason}. ` +
        `Re-measure the candidate, or set allowUnsoundEvidence to judge it on that evidence anyway.`,
    );
  }
  const denseCandidate = pool.find((c) => c.strategy === "dense") ?? null;
  const dense = denseCandidate ? (denseCandidate === cand.candidate ? cand : assessVariant(denseCandidate, s, false, cache)) : null;

  const checks: GateCheck[] = [];
  for (const l of activeLimits(s)) {
    const pass = passesLimit(cand.candidate, l);
    checks.push({ check: l.name, field: `scenario.${l.field}`, pass, text: `${label} ${pass ? passText(cand.candidate, l) : shortfall(cand.candidate, l).text}.` });
  }
  const scenarioText = `a ${s.knowledge} attacker with ${budgetText(s.norm, s.budget)}`;
  checks.push(
    cand.score === null
      ? { check: "evidence", field: "scenario.knowledge", pass: false, text: `${label} has no admissible evidence against ${scenarioText}: ${cand.noEvidenceReason}.` }
      : { check: "evidence", field: "scenario.knowledge", pass: true, text: `${label} has admissible evidence against ${scenarioText} (${robustText(cand)}).` },
  );

  if (t.minRobustAccuracy !== undefined) {
    const field = "thresholds.minRobustAccuracy";
    if (cand.robustLow === null) {
      checks.push({ check: "minRobustAccuracy", field, pass: false, text: `minRobustAccuracy ${fmtPct(t.minRobustAccuracy)} cannot be checked without evidence.` });
    } else {
      const pass = cand.robustLow >= t.minRobustAccuracy - SCORE_TIE;
      checks.push({
        check: "minRobustAccuracy",
        field,
        pass,
        text: `The lower 95 % bound of ${label}'s robust accuracy is ${fmtPct(cand.robustLow)}, ${pass ? "meeting" : "below"} minRobustAccuracy ${fmtPct(t.minRobustAccuracy)} (${robustText(cand)}).`,
      });
    }
  }

  if (t.minAggregatedAccuracy !== undefined) {
    const field = "thresholds.minAggregatedAccuracy";
    const min = fmtPct(t.minAggregatedAccuracy);
    const r = shareOf(s);
    if (cand.score === null) {
      checks.push({ check: "minAggregatedAccuracy", field, pass: false, text: `minAggregatedAccuracy ${min} cannot be checked without evidence.` });
    } else {
      const pass = cand.score >= t.minAggregatedAccuracy - SCORE_TIE;
      const agg = cand.summary.aggregatedAccuracy;
      const what = agg
        ? `aggregated accuracy at adversarial share ${fmtShare(r)}, ${fmtShare(1 - r)}·clean + ${fmtShare(r)}·robust,`
        : "aggregated accuracy at adversarial share 1 (every input attacked: its robust accuracy)";
      const measured = agg
        ? `measured ${fmtPct(agg.value)} from clean ${fmtPct(cand.summary.cleanAccuracy.value)} of ${fmtInt(cand.candidate.clean.n)} images and robust ${robustText(cand).replace(/^measured /, "")}`
        : robustText(cand);
      checks.push({
        check: "minAggregatedAccuracy",
        field,
        pass,
        text: `The lower 95 % bound of ${label}'s ${what} is ${fmtPct(cand.score)}, ${pass ? "meeting" : "below"} minAggregatedAccuracy ${min} (${measured}).`,
      });
    }
  }

  let drop: GateResult["drop"] = null;
  if (dense && dense.score !== null && cand.score !== null) {
    const value = dense.estimate!.value - cand.estimate!.value;
    drop = { value, comparison: dense === cand ? null : compare(comparable(dense), comparable(cand)) };
  }
  if (t.maxDropVsDense !== undefined) {
    const field = "thresholds.maxDropVsDense";
    const max = t.maxDropVsDense;
    if (!dense) {
      checks.push({ check: "maxDropVsDense", field, pass: false, text: `maxDropVsDense cannot be checked: matrix version ${matrix.version} has no dense model for ${cand.ref.modelId}.` });
    } else if (dense.score === null || cand.score === null) {
      const who = dense.score === null ? "the dense model" : label;
      checks.push({ check: "maxDropVsDense", field, pass: false, text: `maxDropVsDense cannot be checked: ${who} has no admissible evidence against ${scenarioText}.` });
    } else if (dense === cand) {
      checks.push({ check: "maxDropVsDense", field, pass: max >= -SCORE_TIE, text: `The candidate is the dense model itself: its drop is 0, ${max >= -SCORE_TIE ? "within" : "above"} maxDropVsDense ${fmtPoints(max)}.` });
    } else {
      const d = drop!;
      const pass = d.value <= max + SCORE_TIE;
      const change = d.value >= 0 ? `drops ${fmtPoints(d.value)}` : `rises ${fmtPoints(-d.value)}`;
      checks.push({
        check: "maxDropVsDense",
        field,
        pass,
        text:
          `Robust accuracy ${change} from the dense model's ${fmtPct(dense.estimate!.value)} to ${fmtPct(cand.estimate!.value)} for ${label}, ` +
          `${pass ? "within" : "more than"} maxDropVsDense ${fmtPoints(max)}; the difference is ${comparisonNote(d.comparison!)}.`,
      });
    }
  }

  const failed = checks.filter((c) => !c.pass);
  const warnings: Warning[] = [...cand.warnings, ...(dense && dense !== cand && t.maxDropVsDense !== undefined ? dense.warnings : [])];
  const oneSeed = singleSeedWarning(cand, false);
  if (oneSeed) warnings.push(oneSeed);
  return {
    pass: failed.length === 0,
    reasons: [...failed, ...checks.filter((c) => c.pass)].map((c) => c.text),
    checks,
    candidate: cand.summary,
    dense: dense ? dense.summary : null,
    drop,
    evidence: [...evidenceRows(cand), ...(dense && dense !== cand ? evidenceRows(dense) : [])],
    warnings,
    matrixVersion: matrix.version,
  };
}
